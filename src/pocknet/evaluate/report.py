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
* **Read like a paper.** The summary tables (:func:`summary_tables`) show percentages with
  Wilson 95 % intervals, human headers, PockNet and P2Rank side by side per set, and fit a
  1280 px laptop screen without horizontal scrolling (a browser test checks it). Every number
  of ``metrics.json`` is still there, in a collapsed "all numbers" table.
* **See the misses.** :func:`choose_examples` picks the best, median and worst protein of
  each set by the distance from the top-ranked pocket to the ligand; the reporting stage
  writes a 3D viewer page for each (:mod:`pocknet.predict.viewer`), shown inside the report
  and linked from the sortable per-protein table (:func:`per_protein_table`).
"""

from __future__ import annotations

import base64
import html
import math
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
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
    "Html",
    "calibration_tables",
    "choose_examples",
    "ece_table",
    "examples_block",
    "html_report",
    "metrics_table",
    "per_protein_table",
    "plot_pr_curve",
    "plot_reliability_diagram",
    "plot_success_curve",
    "pr_curve_points",
    "set_label",
    "summary_tables",
]


@dataclass(frozen=True)
class Html:
    """HTML this module rendered itself (every input value escaped), placed as it is.

    ``sortable``: it holds a ``table.sortable`` that the report's small sorting script drives.
    """

    text: str
    sortable: bool = False


#: One block of an HTML section: a table, a paragraph of text, a PNG file or rendered HTML.
Block = pd.DataFrame | str | Path | Html

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
table.paper { border-collapse: collapse; border-top: 2px solid #333; border-bottom: 2px solid #333; }
table.paper th, table.paper td { border: 0; padding: .25em .65em; }
table.paper thead th { background: none; border-bottom: 1px solid #333; vertical-align: bottom; text-align: right; }
table.paper thead th:first-child, table.paper thead th.text { text-align: left; }
table.paper tbody tr.first td { border-top: 1px solid #ccc; }
table.paper tbody tr:nth-child(even) { background: none; }
table.paper td.num { white-space: nowrap; }
table.paper .ci { display: block; color: #666; font-size: .82em; }
caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: .3em; }
p.note { color: #555; font-size: .9em; }
details { margin: 1em 0; }
.scroll { max-width: 100%; overflow-x: auto; }
table.sortable thead th { cursor: pointer; user-select: none; }
table.sortable thead th[aria-sort="ascending"]::after { content: " \\25B2"; font-size: .7em; }
table.sortable thead th[aria-sort="descending"]::after { content: " \\25BC"; font-size: .7em; }
.tall { max-height: 32em; overflow-y: auto; border: 1px solid #ddd; }
.tall table { margin: 0; width: 100%; }
.tall thead th { position: sticky; top: 0; }
iframe.viewer { width: 100%; height: 34em; border: 1px solid #ccc; }
td.miss { color: #a40000; }
""".strip()

