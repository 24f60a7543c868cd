"""Reporting: PR / success-curve plots, metric tables and a self-contained HTML report.

The last step of the data flow (ARCHITECTURE.md): it only *presents* numbers that
:mod:`pocknet.metrics` computed, so nothing here decides what a metric means.

Design choices, and why:

* **Reproducible bytes.** Plots use a fixed figure size and dpi, matplotlib's default
  style (a user's ``matplotlibrc`` must not change the artefact) and no PNG metadata
  (``Software`` would embed the matplotlib version). Writing the same data twice gives
  identical files, so DVC does not see a change where there is none.
* **No pyplot.** Figures are built with :class:`matplotlib.figure.Figure` on an explicit
  Agg canvas: no global figure registry to leak memory in long pipelines, no GUI backend
  chosen behind our back, safe in worker processes.
* **Offline HTML.** The report is one file with inline CSS and images as base64 PNG data
  URIs: it opens from an artefact store, an e-mail or a cluster without network access.
* **Atomic writes** (:mod:`pocknet.atomic`): a crashed run never leaves half a PNG that
  DVC would then cache.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_curve

from pocknet.atomic import atomic_path, atomic_write
from pocknet.errors import PockNetError

# Same validation and neutral-dropping as every point metric, so a curve can never
# disagree with the PR-AUC printed beside it.
from pocknet.metrics import _labelled

__all__ = [
    "DEFAULT_MAX_POINTS",
    "Block",
    "calibration_tables",
    "html_report",
    "metrics_table",
    "plot_pr_curve",
    "plot_reliability_diagram",
    "plot_success_curve",
    "pr_curve_points",
]

#: One block of an HTML section: a table, a paragraph of text or a PNG file.
Block = pd.DataFrame | str | Path

#: Rows kept by :func:`pr_curve_points`: enough for a smooth curve, small enough for DVC plots.
DEFAULT_MAX_POINTS = 500

_FIGSIZE = (6.4, 4.8)  # inches
_DPI = 100
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_REFERENCE_CUTOFF = 4.0  # Å, the standard DCA/DCC cutoff (SCIENCE.md §8)
_SUCCESS_XMAX = 12.0  # Å


# --------------------------------------------------------------------------------------
# Curves and tables
# --------------------------------------------------------------------------------------


def pr_curve_points(
    labels: np.ndarray, scores: np.ndarray, max_points: int = DEFAULT_MAX_POINTS
) -> pd.DataFrame:
    """Precision-recall operating points, thinned for plotting.

    Parameters
    ----------
    labels : array of int
        1 positive, 0 negative, -1 neutral. Neutral points are ignored, exactly as in
        :func:`pocknet.metrics.pr_auc` (the 2.6–8.1 Å band is neither right nor wrong).
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


