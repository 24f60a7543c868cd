"""Thin nodes: resolve parameters, call pocknet.featurize.batch / pocknet.structure.datasets, shape outputs."""

from __future__ import annotations

import logging
from typing import Any, Iterator

import pandas as pd

from pocknet.featurize.batch import RECORD_COLUMNS, featurize_entries
from pocknet.structure.datasets import DatasetEntry, open_dataset
from pocknet.errors import ConfigError, DatasetError
from pocknet.featurize.features import FeaturizeConfig, ProteinFeatures

log = logging.getLogger(__name__)


def _entries(params: dict[str, Any]) -> tuple[list[DatasetEntry], list[dict[str, Any]]]:
    specs = params.get("datasets") or []
    if not specs:
        raise ConfigError("data_engineering.datasets: list at least one .ds file or folder")
    entries: list[DatasetEntry] = []
    missing: list[dict[str, Any]] = []
    for spec in specs:
        try:
            entries.extend(open_dataset(spec, params["data_root"]).entries)
        except DatasetError as exc:
            log.warning("dataset skipped: %s", exc)
            missing.append({"id": spec, "source": spec, "status": "missing_dataset", "error": str(exc)})
    if not entries:
        raise DatasetError(f"no structures found in {specs} under data root {params['data_root']!r}")
    ids = [e.id for e in entries]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise DatasetError(f"structure ids listed twice: {duplicates[:5]}")
    return entries, missing


def featurize_datasets(params: dict[str, Any]) -> Iterator[tuple[dict[str, ProteinFeatures], pd.DataFrame]]:
    """Yield batches of per-protein features plus the run log so far.

    A generator node: Kedro saves each batch as it comes, so memory holds one
    batch, not the whole dataset.
    """
    config = FeaturizeConfig.from_params(params)
    entries, records = _entries(params)
    batch: dict[str, ProteinFeatures] = {}
    batch_size = int(params.get("save_every", 16))
    for features, record in featurize_entries(entries, config, workers=int(params.get("workers", 1))):
        records.append(record)
        if features is not None:
            batch[features.id] = features
        if len(batch) >= batch_size:
            yield batch, _log_frame(records)
            batch = {}
    yield batch, _log_frame(records)


def _log_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame.from_records(records, columns=list(RECORD_COLUMNS))


def summarize(run_log: pd.DataFrame) -> tuple[dict[str, Any], pd.DataFrame]:
    """Run summary (DVC metrics) and the failures table."""
    ok = run_log[run_log["status"] == "ok"]
    failures = run_log[run_log["status"] != "ok"][["id", "source", "status", "error"]]
    points = int(ok["points"].sum())
    positives = int(ok["positives"].sum())
    summary = {
        "proteins": int(len(ok)),
        "points": points,
        "positives": positives,
        "positive_rate": round(positives / points, 6) if points else 0.0,
        "relevant_ligands": int(ok["relevant_ligands"].sum()),
        "proteins_without_ligand": int((ok["relevant_ligands"] == 0).sum()),
        "failures": int((run_log["status"] == "failed").sum()),
        "missing_datasets": int((run_log["status"] == "missing_dataset").sum()),
    }
    log.info("data_engineering: %s", summary)
    return summary, failures.reset_index(drop=True)
