"""ProteinFeatures ⇄ ``.npz`` files (no pickle; written atomically)."""

from __future__ import annotations

import zipfile
from dataclasses import fields
from pathlib import Path

import numpy as np

from pocknet.atomic import atomic_path
from pocknet.errors import PockNetError
from pocknet.featurize.features import FORMAT_VERSION, ProteinFeatures

__all__ = ["save_features", "load_features"]

_SCALARS = ("id", "name", "source", "source_sha256", "config_json", "format_version", "pocknet_version")


def save_features(features: ProteinFeatures, path: str | Path) -> None:
    arrays = {}
    for f in fields(ProteinFeatures):
        value = getattr(features, f.name)
        if f.name == "descriptor_names":
            value = np.asarray(value, dtype="<U64")
        elif f.name in _SCALARS:
            value = np.asarray(value)
        arrays[f.name] = value
    with atomic_path(path) as tmp:
        _write_npz(tmp, arrays)


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like ``np.savez`` but byte-reproducible: fixed timestamps, sorted members.

    ``np.savez`` stamps each member with the current time, so identical
    features would hash differently and break ``dvc repro`` determinism.
    """
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name in sorted(arrays):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(arrays[name]), allow_pickle=False)


def load_features(path: str | Path) -> ProteinFeatures:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            values = {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise PockNetError(f"{path}: unreadable feature file ({exc})") from exc
    version = int(values.get("format_version", -1))
    if version != FORMAT_VERSION:
        raise PockNetError(f"{path}: feature format {version}, this PockNet reads {FORMAT_VERSION}; re-run data_engineering")
    missing = [f.name for f in fields(ProteinFeatures) if f.name not in values]
    if missing:
        raise PockNetError(f"{path}: feature file lacks {missing}; re-run data_engineering")
    kwargs = {}
    for f in fields(ProteinFeatures):
        value = values[f.name]
        if f.name == "descriptor_names":
            value = tuple(str(v) for v in value)
        elif f.name == "format_version":
            value = int(value)
        elif f.name in _SCALARS:
            value = str(value)
        kwargs[f.name] = value
    return ProteinFeatures(**kwargs)
