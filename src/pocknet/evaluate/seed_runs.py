"""Finished runs kept in git, so a seed sweep can outlive the DVC experiments that made it.

``dvc exp run`` keeps each experiment as a git ref and its outputs in the DVC cache; where
neither survives (a fresh checkout per session, no shared remote) a five-seed sweep on a
2-core machine cannot be finished in one sitting. :func:`save_run` copies what the seed
report needs from a finished workspace into a small folder meant to be committed: the run's
``dvc.lock`` and ``params.yaml``, its metrics files (checked against the lock's hashes, so
they are that run's), and the shipped-candidate model (for a later ensemble study).
:func:`runs_table` reads such folders back as the same table
:func:`pocknet.evaluate.experiments.experiments_from_dvc_json` gives, after checking that
the runs differ in nothing but the seed: every stage's dependency hashes and every other
parameter must agree, or the interval would mix seed noise with a code or setting change.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from pocknet.errors import PockNetError
from pocknet.evaluate.experiments import flatten_keys

__all__ = ["MODEL_FILE", "metrics_paths", "runs_table", "save_run"]

MODEL_FILE = "data/05_models/final_model.pt"
_LOCK, _PARAMS = "dvc.lock", "params.yaml"


def _yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PockNetError(f"cannot read {path}: {exc}") from exc


def metrics_paths(repo_dir: Path) -> list[str]:
    """The metrics files ``dvc.yaml`` declares (stage ``metrics:`` entries), in stage order."""
    stages = (_yaml(repo_dir / "dvc.yaml") or {}).get("stages") or {}
    paths: list[str] = []
    for stage in stages.values():
        for entry in stage.get("metrics") or []:
            paths.extend(entry if isinstance(entry, Mapping) else [entry])
    return paths


def _locked_outputs(lock: Mapping[str, Any]) -> dict[str, str]:
    return {
        out["path"]: out.get("md5", "")
        for stage in lock.get("stages", {}).values()
        for out in stage.get("outs", [])
    }


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def save_run(repo_dir: str | Path, dest: str | Path) -> Path:
    """Copy a finished run (the workspace of ``repo_dir``) into the new folder ``dest``.

    Every copied metrics file and the model must have the hash ``dvc.lock`` records: a
    workspace edited or half-reproduced after the lock was written is refused.
    """
    repo_dir, dest = Path(repo_dir), Path(dest)
    if dest.exists():
        raise PockNetError(f"{dest} exists; a saved run is never overwritten")
    lock = _yaml(repo_dir / _LOCK)
    if not isinstance(lock, Mapping):
        raise PockNetError(f"{repo_dir / _LOCK}: not a dvc.lock")
    outputs = _locked_outputs(lock)
    files = [_LOCK, _PARAMS, *metrics_paths(repo_dir), MODEL_FILE]
    for name in files[2:]:
        path = repo_dir / name
        if name not in outputs:
            raise PockNetError(f"{name} is not an output in {repo_dir / _LOCK}; run `dvc repro` first")
        if not path.is_file() or _md5(path) != outputs[name]:
            raise PockNetError(
                f"{path} is missing or differs from {_LOCK}; run `dvc repro` (or `dvc checkout`) first"
            )
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        for name in files:
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(repo_dir / name, target)
        staging.rename(dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dest


def _stage_signature(lock: Mapping[str, Any], seed_param: str) -> dict[str, Any]:
    """What must agree between runs of one sweep: each stage's command, its deps that no stage
    writes (code, configuration, raw data: what a stage writes may follow from the seed) and
    its params but the seed."""
    written = set(_locked_outputs(lock))
    signature: dict[str, Any] = {}
    for name, stage in sorted((lock.get("stages") or {}).items()):
        signature[f"{name}.cmd"] = stage.get("cmd")
        for dep in stage.get("deps", []):
            if dep["path"] not in written:
                signature[f"{name}: {dep['path']}"] = dep.get("md5")
        for file, values in (stage.get("params") or {}).items():
            flat: dict[str, Any] = {}
            flatten_keys(values, "", flat)
            signature.update(
                {f"{name}: {file}:{key}": value for key, value in flat.items() if key != seed_param}
            )
    return signature


def runs_table(run_dirs: Iterable[str | Path], seed_param: str = "training.seed") -> pd.DataFrame:
    """One row per saved run (columns as :func:`~pocknet.evaluate.experiments.experiments_from_dvc_json`).

    PockNetError when a folder is not a saved run, when two runs share a seed (one run
    would count twice), or when they differ in anything but ``seed_param``.
    """
    run_dirs = sorted(Path(d) for d in run_dirs)
    if not run_dirs:
        raise PockNetError("no saved runs given")
    rows, param_cols, metric_cols = [], [], []
    reference: tuple[Path, dict[str, Any]] | None = None
    for run in run_dirs:
        if not (run / _LOCK).is_file() or not (run / _PARAMS).is_file():
            raise PockNetError(
                f"{run}: not a saved run (no {_LOCK} and {_PARAMS}; see `pocknet report save-run`)"
            )
        lock = _yaml(run / _LOCK)
        signature = _stage_signature(lock, seed_param)
        if reference is None:
            reference = (run, signature)
        else:
            different = sorted(
                k for k in {*signature, *reference[1]} if signature.get(k) != reference[1].get(k)
            )
            if different:
                raise PockNetError(f"{run} and {reference[0]} differ in more than {seed_param}: "
                                   f"{', '.join(different[:5])}{' …' if len(different) > 5 else ''}")  # fmt: skip
        params: dict[str, Any] = {}
        flatten_keys(_yaml(run / _PARAMS), "", params)
        metrics: dict[str, Any] = {}
        outputs = _locked_outputs(lock)
        for name in sorted(p for p in outputs if p.endswith(".json") and (run / p).is_file()):
            flat: dict[str, Any] = {}
            flatten_keys(json.loads((run / name).read_text(encoding="utf-8")), "", flat)
            metrics.update({f"{name}:{key}": value for key, value in flat.items()})
        for cols, new in ((param_cols, params), (metric_cols, metrics)):
            cols.extend(k for k in new if k not in cols)
        rows.append({"name": run.name, "rev": None, "baseline": None, **params, **metrics})
    frame = pd.DataFrame(rows, columns=["name", "rev", "baseline", *param_cols, *metric_cols]).infer_objects()
    seeds = frame.get(seed_param)
    if seeds is not None and seeds.duplicated().any():
        raise PockNetError(
            f"saved runs share a {seed_param}: {sorted(frame.loc[seeds.duplicated(keep=False), 'name'])}"
        )
    frame.attrs["param_columns"] = param_cols
    frame.attrs["metric_columns"] = metric_cols
    frame.attrs["metric_errors"] = {}
    return frame
