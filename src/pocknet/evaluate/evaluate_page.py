"""``pocknet evaluate``'s summary.md and its self-contained, offline HTML page (inline SVG curves)."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["METRIC_NAMES", "html_page", "summary_markdown", "svg_curves"]

METRIC_NAMES = {
    "dca_top_n": "DCA top-n", "dca_top_n2": "DCA top-(n+2)", "dcc_top_n": "DCC top-n", "dcc_top_n2": "DCC top-(n+2)",
    "dca_success_at_1": "DCA success@1", "dca_success_at_3": "DCA success@3",
    "dcc_success_at_1": "DCC success@1", "dcc_success_at_3": "DCC success@3",
}  # fmt: skip
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
_SUBSET_TITLES = {"all": "All scored structures", "unseen": "Unseen subset"}


def _pct(value: float | None) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.1f}"


def _p(value: float) -> str:
    return f"{value:.3g}" if value >= 1e-4 else f"{value:.1e}"


def _metric_rows(subset: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for metric, label in METRIC_NAMES.items():
        for method, result in subset["methods"].items():
            r = result["metrics"][metric]
            denominator = "ligands" if "top_n" in metric else "proteins"
            rows.append([label, method, _pct(r["value"]), f"{_pct(r['ci_low'])}–{_pct(r['ci_high'])}",
                         f"{r['successes']} / {r['n']} {denominator}"])  # fmt: skip
    return rows


def _paired_rows(subset: Mapping[str, Any]) -> list[list[str]]:
    names = list(subset["methods"])
    return [
        [METRIC_NAMES[m], str(t["n"]), str(t["only_first"]), str(t["only_second"]), str(t["both"]), str(t["neither"]),
         _p(t["p_value"]), t["verdict"]]
        for m, t in subset.get("paired", {}).items()
    ] if len(names) == 2 else []  # fmt: skip


def _paired_header(subset: Mapping[str, Any]) -> list[str]:
    a, b = list(subset["methods"])
    return ["metric", "pairs", f"only {a}", f"only {b}", "both", "neither", "McNemar p (exact)", "verdict (α = 0.05)"]


_METRIC_HEADER = ["metric", "method", "value %", "Wilson 95 % CI", "n"]


def _notes(summary: Mapping[str, Any]) -> list[str]:
    s = summary["structures"]
    notes = [(f"{s['listed']} structures listed, {s['scored']} scored at {summary['cutoff']:g} Å (SCIENCE.md §8: "
              "relevant ligands only; top-n = first hit within n pockets, n = the protein's relevant ligands).")]
    if s["no_relevant_ligand"]:
        notes.append(f"{len(s['no_relevant_ligand'])} without a relevant ligand (not in any denominator): "
                     + ", ".join(s["no_relevant_ligand"]))  # fmt: skip
    for sid, why in s["not_scored"].items():
        notes.append(f"not scored: {sid}: {why}")
    for name, m in summary["methods"].items():
        missing = m["missing_predictions"]
        notes.append(f"{name}: {m['format']} predictions from {m['path']} ({m['prediction_files']} files); "
                     + (f"{len(missing)} structure(s) without a prediction, counted as misses: {', '.join(missing)}"
                        if missing else "every structure has a prediction."))  # fmt: skip
    ex = summary.get("exclude_similar_to")
    if ex:
        notes.append(f"Unseen = no chain ≥ {100 * ex['identity']:g} % identical to any of {ex['n_reference_chains']} "
                     f"reference chains of {ex['reference']}: {ex['n_unseen_structures']} structures.")  # fmt: skip
    return notes


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def summary_markdown(summary: Mapping[str, Any]) -> str:
    """Metric, value %, Wilson 95 % CI and n per method and subset; the paired tests; notes."""
    parts = ["# pocknet evaluate", ""]
    if summary.get("command"):
        parts += [f"`{summary['command']}`", ""]
    parts += [f"- {n}" for n in _notes(summary)] + [""]
    for subset, entry in summary["subsets"].items():
        parts += [f"## {_SUBSET_TITLES.get(subset, subset)}", "", _md_table(_METRIC_HEADER, _metric_rows(entry)), ""]
        if entry.get("paired"):
            parts += ["Paired comparison on the same ligands (top-n) / proteins (success@k):", "",
                      _md_table(_paired_header(entry), _paired_rows(entry)), ""]  # fmt: skip
    return "\n".join(parts)


def svg_curves(
    title: str, x: Sequence[float], curves: Mapping[str, Sequence[float]], x_label: str, width: int = 520, height: int = 320
) -> str:
    """A line chart as inline SVG (y = success %, 0–100)."""
    left, right, top, bottom = 52, 150, 28, 44
    pw, ph = width - left - right, height - top - bottom
    x0, x1 = float(min(x)), float(max(x))

    def px(v: float) -> float:
        return left + (v - x0) / ((x1 - x0) or 1) * pw

    def py(v: float) -> float:
        return top + (1 - v) * ph

    out = [(f'<svg width="{width}" height="{height}" role="img" '
            f'aria-label="{html.escape(title)}" font-family="sans-serif" font-size="11">'),
           f'<text x="{left}" y="16" font-size="13">{html.escape(title)}</text>',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>']  # fmt: skip
    for tick in range(0, 101, 20):
        y = py(tick / 100)
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>')  # fmt: skip
    step = max(1, len(x) // 8)
    for v in list(x)[::step]:
        out.append(f'<text x="{px(v):.1f}" y="{top + ph + 16}" text-anchor="middle">{v:g}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 6}" text-anchor="middle">{html.escape(x_label)}</text>')
    out.append(f'<text x="14" y="{top + ph / 2}" transform="rotate(-90 14 {top + ph / 2})" text-anchor="middle">success %</text>')
    for i, (name, ys) in enumerate(curves.items()):
        colour = _COLOURS[i % len(_COLOURS)]
        points = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(x, ys) if b is not None and not math.isnan(b))
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
        for a, b in zip(x, ys):
            if b is not None and not math.isnan(b):
                out.append(f'<circle cx="{px(a):.1f}" cy="{py(b):.1f}" r="2.5" fill="{colour}"><title>'
                           f'{html.escape(name)}: {a:g} → {100 * b:.1f} %</title></circle>')  # fmt: skip
        out.append(f'<line x1="{left + pw + 10}" x2="{left + pw + 28}" y1="{top + 10 + 16 * i}" y2="{top + 10 + 16 * i}" '
                   f'stroke="{colour}" stroke-width="2"/><text x="{left + pw + 32}" y="{top + 14 + 16 * i}">'
                   f'{html.escape(name[:18])}</text>')  # fmt: skip
    out.append("</svg>")
    return "\n".join(out)


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_CSS = """body{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
th{background:#f3f3f3}code{background:#f3f3f3;padding:1px 4px}svg{margin:0 1em 1em 0}"""


def html_page(summary: Mapping[str, Any]) -> str:
    """One offline HTML file: notes, metric tables, paired tests and success-vs-rank / -cutoff curves (SVG)."""
    body = ["<h1>pocknet evaluate</h1>"]
    if summary.get("command"):
        body.append(f"<p><code>{html.escape(summary['command'])}</code></p>")
    body.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in _notes(summary)) + "</ul>")
    for subset, entry in summary["subsets"].items():
        body.append(f"<h2>{html.escape(_SUBSET_TITLES.get(subset, subset))}</h2>")
        body.append(_html_table(_METRIC_HEADER, _metric_rows(entry)))
        if entry.get("paired"):
            body.append("<p>Paired comparison on the same ligands (top-n) / proteins (success@k), exact McNemar test:</p>")
            body.append(_html_table(_paired_header(entry), _paired_rows(entry)))
        ranks = list(range(1, 1 + len(next(iter(entry["methods"].values()))["success_vs_rank"])))
        body.append(svg_curves(
            f"DCA ≤ {summary['cutoff']:g} Å: ligands found within the top k pockets",
            ranks, {m: r["success_vs_rank"] for m, r in entry["methods"].items()}, "k (pocket rank)",
        ))  # fmt: skip
        if subset == "all" and summary.get("dca_cutoff_curve"):
            curve = dict(summary["dca_cutoff_curve"])
            cutoffs = curve.pop("cutoffs")
            body.append(svg_curves("DCA top-n vs distance cutoff", cutoffs, curve, "DCA cutoff (Å)"))
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        "<title>pocknet evaluate</title>", f"<style>\n{_CSS}\n</style>", "</head>", "<body>", *body, "</body>", "</html>", "",
    ])  # fmt: skip
