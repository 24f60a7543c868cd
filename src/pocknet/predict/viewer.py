"""Pockets in 3D in any browser, offline: one self-contained HTML page per structure.

What a page shows (the README's "View pockets in a browser" explains the colours):

* the protein as a light-grey cartoon, with a molecular surface that can be switched on
  and off (on by default up to :data:`SURFACE_MAX_ATOMS` atoms: a 40 000-atom complex opens
  with the cartoon only and stays responsive);
* pocket residues coloured by pocket rank (:data:`pocknet.predict.outputs.PALETTE`, the
  colours of the PyMOL/ChimeraX scripts and the JSON), or every residue coloured by its
  calibrated binding probability (the residue-score toggle);
* the SAS points: pocket points in their pocket's colour, or coloured by calibrated point
  probability (blue 0 → white 0.5 → red 1, PyMOL's ``blue_white_red``), all points or none;
* ligands (HETATM other than water) as green-carbon ball-and-stick;
* a pocket table (rank, score, probability, points, residues); clicking a row (or Enter on
  it) focuses that pocket: the view turns it towards the reader, zooms to it and shows its
  residues as sticks;
* on the report's pages, the ligand atoms the evaluation scored against, as magenta spheres
  (``reference_ligands``: for an apo structure its holo partner's ligand, superposed).

Offline by construction: the viewer library, 3Dmol.js (``vendor/``, pinned, licence beside
it, ``vendor/vendor.sh`` re-vendors it from npm), is inlined, and the structure and points
travel as JSON inside the page, never fetched. 3Dmol's own code names RCSB/PubChem
addresses for its download helpers; the page never calls them (the browser test checks that
a page requests nothing but itself).

Data flows in from a :class:`~pocknet.predict.prediction.Prediction` (the ``html`` output
format, ``pocknet view STRUCTURE``) or from a PockNet output folder (``<name>.json``,
``<name>_points.pdb``, ``<name>_residues.csv`` if written, the structure copy or the
structure given). Pages are deterministic: the same inputs give the same bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import math
import re
import zlib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from pocknet.errors import PockNetError

__all__ = [
    "SURFACE_MAX_ATOMS",
    "THREEDMOL_VERSION",
    "ViewerData",
    "find_summary",
    "folder_summaries",
    "index_html",
    "load_folder_prediction",
    "threedmol_js",
    "view_folder",
    "view_structure",
    "viewer_data_from_prediction",
    "viewer_html",
]

#: Above this many atoms the surface starts switched off (it can still be switched on).
SURFACE_MAX_ATOMS = 15_000

_VENDOR = Path(__file__).with_name("vendor")
_WATERS = ("HOH", "WAT", "DOD", "H2O", "TIP", "TIP3", "SOL")
_POINT_DECIMALS = 2


@cache
def threedmol_js() -> str:
    """The vendored 3Dmol.js build, as inlined into every page."""
    path = _VENDOR / "3Dmol-min.js"
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:  # a broken install, not a user error; still one clear line
        raise PockNetError(f"{path}: the vendored 3Dmol.js is missing ({exc.strerror or exc}); reinstall pocknet") from exc


def _vendored_version() -> str:
    try:
        banner = (_VENDOR / "3Dmol-min.js.LICENSE.txt").read_text(encoding="utf-8")
    except OSError:
        return "unknown"
    match = re.search(r"3dmol v(\S+)", banner)
    return match.group(1) if match else "unknown"


#: Version of the vendored 3Dmol.js (from its banner).
THREEDMOL_VERSION = _vendored_version()


@dataclass(frozen=True)
class ViewerData:
    """Everything one page shows; built by :func:`viewer_data_from_prediction` or :func:`load_folder_prediction`.

    ``pockets`` are the JSON summary's pocket records (``rank``, ``score``, ``probability``,
    ``centre``, ``residue_ids``, ``n_points``, ``colour``); ``residue_probability`` maps
    P2Rank residue ids (``A_100A``) to calibrated probabilities, or is ``None`` when the
    residues CSV was not written (the residue toggle is then disabled).
    """

    name: str
    structure: str
    structure_format: str  # "pdb" or "cif"
    points: np.ndarray  # [P, 3]
    point_probability: np.ndarray  # [P], 0.01..0.99 as in the points PDB
    point_rank: np.ndarray  # [P], pocket rank, 0 for none
    pockets: tuple[dict[str, Any], ...]
    residue_probability: dict[str, float] | None = None
    n_atoms: int = 0
    # atom coordinates of the ligands an evaluation scores against (the report's pages), one array each
    reference_ligands: tuple[np.ndarray, ...] = ()
    source: str = ""
    model_name: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)


# --------------------------------------------------------------------------------------
# Data: from a prediction, from an output folder
# --------------------------------------------------------------------------------------


def _decompressed(raw: bytes, what: str) -> bytes:
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise PockNetError(f"{what}: cannot decompress ({exc})") from exc
    return raw


def _structure_text(raw: bytes, what: str) -> str:
    return _decompressed(raw, what).decode("utf-8", errors="replace")


def _format_of(name: str) -> str:
    return "cif" if name.lower().removesuffix(".gz").endswith((".cif", ".mmcif")) else "pdb"


def viewer_data_from_prediction(prediction: Any, structure: bytes | None = None) -> ViewerData:
    """Page data of a :class:`~pocknet.predict.prediction.Prediction`.

    ``structure``: the structure file's bytes; read from ``prediction.features.source``
    (checked against its sha256) when not given.
    """
    from pocknet.predict.outputs import (
        _json_summary,
        _structure_bytes,
        point_pocket_ranks,
        residues_table,
        structure_file_name,
    )

    f = prediction.features
    raw = _structure_bytes(f) if structure is None else structure
    residues = residues_table(prediction)
    ids = (residues["chain"].astype(str) + "_" + residues["residue_label"].astype(str)).tolist()
    summary = _json_summary(prediction)
    return ViewerData(
        name=prediction.name,
        structure=_structure_text(raw, str(f.source)),
        structure_format=_format_of(structure_file_name(prediction.name, f.source)),
        points=np.asarray(f.points, dtype=np.float64).reshape(-1, 3),
        point_probability=np.clip(np.nan_to_num(np.asarray(prediction.probabilities, dtype=np.float64)), 0.01, 0.99),
        point_rank=point_pocket_ranks(prediction),
        pockets=tuple(summary["pockets"]),
        residue_probability=dict(zip(ids, residues["probability"].astype(float).tolist())),
        n_atoms=int(summary["counts"]["atoms"]),
        source=str(summary["source"]),
        model_name=str(summary["model_name"]),
        notes=tuple(str(n) for n in summary["notes"]),
    )


def _read_summary(path: Path) -> dict[str, Any]:
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PockNetError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PockNetError(f"{path}: not a PockNet JSON summary ({exc})") from exc
    if not isinstance(summary, dict) or not isinstance(summary.get("pockets"), list) or "name" not in summary:
        raise PockNetError(f"{path}: not a PockNet JSON summary (no name and pockets)")
    return summary


def folder_summaries(folder: str | Path) -> list[Path]:
    """Every PockNet ``<name>.json`` summary under ``folder`` (recursively), sorted by path."""
    folder = Path(folder)
    found = []
    for path in sorted(folder.rglob("*.json")):
        try:
            head = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(head, dict) and isinstance(head.get("pockets"), list) and "source_sha256" in head:
            found.append(path)
    return found


def _plain_name(structure: Path) -> str:
    name = structure.name
    return name[:-3] if name.lower().endswith(".gz") else name


def find_summary(structure: str | Path, folder: str | Path) -> Path:
    """The ``<name>.json`` in ``folder`` that was predicted from ``structure``.

    Looked up by name (``1a4j.pdb`` → ``1a4j.pdb.json``; the copy ``1a4j.pdb_structure.pdb``
    → ``1a4j.pdb.json``), then by content (the summary's ``source_sha256``), so a renamed
    file is still found.

    Raises
    ------
    PockNetError
        When the folder does not exist, holds no PockNet prediction, or none of this
        structure: the message says which summaries it does hold.
    """
    structure, folder = Path(structure), Path(folder)
    if not folder.is_dir():
        raise PockNetError(f"{folder}: no such prediction folder")
    raw = _read_bytes(structure)
    digest = hashlib.sha256(raw).hexdigest()
    name = _plain_name(structure)
    candidates = [folder / f"{name}.json"]
    copy = re.fullmatch(r"(.+)_structure\.(pdb|cif)", name)
    if copy:
        candidates.append(folder / f"{copy.group(1)}.json")
    for path in candidates:
        if path.is_file():
            summary = _read_summary(path)
            if _same_structure(raw, digest, summary, path.parent):
                return path
            raise PockNetError(
                f"{structure}: {path} was predicted from a different file "
                f"({summary.get('source')!s}, sha256 {str(summary.get('source_sha256'))[:12]}…, "
                f"this file {digest[:12]}…); the prediction folder does not match the structure"
            )
    others = [p for p in sorted(folder.glob("*.json"))]
    for path in others:
        try:
            summary = _read_summary(path)
        except PockNetError:
            continue
        if _same_structure(raw, digest, summary, path.parent):
            return path
    held = [p.name.removesuffix(".json") for p in others]
    listed = ", ".join(held[:8]) + (f" … ({len(held)} in all)" if len(held) > 8 else "")
    raise PockNetError(
        f"{structure}: {folder} holds no prediction of this structure"
        + (f" (it holds: {listed})" if held else " (no <name>.json summary in it)")
    )


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise PockNetError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise PockNetError(f"{path}: is a folder, not a structure file") from None
    except OSError as exc:
        raise PockNetError(f"{path}: cannot read ({exc.strerror or exc})") from exc


def _same_structure(raw: bytes, digest: str, summary: dict[str, Any], folder: Path) -> bool:
    """The file given is the summary's source, or its (decompressed) structure copy."""
    if summary.get("source_sha256") == digest:
        return True
    copy = summary.get("structure_file")
    if copy and (folder / copy).is_file():
        return (folder / copy).read_bytes() == _decompressed(raw, "structure")
    return False


def load_folder_prediction(summary_path: str | Path, structure: str | Path | None = None) -> ViewerData:
    """Page data from a PockNet output folder: ``<name>.json``, ``<name>_points.pdb`` and the structure.

    Parameters
    ----------
    summary_path
        The structure's ``<name>.json``.
    structure
        The structure file; default: the copy the summary names (``structure_file``).

    Raises
    ------
    PockNetError
        A file is missing or unreadable, or the files do not belong together (point count
        differs from the summary's, a point names a pocket the summary lacks).
    """
    from pocknet.predict.outputs import read_points_pdb

    summary_path = Path(summary_path)
    folder = summary_path.parent
    summary = _read_summary(summary_path)
    name = str(summary["name"])
    if structure is None:
        copy = summary.get("structure_file")
        if not copy:
            raise PockNetError(
                f"{summary_path}: no structure copy beside it (predicted without the pml and cxc formats); "
                f"give the structure: pocknet view STRUCTURE {folder}"
            )
        structure = folder / copy
    structure = Path(structure)
    if not structure.is_file():
        raise PockNetError(f"{structure}: missing (the structure of {summary_path.name})")
    points_path = folder / f"{name}_points.pdb"
    if not points_path.is_file():
        raise PockNetError(f"{points_path}: missing (the SAS points of {name}; predict with the pdb format)")
    try:
        points = read_points_pdb(points_path)
    except Exception as exc:
        raise PockNetError(f"{points_path}: cannot read the points ({exc})") from exc
    expected = (summary.get("counts") or {}).get("points")
    if expected is not None and int(expected) != len(points):
        raise PockNetError(
            f"{points_path}: {len(points)} points, but {summary_path.name} counts {expected}: "
            "files of different runs"
        )
    ranks = {int(p["rank"]) for p in summary["pockets"]}
    strays = sorted(set(points["pocket_rank"].astype(int).tolist()) - ranks - {0})
    if strays:
        raise PockNetError(
            f"{points_path}: points of pocket(s) {strays[:5]} that {summary_path.name} does not list: "
            "files of different runs"
        )
    residues = None
    residues_path = folder / f"{name}_residues.csv"
    if residues_path.is_file():
        try:
            table = pd.read_csv(residues_path, dtype={"chain": str, "residue_label": str}, keep_default_na=False)
            ids = (table["chain"].astype(str) + "_" + table["residue_label"].astype(str)).tolist()
            residues = dict(zip(ids, pd.to_numeric(table["probability"], errors="coerce").astype(float).tolist()))
        except Exception as exc:
            raise PockNetError(f"{residues_path}: cannot read the residue scores ({exc})") from exc
    counts = summary.get("counts") or {}
    return ViewerData(
        name=name,
        structure=_structure_text(_read_bytes(structure), str(structure)),
        structure_format=_format_of(structure.name),
        points=points[["x", "y", "z"]].to_numpy(dtype=np.float64),
        point_probability=points["probability"].to_numpy(dtype=np.float64),
        point_rank=points["pocket_rank"].to_numpy(dtype=np.int64),
        pockets=tuple(sorted(summary["pockets"], key=lambda p: int(p["rank"]))),
        residue_probability=residues,
        n_atoms=int(counts.get("atoms") or 0),
        source=str(summary.get("source") or ""),
        model_name=str(summary.get("model_name") or ""),
        notes=tuple(str(n) for n in summary.get("notes") or ()),
    )


# --------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------


def _hex(rgb: Sequence[int]) -> str:
    return "#" + "".join(f"{int(c):02x}" for c in rgb)


def _palette() -> list[tuple[str, str]]:
    from pocknet.predict.outputs import PALETTE

    return [(name, _hex(rgb)) for name, rgb in PALETTE]


def _script_json(payload: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: no ``<`` at all (so no ``</script>``)."""
    text = json.dumps(payload, separators=(",", ":"), allow_nan=False, ensure_ascii=False, sort_keys=True)
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _finite(value: Any, decimals: int) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return round(number, decimals) if math.isfinite(number) else None


def _payload(data: ViewerData) -> dict[str, Any]:
    points = np.round(np.asarray(data.points, dtype=np.float64).reshape(-1, 3), _POINT_DECIMALS)
    palette = _palette()
    pockets = [
        {
            "rank": int(p["rank"]),
            "colour": palette[(int(p["rank"]) - 1) % len(palette)][1],
            "residues": [str(r) for r in p.get("residue_ids") or []],
            "centre": [_finite(c, 3) for c in (p.get("centre") or [])] or None,
        }
        for p in data.pockets
    ]
    residues = None
    if data.residue_probability is not None:
        residues = {k: _finite(v, 3) for k, v in sorted(data.residue_probability.items())}
    return {
        "name": data.name,
        "structure": {"format": data.structure_format, "text": data.structure},
        "points": {
            "xyz": [float(v) for v in points.reshape(-1).tolist()],
            "p": [float(v) for v in np.round(np.asarray(data.point_probability, dtype=np.float64), 2).tolist()],
            "rank": [int(v) for v in np.asarray(data.point_rank).tolist()],
        },
        "pockets": pockets,
        "residues": residues,
        "surface": bool(data.n_atoms <= SURFACE_MAX_ATOMS),
        "reference": [
            float(v)
            for ligand in data.reference_ligands
            for v in np.round(np.asarray(ligand, dtype=np.float64).reshape(-1, 3), _POINT_DECIMALS).reshape(-1).tolist()
        ],
        "waters": list(_WATERS),
    }


def _fmt(value: Any, decimals: int) -> str:
    number = _finite(value, decimals)
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
    palette = _palette()
    rows = []
    for p in data.pockets:
        rank = int(p["rank"])
        colour = palette[(rank - 1) % len(palette)]
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


_CSS = """
* { box-sizing: border-box; }
html, body { height: 100%; margin: 0; }
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; display: flex;
       flex-direction: column; }
header { padding: .45em 1em; border-bottom: 1px solid #ddd; }
header h1 { font-size: 1.15em; margin: 0; display: inline; }
header .meta { color: #555; margin-left: .8em; }
main { flex: 1; display: flex; min-height: 0; }
#viewer { flex: 1; position: relative; min-width: 0; min-height: 300px; }
#message { position: absolute; inset: 0; display: flex; align-items: center; justify-content: center;
           color: #555; pointer-events: none; }
aside { width: 27em; overflow: auto; border-left: 1px solid #ddd; padding: .6em .9em; }
aside h2 { font-size: 1em; margin: .9em 0 .4em; }
.controls label { display: block; margin: .2em 0; }
.controls select { margin-left: .3em; }
.controls button { margin-top: .4em; }
table { border-collapse: collapse; width: 100%; font-size: .92em; }
th, td { border-bottom: 1px solid #e4e4e4; padding: .25em .35em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.res { font-size: .9em; color: #444; }
#pockets tbody tr { cursor: pointer; }
#pockets tbody tr:hover { background: #f3f7ff; }
#pockets tbody tr.focused { background: #dfe9ff; }
.swatch { display: inline-block; width: .9em; height: .9em; border-radius: 50%; margin-right: .35em;
          vertical-align: -.1em; border: 1px solid rgba(0,0,0,.25); }
.ramp { height: .8em; border: 1px solid #bbb;
        background: linear-gradient(to right, #2166ac, #f7f7f7, #b2182b); }
.ramp-labels { display: flex; justify-content: space-between; font-size: .85em; color: #555; }
.legend dt { font-weight: 600; margin-top: .4em; }
.legend dd { margin: 0 0 0 .2em; color: #444; }
.empty { background: #fff6e0; border: 1px solid #f0d590; padding: .5em .7em; }
.notes { color: #555; font-size: .9em; }
@media (max-width: 820px) { main { flex-direction: column; } aside { width: auto; border-left: 0; }
                            #viewer { flex: none; height: 60vh; } }
""".strip()

# The page's own code. It reads the JSON block, draws with 3Dmol.js and exposes
# window.pocknetView (viewer, focus(rank), ready) for tests and the console.
_JS = r"""
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("pocknet-data").textContent);
  var api = window.pocknetView = { ready: false, focused: 0, error: null };
  var message = document.getElementById("message");
  function fail(text) {
    api.error = text;
    message.textContent = text;
    console.error("pocknet view: " + text);
  }
  if (typeof $3Dmol === "undefined") { fail("The viewer library did not load."); return; }
  var GREY = "#d3d3d3";
  var colourOf = {}, residueRank = {};
  D.pockets.forEach(function (p) {
    colourOf[p.rank] = p.colour;
    p.residues.forEach(function (r) { if (!(r in residueRank)) residueRank[r] = p.rank; });
  });
  function ramp(p) {  // blue (0) -> white (0.5) -> red (1), PyMOL's blue_white_red
    p = Math.max(0, Math.min(1, p));
    var a = [33, 102, 172], m = [247, 247, 247], b = [178, 24, 43], lo = p < 0.5, t = lo ? p / 0.5 : (p - 0.5) / 0.5;
    var from = lo ? a : m, to = lo ? m : b, c = [0, 1, 2].map(function (i) { return Math.round(from[i] + (to[i] - from[i]) * t); });
    return "rgb(" + c.join(",") + ")";
  }
  function residueId(atom) {
    var icode = (atom.icode || "").trim();
    return (atom.chain || "").trim() + "_" + atom.resi + icode;
  }
  var el = document.getElementById("viewer");
  var viewer;
  try {
    viewer = $3Dmol.createViewer(el, { backgroundColor: "white", antialias: true });
  } catch (e) { viewer = null; }
  if (!viewer) { fail("This page needs WebGL, which this browser has switched off."); return; }
  api.viewer = viewer;
  var protein = viewer.addModel(D.structure.text, D.structure.format);
  var pid = protein.getID();
  var pts = viewer.addModel();
  var ptsId = pts.getID();
  var xyz = D.points.xyz, atoms = [];
  for (var i = 0; i < D.points.rank.length; i++) {
    atoms.push({ elem: "C", atom: "C", resn: "STP", chain: "", hetflag: true, serial: i + 1, index: i,
                 resi: D.points.rank[i], b: D.points.p[i], x: xyz[3 * i], y: xyz[3 * i + 1], z: xyz[3 * i + 2] });
  }
  pts.addAtoms(atoms);
  var ref = null;
  if (D.reference.length) {  // the ligand atoms an evaluation scored against
    ref = viewer.addModel();
    var refAtoms = [];
    for (var j = 0; j < D.reference.length / 3; j++) {
      refAtoms.push({ elem: "X", atom: "X", resn: "REF", chain: "", hetflag: true, serial: j + 1, index: j, resi: 1,
                      x: D.reference[3 * j], y: D.reference[3 * j + 1], z: D.reference[3 * j + 2] });
    }
    ref.addAtoms(refAtoms);
  }
  var controls = {
    surface: document.getElementById("ctl-surface"),
    ligands: document.getElementById("ctl-ligands"),
    points: document.getElementById("ctl-points"),
    colour: document.getElementById("ctl-colour")
  };
  controls.surface.checked = !!D.surface;
  if (!D.residues) {
    controls.colour.querySelector("option[value=residue]").disabled = true;
    controls.colour.title = "Residue scores need <name>_residues.csv (the csv format)";
  }
  function proteinColour(atom) {
    if (controls.colour.value === "residue" && D.residues) {
      var p = D.residues[residueId(atom)];
      return (p === undefined || p === null) ? GREY : ramp(p);
    }
    var rank = residueRank[residueId(atom)];
    return rank ? colourOf[rank] : GREY;
  }
  var isLigand = function (atom) { return atom.hetflag && D.waters.indexOf(atom.resn) < 0; };
  var isPolymer = function (atom) { return !atom.hetflag; };
  function applyStyles() {
    viewer.setStyle({ model: pid }, {});
    viewer.setStyle({ model: pid, predicate: isPolymer }, { cartoon: { colorfunc: proteinColour } });
    if (api.focused) {
      viewer.addStyle({ model: pid, predicate: function (a) { return isPolymer(a) && residueRank[residueId(a)] === api.focused; } },
                      { stick: { radius: 0.18, colorfunc: proteinColour } });
    }
    if (controls.ligands.checked) {
      viewer.addStyle({ model: pid, predicate: isLigand },
                      { stick: { radius: 0.2, colorscheme: "greenCarbon" }, sphere: { scale: 0.25, colorscheme: "greenCarbon" } });
    }
    if (ref) {
      viewer.setStyle({ model: ref.getID() }, controls.ligands.checked ? { sphere: { radius: 0.45, color: "#d400d4" } } : {});
    }
    var mode = controls.points.value;
    viewer.setStyle({ model: ptsId }, {});
    if (mode !== "off") {
      var inPocket = function (a) { return a.resi > 0; };
      var select = mode === "all" ? function () { return true; } : inPocket;
      var colour = mode === "rank" ? function (a) { return colourOf[a.resi] || GREY; } : function (a) { return ramp(a.b); };
      // all points: the likely ones larger (8 sizes), so the pockets stand out of the cloud
      var level = function (a) { return mode === "all" ? Math.round(a.b * 8) : -1; };
      var levels = mode === "all" ? [0, 1, 2, 3, 4, 5, 6, 7, 8] : [-1];
      levels.forEach(function (k) {
        viewer.setStyle({ model: ptsId, predicate: function (a) { return select(a) && level(a) === k; } },
                        { sphere: { radius: k < 0 ? 0.42 : 0.12 + 0.05 * k, colorfunc: colour } });
      });
      if (api.focused) {
        viewer.setStyle({ model: ptsId, predicate: function (a) { return a.resi === api.focused; } },
                        { sphere: { radius: 0.6, colorfunc: colour } });
      }
    }
  }
  var surface = null;
  function updateSurface() {
    if (surface !== null) { viewer.removeSurface(surface); surface = null; }
    if (!controls.surface.checked) { viewer.render(); return Promise.resolve(); }
    return Promise.resolve(viewer.addSurface($3Dmol.SurfaceType.MS, { opacity: 0.72, colorfunc: proteinColour },
                                             { model: pid, predicate: isPolymer }))
      .then(function (id) { surface = id; viewer.render(); });
  }
  function redraw() { applyStyles(); viewer.render(); }
  var rows = Array.prototype.slice.call(document.querySelectorAll("#pockets tbody tr"));
  var centre = (function () {
    var c = [0, 0, 0], n = 0;
    protein.selectedAtoms({ predicate: isPolymer }).forEach(function (a) { c[0] += a.x; c[1] += a.y; c[2] += a.z; n++; });
    return n ? c.map(function (v) { return v / n; }) : c;
  })();
  function facing(target) {  // the rotation that turns the pocket's side of the protein towards the viewer
    var d = [target[0] - centre[0], target[1] - centre[1], target[2] - centre[2]];
    var len = Math.hypot(d[0], d[1], d[2]);
    if (len < 1e-6) return null;
    d = d.map(function (v) { return v / len; });
    var w = 1 + d[2];  // quaternion turning d onto +z (towards the camera): (d x z, 1 + d.z), normalised
    if (w < 1e-6) return [1, 0, 0, 0];
    var q = [d[1], -d[0], 0, w], n = Math.hypot(q[0], q[1], q[2], q[3]);
    return q.map(function (v) { return v / n; });
  }
  var pocketCentre = {};
  D.pockets.forEach(function (p) { pocketCentre[p.rank] = p.centre; });
  function focus(rank) {
    api.focused = rank;
    rows.forEach(function (r) { r.classList.toggle("focused", Number(r.dataset.rank) === rank); });
    applyStyles();
    if (rank) {  // turn the pocket towards the viewer, fit it, then step back so its surroundings stay in view
      var q = pocketCentre[rank] ? facing(pocketCentre[rank]) : null;
      if (q) { var view = viewer.getView(); view[4] = q[0]; view[5] = q[1]; view[6] = q[2]; view[7] = q[3]; viewer.setView(view); }
      viewer.zoomTo({ predicate: function (a) {
        return (a.model === ptsId && a.resi === rank) || (a.model === pid && !a.hetflag && residueRank[residueId(a)] === rank);
      } }, 0);
      viewer.zoom(0.6, 300);
    } else {
      viewer.zoomTo({ model: pid }, 400);
    }
    viewer.render();
  }
  api.focus = focus;
  rows.forEach(function (row) {
    row.addEventListener("click", function () { focus(Number(row.dataset.rank)); });
    row.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); focus(Number(row.dataset.rank)); } });
  });
  document.getElementById("ctl-reset").addEventListener("click", function () { focus(0); });
  controls.points.addEventListener("change", redraw);
  controls.ligands.addEventListener("change", redraw);
  controls.colour.addEventListener("change", function () { redraw(); updateSurface(); });
  controls.surface.addEventListener("change", updateSurface);
  viewer.setHoverable({}, true, function (atom, v) {
    if (atom.hoverLabel) return;
    var text = atom.model === ptsId
      ? (atom.resi ? "pocket " + atom.resi + " · " : "") + "point p " + atom.b.toFixed(2)
      : (ref && atom.model === ref.getID()) ? "reference ligand atom"
      : atom.resn + " " + ((atom.chain || "").trim() ? atom.chain.trim() + " " : "") + atom.resi + ((atom.icode || "").trim());
    atom.hoverLabel = v.addLabel(text, { position: atom, fontSize: 12, fontColor: "white", backgroundColor: "black",
                                         backgroundOpacity: 0.75, inFront: true });
  }, function (atom, v) { if (atom.hoverLabel) { v.removeLabel(atom.hoverLabel); delete atom.hoverLabel; } });
  applyStyles();
  viewer.zoomTo({ model: pid });
  viewer.render();
  updateSurface().then(function () { api.ready = true; document.body.dataset.ready = "1"; },
                       function (e) { fail("Surface failed: " + e); api.ready = true; document.body.dataset.ready = "1"; });
})();
""".strip()


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
        f"<style>\n{_CSS}\n</style>",
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
        f'<script type="application/json" id="pocknet-data">{_script_json(_payload(data))}</script>',
        f"<script>\n{_JS}\n</script>",
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


# --------------------------------------------------------------------------------------
# pocknet view
# --------------------------------------------------------------------------------------


def _write_page(path: Path, text: str) -> Path:
    from pocknet.atomic import atomic_write

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as handle:
            handle.write(text)
    except OSError as exc:
        raise PockNetError(f"{path}: cannot write the page ({exc.strerror or exc})") from exc
    return path


def view_structure(
    structure: str | Path,
    prediction_dir: str | Path | None = None,
    output: str | Path | None = None,
    model: str | None = None,
) -> tuple[Path, ViewerData]:
    """The page of one structure: from its PockNet output folder, or predicted now.

    Parameters
    ----------
    structure
        A PDB/mmCIF file (gzipped or not), or the structure copy in an output folder.
    prediction_dir
        The folder ``pocknet predict`` wrote for it; without one, the structure is
        predicted first (``model``, default the bundled one) and nothing but the page is written.
    output
        The page; default ``<prediction_dir>/<name>.html``, or ``<name>.html`` here.

    Raises
    ------
    PockNetError
        A missing or unreadable file, a folder without a prediction of this structure (or
        with one of another file), files of different runs, a structure that cannot be predicted.
    """
    structure = Path(structure)
    if not structure.exists():
        raise PockNetError(f"{structure}: no such file")
    if structure.is_dir():
        raise PockNetError(f"{structure}: is a folder; a prediction folder comes alone: pocknet view {structure}")
    if prediction_dir is not None:
        summary = find_summary(structure, prediction_dir)
        data = load_folder_prediction(summary, structure)
        default = Path(prediction_dir) / f"{data.name}.html"
    else:
        from pocknet.predict.batch import failure_message
        from pocknet.predict.predictor import Predictor

        try:
            prediction = Predictor(model).predict_file(structure, name=_plain_name(structure))
        except PockNetError:
            raise
        except Exception as exc:
            raise PockNetError(failure_message(exc, structure)) from exc
        data = viewer_data_from_prediction(prediction)
        default = Path(f"{data.name}.html")
    path = Path(output) if output is not None else default
    if path.is_dir():
        path = path / f"{data.name}.html"
    return _write_page(path, viewer_html(data)), data


def view_folder(folder: str | Path, output: str | Path | None = None) -> tuple[Path, list[tuple[str, Path | None, str]]]:
    """A page per structure of a PockNet output folder (searched recursively) and ``index.html``.

    Pages go to ``output`` (default: ``folder`` itself), each at its summary's place
    relative to ``folder``, as ``<name>.html``; the index links them all.

    Returns
    -------
    (index path, [(name, page or None, error message or "")])
        A structure whose page fails (missing file, files of different runs) is listed
        with its error, on the index too; the others are still written.

    Raises
    ------
    PockNetError
        When ``folder`` is missing or holds no PockNet prediction.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise PockNetError(f"{folder}: no such folder")
    summaries = folder_summaries(folder)
    if not summaries:
        raise PockNetError(f"{folder}: no PockNet predictions in it (no <name>.json summaries)")
    out = Path(output) if output is not None else folder
    results: list[tuple[str, Path | None, str]] = []
    entries = []
    for summary_path in summaries:
        rel = summary_path.parent.relative_to(folder)
        label = (rel / summary_path.name.removesuffix(".json")).as_posix()
        try:
            data = load_folder_prediction(summary_path)
            page = _write_page(out / rel / f"{data.name}.html", viewer_html(data, back_link=(_up(rel) + "index.html", "all structures")))
        except PockNetError as exc:
            results.append((label, None, str(exc)))
            entries.append({"name": label, "error": str(exc)})
            continue
        results.append((label, page, ""))
        top = data.pockets[0] if data.pockets else {}
        entries.append(
            {
                "href": (rel / page.name).as_posix(),
                "name": label,
                "pockets": len(data.pockets),
                "top_score": top.get("score"),
                "top_probability": top.get("probability"),
                "atoms": data.n_atoms or None,
            }
        )
    index = _write_page(out / "index.html", index_html(entries, title=f"PockNet predictions: {folder.name or folder}"))
    return index, results


def _up(rel: Path) -> str:
    return "../" * len(rel.parts)
