"""The HTML of a viewer page, and of an index page linking many.

What a page shows (the README's "View pockets in a browser" explains the colours):

* the protein as a light-grey cartoon, with a molecular surface that can be switched on
  and off (on by default up to :data:`~pocknet.predict.viewer.payload.SURFACE_MAX_ATOMS`
  atoms: a 40 000-atom complex opens with the cartoon only and stays responsive);
* pocket residues coloured by pocket rank (:data:`pocknet.predict.writers.base.PALETTE`,
  the colours of the PyMOL/ChimeraX scripts and the JSON), or every residue coloured by its
  calibrated binding probability (the residue-score toggle);
* the SAS points: pocket points in their pocket's colour, or coloured by calibrated point
  probability (blue 0 → white 0.5 → red 1, PyMOL's ``blue_white_red``), all points or none;
* ligands (HETATM other than water) as green-carbon ball-and-stick;
* a pocket table (rank, score, probability, points, residues); clicking a row (or Enter on
  it) focuses that pocket: the view turns it towards the reader, zooms to it and shows its
  residues as sticks;
* on the report's pages, the ligand atoms the evaluation scored against, as magenta spheres
  (``reference_ligands``: for an apo structure its holo partner's ligand, superposed).

Pages are deterministic: the same inputs give the same bytes.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

from pocknet.predict.viewer.assets import THREEDMOL_VERSION, page_css, page_js, threedmol_js
from pocknet.predict.viewer.inputs import ViewerData
from pocknet.predict.viewer.payload import SURFACE_MAX_ATOMS, finite, palette, payload, script_json

__all__ = ["index_html", "viewer_html"]


def _fmt(value: Any, decimals: int) -> str:
    number = finite(value, decimals)
    return "–" if number is None else f"{number:.{decimals}f}"


def _residue_cell(residues: Sequence[str], shown: int = 6) -> str:
    text = " ".join(residues[:shown])
    if len(residues) > shown:
        text += f" … (+{len(residues) - shown})"
    full = " ".join(residues)
    return f'<td class="res" title="{html.escape(full)}">{html.escape(text) or "–"}</td>'


def _pocket_table(data: ViewerData) -> str:
    if not data.pockets:
        return (
            '<p id="no-pockets" class="empty">No pockets were predicted for this structure: no SAS point '
            "reached the model's threshold in a cluster. The points are still shown, coloured by "
            "probability.</p>"
        )
    colours = palette()
    rows = []
    for p in data.pockets:
        rank = int(p["rank"])
        colour = colours[(rank - 1) % len(colours)]
        rows.append(
            f'<tr data-rank="{rank}" tabindex="0" title="Click to focus pocket {rank}">'
            f'<td><span class="swatch" style="background:{colour[1]}" title="{colour[0]}"></span>{rank}</td>'
            f'<td class="num">{_fmt(p.get("score"), 2)}</td>'
            f'<td class="num">{_fmt(p.get("probability"), 2)}</td>'
            f'<td class="num">{int(p.get("n_points") or 0)}</td>'
            + _residue_cell([str(r) for r in p.get("residue_ids") or []])
            + "</tr>"
        )
    return "\n".join(
        [
            (
                '<table id="pockets"><thead><tr><th>Rank</th><th>Score</th><th title="Calibrated probability '
                'that the pocket centre lies within 4 Å of a ligand">Prob.</th><th>Points</th><th>Residues</th>'
                "</tr></thead><tbody>"
            ),
            *rows,
            "</tbody></table>",
        ]
    )


def _legend(data: ViewerData) -> str:
    reference = (
        "\n<dt>Reference ligand</dt><dd>Magenta spheres: the ligand atoms the evaluation scores against "
        "(for an apo structure, its holo partner's ligand superposed).</dd>"
        if data.reference_ligands
        else ""
    )
    residue_note = (
        "" if data.residue_probability is not None else " (not available: the residues CSV was not written)"
    )
    return f"""<dl class="legend">
