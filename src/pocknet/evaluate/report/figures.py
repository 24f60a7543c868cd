"""Report figures: precision-recall points and PNG plots (PR, success rate, reliability).

Design choices, and why:

* **Reproducible bytes.** Plots use a fixed figure size and dpi, matplotlib's default
  style (a user's ``matplotlibrc`` must not change the artefact) and no PNG metadata
  (``Software`` would embed the matplotlib version). Writing the same data twice gives
  identical files, so DVC does not see a change where there is none.
* **No pyplot.** Figures are built with :class:`matplotlib.figure.Figure` on an explicit
  Agg canvas: no global figure registry to leak memory in long pipelines, no GUI backend
  chosen behind our back, safe in worker processes.
* **Atomic writes** (:mod:`pocknet.atomic`): a crashed run never leaves half a PNG that
  DVC would then cache.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_curve

from pocknet.atomic import atomic_path

# Same validation and neutral-dropping as every point metric, so a curve can never
# disagree with the PR-AUC printed beside it.
from pocknet.metrics.points import _labelled

__all__ = [
    "DEFAULT_MAX_POINTS",
    "plot_pr_curve",
    "plot_reliability_diagram",
    "plot_success_curve",
    "pr_curve_points",
]

#: Rows kept by :func:`pr_curve_points`: enough for a smooth curve, small enough for DVC plots.
DEFAULT_MAX_POINTS = 500

_FIGSIZE = (6.4, 4.8)  # inches
_DPI = 100
_REFERENCE_CUTOFF = 4.0  # Å, the standard DCA/DCC cutoff (SCIENCE.md §8)
_SUCCESS_XMAX = 12.0  # Å


def pr_curve_points(
    labels: np.ndarray, scores: np.ndarray, max_points: int = DEFAULT_MAX_POINTS
) -> pd.DataFrame:
    """Precision-recall operating points, thinned for plotting.

    Parameters
    ----------
    labels : array of int
        1 positive, 0 negative, -1 neutral. Neutral points are ignored, exactly as in
        :func:`pocknet.metrics.points.pr_auc` (the 2.6–8.1 Å band is neither right nor wrong).
    scores : array of float
        Point probabilities; a point is predicted positive when ``score >= threshold``.
    max_points : int
        Upper bound on the rows returned. A pooled test set has hundreds of thousands of
        distinct scores; DVC plots and browsers choke on that and a curve needs ~500.

    Returns
    -------
    pandas.DataFrame
        Columns ``recall``, ``precision``, ``threshold`` (float64), sorted by increasing
        recall. Rows are chosen evenly spaced in recall, always keeping both ends; where
        several thresholds share a recall the highest one (best precision) is kept. Every
        row is a real operating point: sklearn's synthetic ``(recall 0, precision 1)``
        end point has no threshold and is dropped. Empty when there are no labelled
        points or no positives (the curve is undefined, not an error).
    """
    if max_points < 2:
        raise ValueError(f"max_points must be at least 2, got {max_points}")
    y, s = _labelled(labels, scores)
    columns = ["recall", "precision", "threshold"]
    if len(y) == 0 or not y.any():
        return pd.DataFrame({c: pd.Series(dtype=np.float64) for c in columns})
    precision, recall, thresholds = precision_recall_curve(y, s)
    # sklearn: thresholds increasing, recall decreasing, one extra trailing point without
    # a threshold. Reverse to increasing recall and drop that point.
    precision = precision[:-1][::-1]
    recall = recall[:-1][::-1]
    thresholds = thresholds[::-1]
    if len(recall) > max_points:
        grid = np.linspace(recall[0], recall[-1], max_points - 1)  # + the last point below
        # "left": the first (highest-threshold, best-precision) point at each recall
        idx = np.unique(np.searchsorted(recall, grid, side="left").clip(0, len(recall) - 1))
        idx = np.union1d(idx, [0, len(recall) - 1])
        precision, recall, thresholds = precision[idx], recall[idx], thresholds[idx]
    return pd.DataFrame(
        {
            "recall": recall.astype(np.float64),
            "precision": precision.astype(np.float64),
            "threshold": thresholds.astype(np.float64),
        }
    )


@contextmanager
def _figure() -> Iterator[tuple[Any, Any]]:
    """A (figure, axes) pair on an explicit Agg canvas, built and saved in the default style.

    The whole build-and-save runs inside the style context because several rcParams
    (fonts, savefig colours) are read only when the figure is drawn.
    """
    import matplotlib.style
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with matplotlib.style.context("default"):
        fig = Figure(figsize=_FIGSIZE, dpi=_DPI)
        FigureCanvasAgg(fig)
        yield fig, fig.subplots()


def _save_png(fig: Any, path: str | Path) -> Path:
    """Write ``fig`` atomically as a PNG with no metadata (reproducible bytes)."""
    path = Path(path)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        # The temporary name ends in .tmp, so the format must be explicit.
        fig.savefig(tmp, format="png", dpi=_DPI, metadata={"Software": None})
    return path


def plot_pr_curve(curves: Mapping[str, pd.DataFrame], path: str | Path, title: str | None = None) -> Path:
    """Plot precision against recall, one line per named set.

    Parameters
    ----------
    curves : mapping of str to DataFrame
        ``{"BU48 holo": frame, "COACH420": frame}``, frames as returned by
        :func:`pr_curve_points`. An empty frame (no positives) still gets a legend entry,
        so a missing curve is visible rather than silently absent.
    path : path-like
        PNG to write (atomically).
    title : str, optional
        Figure title.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    with _figure() as (fig, ax):
        for name, frame in curves.items():
            missing = {"recall", "precision"} - set(frame.columns)
            if missing:
                raise ValueError(f"PR curve {name!r} lacks column(s) {sorted(missing)}")
            label = name if len(frame) else f"{name} (undefined)"
            ax.plot(frame["recall"].to_numpy(), frame["precision"].to_numpy(), label=label, linewidth=1.5)
        ax.set_xlabel("Recall")
        ax.set_ylabel("Precision")
        ax.set_xlim(0.0, 1.0)
        ax.set_ylim(0.0, 1.02)
        ax.grid(True, alpha=0.3)
        if curves:
            ax.legend(loc="upper right")
        if title:
            ax.set_title(title)
        return _save_png(fig, path)


