"""A miniature PockNet project for the in-memory pipeline tests (``test_<name>_pipeline.py``).

Every stage runs its real ``create_pipeline()`` in process with Kedro's ``SequentialRunner`` on a
``DataCatalog`` of ``MemoryDataset``s, spaceflights style:

* ``params:<block>`` entries are the blocks of ``params.yaml`` with small overrides (tiny
  network, 2 epochs, folders under the test's temporary directory);
* the other free inputs of a stage are the outputs of the stage upstream, run once per test
  session and kept in memory (:meth:`MiniProject.result`), so the whole chain
  data_engineering → … → reporting is computed once however many test files ask for it;
* the three datasets whose ``save()`` does real work (the partitioned feature files the
  data_engineering generator node streams into, and the lazy plans of ``h5_assembly`` and
  ``inference``) are the ``conf/base/catalog.yml`` entries themselves, their paths moved into
  the temporary directory: saving them runs exactly the writer the ``kedro run`` would;
* intermediate datasets (consumed inside the pipeline) are ``MemoryDataset``s the runner may
  not release, so tests can read them after the run.

Inputs: eight P2Rank test structures (``tests/conftest.py::p2rank_test``) laid out as a tiny
study (CHEN11 train/val, BU48 holo test, COACH420 external), plus a broken file and a missing
dataset; a random-weight ESM2 checkpoint (:mod:`pocknet.embed.esm_tiny`) stored under an
official ESM2 name in a private torch hub folder, so the model bundles resolve it exactly as
they would a real one; and a made-up P2Rank prediction for one COACH420 structure.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from kedro.io import AbstractDataset, DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

REPO = Path(__file__).resolve().parents[2]

# Stage order of the project (src/pocknet/pipelines/<name>, dvc.yaml).
STAGES = (
    "data_engineering",
    "embedding",
    "h5_assembly",
    "training",
    "swa",
    "finalize",
    "inference",
    "reporting",
)

# An official ESM2 name, so model bundles resolve it through torch hub like real weights; tiny random weights.
ESM_NAME = "esm2_t6_8M_UR50D"
ESM_LAYERS, ESM_DIM = 2, 32

# protein id (dataset path under the data root) → P2Rank test structure
STRUCTURES = {
    "chen11/1a82a.pdb": "liganated/1a82a.pdb",
    "chen11/1aaxa.pdb": "liganated/1aaxa.pdb",
    "chen11/2ck3b.pdb": "liganated/2ck3b.pdb",
    "chen11/1t7qa.pdb": "liganated/1t7qa.pdb",
    "chen11/1nlu.pdb": "liganated/1nlu.pdb",  # the test structure again: a leak, dropped
    "bu48/holo/1nlu.pdb": "liganated/1nlu.pdb",  # test
    "coach420/1fbl.pdb": "1fbl.pdb",  # external, no train/val homologue ("unseen")
    "coach420/1a82a.pdb": "liganated/1a82a.pdb",  # external with a train homologue
}
BROKEN = "chen11/broken.pdb"
DATASETS = ["chen11", "bu48/holo", "coach420", "absent"]
LEAK, LEAKED_INTO = "chen11/1nlu.pdb", "bu48/holo/1nlu.pdb"
SEEN_EXTERNAL, UNSEEN_EXTERNAL = "coach420/1a82a.pdb", "coach420/1fbl.pdb"
P2RANK_FOLDER = "p2rank/coach420"  # under the data root: made-up "published" P2Rank predictions

# Outputs whose catalog dataset does the writing (streams a generator or a lazy plan).
FILE_DATASETS = ("protein_features", "training_set", "predictions")


def project_params(root: Path) -> dict[str, dict[str, Any]]:
    """``params.yaml`` with small overrides: tiny network, two epochs, every folder under ``root``."""
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    params["data_engineering"].update(
        data_root=str(root / "raw"), datasets=list(DATASETS), workers=1, save_every=3
    )
    params["embedding"].update(model=ESM_NAME, layer=-1, device="cpu", half_precision=False,
                               cache_dir=str(root / "data" / "03_embeddings" / "cache"))  # fmt: skip
    params["h5_assembly"].update(k=8, chunk_points=4096)
    # 5 CHEN11 entries, half to validation: 1aaxa, 2ck3b, 1nlu (dropped as a leak) with seed 42
    params["h5_assembly"]["splits"].update(test_datasets=["bu48"], external_datasets=["coach420"],
                                           validation_fraction=0.5, seed=42, drop_leaks=True)  # fmt: skip
    training = params["training"]
    training.update(seed=3, batch_size=2048, max_epochs=2, min_epochs=1, patience=5, learning_rate=0.003,
                    accelerator="cpu", devices=1, strategy="auto", num_nodes=1, precision="32-true",
                    num_workers=0, wandb=False, checkpoint_dir=str(root / "data" / "05_models" / "checkpoints"),
                    dvclive_dir=str(root / "dvclive"))  # fmt: skip
    training["model"].update(hidden=16, heads=2, rbf_centers=4)
    params["swa"].update(mode="best_window", window=2)
    params["finalize"].update(calibration_folds=2)
    params["reporting"].update(
        figures_dir=str(root / "data" / "07_reporting" / "figures"),
        predictions_dir=str(root / "data" / "06_predictions"),
        viewer_dir=str(root / "data" / "07_reporting" / "viewer"),
        p2rank_predictions={"coach420": P2RANK_FOLDER},
    )
    return params


class KeptDataset(MemoryDataset):
    """A ``MemoryDataset`` the runner cannot release: an intermediate output stays readable after the run."""

    def _release(self) -> None:
        pass


class RecordingDataset(AbstractDataset):
    """Delegates to a catalog dataset and records what each ``save()`` received (batch keys or type)."""

    def __init__(self, inner: AbstractDataset) -> None:
        self.inner = inner
        self.saves: list[Any] = []

    def load(self) -> Any:
        return self.inner.load()

    def save(self, data: Any) -> None:
        self.saves.append(sorted(data) if isinstance(data, dict) else type(data).__name__)
        self.inner.save(data)

    def _exists(self) -> bool:
        return self.inner.exists()

    def _describe(self) -> dict[str, Any]:
        return {"inner": self.inner._describe()}


def _pipeline(stage: str):
    return importlib.import_module(f"pocknet.pipelines.{stage}.pipeline").create_pipeline()


class MiniProject:
    """The tiny study under ``root``; :meth:`result` runs a stage (and, first, what it needs) once."""

    def __init__(self, root: Path, p2rank_test: Path) -> None:
        self.root = root
        self.data_root = root / "raw"
        for pid, source in STRUCTURES.items():
            target = self.data_root / pid
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(p2rank_test / source)
        (self.data_root / BROKEN).write_bytes(b"\x00\x01 not a structure" * 50)
        self.params = project_params(root)
        self.torch_hub = root / "torch_hub"
        from pocknet.embed.esm_tiny import write_tiny_esm2_checkpoint

        write_tiny_esm2_checkpoint(
            self.torch_hub / "checkpoints" / f"{ESM_NAME}.pt", ESM_LAYERS, ESM_DIM, 4, seed=0
        )
        self.catalog_config = yaml.safe_load(
            (REPO / "conf" / "base" / "catalog.yml").read_text(encoding="utf-8")
        )
        self.file_datasets: dict[str, RecordingDataset] = {}
        self.reads: list[tuple[str, str]] = []  # (stage, protein id) of every feature file a stage loaded
        self.runner_outputs: dict[str, set[str]] = {}
        self._results: dict[str, dict[str, Any]] = {}
        self._failed: dict[str, Exception] = {}

    # ---------------------------------------------------------------- environment

    @contextmanager
    def esm_weights(self) -> Iterator[None]:
        """Torch hub pointed at the tiny checkpoint (as ``TORCH_HOME`` would), restored afterwards."""
        import torch

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(torch.hub, "_hub_dir", str(self.torch_hub))
            yield

    def path(self, dataset: str) -> Path:
        """Where the catalog file dataset ``dataset`` lives in this project."""
        config = self.catalog_config[dataset]
        key = "path" if "path" in config else "filepath"
        return self.root / config[key]

    # ---------------------------------------------------------------- running stages

    def result(self, stage: str) -> dict[str, Any]:
        """Every output of ``stage`` (intermediate ones too), loaded back from its run's catalog."""
        if stage in self._failed:  # a stage that failed fails its dependants at once, without re-running
            raise RuntimeError(f"the {stage} stage failed earlier in this session") from self._failed[stage]
        if stage not in self._results:
            try:
                self._results[stage] = self._run(stage)
            except Exception as exc:
                self._failed[stage] = exc
                raise
        return self._results[stage]

    def catalog(self, stage: str, **inputs: Any) -> DataCatalog:
        """MemoryDatasets for the stage's free inputs (upstream results unless given), file datasets
        for the streamed outputs, un-releasable MemoryDatasets for every other output."""
        pipeline = _pipeline(stage)
        catalog = DataCatalog()
        for name in sorted(pipeline.inputs()):
            value = inputs[name] if name in inputs else self._input(stage, name)
            catalog[name] = MemoryDataset(
                value, copy_mode="copy" if isinstance(value, pd.DataFrame) else "assign"
            )
        for name in sorted(pipeline.all_outputs()):
            catalog[name] = self._file_dataset(name) if name in FILE_DATASETS else KeptDataset()
        return catalog

    def _run(self, stage: str) -> dict[str, Any]:
        pipeline = _pipeline(stage)
        catalog = self.catalog(stage)  # runs the upstream stages first
        with self.esm_weights():
            outputs = SequentialRunner().run(pipeline, catalog)
        self.runner_outputs[stage] = set(outputs)
        return {name: catalog.load(name) for name in sorted(pipeline.all_outputs())}

    def _input(self, stage: str, name: str) -> Any:
        if name.startswith("params:"):
            return copy.deepcopy(self.params[name.split(":", 1)[1]])
        producer = next(s for s in STAGES if name in _pipeline(s).all_outputs())
        if producer == "inference" and stage == "reporting":
            self._write_p2rank_reference()
        value = self.result(producer)[name]
        if name == "protein_features":  # loaders that log which stage read which protein
            return self._recorded(stage, value)
        return value

    def _file_dataset(self, name: str) -> RecordingDataset:
        config = dict(self.catalog_config[name])
        key = "path" if "path" in config else "filepath"
        config[key] = str(self.root / config[key])
        self.file_datasets[name] = RecordingDataset(DataCatalog.from_config({name: config})[name])
        return self.file_datasets[name]

    def _recorded(self, stage: str, loaders: Mapping[str, Callable[[], Any]]) -> dict[str, Callable[[], Any]]:
        def wrap(pid: str, load: Callable[[], Any]) -> Callable[[], Any]:
            def loader() -> Any:
                self.reads.append((stage, pid))
                return load()

            return loader

        return {pid: wrap(pid, load) for pid, load in loaders.items()}

    def features(self, pid: str) -> Any:
        """One protein's features as the data_engineering stage wrote them (not recorded as a read)."""
        return self.result("data_engineering")["protein_features"][pid]()

    def _write_p2rank_reference(self) -> None:
        """A P2Rank-format prediction for the unseen COACH420 structure: rank 1 far from its
        ligand, rank 2 on the ligand centroid; the other COACH420 structure has no file."""
        import numpy as np

        folder = self.data_root / P2RANK_FOLDER
        if folder.is_dir():
            return
        features = self.features(UNSEEN_EXTERNAL)
        ligand = _relevant_ligands(features)[0]
        centre = ligand.mean(axis=0)
        assert np.linalg.norm(ligand - centre, axis=1).min() < 4.0, (
            "the ligand centroid must count as a DCA hit"
        )
        folder.mkdir(parents=True)
        rows = [(1, 9.0, *(centre + [30.0, 0.0, 0.0])), (2, 5.0, *centre)]
        table = pd.DataFrame(rows, columns=["rank", "score", "center_x", "center_y", "center_z"])
        table.insert(0, "name", ["pocket1", "pocket2"])
        table.to_csv(folder / f"{Path(UNSEEN_EXTERNAL).name}_predictions.csv", index=False)


def _relevant_ligands(features: Any) -> list[Any]:
    """Atom arrays of the relevant ligands, from the feature arrays themselves."""
    offsets = features.ligand_offsets
    return [features.ligand_coords[offsets[i] : offsets[i + 1]] for i in range(len(features.ligand_relevant))
            if features.ligand_relevant[i]]  # fmt: skip


_PROJECTS: dict[Path, MiniProject] = {}


def mini_project(tmp_path_factory: pytest.TempPathFactory, p2rank_test: Path) -> MiniProject:
    """One :class:`MiniProject` per test session, however many test modules ask for it."""
    key = tmp_path_factory.getbasetemp()
    if key not in _PROJECTS:
        _PROJECTS[key] = MiniProject(tmp_path_factory.mktemp("mini_project"), p2rank_test)
    return _PROJECTS[key]


def split_of(project: MiniProject) -> dict[str, str]:
    splits = project.result("h5_assembly")["splits"]
    return dict(zip(splits["protein"], splits["split"]))
