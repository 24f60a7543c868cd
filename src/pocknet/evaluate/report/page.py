"""The report page: one self-contained, offline HTML file of tables, text and figures.

Design choices, and why:

* **Offline HTML.** The report is one file with inline CSS and images as base64 PNG data
  URIs: it opens from an artefact store, an e-mail or a cluster without network access.
* **Escaped by construction.** Every value is escaped here; only :class:`Html` that the
  report modules rendered themselves is placed as it is.
* **Atomic writes** (:mod:`pocknet.atomic`): a crashed run never leaves half a page.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pocknet.atomic import atomic_write
from pocknet.errors import PockNetError

__all__ = ["Block", "Html", "html_report"]


@dataclass(frozen=True)
class Html:
    """HTML the report modules rendered themselves (every input value escaped), placed as it is.

    ``sortable``: it holds a ``table.sortable`` that the report's small sorting script drives.
    """

    text: str
    sortable: bool = False


#: One block of an HTML section: a table, a paragraph of text, a PNG file or rendered HTML.
Block = pd.DataFrame | str | Path | Html

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

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
        :class:`pathlib.Path` to a PNG (embedded as a base64 data URI) or :class:`Html` the
        report modules rendered (a sortable one brings the page's only script, inline). A ``str`` is
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
