"""Model files: the weights plus everything needed to use them correctly.

A model file is a plain dict of tensors and JSON-like values, so it loads with
``torch.load(weights_only=True)`` (no pickled code). Besides the state dict it
records the network config, the feature names it was trained on, the
embedding model/layer and neighbourhood definition, the validation-chosen
threshold and metrics, and a hash of the parameters that produced it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from pocknet.atomic import atomic_write
from pocknet.errors import PockNetError
from pocknet.model import ModelConfig, PocketNet

__all__ = ["MODEL_FORMAT", "MODEL_FORMAT_VERSION", "make_bundle", "save_model", "load_model", "model_from_bundle"]

MODEL_FORMAT = "pocknet-model"
MODEL_FORMAT_VERSION = 1


def _plain(value: Any) -> Any:
    """JSON round trip: numpy scalars and tuples become plain Python values."""
    return json.loads(json.dumps(value, default=float))


def make_bundle(
    model: PocketNet,
    *,
    model_config: Mapping[str, Any],
    feature_names: Sequence[str],
    embedding_model: str,
    embedding_layer: int,
    k: int,
    neighbour_distance: str,
    threshold: float,
    threshold_criterion: str,
    metrics: Mapping[str, Any],
    params_hash: str,
    provenance: Mapping[str, Any],
    featurize_config: Mapping[str, Any] | None = None,
    pockets: Mapping[str, Any] | None = None,
    calibration: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything inference needs; ``featurize_config`` must be what the training features used."""
    return {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "state_dict": {k_: v.detach().cpu().clone() for k_, v in model.state_dict().items()},
        "model_config": _plain(dict(model_config)),
        "feature_names": list(feature_names),
        "embedding_model": str(embedding_model),
        "embedding_layer": int(embedding_layer),
        "k": int(k),
        "neighbour_distance": str(neighbour_distance),
        "threshold": float(threshold),
        "threshold_criterion": str(threshold_criterion),
        "metrics": _plain(dict(metrics)),
        "params_hash": str(params_hash),
        "provenance": _plain(dict(provenance)),
        "featurize_config": _plain(dict(featurize_config or {})),
        "pockets": _plain(dict(pockets or {})),
        "calibration": _plain(dict(calibration)) if calibration else None,
    }


def save_model(bundle: Mapping[str, Any], path: str | Path) -> None:
    # Through a file handle: given a path, torch names the archive after the (random) temporary
    # file, and the same model would hash differently on every run.
    with atomic_write(path, "wb") as handle:
        torch.save(dict(bundle), handle)


def load_model(path: str | Path, feature_names: Sequence[str] | None = None) -> tuple[PocketNet, dict[str, Any]]:
    """Load a model file safely; with ``feature_names``, refuse a model from another feature set."""
    path = Path(path)
    try:
        bundle = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise PockNetError(f"{path}: no such model file") from exc
    except Exception as exc:  # torch raises many types for corrupt/unsafe files
        raise PockNetError(f"{path}: not a readable PockNet model file ({str(exc).splitlines()[0]})") from exc
    if not isinstance(bundle, dict) or bundle.get("format") != MODEL_FORMAT:
        raise PockNetError(f"{path}: not a PockNet model file")
    if bundle.get("format_version") != MODEL_FORMAT_VERSION:
        raise PockNetError(f"{path}: model format {bundle.get('format_version')}, this PockNet reads {MODEL_FORMAT_VERSION}")
    if feature_names is not None and list(feature_names) != bundle["feature_names"]:
        raise PockNetError(f"{path}: model was trained on a different feature set than this PockNet computes")
    return model_from_bundle(bundle), bundle


def model_from_bundle(bundle: Mapping[str, Any]) -> PocketNet:
    """The network of a bundle, in eval mode."""
    model = PocketNet(ModelConfig(**bundle["model_config"]))
    model.load_state_dict(bundle["state_dict"])
    model.eval()
    return model
