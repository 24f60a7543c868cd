"""Report tables: ``metrics.json`` and the model's calibration as a paper's tables.

**Read like a paper.** The summary tables (:func:`summary_tables`) show percentages with
Wilson 95 % intervals, human headers, PockNet and P2Rank side by side per set, and fit a
1280 px laptop screen without horizontal scrolling (a browser test checks it). Every number
of ``metrics.json`` is still there, in a collapsed "all numbers" table.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from pocknet.evaluate.report.page import Html

__all__ = [
    "calibration_tables",
    "ece_table",
    "metrics_table",
    "set_label",
    "summary_tables",
]


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


_RELIABILITY_COLUMNS = ("lower", "upper", "mean_predicted", "observed", "count")


def calibration_tables(calibration: Mapping[str, Any] | None) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Reliability tables and an ECE table from a model file's ``calibration`` (validation only).

    Parameters
    ----------
    calibration : mapping or None
        ``ModelBundle.calibration`` as written by the finalize stage
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
