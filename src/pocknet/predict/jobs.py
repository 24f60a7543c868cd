"""The structures of a ``pocknet predict`` run: inputs → jobs with unique output names, and their results.

Kept apart from the workers so that reading the inputs (and naming the outputs) needs
neither multiprocessing nor the model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from pocknet.errors import PockNetError, StructureError
from pocknet.structure.datasets import read_ds, scan_folder
from pocknet.structure.paths import is_structure_file

__all__ = [
    "JobResult",
    "PredictJob",
    "collect_inputs",
]


@dataclass(frozen=True)
class PredictJob:
    """One structure to predict; ``error`` marks an input that cannot run (reported, never sent to a worker)."""

    path: Path
    name: str
    chains: tuple[str, ...] | None = None
    error: str = ""


@dataclass
class JobResult:
    job: PredictJob
    ok: bool
    error: str = ""
    summary: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


def _output_name(path: Path) -> str:
    """P2Rank names outputs after the file (``1a82a.pdb_predictions.csv``); .gz dropped."""
    name = path.name
    return name[:-3] if name.lower().endswith(".gz") else name


def _name_candidates(path: Path) -> Iterator[str]:
    """The file name, then ever more parent folders before it (``x_1.pdb``, ``a_x_1.pdb``, ...)."""
    base = _output_name(path)
    yield base
    parent = Path(os.path.abspath(path)).parent  # absolute, so ``../x`` still has named parents
    prefix = ""
    for part in reversed([p for p in parent.parts if p != parent.anchor]):
        prefix = f"{part}_{prefix}"
        yield prefix + base


def _numbered(name: str, number: int) -> str:
    """``1a82a.pdb`` → ``1a82a_2.pdb``: the number before the extension keeps the file type visible."""
    stem, dot, rest = name.partition(".") if not name.startswith(".") else (name, "", "")
    return f"{stem}_{number}{dot}{rest}"


def _unique_name(path: Path, taken: set[str]) -> str:
    """The first candidate no other structure of the run has, compared case-insensitively.

    Case-insensitive file systems (macOS, Windows) would merge ``A_1.pdb`` and ``a_1.pdb``.
    """
    for candidate in _name_candidates(path):
        if candidate.casefold() not in taken:
            break
    else:
        base = _output_name(path)
        number = 2
        while (candidate := _numbered(base, number)).casefold() in taken:
            number += 1
    taken.add(candidate.casefold())
    return candidate


def collect_inputs(inputs: Sequence[str | Path], chains: Sequence[str] | None = None) -> list[PredictJob]:
    """Structure files, folders (recursive) and .ds lists → jobs with unique output names.

    Output names are unique by construction (checked against every name already
    given in the run, case-insensitively), so no structure overwrites another's
    files. A file listed twice (same real path and chains) is predicted once.
    An input that cannot run (an empty folder, a malformed .ds, a file that is
    no structure) becomes one failed job, so the rest of the batch still runs.
    """
    selected = tuple(chains) if chains else None
    entries: list[tuple[Path, tuple[str, ...] | None, str]] = []
    for raw in inputs:
        path = Path(raw)
        try:
            if path.is_dir():
                entries += [(e.path, None, "") for e in scan_folder(path).entries]
            elif path.suffix.lower() == ".ds":
                entries += [(e.path, e.chains, "") for e in read_ds(path).entries]
            elif path.exists() and not is_structure_file(path):
                raise StructureError(
                    f"{path}: not a structure file (.pdb/.ent/.cif/.mmcif, optionally .gz), folder or .ds"
                )
            else:
                entries.append((path, None, ""))  # a missing file fails as a job, with the others still run
        except PockNetError as exc:
            entries.append((path, None, str(exc)))
    jobs: list[PredictJob] = []
    taken: set[str] = set()
    seen: set[tuple[str, tuple[str, ...] | None]] = set()
    for path, ds_chains, error in entries:
        job_chains = selected or ds_chains
        key = (os.path.realpath(path), job_chains)
        if key in seen:
            continue
        seen.add(key)
        if error:
            jobs.append(PredictJob(path=path, name=path.name, chains=job_chains, error=error))
        else:
            jobs.append(PredictJob(path=path, name=_unique_name(path, taken), chains=job_chains))
    return jobs
