"""Model files: the weights plus everything needed to use them correctly.

In memory a model is a :class:`ModelBundle`; on disk it is the bundle as a plain dict of
tensors and JSON-like values (:meth:`ModelBundle.to_dict`), so it loads with
``torch.load(weights_only=True)`` (no pickled code). Besides the state dict it records the
network config, the feature names it was trained on, the featurisation, embedding and
neighbourhood definitions, the pocket settings, the validation-chosen threshold, the
calibration and metrics, and a hash of the parameters that produced it.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from pocknet.atomic import atomic_write
from pocknet.errors import PockNetError
from pocknet.model import ModelConfig, PocketNet

__all__ = ["MODEL_FORMAT", "MODEL_FORMAT_VERSION", "ModelBundle", "save_model", "load_model"]

MODEL_FORMAT = "pocknet-model"
MODEL_FORMAT_VERSION = 1


def _plain(value: Any) -> Any:
    """JSON round trip: numpy scalars and tuples become plain Python values."""
    return json.loads(json.dumps(value, default=float))


@dataclass(frozen=True)
class ModelBundle:
    """A trained network and what using it correctly needs; field order is the file's key order.

    ``featurize_config`` must be what the training features used (the ``data_engineering``
    blocks ligands/surface/descriptors/labels); ``pockets`` the pocket settings frozen in by the
    finalize stage. ``calibration`` (plain JSON values, fitted on validation by the finalize
    stage, :func:`pocknet.predict.calibration.fit_levels`)::

        {"point": {...} | None,     # Platt on the logit → P(point within 2.6 Å of a ligand)
         "residue": {...} | None,   # Platt on log1p(residue score) → P(atom within 4 Å of a ligand)
         "pocket": {...} | None,    # pchip/platt/isotonic on the pocket score → P(DCA ≤ 4 Å)
         "ece": {level: {"method", "n", "positives", "ece_val_in_sample", "ece_val_cross_fitted", ...}},
         "reliability": {level: [[lower, upper, mean_predicted, observed, count], ...]},
         "targets": {level: "what the probability means"}, "bins": 10, "folds": 5}

    Older files hold the pocket calibrator itself (``{"method": "isotonic", ...}``);
    :func:`pocknet.predict.calibration.calibrators` reads both.
    """

    state_dict: dict[str, torch.Tensor]
    model_config: dict[str, Any]
    feature_names: list[str]
    embedding_model: str
    embedding_layer: int
    k: int
    neighbour_distance: str
    threshold: float
    threshold_criterion: str
    metrics: dict[str, Any]
    params_hash: str
    provenance: dict[str, Any]
    featurize_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    pockets: dict[str, Any] = dataclasses.field(default_factory=dict)
    calibration: dict[str, Any] | None = None
    # PocketRescorer.to_dict() of the finalize stage, or None; a None is not written, so files
    # without a rescorer keep their bytes
    pocket_rescorer: dict[str, Any] | None = None

    @classmethod
    def from_network(
        cls,
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
    ) -> "ModelBundle":
        """A bundle of a live network: weights copied to CPU, every other value made plain."""
        return cls(
            state_dict={k_: v.detach().cpu().clone() for k_, v in model.state_dict().items()},
            model_config=_plain(dict(model_config)),
            feature_names=list(feature_names),
            embedding_model=str(embedding_model),
            embedding_layer=int(embedding_layer),
            k=int(k),
            neighbour_distance=str(neighbour_distance),
            threshold=float(threshold),
            threshold_criterion=str(threshold_criterion),
            metrics=_plain(dict(metrics)),
            params_hash=str(params_hash),
            provenance=_plain(dict(provenance)),
            featurize_config=_plain(dict(featurize_config or {})),
            pockets=_plain(dict(pockets or {})),
            calibration=_plain(dict(calibration)) if calibration else None,
        )

    def replace(self, **changes: Any) -> "ModelBundle":
        """A copy with some fields changed; values must be plain (str, numbers, lists, dicts, None)
        so the file still loads weights-only."""
        copy = dataclasses.replace(self, **changes)
        object.__setattr__(copy, "_file_keys", getattr(self, "_file_keys", None))
        return copy

    def network(self) -> PocketNet:
        """The network, in eval mode."""
        model = PocketNet(ModelConfig.from_dict(self.model_config))
        model.load_state_dict(self.state_dict)
        model.eval()
        return model

    def to_dict(self) -> dict[str, Any]:
        """The file content: format header, then the fields in declaration order.

        A bundle read from a file writes its keys back as the very string objects it read:
        pickle shares equal objects by identity, so other (equal) key objects would give the
        same content in other bytes, and a re-saved model would hash differently.
        """
        fields = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        if fields["pocket_rescorer"] is None:
            del fields["pocket_rescorer"]
        content = {"format": MODEL_FORMAT, "format_version": MODEL_FORMAT_VERSION, **fields}
        keys = getattr(self, "_file_keys", None) or {}
        return {keys.get(name, name): value for name, value in content.items()}

    @classmethod
    def from_dict(cls, data: Any, path: str | Path = "<model>") -> "ModelBundle":
        """Checked: a malformed file fails in one line that names it, not with a traceback."""
        _check_bundle(Path(path), data)
        names = {field.name for field in dataclasses.fields(cls)}
        bundle = cls(**{key: value for key, value in data.items() if key in names})
        object.__setattr__(bundle, "_file_keys", {key: key for key in data})  # see to_dict
        return bundle


def save_model(bundle: ModelBundle, path: str | Path) -> None:
    # Through a file handle: given a path, torch names the archive after the (random) temporary
    # file, and the same model would hash differently on every run.
    with atomic_write(path, "wb") as handle:
        torch.save(bundle.to_dict(), handle)


# key → accepted types: what inference reads from a bundle; anything else fails here, naming the file
_REQUIRED: dict[str, tuple[type, ...]] = {
    "state_dict": (dict,),
    "model_config": (dict,),
    "feature_names": (list,),
    "embedding_model": (str,),
    "embedding_layer": (int,),
    "k": (int,),
    "neighbour_distance": (str,),
    "threshold": (int, float),
    "metrics": (dict,),
    "params_hash": (str,),
}
_UNSAFE_GLOBAL = re.compile(r"Unsupported global: GLOBAL (\S+)")
_UNPICKLER_DETAIL = re.compile(r"WeightsUnpickler error:\s*(.+?)\s*(?:\n\n|$)", re.S)


def _load_error(path: Path, exc: Exception) -> PockNetError:
    """One line, without torch's advice to retry with ``weights_only=False`` (that runs the file's code)."""
    text = str(exc)
    if unsafe := _UNSAFE_GLOBAL.search(text):
        return PockNetError(
            f"{path}: refused: the file holds Python objects beyond tensors (unsafe to load; {unsafe.group(1)})"
        )
    detail = _UNPICKLER_DETAIL.search(text)
    reason = detail.group(1) if detail else next((line for line in text.splitlines() if line.strip()), type(exc).__name__)
    if "weights_only" in reason or not detail and "Weights only load failed" in text:
        reason = "not a torch model file"
    return PockNetError(f"{path}: not a readable PockNet model file ({' '.join(reason.split())[:200]})")


def _check_bundle(path: Path, bundle: Any) -> None:
    """Keys and types inference relies on, so a malformed file fails in one line, not a traceback."""
    if not isinstance(bundle, dict):
        raise PockNetError(f"{path}: not a PockNet model file (holds a {type(bundle).__name__}, not a dict)")
    if "format" not in bundle:
        raise PockNetError(f"{path}: not a PockNet model file (missing key 'format')")
    if bundle["format"] != MODEL_FORMAT:
        raise PockNetError(f"{path}: not a PockNet model file (format {bundle['format']!r})")
    if bundle.get("format_version") != MODEL_FORMAT_VERSION:
        raise PockNetError(f"{path}: model format {bundle.get('format_version')}, this PockNet reads {MODEL_FORMAT_VERSION}")
    for key, types in _REQUIRED.items():
        if key not in bundle:
            raise PockNetError(f"{path}: not a PockNet model file (missing key {key!r})")
        value = bundle[key]
        if not isinstance(value, types) or isinstance(value, bool):
            expected = " or ".join(t.__name__ for t in types)
            raise PockNetError(f"{path}: not a PockNet model file ({key!r} is a {type(value).__name__}, not {expected})")
    bad = next((k for k, v in bundle["state_dict"].items() if not isinstance(v, torch.Tensor)), None)
    if bad is not None:
        raise PockNetError(f"{path}: not a PockNet model file (state_dict entry {bad!r} is not a tensor)")


def _ordered_subset(names: Sequence[str], available: Sequence[str]) -> bool:
    """Whether ``names`` are distinct columns of ``available``, in its order (a model trained with some left out)."""
    if not all(isinstance(name, str) for name in names):
        return False
    position = {name: i for i, name in enumerate(available)}
    indices = [position.get(name, -1) for name in names]
    return bool(indices) and min(indices) >= 0 and all(a < b for a, b in itertools.pairwise(indices))


def load_model(path: str | Path, feature_names: Sequence[str] | None = None) -> tuple[PocketNet, ModelBundle]:
    """Load a model file safely; with ``feature_names`` (the columns this PockNet computes), refuse a
    model from another feature set. A model trained on some of them, in their order
    (``training.exclude_features``), is accepted: prediction feeds it just those columns."""
    path = Path(path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise PockNetError(f"{path}: no such model file") from exc
    except IsADirectoryError as exc:
        raise PockNetError(f"{path}: is a folder, not a model file") from exc
    except Exception as exc:  # torch raises many types for corrupt/unsafe files
        raise _load_error(path, exc) from exc
    bundle = ModelBundle.from_dict(data, path)
    if feature_names is not None and not _ordered_subset(bundle.feature_names, feature_names):
        raise PockNetError(f"{path}: model was trained on a different feature set than this PockNet computes")
    try:
        return bundle.network(), bundle
    except (TypeError, ValueError, KeyError, RuntimeError) as exc:  # config keys or weight shapes that do not fit
        detail = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        raise PockNetError(f"{path}: not a PockNet model file (network does not fit: {detail[:300]})") from exc