<dt>Protein</dt><dd>Light-grey cartoon; the surface switch adds its molecular surface.</dd>
<dt>Pockets</dt><dd>Residues and points of pocket <i>k</i> in the colour beside <i>k</i> in the table
(rank 1 = best score).</dd>
<dt>Probability</dt><dd>Points (and residues, with the residue colouring{html.escape(residue_note)}) from
blue 0 through white 0.5 to red 1: calibrated probability of lying near a ligand.
<div class="ramp"></div><div class="ramp-labels"><span>0</span><span>0.5</span><span>1</span></div></dd>
<dt>Ligands</dt><dd>HETATM groups other than water, ball-and-stick with green carbons.</dd>{reference}
</dl>"""


def _points_control(pockets: bool) -> str:
    """The points menu; without pockets every point shows, by probability."""
    options = [
        ("rank", "pocket points, pocket colours"),
        ("pocket", "pocket points, by probability"),
        ("all", "all points, by probability"),
        ("off", "none"),
    ]
    chosen = "rank" if pockets else "all"
    items = "".join(
        f'<option value="{value}"{" selected" if value == chosen else ""}>{text}</option>' for value, text in options
    )
    return f'<label>Points<select id="ctl-points">{items}</select></label>'


def viewer_html(data: ViewerData, title: str | None = None, back_link: tuple[str, str] | None = None) -> str:
    """One self-contained HTML page (3Dmol.js and the data inlined; nothing fetched).

    ``back_link``: ``(href, text)`` of a link in the header (an index page, a report).
    """
    title = title or f"{data.name}: PockNet pockets"
    n_points = len(data.point_rank)
    meta = [f"{len(data.pockets)} pocket(s)", f"{n_points} SAS points"]
    if data.n_atoms:
        meta.append(f"{data.n_atoms} atoms")
    if data.model_name and not data.model_name.startswith("<"):  # "<in memory>": the pipeline's bundle
        meta.append(f"model {data.model_name}")
    meta_text = " · ".join(meta)
    back = ""
    if back_link:
        back = f' <a class="back" href="{html.escape(back_link[0])}" target="_top">{html.escape(back_link[1])}</a>'
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in data.notes)
    surface_note = (
        ""
        if data.n_atoms <= SURFACE_MAX_ATOMS
        else f' <span class="notes">(off at first: over {SURFACE_MAX_ATOMS:,} atoms)</span>'
    )
    residue_option = "Residue probability" + ("" if data.residue_probability is not None else " (needs the csv)")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        f"<style>\n{page_css()}\n</style>",
        f"<!-- 3Dmol.js {html.escape(THREEDMOL_VERSION)} (BSD-3-Clause), inlined: the page needs no network -->",
        "<script>",
        threedmol_js(),
        "</script>",
        "</head>",
        "<body>",
        f'<header><h1>{html.escape(data.name)}</h1><span class="meta">{html.escape(meta_text)}</span>{back}</header>',
        "<main>",
        '<div id="viewer"><div id="message"></div></div>',
        "<aside>",
        '<div class="controls">',
        f'<label><input type="checkbox" id="ctl-surface"> Surface{surface_note}</label>',
        '<label><input type="checkbox" id="ctl-ligands" checked> Ligands</label>',
        _points_control(bool(data.pockets)),
        (
            '<label>Protein colour<select id="ctl-colour">'
            '<option value="pocket" selected>Pockets by rank</option>'
            f'<option value="residue">{html.escape(residue_option)}</option></select></label>'
        ),
        '<button type="button" id="ctl-reset">Reset view</button>',
        "</div>",
        f"<h2>Pockets ({len(data.pockets)})</h2>",
        _pocket_table(data),
        "<h2>Colours</h2>",
        _legend(data),
        (f'<h2>Notes</h2><ul class="notes">{notes}</ul>' if notes else ""),
        "</aside>",
        "</main>",
        f'<script type="application/json" id="pocknet-data">{script_json(payload(data))}</script>',
        f"<script>\n{page_js()}\n</script>",
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(p for p in parts if p != "")


def index_html(entries: Iterable[dict[str, Any]], title: str = "PockNet predictions") -> str:
    """A plain index page linking every structure's page.

    ``entries``: ``{"href", "name", "pockets", "top_score", "top_probability", "atoms"}``
    (values may be ``None``); ``error`` instead of ``href`` for a structure whose page failed.
    """
    rows = []
    for e in entries:
        if e.get("href"):
            link = f'<a href="{html.escape(str(e["href"]))}">{html.escape(str(e["name"]))}</a>'
        else:
            link = f'{html.escape(str(e["name"]))} <span class="err">({html.escape(str(e.get("error", "no page")))})</span>'
        rows.append(
            f"<tr><td>{link}</td><td class=\"num\">{e.get('pockets') if e.get('pockets') is not None else '–'}</td>"
            f"<td class=\"num\">{_fmt(e.get('top_score'), 2)}</td>"
            f"<td class=\"num\">{_fmt(e.get('top_probability'), 2)}</td>"
            f"<td class=\"num\">{e.get('atoms') or '–'}</td></tr>"
        )
    css = (
        "body { font: 14px/1.45 system-ui, sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em; color: #222; }"
        " table { border-collapse: collapse; } th, td { border-bottom: 1px solid #ddd; padding: .3em .7em; text-align: left; }"
        " th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }"
        " .err { color: #a00; }"
    )
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f"<title>{html.escape(title)}</title>",
            f"<style>{css}</style>",
            "</head>",
            "<body>",
            f"<h1>{html.escape(title)}</h1>",
            (
                "<p>One page per structure: the protein, its pockets coloured by rank and the SAS points; "
                "each page works offline on its own.</p>"
            ),
            (
                "<table><thead><tr><th>Structure</th><th>Pockets</th><th>Top score</th><th>Top probability</th>"
                "<th>Atoms</th></tr></thead><tbody>"
            ),
            *rows,
            "</tbody></table>",
            "</body>",
            "</html>",
            "",
        ]
    )
