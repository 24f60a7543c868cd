"""Report views per protein: the best, median and worst examples, and the sortable table.

**See the misses.** :func:`choose_examples` picks the best, median and worst protein of
each set by the distance from the top-ranked pocket to the ligand; the reporting stage
writes a 3D viewer page for each (:mod:`pocknet.predict.viewer`), shown inside the report
and linked from the sortable per-protein table (:func:`per_protein_table`).
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from pocknet.evaluate.report.page import Html
from pocknet.evaluate.report.tables import _number, set_label

__all__ = ["choose_examples", "examples_block", "per_protein_table"]


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
