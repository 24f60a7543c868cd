"""Featurise many dataset entries: one failure never stops the run.

Each entry yields ``(features or None, record)``; the record says what happened
(``ok`` or ``failed`` with the reason), so a run over thousands of structures
ends with a complete account instead of a traceback. Records hold no timings:
they are DVC outputs and must be identical on every run.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Iterable, Iterator, Sequence

from pocknet.structure.datasets import DatasetEntry
from pocknet.errors import PockNetError
from pocknet.featurize.features import FeaturizeConfig, ProteinFeatures, featurize_file
from pocknet.progress import progress

__all__ = ["RECORD_COLUMNS", "featurize_entry", "featurize_entries"]

log = logging.getLogger(__name__)

RECORD_COLUMNS = (
    "id",
    "source",
    "chains",
    "status",
    "error",
    "points",
    "positives",
    "relevant_ligands",
)


def featurize_entry(entry: DatasetEntry, config: FeaturizeConfig) -> tuple[ProteinFeatures | None, dict[str, Any]]:
    """Featurise one entry; user errors become a ``failed`` record, bugs still raise."""
    start = time.perf_counter()
    record: dict[str, Any] = {
        "id": entry.id,
        "source": str(entry.path),
        "chains": ",".join(entry.chains) if entry.chains else "",
        "status": "ok",
        "error": "",
        "points": 0,
        "positives": 0,
        "relevant_ligands": 0,
    }
    features = None
    try:
        features = featurize_file(entry.path, config, id=entry.id, chains=entry.chains)
    except PockNetError as exc:
        record.update(status="failed", error=str(exc))
    else:
        record.update(
            points=features.n_points,
            positives=features.n_positives,
            relevant_ligands=int(features.ligand_relevant.sum()),
        )
    log.debug("%s: %.3f s", entry.id, time.perf_counter() - start)
    return features, record


def _run(args: tuple[DatasetEntry, FeaturizeConfig]) -> tuple[ProteinFeatures | None, dict[str, Any]]:
    return featurize_entry(*args)


def featurize_entries(
    entries: Sequence[DatasetEntry], config: FeaturizeConfig, workers: int = 1
) -> Iterator[tuple[ProteinFeatures | None, dict[str, Any]]]:
    """Featurise entries in order, in ``workers`` processes (1: in this process)."""
    jobs: Iterable[tuple[DatasetEntry, FeaturizeConfig]] = ((e, config) for e in entries)
    if workers <= 1:
        results: Iterable = map(_run, jobs)
        yield from _logged(progress(results, total=len(entries), desc="featurize", unit="protein"))
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = pool.map(_run, jobs, chunksize=4)
        yield from _logged(progress(results, total=len(entries), desc="featurize", unit="protein"))


def _logged(results: Iterable[tuple[ProteinFeatures | None, dict[str, Any]]]) -> Iterator:
    for features, record in results:
        if record["status"] != "ok":
            log.warning("%s: %s", record["id"], record["error"])
        yield features, record
