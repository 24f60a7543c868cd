"""DVC experiments as a table: ``dvc exp show --json`` → one row per finished experiment.

Shared by the seed report (:mod:`pocknet.evaluate.seeds`) and the study table
(:mod:`pocknet.evaluate.study`), which both need every experiment's params and metrics
with the file each came from.

Why the JSON of ``dvc exp show`` and not ``dvc.api.exp_show``: the API returns DVC's
*display* table. It names a column by its bare key unless two files share that key
(``coach420.dca_top_n``, or ``metrics.json:coach420.dca_top_n`` on a collision), so a
column's name depends on the other files; it does not say which columns are metrics
and which are params (the seed report would average ``training.lr``); it turns ints
into floats, booleans and lists into strings, a metrics file DVC could not read into
``"!"`` without the error, revisions into 7 characters, and has no ``--all-commits``.
The JSON keeps all of that; its numbers are the same (a test compares both).

``dvc exp show --json`` (DVC 3.x) layout, as observed with DVC 3.67::

    [ {"rev": "workspace", "name": null, "data": {...}, "error": null, "experiments": null},
      {"rev": "<sha>", "name": "master",              # the baseline commit
       "data": {"rev": ..., "timestamp": ...,
                "params":  {"params.yaml":  {"data": {"training": {"seed": 1}}}},
                "metrics": {"metrics.json": {"data": {...}}
                            | {"error": {"type": ..., "msg": ...}}},
                "deps": {}, "outs": {}, "meta": {}},
       "error": null,
       "experiments": [                                 # null when there are none
          {"name": "about-stob", "executor": null,       # {"state": "queued"|...} if not done
           "revs": [ {"rev": "<sha>", "name": "about-stob", "data": {...same...},
                      "error": null, "experiments": null} ]},
          ...]} ]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from pocknet.errors import PockNetError

__all__ = ["dvc_exp_show", "experiments_from_dvc_json", "flatten_keys"]

_PARAMS_FILE = "params.yaml"  # its keys get bare dotted names (training.seed)
_ID_COLUMNS = ("name", "rev", "baseline")
_DVC_TIMEOUT_S = 300


def flatten_keys(data: Any, prefix: str, out: dict[str, Any]) -> None:
    """Nested dicts → dotted keys (``{"training": {"seed": 1}}`` → ``training.seed``)."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            flatten_keys(value, f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(data, list):
        # Lists (e.g. a list of dataset names) are settings, not sweep axes: keep them whole
        out[prefix] = json.dumps(data)
    else:
        out[prefix] = data


def _file_columns(
    files: Mapping[str, Any] | None, bare_file: str | None, errors: dict[str, str] | None = None
) -> dict[str, Any]:
    """Flatten ``{"<path>": {"data": {...}}}``; files that failed to load contribute nothing.

    Their DVC error message is recorded in ``errors`` (by path) so that an empty report can
    say why, e.g. a ``cache: false`` metrics file that is git-ignored never reaches the
    experiment commit and shows up as ``FileNotFoundError``.
    """
    out: dict[str, Any] = {}
    for path, entry in (files or {}).items():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("data"), Mapping):
            if errors is not None and isinstance(entry, Mapping) and isinstance(entry.get("error"), Mapping):
                errors.setdefault(path, str(entry["error"].get("msg") or entry["error"].get("type")))
            continue
        flat: dict[str, Any] = {}
        flatten_keys(entry["data"], "", flat)
        out.update(flat if path == bare_file else {f"{path}:{k}": v for k, v in flat.items()})
    return out


def _is_finished(experiment: Mapping[str, Any]) -> bool:
    """Finished experiments have no executor (or one in state ``success``).

    Queued, running and failed experiments are listed too, but with params only or
    partial metrics; averaging them in would bias the sweep.
    """
    executor = experiment.get("executor")
    return executor is None or (isinstance(executor, Mapping) and executor.get("state") == "success")