def metrics_table(metrics: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    """Turn ``{set_name: {metric: value}}`` into a tidy table.

    Parameters
    ----------
    metrics : mapping
        One inner mapping per evaluation set (e.g. ``"BU48 holo"``, ``"COACH420"``), as the
        reporting pipeline collects them.

    Returns
    -------
    pandas.DataFrame
        One row per set, in the mapping's order; first column ``set``, then one column per
        metric in first-seen order. A metric missing for a set is NaN rather than an
        error, because not every set has every metric (apo sets have no point labels).
    """
    names: list[str] = []
    for values in metrics.values():
        for key in values:
            if key not in names:
                names.append(key)
    rows = [
        {"set": set_name, **{m: values.get(m, math.nan) for m in names}}
        for set_name, values in metrics.items()
    ]
    return pd.DataFrame(rows, columns=["set", *names])


# --------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------


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


_RELIABILITY_COLUMNS = ("lower", "upper", "mean_predicted", "observed", "count")


def calibration_tables(calibration: Mapping[str, Any] | None) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Reliability tables and an ECE table from a model file's ``calibration`` (validation only).

    Parameters
    ----------
    calibration : mapping or None
        ``bundle["calibration"]`` as written by the swa stage
        (:func:`pocknet.predict.calibration.fit_levels`). Older files (a pocket calibrator
        alone, no measurements) and ``None`` give empty results.

    Returns
    -------
    (dict of str to DataFrame, DataFrame)
        Level → reliability rows (``lower, upper, mean_predicted, observed, count``),
        and one row per level: ``level, method, n, ece_val_in_sample,
        ece_val_cross_fitted`` (+ equal-mass variants and the uncalibrated ECE where known).
    """
    if not calibration or "method" in calibration:
        return {}, pd.DataFrame()
    tables = {
        level: pd.DataFrame(rows, columns=list(_RELIABILITY_COLUMNS))
        for level, rows in (calibration.get("reliability") or {}).items()
        if rows
    }
    keys = ["method", "n", "positives", "ece_val_in_sample", "ece_val_cross_fitted", "ece_val_in_sample_equal_mass",
            "ece_val_cross_fitted_equal_mass", "ece_val_uncalibrated"]  # fmt: skip
    ece = calibration.get("ece") or {}
    rows = [{"level": level, **{k: stats.get(k) for k in keys}} for level, stats in ece.items()]
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame = frame.dropna(axis=1, how="all")
    return tables, frame


def plot_reliability_diagram(
    tables: Mapping[str, pd.DataFrame], path: str | Path, title: str | None = None
) -> Path:
    """Observed frequency against mean predicted probability per bin, one line per named table.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        ``{"pocket (ECE 0.04)": frame, ...}`` with columns ``mean_predicted``,
        ``observed`` and ``count`` (:func:`pocknet.predict.calibration.reliability_table`).
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


# --------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 60em; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 1em 0; font-size: .92em; }
th, td { border: 1px solid #ccc; padding: .3em .6em; }
th { background: #f0f0f0; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) { background: #fafafa; }
img { max-width: 100%; height: auto; display: block; margin: 1em 0; }
""".strip()


def _format_cell(value: object, column: str) -> tuple[str, bool]:
    """Text for one table cell and whether it is numeric (right-aligned).

    Floats get 3 decimals; columns named ``*_pct`` hold percentages (75.2 means 75.2 %)
    and get one decimal and a ``%`` sign. Missing values show as an en dash.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "–", True
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)), False
    if isinstance(value, (int, np.integer)):
        return (f"{int(value)} %" if column.endswith("_pct") else str(int(value))), True
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return "–", True
        return (f"{float(value):.1f} %" if column.endswith("_pct") else f"{float(value):.3f}"), True
    return str(value), False


def _table_html(frame: pd.DataFrame) -> str:
    """Render a DataFrame as an escaped HTML table (index shown only when meaningful)."""
    show_index = not isinstance(frame.index, pd.RangeIndex) or frame.index.name is not None
    columns = [str(c) for c in frame.columns]
    head = ([html.escape(str(frame.index.name or ""))] if show_index else []) + [
        html.escape(c) for c in columns
    ]
    lines = ["<table>", "<thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead>", "<tbody>"]
    for index, row in zip(frame.index, frame.itertuples(index=False, name=None)):
        cells = [f"<th>{html.escape(str(index))}</th>"] if show_index else []
        for column, value in zip(columns, row):
            text, numeric = _format_cell(value, column)
            cls = ' class="num"' if numeric else ""
            cells.append(f"<td{cls}>{html.escape(text)}</td>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines += ["</tbody>", "</table>"]
    return "\n".join(lines)


def _text_html(text: str) -> str:
    """Escaped paragraphs; a blank line in ``text`` starts a new paragraph."""
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    return "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)


def _image_html(path: Path) -> str:
    """An ``<img>`` with the PNG embedded as a base64 data URI."""
    if not path.is_file():
        raise PockNetError(f"report image {path} does not exist")
    data = path.read_bytes()
    if not data.startswith(_PNG_SIGNATURE):
        raise PockNetError(f"report image {path} is not a PNG file")
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{encoded}">'


def _block_html(block: Block) -> str:
    if isinstance(block, pd.DataFrame):
        return _table_html(block)
    if isinstance(block, Path):
        return _image_html(block)
    if isinstance(block, str):
        return _text_html(block)
    raise TypeError(f"report block must be a DataFrame, str or pathlib.Path, got {type(block).__name__}")


def html_report(title: str, sections: Sequence[tuple[str, Sequence[Block]]], path: str | Path) -> Path:
    """Write a single-file, offline HTML report.

    Parameters
    ----------
    title : str
        Page title and top heading.
    sections : sequence of (heading, blocks)
        Each block is a :class:`pandas.DataFrame` (an HTML table: floats with 3
        decimals, ``*_pct`` columns as percentages), a ``str`` (escaped paragraphs) or a
        :class:`pathlib.Path` to a PNG (embedded as a base64 data URI). A ``str`` is always
        text, never a file name, so a path must be passed as ``Path``.
    path : path-like
        HTML file to write (atomically).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    PockNetError
        An image block names a missing file or a file that is not a PNG.
    """
    # Render everything first: a bad block must fail before anything is written.
    body = [f"<h1>{html.escape(title)}</h1>"]
    for heading, blocks in sections:
        body.append("<section>")
        body.append(f"<h2>{html.escape(heading)}</h2>")
        body.extend(_block_html(block) for block in blocks)
        body.append("</section>")
    document = "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f"<title>{html.escape(title)}</title>",
            f"<style>\n{_CSS}\n</style>",
            "</head>",
            "<body>",
            *body,
            "</body>",
            "</html>",
            "",
        ]
    )
    path = Path(path)
    with atomic_write(path) as handle:
        handle.write(document)
    return path