def plot_success_curve(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
    path: str | Path,
    xlabel: str = "DCA cutoff (Å)",
    title: str | None = None,
) -> Path:
    """Plot success rate against distance cutoff, one line per method or set.

    Parameters
    ----------
    curves : mapping of str to (cutoffs, rates)
        ``cutoffs`` in Å (typically 0–12), ``rates`` as fractions in [0, 1] (shown as
        percentages). One entry per method/set, e.g. ``"PockNet COACH420"``.
    path : path-like
        PNG to write (atomically).
    xlabel : str
        Axis label; ``"DCC cutoff (Å)"`` for the centroid criterion.
    title : str, optional
        Figure title.

    Returns
    -------
    pathlib.Path
        ``path``.

    Notes
    -----
    A dashed vertical line marks 4 Å, the cutoff every headline number uses
    (SCIENCE.md §8), so the reader sees where the table's value sits on the curve.
    """
    from matplotlib.ticker import PercentFormatter

    with _figure() as (fig, ax):
        xmax = _SUCCESS_XMAX
        for name, (cutoffs, rates) in curves.items():
            x = np.asarray(cutoffs, dtype=np.float64)
            r = np.asarray(rates, dtype=np.float64)
            if x.shape != r.shape or x.ndim != 1:
                raise ValueError(f"success curve {name!r}: cutoffs {x.shape} and rates {r.shape} differ")
            finite = r[np.isfinite(r)]
            if finite.size and (finite.min() < 0.0 or finite.max() > 1.0):
                raise ValueError(f"success curve {name!r}: rates must be fractions in [0, 1]")
            if x.size:
                xmax = max(xmax, float(np.nanmax(x)))
            ax.plot(x, r, label=name, linewidth=1.5)
        ax.axvline(_REFERENCE_CUTOFF, color="0.4", linestyle="--", linewidth=1.0, label="4 Å")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("Success rate")
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
        ax.set_xlim(0.0, xmax)
        ax.set_ylim(0.0, 1.02)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower right")
        if title:
            ax.set_title(title)
        return _save_png(fig, path)


def plot_reliability_diagram(
    tables: Mapping[str, pd.DataFrame], path: str | Path, title: str | None = None
) -> Path:
    """Observed frequency against mean predicted probability per bin, one line per named table.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        ``{"pocket (ECE 0.04)": frame, ...}`` with columns ``mean_predicted``,
        ``observed`` and ``count`` (:func:`pocknet.predict.calibration_metrics.reliability_table`).
        Marker area grows with the bin's count, so a bin of five pockets does not
        look as solid as one of 100 000 points.
    path : path-like
        PNG to write (atomically).
    title : str, optional
        Figure title.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    with _figure() as (fig, ax):
        ax.plot([0.0, 1.0], [0.0, 1.0], color="0.4", linestyle="--", linewidth=1.0, label="perfectly calibrated")
        for name, frame in tables.items():
            missing = {"mean_predicted", "observed", "count"} - set(frame.columns)
            if missing:
                raise ValueError(f"reliability table {name!r} lacks column(s) {sorted(missing)}")
            x = frame["mean_predicted"].to_numpy(dtype=np.float64)
            y = frame["observed"].to_numpy(dtype=np.float64)
            count = frame["count"].to_numpy(dtype=np.float64)
            total = count.sum()
            (line,) = ax.plot(x, y, linewidth=1.2, label=name if len(frame) else f"{name} (no data)")
            if len(frame) and total > 0:
                ax.scatter(x, y, s=10.0 + 150.0 * np.sqrt(count / total), color=line.get_color(), alpha=0.8, zorder=3)
        ax.set_xlabel("Mean predicted probability (bin)")
        ax.set_ylabel("Observed frequency")
        ax.set_xlim(0.0, 1.0)
        ax.set_ylim(0.0, 1.0)
        ax.set_aspect("equal")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper left")
        if title:
            ax.set_title(title)
        return _save_png(fig, path)
