"""params.yaml is the one home of every default: each block's typed config, built with no
arguments, equals the config parsed from the block (so code that builds a config without the file,
`pocknet featurize` or a test, runs with what the study ships)."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())


def _configs():
    from pocknet.embed.config import EmbeddingConfig
    from pocknet.featurize.features import FeaturizeConfig
    from pocknet.model.config import ModelConfig
    from pocknet.predict.pockets import PocketConfig
    from pocknet.train.config import TrainingConfig
    from pocknet.train.finalize import FinalizeConfig
    from pocknet.train.swa_stage import SwaConfig
    from pocknet.trainset.assembly import AssemblyConfig

    def model(block):
        return ModelConfig.from_params(block, n_features=35, embedding_dim=0, k=16)

    return {
        "data_engineering": (FeaturizeConfig, FeaturizeConfig.from_params),
        "embedding": (EmbeddingConfig, EmbeddingConfig.from_params),
        "h5_assembly": (AssemblyConfig, AssemblyConfig.from_params),
        "training": (TrainingConfig, lambda block: dataclasses.replace(TrainingConfig.from_params(block), model={})),
        "training.model": (ModelConfig, model),
        "swa": (SwaConfig, SwaConfig.from_params),
        "finalize": (FinalizeConfig, FinalizeConfig.from_params),
        "pockets": (PocketConfig, PocketConfig.from_params),
    }


def _block(path: str):
    block = PARAMS
    for key in path.split("."):
        block = block[key]
    return block


@pytest.mark.parametrize("path", ["data_engineering", "embedding", "h5_assembly", "training", "training.model",
                                  "swa", "finalize", "pockets"])  # fmt: skip
def test_config_defaults_are_the_params_yaml_values(path):
    cls, parse = _configs()[path]
    assert cls() == parse(_block(path)), f"{cls.__name__} defaults disagree with params.yaml {path}"


def test_every_block_with_tunables_has_a_typed_config():
    """Blocks read as plain dicts are only the stage lists (which sets, which formats)."""
    assert set(PARAMS) - {p.split(".")[0] for p in _configs()} == {"inference", "reporting"}


def test_h5_writer_default_chunking_is_the_params_value():
    from pocknet.trainset.h5writer import H5Writer

    defaults = inspect.signature(H5Writer).parameters
    block = PARAMS["h5_assembly"]
    assert defaults["chunk_points"].default == block["chunk_points"]
    assert defaults["compression"].default == block["compression"]
