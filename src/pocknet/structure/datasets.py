"""Dataset lists: P2Rank ``.ds`` files and plain folders of structures.

A ``.ds`` file holds comments (``#``), ``PARAM.NAME=value`` lines, an optional
``HEADER: protein chains ...`` line naming whitespace-separated columns, and
one entry per line. Paths are relative to the ``.ds`` file (Windows
backslashes accepted). Without a header every line is a structure path.
A folder stands for every structure file below it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pocknet.errors import DatasetError
from pocknet.structure.paths import is_structure_file

__all__ = ["DatasetEntry", "Dataset", "read_ds", "scan_folder", "open_dataset"]

_PARAM = re.compile(r"^PARAM\.([A-Za-z0-9_]+)\s*=\s*(.*)$")


@dataclass(frozen=True)
class DatasetEntry:
    """One structure of a dataset.

    ``id`` is ``<dataset>/<path relative to the list>``: unique across datasets
    and stable across machines, so it names output files.
    """

    id: str
    path: Path
    chains: tuple[str, ...] | None = None
    columns: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Dataset:
    name: str
    source: Path
    entries: tuple[DatasetEntry, ...]
    params: dict[str, str] = field(default_factory=dict)


def _chains(value: str | None) -> tuple[str, ...] | None:
    if value is None or value.strip() in ("", "*", "-"):
        return None
    return tuple(c for c in re.split(r"[,;]", value.strip()) if c)


def _entry(dataset: str, base: Path, rel: str, columns: dict[str, str]) -> DatasetEntry:
    rel_posix = PurePosixPath(rel.replace("\\", "/"))
    return DatasetEntry(
        id=f"{dataset}/{rel_posix}",
        path=base / rel_posix,
        chains=_chains(columns.get("chains")),
        columns=columns,
    )


def read_ds(path: str | Path, name: str | None = None) -> Dataset:
    """Parse a P2Rank ``.ds`` list."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read dataset list ({exc})") from exc
    name = name or path.stem
    header: list[str] | None = None
    params: dict[str, str] = {}
    entries: list[DatasetEntry] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if m := _PARAM.match(line):
            params[m.group(1)] = m.group(2).strip()
            continue
        if line.upper().startswith("HEADER:"):
            header = line.split(":", 1)[1].split()
            if not header or header[0] != "protein":
                raise DatasetError(f"{path}:{number}: HEADER must start with 'protein', got {header}")
            continue
        values = line.split()
        if header is None:
            columns = {"protein": values[0]}
        else:
            if len(values) > len(header):
                raise DatasetError(f"{path}:{number}: {len(values)} values for {len(header)} columns {header}")
            columns = dict(zip(header, values))
        entries.append(_entry(name, path.parent, columns["protein"], columns))
    if not entries:
        raise DatasetError(f"{path}: dataset list has no entries")
    return Dataset(name=name, source=path, entries=tuple(entries), params=params)


def scan_folder(path: str | Path, name: str | None = None) -> Dataset:
    """Every structure file below a folder, sorted by relative path."""
    path = Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file() and is_structure_file(p))
    if not files:
        raise DatasetError(f"{path}: no structure files (.pdb/.ent/.cif/.mmcif, optionally .gz) in folder")
    name = name or path.name
    entries = tuple(_entry(name, path, p.relative_to(path).as_posix(), {}) for p in files)
    return Dataset(name=name, source=path, entries=entries)


def open_dataset(spec: str, root: str | Path) -> Dataset:
    """A ``.ds`` file or a folder, given relative to ``root`` (or absolute)."""
    path = Path(root) / spec
    if not path.exists():
        raise DatasetError(f"{path}: dataset not found (data root {root!s}, entry {spec!r})")
    if path.is_dir():
        # named as given ("bu48/holo"), so ids keep the set name first ("bu48/holo/1ivd.pdb")
        return scan_folder(path, name=Path(spec).as_posix().strip("/"))
    if path.suffix == ".ds":
        return read_ds(path)
    raise DatasetError(f"{path}: not a .ds list or a folder")