# Sorts a table.sortable by the clicked column: numbers by data-v (missing last), text otherwise.
_SORT_JS = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  var heads = table.querySelectorAll("thead th");
  heads.forEach(function (th, col) {
    th.addEventListener("click", function () {
      var asc = th.getAttribute("aria-sort") !== "ascending";
      heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      function key(row) {
        var cell = row.cells[col], v = cell.getAttribute("data-v");
        return v === null ? cell.textContent : (v === "" ? null : Number(v));
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === null || y === null) return x === y ? 0 : (x === null ? 1 : -1);
        var c = typeof x === "number" ? x - y : String(x).localeCompare(String(y));
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
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
    if isinstance(block, Html):
        return block.text
    if isinstance(block, pd.DataFrame):
        return _table_html(block)
    if isinstance(block, Path):
        return _image_html(block)
    if isinstance(block, str):
        return _text_html(block)
    raise TypeError(f"report block must be a DataFrame, str, pathlib.Path or Html, got {type(block).__name__}")


def html_report(title: str, sections: Sequence[tuple[str, Sequence[Block]]], path: str | Path) -> Path:
    """Write a single-file, offline HTML report.

    Parameters
    ----------
    title : str
        Page title and top heading.
    sections : sequence of (heading, blocks)
        Each block is a :class:`pandas.DataFrame` (an HTML table: floats with 3
        decimals, ``*_pct`` columns as percentages), a ``str`` (escaped paragraphs), a
        :class:`pathlib.Path` to a PNG (embedded as a base64 data URI) or :class:`Html` this
        module rendered (a sortable one brings the page's only script, inline). A ``str`` is
        always text, never a file name, so a path must be passed as ``Path``.
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
    sortable = False
    for heading, blocks in sections:
        body.append("<section>")
        body.append(f"<h2>{html.escape(heading)}</h2>")
        body.extend(_block_html(block) for block in blocks)
        body.append("</section>")
        sortable = sortable or any(isinstance(b, Html) and b.sortable for b in blocks)
    if sortable:
        body.append(f"<script>\n{_SORT_JS}\n</script>")
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


# --------------------------------------------------------------------------------------
# The evaluation report's tables: summary, examples, per protein
# --------------------------------------------------------------------------------------

_METHOD_LABELS = {"": "PockNet", "P2Rank published": "P2Rank (published)"}
_LIGAND_COLUMNS = (  # (metric, header, hover text)
    ("dca_top_n", "DCA top-n", "Ligands found by one of the protein's n best pockets (n = its ligands), DCA ≤ 4 Å"),
    ("dca_top_n2", "DCA top-(n+2)", "As top-n, allowing two more pockets"),
    ("dcc_top_n", "DCC top-n", "As DCA top-n, with the distance from the pocket centre to the ligand centroid"),
    ("dcc_top_n2", "DCC top-(n+2)", "As DCC top-n, allowing two more pockets"),
)
_PROTEIN_COLUMNS = (
    ("dca_success_at_1", "DCA top-1", "Proteins whose best pocket lies within 4 Å of a ligand atom"),
    ("dca_success_at_3", "DCA top-3", "Proteins with one of their 3 best pockets within 4 Å of a ligand atom"),
    ("dcc_success_at_1", "DCC top-1", "As DCA top-1, centre to ligand centroid"),
    ("dcc_success_at_3", "DCC top-3", "As DCA top-3, centre to ligand centroid"),
)
_POINT_COLUMNS = (
    ("point_pr_auc", "PR-AUC"),
    ("point_pr_auc_protein_mean", "PR-AUC per protein"),
    ("point_roc_auc", "ROC-AUC"),
    ("point_f1", "F1"),
    ("point_iou", "IoU"),
    ("point_precision", "Precision"),
    ("point_recall", "Recall"),
)
_CALIBRATION_COLUMNS = (
    ("pocket_n", "Pockets"),
    ("pocket_mean_probability", "Mean probability"),
    ("pocket_hit_rate", "Hit rate"),
    ("pocket_ece", "ECE"),
    ("pocket_ece_equal_mass", "ECE (equal mass)"),
)


def set_label(name: str) -> str:
    """``bu48/holo`` → ``BU48 holo``; ``coach420/structures`` → ``COACH420``."""
    parts = [p for p in str(name).split("/") if p and p != "structures"]
    if not parts:
        return str(name)
    return " ".join([parts[0].upper(), *parts[1:]])


def _split_key(key: str) -> tuple[str, str]:
    """``"coach420/structures (P2Rank published)"`` → ``("coach420/structures", "P2Rank (published)")``."""
    match = re.fullmatch(r"(.*?) \((.+)\)", key)
    base, method = (match.group(1), match.group(2)) if match else (key, "")
    return base, _METHOD_LABELS.get(method, method)


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def _rate_cell(rate: Any, n: Any) -> str:
    """``82.6 %`` over its Wilson 95 % interval; an en dash when undefined."""
    from pocknet.evaluate.stats import wilson_interval

    rate, n = _number(rate), _number(n)
    if math.isnan(rate):
        return '<td class="num">–</td>'
    text = f"{100 * rate:.1f} %"
    if math.isnan(n) or n <= 0:
        return f'<td class="num">{text}</td>'
    low, high = wilson_interval(min(int(round(rate * n)), int(n)), int(n))
    return f'<td class="num">{text}<span class="ci">{100 * low:.1f}–{100 * high:.1f}</span></td>'


def _plain_cell(value: Any, decimals: int = 3, percent: bool = False) -> str:
    number = _number(value)
    if math.isnan(number):
        return '<td class="num">–</td>'
    if percent:
        return f'<td class="num">{100 * number:.1f} %</td>'
    if float(number).is_integer() and decimals == 0:
        return f'<td class="num">{int(number)}</td>'
    return f'<td class="num">{number:.{decimals}f}</td>'


def _grouped(metrics: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, list[tuple[str, Mapping[str, Any]]]]]:
    """Rows grouped by evaluation set, in first-seen order; PockNet first within a set."""
    groups: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    for key, values in metrics.items():
        base, method = _split_key(key)
        groups.setdefault(base, []).append((method, values))
    for rows in groups.values():
        rows.sort(key=lambda r: r[0] != "PockNet")
    return list(groups.items())


def _rate_table(metrics, columns, denominator: str, caption: str, count_header: str) -> str:  # noqa: ANN001
    head = "".join(f'<th title="{html.escape(tip)}">{html.escape(h)}</th>' for _, h, tip in columns)
    lines = [
        '<table class="paper">',
        f"<caption>{html.escape(caption)}</caption>",
        f'<thead><tr><th>Set</th><th class="text">Method</th><th>{html.escape(count_header)}</th>{head}</tr></thead>',
        "<tbody>",
    ]
    for base, rows in _grouped(metrics):
        for i, (method, values) in enumerate(rows):
            if not any(key in values for key, _, _ in columns):
                continue
            n = values.get(denominator)
            cells = "".join(_rate_cell(values.get(key), n) for key, _, _ in columns)
            first = ' class="first"' if i == 0 else ""
            label = html.escape(set_label(base)) if i == 0 else ""
            lines.append(
                f"<tr{first}><td>{label}</td><td>{html.escape(method)}</td>{_plain_cell(n, 0)}{cells}</tr>"
            )
    lines += ["</tbody>", "</table>"]
    return "\n".join(lines)


def _value_table(metrics, columns, caption: str, percent: Sequence[str] = ()) -> str | None:  # noqa: ANN001
    rows = [(base, method, values) for base, group in _grouped(metrics) for method, values in group
            if any(key in values for key, _ in columns)]  # fmt: skip
    if not rows:
        return None
    head = "".join(f"<th>{html.escape(h)}</th>" for _, h in columns)
    show_method = len({method for _, method, _ in rows}) > 1
    method_head = '<th class="text">Method</th>' if show_method else ""
    lines = ['<table class="paper">', f"<caption>{html.escape(caption)}</caption>",
             f"<thead><tr><th>Set</th>{method_head}{head}</tr></thead>", "<tbody>"]  # fmt: skip
    for base, method, values in rows:
        cells = "".join(
            _plain_cell(values.get(key), 0 if key.endswith("_n") else 3, percent=key in percent) for key, _ in columns
        )
        method_cell = f"<td>{html.escape(method)}</td>" if show_method else ""
        lines.append(f"<tr><td>{html.escape(set_label(base))}</td>{method_cell}{cells}</tr>")
    lines += ["</tbody>", "</table>"]
    return "\n".join(lines)


def summary_tables(metrics: Mapping[str, Mapping[str, Any]]) -> list[Html]:
    """The evaluation's numbers as a paper's tables.

    ``metrics``: ``metrics.json`` (``{set: {metric: value}}``; a reference method's set is
    ``"<set> (P2Rank published)"``). Success rates as percentages over their Wilson 95 %
    intervals (ligands, or proteins, as independent trials); PockNet and P2Rank rows side by
    side per set; point metrics and pocket calibration (PockNet only) as plain numbers; then
    every number of ``metrics`` in a collapsed, transposed table (one column per set), so a
    metric these tables do not name is never lost.
    """
    blocks = [
        Html(_rate_table(metrics, _LIGAND_COLUMNS, "n_ligands",
                         "Ligand-centric success at 4 Å: % of ligands (95 % Wilson interval)", "Ligands")),
        Html(_rate_table(metrics, _PROTEIN_COLUMNS, "n_proteins",
                         "Protein-centric success at 4 Å: % of proteins (95 % Wilson interval)", "Proteins")),
    ]  # fmt: skip
    points = _value_table(metrics, _POINT_COLUMNS, "Points (SAS points within 2.6 Å of a ligand atom; "
                          "at the validation-chosen threshold)")  # fmt: skip
    if points:
        blocks.append(Html(points))
    calibration = _value_table(metrics, _CALIBRATION_COLUMNS, "Pocket probabilities against DCA ≤ 4 Å hits",
                               percent=("pocket_hit_rate",))  # fmt: skip
    if calibration:
        blocks.append(Html(calibration))
    blocks.append(Html(_all_numbers(metrics)))
    return blocks


def _all_numbers(metrics: Mapping[str, Mapping[str, Any]]) -> str:
    keys: list[str] = []
    for values in metrics.values():
        keys += [k for k in values if k not in keys]
    sets = list(metrics)
    head = "".join(
        f"<th>{html.escape(set_label(_split_key(s)[0]))}<br>{html.escape(_split_key(s)[1])}</th>" for s in sets
    )
    rows = []
    for key in keys:
        cells = []
        for s in sets:
            value = metrics[s].get(key)
            number = _number(value)
            if math.isnan(number):
                cells.append('<td class="num">–</td>')
            elif float(number).is_integer() and abs(number) >= 1:
                cells.append(f'<td class="num">{int(number)}</td>')
            else:
                cells.append(f'<td class="num">{number:.4f}</td>')
        rows.append(f"<tr><td><code>{html.escape(key)}</code></td>{''.join(cells)}</tr>")
    return "\n".join(
        [
            "<details><summary>All numbers (metrics.json: fractions, not percentages)</summary>",
            '<div class="scroll"><table class="paper">',
            f"<thead><tr><th>Metric</th>{head}</tr></thead>",
            "<tbody>",
            *rows,
            "</tbody></table></div></details>",
        ]
    )


def _ranks(value: Any) -> list[int]:
    """``ranks_dca`` as stored: a list, or its text in a CSV (``"[2, 3]"``)."""
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else []
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    return [int(v) for v in value]


def _first_hit(ranks: Any) -> float:
    """Rank of the best-ranked pocket that hits any ligand (DCA ≤ 4 Å); NaN when none does."""
    hits = [r for r in _ranks(ranks) if r > 0]
    return float(min(hits)) if hits else math.nan


def choose_examples(per_protein: pd.DataFrame, method: str = "pocknet") -> list[dict[str, Any]]:
    """The best, median and worst protein of each set by ``dca_top1`` (the top pocket's DCA, Å).

    A protein without pockets counts as the farthest; ties go by protein id, so the choice is
    deterministic. Returns ``{"set", "role", "protein", "dca_top1", "first_hit"}`` dicts,
    sets in sorted order, roles ``best``, ``median``, ``worst`` (fewer when a set has fewer
    than three proteins).
    """
    if per_protein is None or per_protein.empty or "dca_top1" not in per_protein:
        return []
    chosen = []
    frame = per_protein[per_protein["method"] == method]
    for name in sorted(frame["set"].unique()):
        group = frame[frame["set"] == name].copy()
        group["_d"] = pd.to_numeric(group["dca_top1"], errors="coerce").fillna(math.inf)
        group = group.sort_values(["_d", "protein"], kind="mergesort").reset_index(drop=True)
        picks = {"best": 0, "median": (len(group) - 1) // 2, "worst": len(group) - 1}
        seen: set[int] = set()
        for role, i in picks.items():
            if i in seen:
                continue
            seen.add(i)
            row = group.iloc[i]
            chosen.append({"set": str(name), "role": role, "protein": str(row["protein"]),
                           "dca_top1": _number(row["dca_top1"]), "first_hit": _first_hit(row["ranks_dca"])})  # fmt: skip
    return chosen


def _distance(value: Any) -> str:
    number = _number(value)
    return "no pocket" if math.isnan(number) else f"{number:.1f} Å"


def examples_block(examples: Sequence[Mapping[str, Any]], pages: Mapping[str, str]) -> Html | None:
    """Links to the chosen proteins' viewer pages and one embedded viewer showing the chosen one.

    ``pages``: protein id → page path relative to the report. The links target the embedded
    frame, so only one 3D viewer runs at a time; each page also opens on its own.
    """
    shown = [e for e in examples if e["protein"] in pages]
    if not shown:
        return None
    rows = []
    for name in dict.fromkeys(e["set"] for e in shown):
        cells = []
        for e in (e for e in shown if e["set"] == name):
            href = html.escape(pages[e["protein"]])
            hit = "miss" if math.isnan(e["first_hit"]) else f"hit at rank {int(e['first_hit'])}"
            cells.append(
                f'<td><b>{e["role"]}</b>: <a href="{href}" target="example-viewer">'
                f'{html.escape(e["protein"].rsplit("/", 1)[-1])}</a> '
                f'<span class="ci">top pocket {html.escape(_distance(e["dca_top1"]))} from the ligand; '
                f"{html.escape(hit)}</span></td>"
            )
        rows.append(f"<tr><td>{html.escape(set_label(name))}</td>{''.join(cells)}</tr>")
    first = html.escape(pages[shown[-1]["protein"]])  # a miss first: what the report is for
    return Html(
        "\n".join(
            [
                '<table class="paper"><thead><tr><th>Set</th><th class="text" colspan="3">'
                "Best, median and worst protein by the distance from its top pocket to a ligand atom (DCA)"
                "</th></tr></thead><tbody>",
                *rows,
                "</tbody></table>",
                f'<iframe class="viewer" name="example-viewer" title="3D viewer" src="{first}"></iframe>',
                '<p class="note">Magenta spheres: the ligand atoms the evaluation scores against (for apo '
                "structures, the holo partner's ligand superposed). Click a table row in the viewer to "
                "focus a pocket; each page also opens on its own (link above).</p>",
            ]
        )
    )


def per_protein_table(per_protein: pd.DataFrame, pages: Mapping[str, str] | None = None) -> Html:
    """A sortable table, one row per evaluated protein: ligands, pockets, rank of the first pocket
    that hits a ligand (DCA ≤ 4 Å) and the distance from the top pocket to the nearest ligand atom,
    for PockNet and, where the set has them, P2Rank's published predictions; a link to the
    protein's viewer page where the report wrote one."""
    pages = pages or {}
    frame = per_protein.copy()
    ours = frame[frame["method"] == "pocknet"].sort_values(["set", "protein"])
    theirs = {(r.set, r.protein): r for r in frame[frame["method"] == "p2rank"].itertuples(index=False)}
    reference = bool(theirs)
    has_distance = "dca_top1" in frame

    def num(value: Any, text: str) -> str:
        number = _number(value)
        return f'<td class="num" data-v="{"" if math.isnan(number) else repr(float(number))}">{html.escape(text)}</td>'

    def hit(value: Any) -> str:
        number = _number(value)
        if math.isnan(number):
            return '<td class="num miss" data-v="">miss</td>'
        return num(number, str(int(number)))

    def dist(value: Any) -> str:
        number = _number(value)
        return num(number, "–" if math.isnan(number) else f"{number:.1f}")

    head = ["Set", "Protein", "Ligands", "Pockets", "First hit (rank)"]
    tips = ["", "", "", "", "Rank of the first pocket within 4 Å (DCA) of a ligand atom; miss: none"]
    if has_distance:
        head.append("Top pocket DCA (Å)")
        tips.append("Distance from the top-ranked pocket's centre to the nearest ligand atom")
    if reference:
        head += ["P2Rank first hit", "P2Rank top DCA (Å)"] if has_distance else ["P2Rank first hit"]
        tips += ["P2Rank's published predictions, same criterion"] * (2 if has_distance else 1)
    head.append("3D")
    tips.append("The protein's viewer page (written for the best, median and worst of each set)")
    rows = []
    for r in ours.itertuples(index=False):
        cells = [
            f"<td>{html.escape(set_label(r.set))}</td>",
            f"<td>{html.escape(str(r.protein).rsplit('/', 1)[-1])}</td>",
            num(r.n_ligands, str(int(r.n_ligands))),
            num(r.n_pockets, str(int(r.n_pockets))),
            hit(_first_hit(r.ranks_dca)),
        ]
        if has_distance:
            cells.append(dist(r.dca_top1))
        if reference:
            other = theirs.get((r.set, r.protein))
            cells.append(hit(_first_hit(other.ranks_dca)) if other is not None else '<td class="num" data-v="">–</td>')
            if has_distance:
                cells.append(dist(other.dca_top1 if other is not None else math.nan))
        page = pages.get(str(r.protein))
        cells.append(f'<td><a href="{html.escape(page)}">view</a></td>' if page else '<td data-v="">–</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    header = "".join(
        f'<th title="{html.escape(t)}">{html.escape(h)}</th>' if t else f"<th>{html.escape(h)}</th>"
        for h, t in zip(head, tips)
    )
    return Html(
        "\n".join(
            [
                '<div class="tall"><table class="sortable">',
                f"<thead><tr>{header}</tr></thead>",
                "<tbody>",
                *rows,
                "</tbody></table></div>",
            ]
        ),
        sortable=True,
    )


_ECE_HEADERS = {
    "level": "Level",
    "method": "Method",
    "n": "n",
    "positives": "Positives",
    "ece_val_in_sample": "ECE in sample",
    "ece_val_cross_fitted": "ECE cross-fitted",
    "ece_val_in_sample_equal_mass": "ECE in sample (equal mass)",
    "ece_val_cross_fitted_equal_mass": "ECE cross-fitted (equal mass)",
    "ece_val_uncalibrated": "ECE uncalibrated",
}


def ece_table(ece: pd.DataFrame) -> Html:
    """:func:`calibration_tables`' ECE table with human headers, narrow enough for a laptop screen."""
    columns = [c for c in ece.columns]
    head = "".join(
        f'<th class="text">{html.escape(_ECE_HEADERS.get(c, c))}</th>' if c in ("level", "method")
        else f"<th>{html.escape(_ECE_HEADERS.get(c, c))}</th>"
        for c in columns
    )  # fmt: skip
    rows = []
    for row in ece.itertuples(index=False, name=None):
        cells = []
        for column, value in zip(columns, row):
            if column in ("level", "method"):
                cells.append(f"<td>{html.escape(str(value))}</td>")
            else:
                cells.append(_plain_cell(value, 0 if column in ("n", "positives") else 3))
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return Html("\n".join(['<table class="paper">', f"<thead><tr>{head}</tr></thead>", "<tbody>", *rows,
                           "</tbody></table>"]))  # fmt: skip
