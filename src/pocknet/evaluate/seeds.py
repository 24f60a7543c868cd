"""Seed sweeps: mean and 95 % t-interval of each metric over DVC experiments.

SCIENCE.md §8 asks for every headline number over seeds as "mean and 95 % CI
(t-interval over seeds)". A sweep is a set of DVC experiments that differ only in the
seed, e.g. ``dvc exp run -S training.seed=13`` … ``=21``; ``dvc exp show --json``
lists them with their params and metrics (:mod:`pocknet.evaluate.experiments` turns
that into a table), and this module summarises it into ``seeds.md`` / ``seeds.csv``.

Why a Student-t interval: sweeps have 3–10 seeds, where the normal approximation
(1.96 σ/√n) is far too narrow; with ``n − 1`` degrees of freedom and the sample standard
deviation the interval has the stated coverage for normally distributed run-to-run noise.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from pocknet.atomic import atomic_write
from pocknet.errors import ConfigError, PockNetError
from pocknet.evaluate.experiments import dvc_exp_show, experiments_from_dvc_json
from pocknet.evaluate.seed_runs import runs_table

__all__ = [
    "SUMMARY_COLUMNS",
    "run_seed_report",
    "seed_report",
    "summarize_seeds",
    "t_interval",
    "write_seed_report",
]

log = logging.getLogger(__name__)

#: Columns of :func:`summarize_seeds`, in order.
SUMMARY_COLUMNS = ["metric", "n", "mean", "ci95_half_width", "ci95_low", "ci95_high", "min", "max"]


# --------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------


def t_interval(values: Iterable[float], confidence: float = 0.95) -> tuple[float, float]:
    """Mean and half width of the Student-t confidence interval for the mean.

    Parameters
    ----------
    values : iterable of float
        One value per seed. NaNs (a run whose metric is undefined) are ignored, so ``n`` is
        the number of finite values.
    confidence : float
        Two-sided coverage, in (0, 1).

    Returns
    -------
    (mean, half_width) : tuple of float
        ``half_width = t.ppf((1 + confidence) / 2, n - 1) * s / sqrt(n)`` with ``s`` the
        sample standard deviation (``ddof=1``). With one value the spread is unknown, so
        the half width is NaN (not 0, which would claim certainty); with none both are NaN.
    """
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence}")
    x = np.array(list(values), dtype=np.float64)
    x = x[~np.isnan(x)]
    n = x.size
    if n == 0:
        return math.nan, math.nan
    mean = float(x.mean())
    if n == 1:
        return mean, math.nan
    s = float(x.std(ddof=1))
    half = float(stats.t.ppf((1.0 + confidence) / 2.0, n - 1)) * s / math.sqrt(n)
    return mean, half


def summarize_seeds(frame: pd.DataFrame, seed_column: str = "seed") -> pd.DataFrame:
    """One row per metric: count, mean, 95 % t-interval, min and max over seeds.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per run (experiment), a ``seed_column`` and metric columns. Every numeric
        column other than the seed is treated as a metric; non-numeric columns (names,
        revisions) are ignored.
    seed_column : str
        Name of the seed column. A repeated seed is logged as a warning: two runs with the
        same seed are not independent samples and make the interval too narrow.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SUMMARY_COLUMNS`; ``n`` counts the runs where the metric is defined.
    """
    if seed_column not in frame.columns:
        raise ConfigError(f"seed column {seed_column!r} not found; columns are {list(frame.columns)}")
    seeds = frame[seed_column].dropna()
    duplicated = sorted(set(seeds[seeds.duplicated()].tolist()))
    if duplicated:
        log.warning("seed(s) %s occur more than once; the interval will be too narrow", duplicated)
    rows = []
    for column in frame.columns:
        if column == seed_column or not _is_numeric(frame[column]):
            continue
        values = frame[column].to_numpy(dtype=np.float64, na_value=np.nan)
        finite = values[~np.isnan(values)]
        mean, half = t_interval(finite)
        rows.append(
            {
                "metric": str(column),
                "n": int(finite.size),
                "mean": mean,
                "ci95_half_width": half,
                "ci95_low": mean - half,
                "ci95_high": mean + half,
                "min": float(finite.min()) if finite.size else math.nan,
                "max": float(finite.max()) if finite.size else math.nan,
            }
        )
    summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    return summary.astype({"n": np.int64})


def _is_numeric(series: pd.Series) -> bool:
    """Numeric and not boolean (a flag is a setting, not a metric to average)."""
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


# --------------------------------------------------------------------------------------
# Seed report
# --------------------------------------------------------------------------------------


def seed_report(
    experiments: pd.DataFrame, seed_param: str = "training.seed", metrics: Sequence[str] | None = None
) -> pd.DataFrame:
    """Summarise metrics over the seeds of a sweep.

    Parameters
    ----------
    experiments : pandas.DataFrame
        As returned by :func:`pocknet.evaluate.experiments.experiments_from_dvc_json`.
    seed_param : str
        Column holding the seed (a dotted ``params.yaml`` key).
    metrics : sequence of str, optional
        Metric columns to summarise. Default: every numeric metric column, taken from
        ``experiments.attrs["metric_columns"]`` or, when that is absent (a frame built by
        hand), every numeric column whose name contains ``:`` (the ``<file>:<key>``
        naming of metrics).

    Returns
    -------
    pandas.DataFrame
        :func:`summarize_seeds` output, one row per metric.

    Raises
    ------
    ConfigError
        The seed column or a requested metric is missing, or no numeric metric is left.
    """
    if seed_param not in experiments.columns:
        raise ConfigError(
            f"seed parameter {seed_param!r} not found in the experiments; "
            f"params are {experiments.attrs.get('param_columns', list(experiments.columns))}"
        )
    if metrics is None:
        candidates = experiments.attrs.get("metric_columns")
        if candidates is None:
            candidates = [c for c in experiments.columns if ":" in str(c)]
        metrics = [c for c in candidates if c != seed_param and _is_numeric(experiments[c])]
    else:
        missing = [m for m in metrics if m not in experiments.columns]
        if missing:
            raise ConfigError(f"metric(s) {missing} not found; columns are {list(experiments.columns)}")
    if not metrics:
        errors = experiments.attrs.get("metric_errors") or {}
        hint = "".join(f"; {path}: {msg}" for path, msg in errors.items())
        raise ConfigError(
            f"no numeric metric columns to summarise over seeds{hint} "
            "(a `cache: false` metrics file must be tracked by git, not ignored)"
            if hint
            else "no numeric metric columns to summarise over seeds"
        )
    without_seed = experiments[seed_param].isna()
    if without_seed.any():
        log.warning("%d experiment(s) have no %s and are left out", int(without_seed.sum()), seed_param)
    frame = experiments.loc[~without_seed, [seed_param, *metrics]]
    return summarize_seeds(frame, seed_column=seed_param)


def _fmt(value: float) -> str:
    """Four significant digits; NaN as ``n/a`` (e.g. the half width of a single seed)."""
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4g}"


def _markdown(summary: pd.DataFrame) -> str:
    lines = [
        "# Seed sweep",
        "",
        "Mean ± half width of the 95 % Student-t interval over seeds (n − 1 degrees of freedom).",
        "",
        "| metric | n | mean ± 95 % CI | 95 % CI | min | max |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in summary.itertuples(index=False):
        metric = str(row.metric).replace("|", "\\|")
        lines.append(
            f"| {metric} | {row.n} | {_fmt(row.mean)} ± {_fmt(row.ci95_half_width)} "
            f"| [{_fmt(row.ci95_low)}, {_fmt(row.ci95_high)}] | {_fmt(row.min)} | {_fmt(row.max)} |"
        )
    return "\n".join(lines) + "\n"


def write_seed_report(summary: pd.DataFrame, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``seeds.md`` (human-readable, mean ± half width) and ``seeds.csv`` (full precision).

    Both are written atomically, so DVC never caches half a report.

    Returns
    -------
    (markdown_path, csv_path) : tuple of pathlib.Path
    """
    missing = [c for c in SUMMARY_COLUMNS if c not in summary.columns]
    if missing:
        raise ValueError(f"seed summary lacks column(s) {missing}")
    out_dir = Path(out_dir)
    md_path, csv_path = out_dir / "seeds.md", out_dir / "seeds.csv"
    with atomic_write(md_path) as handle:
        handle.write(_markdown(summary))
    with atomic_write(csv_path) as handle:
        summary[SUMMARY_COLUMNS].to_csv(handle, index=False, lineterminator="\n")
    return md_path, csv_path

def run_seed_report(
    repo_dir: str | Path,
    out_dir: str | Path,
    seed_param: str = "training.seed",
    *,
    metrics: Sequence[str] | None = None,
    all_commits: bool = False,
    runs: Sequence[str | Path] | None = None,
) -> tuple[Path, Path]:
    """``pocknet report seeds``: list DVC experiments (or saved runs), summarise over seeds, write the report.

    Parameters
    ----------
    repo_dir : path-like
        The DVC project whose experiments form the sweep.
    out_dir : path-like
        Folder for ``seeds.md`` and ``seeds.csv``.
    seed_param : str
        ``params.yaml`` key that varies across the sweep.
    metrics : sequence of str, optional
        Metric columns to report (default: all numeric metrics).
    all_commits : bool
        Include experiments based on every commit, not only on ``HEAD`` (DVC's default).
    runs : sequence of path-like, optional
        Folders written by :func:`pocknet.evaluate.seed_runs.save_run`, read instead of
        ``dvc exp show`` (a sweep run over several sittings).

    Returns
    -------
    (markdown_path, csv_path) : tuple of pathlib.Path

    Raises
    ------
    PockNetError
        ``repo_dir`` is not a folder, ``dvc`` fails, or there are no finished experiments.
    """
    if runs:
        summary = seed_report(runs_table(runs, seed_param), seed_param=seed_param, metrics=metrics)
        return write_seed_report(summary, out_dir)
    repo_dir = Path(repo_dir)
    if not repo_dir.is_dir():
        raise PockNetError(f"DVC repository {repo_dir} is not a folder")
    experiments = experiments_from_dvc_json(dvc_exp_show(repo_dir, all_commits))
    if experiments.empty:
        raise PockNetError(
            f"no finished DVC experiments in {repo_dir}; run e.g. `dvc exp run -S {seed_param}=13` first"
        )
    summary = seed_report(experiments, seed_param=seed_param, metrics=metrics)
    return write_seed_report(summary, out_dir)