def experiments_from_dvc_json(data: list[Any] | dict[str, Any]) -> pd.DataFrame:
    """Parse ``dvc exp show --json`` into one row per finished experiment.

    Parameters
    ----------
    data : list or dict
        The decoded JSON. DVC 3.x emits a list of commit entries (see the module
        docstring); a single entry as a dict is accepted too.

    Returns
    -------
    pandas.DataFrame
        Columns ``name``, ``rev`` (experiment commit), ``baseline`` (name or rev of the
        commit it was run from), then flattened params, then flattened metrics.

    Notes
    -----
    Rows are the items of each commit's ``"experiments"`` list, nothing else: the
    ``workspace`` row and the baseline commits themselves are *not* experiments of a
    sweep (the workspace is whatever was run last; the baseline usually has no metrics)
    and are skipped. Of an experiment's ``"revs"`` the first (its latest state) is used.
    Experiments that are queued, running or failed, or whose entry carries an error, are
    skipped.

    Column naming: keys of ``params.yaml`` become bare dotted names (``training.seed``),
    so the same name works in ``dvc exp run -S``; keys of any other params file and of
    every metrics file are prefixed with the file path and a colon
    (``data/07_reporting/metrics.json:coach420.dca_top_n``), DVC's own notation. Lists
    are kept as JSON strings. The metric columns are recorded in
    ``frame.attrs["metric_columns"]`` (params in ``frame.attrs["param_columns"]``), which
    :func:`pocknet.evaluate.seeds.seed_report` uses to tell metrics from params; metrics
    files that DVC could not read in some experiment are in ``frame.attrs["metric_errors"]``
    (path → message).
    """
    commits = [data] if isinstance(data, Mapping) else list(data)
    rows: list[dict[str, Any]] = []
    param_cols: list[str] = []
    metric_cols: list[str] = []
    metric_errors: dict[str, str] = {}
    for commit in commits:
        if not isinstance(commit, Mapping):
            raise PockNetError(
                f"dvc exp show --json: expected an object per commit, got {type(commit).__name__}"
            )
        baseline = commit.get("name") or commit.get("rev")
        for experiment in commit.get("experiments") or []:
            revs = experiment.get("revs") or []
            if not revs or not _is_finished(experiment):
                continue
            entry = revs[0]
            payload = entry.get("data")
            if entry.get("error") or not isinstance(payload, Mapping):
                continue
            params = _file_columns(payload.get("params"), _PARAMS_FILE)
            metrics = _file_columns(payload.get("metrics"), None, metric_errors)
            for cols, new in ((param_cols, params), (metric_cols, metrics)):
                cols.extend(k for k in new if k not in cols)
            rows.append(
                {
                    "name": entry.get("name") or experiment.get("name"),
                    "rev": entry.get("rev"),
                    "baseline": baseline,
                    **params,
                    **metrics,
                }
            )
    columns = [*_ID_COLUMNS, *param_cols, *(c for c in metric_cols if c not in param_cols)]
    frame = pd.DataFrame(rows, columns=columns)
    frame = frame.infer_objects()
    frame.attrs["param_columns"] = list(param_cols)
    frame.attrs["metric_columns"] = [c for c in metric_cols if c not in param_cols]
    frame.attrs["metric_errors"] = metric_errors
    return frame


def dvc_exp_show(repo_dir: Path, all_commits: bool) -> Any:
    """Run ``dvc exp show --json`` with this interpreter's DVC and decode its output."""
    cmd = [sys.executable, "-m", "dvc", "exp", "show", "--json"]
    if all_commits:
        cmd.append("--all-commits")
    env = dict(os.environ, DVC_NO_ANALYTICS="1")
    try:
        result = subprocess.run(
            cmd, cwd=repo_dir, env=env, capture_output=True, text=True, timeout=_DVC_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise PockNetError(f"`dvc exp show --json` in {repo_dir} took over {_DVC_TIMEOUT_S} s") from exc
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()[-2000:]
        raise PockNetError(f"`dvc exp show --json` failed in {repo_dir} (exit {result.returncode}): {detail}")
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise PockNetError(f"`dvc exp show --json` in {repo_dir} printed no valid JSON: {exc}") from exc

