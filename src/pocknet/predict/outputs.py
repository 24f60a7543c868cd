"""Write a :class:`~pocknet.predict.prediction.Prediction` as files people and tools open.

Formats (SCIENCE.md §7), for ``name = prediction.name``:

``csv``
    ``<name>_predictions.csv`` and ``<name>_residues.csv`` with exactly P2Rank
    2.x's column names and order, so scripts written for P2Rank read ours.
    P2Rank pads values with spaces after commas; we write plain CSV (pandas,
    ``csv`` and P2Rank-aware scripts that strip fields read both).
``pdb``
    ``<name>_points.pdb``: every SAS point as a ``HETATM`` of residue ``STP``,
    atom name and element ``C``, blank chain. **Residue number = pocket rank**
    (0 for points in no pocket) and **B-factor = calibrated point probability**
    (fitted on validation; two decimals in the fixed-column ``F6.2`` field,
    clipped to 0.01..0.99 so no point reads as certain), so PyMOL's ``spectrum b``
    and ChimeraX's ``color bfactor`` work with the range 0..1 and the pockets are
    residues of the points model. Beyond 99 999
    points the serial numbers continue in hybrid-36 (``A0000`` …), the scheme
    ChimeraX requires for big PDB files and gemmi reads; residue numbers above
    9 999 (never seen in practice) use hybrid-36 too.
``pml``
    ``<name>.pml``, a PyMOL script: a ``python`` … ``python end`` block that
    loads the structure copy and the points file from the script's own
    folder, then only ``hide``, ``show``, ``color``, ``set_color``,
    ``select``, ``spectrum``, ``set`` and ``orient``.
``cxc``
    ``<name>.cxc``, a ChimeraX command script (``open``, ``name``, ``color``,
    ``surface``, ``view`` …) meant for a fresh session: the structure becomes
    model #1 and the points model #2.
``html``
    ``<name>.html``: the pockets in 3D in any browser, offline: one self-contained
    page (the structure, the SAS points, the pocket table and the vendored
    3Dmol.js inlined; nothing is fetched), written by :mod:`pocknet.predict.viewer`
    (``pocknet view`` writes the same page from an output folder). Not among the
    defaults (:data:`DEFAULT_FORMATS`): each page carries the ~0.5 MB viewer.
``json``
    ``<name>.json``: a machine-readable summary; NaN is written as ``null``
    (strict JSON, which JavaScript and ``jq`` read). ``source`` is the input's
    file name (no folder: the summary names no path of the machine that wrote
    it), ``source_sha256`` its checksum and ``structure_file`` the name of the
    structure copy (``null`` without scripts).

With ``pml`` or ``cxc`` the input structure is copied beside the outputs as
``<name>_structure.pdb`` or ``<name>_structure.cif`` (its own format,
decompressed when it was ``.gz``; written after the points file and before the
scripts), so an output folder is self-contained and can be moved or sent
whole. The scripts name only files in their own folder, and find that folder
themselves, so they run from anywhere (``pymol out/x.pdb.pml``,
``pymol /abs/out/x.pdb.pml``, ``chimerax out/x.pdb.cxc``):

* ChimeraX changes into a ``.cxc`` file's folder while running it and back
  afterwards (``open_command_script`` → ``_run_commands(…, directory =
  dirname(path))`` in RBVI/ChimeraX ``src/bundles/core/src/scripting.py``),
  so ``open "x.pdb_points.pdb"`` names the file beside the script.
* PyMOL resolves a relative ``load`` against its working directory, not the
  script's. But running a ``.pml`` (``pymol x.pml``, File ▸ Open, ``load``
  and ``@`` all end in the parser's ``@`` branch: ``'pml': … _self.do("_ @%s"
  % filename)`` in ``modules/pymol/importing.py``) sets
  ``cmd._pymol.__script__`` to the script's path for as long as it runs
  (``self.cmd._pymol.__script__ = path`` in ``modules/pymol/parser.py``), and
  a ``python`` block runs in that namespace (``exec(…, self.pymol_names, …)``
  with ``pymol_names = cmd._pymol.__dict__``). So the block loads
  ``os.path.join(os.path.dirname(os.path.abspath(__script__)), name)``. Typed
  at the prompt instead of run as a file, ``__script__`` is ``"toplevel"`` and
  the folder falls back to the working directory. (Checked with PyMOL
  open-source 3.2 and Debian's PyMOL 2.5, from the parent folder, another
  folder and after moving the output folder; ``__script__`` and ``python``
  blocks exist since PyMOL 1.x.)

Scripts are code: nothing from the input reaches a command unchecked.

* File names enter the PyMOL script only as Python string literals
  (:func:`ascii`) inside the ``python`` block, and the ChimeraX script only
  double-quoted, where ChimeraX does not split at ``;``.
* A name with control characters (``\\n``, ``\\r``, ``\\t``, U+0000-U+001F,
  U+007F-U+009F, U+2028, U+2029) is refused for every format. With ``pml`` or
  ``cxc`` a name with ``;``, ``$`` or ``"`` is refused too: PyMOL splits a
  ``.pml`` file's own name at ``;`` when it opens it (opening
  ``x.pml;system …;#.pml`` runs ``@x.pml``, then ``system …``: it does
  ``_self.do("_ @%s" % filename)`` and the parser splits a line at ``;``
  before it looks at ``@``; seen with PyMOL 3.2), ChimeraX runs ``open`` again
  on its arguments re-quoted by ``quote_path_if_necessary``, which leaves a
  name without blanks or quotes bare, so a ``;`` in it splits that command
  (``cmd_open`` in ``src/bundles/open_command/src/cmd.py``, ``cli.py`` in
  ``src/bundles/core/src/commands``), both viewers expand ``$VAR`` in paths,
  and a ChimeraX quoted token ends at any ``"`` followed by a blank.
* Comments are the only place free text appears; control characters,
  ``;`` and ``\\`` in them become ``_`` (PyMOL runs what follows a ``;`` even
  on a ``#`` line).
* Object names keep letters, digits and ``_``; chain ids and residue labels
  written into selections must be letters and digits (``-?[0-9]+`` plus an
  insertion code): a pocket residue with any other chain id is left out of the
  scripts' selections, which a comment line says.

Pocket ``k`` gets colour ``PALETTE[(k - 1) % len(PALETTE)]`` in both scripts
and in the JSON: CSS colour names, which ChimeraX understands directly and
PyMOL receives through ``set_color`` with the same RGB values.

Every file is written through :func:`pocknet.atomic.atomic_write`, so a reader
(or an interrupted run) never sees a half-written output.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import re
import unicodedata
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import gemmi
import numpy as np
import pandas as pd

from pocknet.atomic import atomic_write
from pocknet.errors import ConfigError, PockNetError
from pocknet.featurize.features import ProteinFeatures
from pocknet.predict.prediction import Prediction
from pocknet.structure.reader import Residues, residue_labels

__all__ = [
    "DEFAULT_FORMATS",
    "FORMATS",
    "PALETTE",
    "PREDICTIONS_COLUMNS",
    "RESIDUES_COLUMNS",
    "chimerax_spec",
    "hybrid36",
    "output_paths",
    "parse_formats",
    "point_pocket_ranks",
    "points_pdb_text",
    "predictions_table",
    "pymol_selection",
    "read_points_pdb",
    "residue_ids",
    "residues_table",
    "structure_file_name",
    "summary_rows",
    "write_outputs",
]

FORMATS: tuple[str, ...] = ("csv", "pdb", "pml", "cxc", "html", "json")
#: What ``pocknet predict`` and :func:`write_outputs` write unless told otherwise (all but ``html``).
DEFAULT_FORMATS: tuple[str, ...] = ("csv", "pdb", "pml", "cxc", "json")

PREDICTIONS_COLUMNS: tuple[str, ...] = (
    "name",
    "rank",
    "score",
    "probability",
    "sas_points",
    "surf_atoms",
    "center_x",
    "center_y",
    "center_z",
    "residue_ids",
    "surf_atom_ids",
)
RESIDUES_COLUMNS: tuple[str, ...] = (
    "chain",
    "residue_label",
    "residue_name",
    "score",
    "zscore",
    "probability",
    "pocket",
)

# (CSS name, RGB 0..255): distinct on a grey protein, none of them grey.
PALETTE: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("royalblue", (65, 105, 225)),
    ("orange", (255, 165, 0)),
    ("forestgreen", (34, 139, 34)),
    ("crimson", (220, 20, 60)),
    ("mediumpurple", (147, 112, 219)),
    ("sienna", (160, 82, 45)),
    ("hotpink", (255, 105, 180)),
    ("gold", (255, 215, 0)),
    ("darkturquoise", (0, 206, 209)),
    ("olivedrab", (107, 142, 35)),
)
_PROTEIN_COLOUR = ("lightgray", (211, 211, 211))

# Rounding of written numbers: P2Rank's precision, coordinates like a PDB file's.
_SCORE_DECIMALS = 2
_PROBABILITY_DECIMALS = 3
_CENTRE_DECIMALS = 3
_RESIDUE_SCORE_DECIMALS = 4
_JSON_DECIMALS = 4  # float32 noise (20.66699981…) helps no one reading the summary

_POINT_RESNAME = "STP"
_POINT_ATOM = " C  "  # element C right-justified in columns 13-14, as PDB names are
_POINT_CHAIN = " "


def parse_formats(text: str) -> tuple[str, ...]:
    """Parse a comma list such as ``"csv,pml"`` into formats, in :data:`FORMATS` order.

    Case and blanks are ignored, repeats collapse and ``all`` means every
    format, so a CLI option can pass the user's text straight through.

    Raises
    ------
    ConfigError
        For an empty list or an unknown format (the message lists the known ones).
    """
    names = [part.strip().lower() for part in str(text).split(",") if part.strip()]
    if not names:
        raise ConfigError(f"output formats: none given in {text!r}; known: {', '.join(FORMATS)}")
    if "all" in names:
        return FORMATS
    return _validate_formats(names)


def _validate_formats(names: Iterable[str]) -> tuple[str, ...]:
    names = list(names)
    unknown = sorted(set(names) - set(FORMATS))
    if unknown:
        raise ConfigError(f"output formats: unknown {unknown}; known: {', '.join(FORMATS)}")
    return tuple(f for f in FORMATS if f in names)


def residue_ids(features: ProteinFeatures) -> np.ndarray:
    """P2Rank residue ids (``A_100A``) of every residue, via :func:`pocknet.structure.reader.residue_labels`.

    Rebuilding :class:`~pocknet.structure.reader.Residues` from the feature arrays keeps
    one definition of the id format for the whole project.
    """
    residues = Residues(
        chain=features.residue_chain,
        number=features.residue_number,
        icode=features.residue_icode,
        name=features.residue_name,
        one_letter=features.residue_one_letter,
        ca=features.residue_ca,
    )
    return residue_labels(residues)


def _round(value: float, decimals: int) -> float:
    """Round for output; NaN stays NaN (written as an empty CSV field, JSON ``null``)."""
    value = float(value)
    return value if math.isnan(value) else round(value, decimals)


def _sorted_unique(indices: np.ndarray) -> np.ndarray:
    return np.unique(np.asarray(indices, dtype=np.int64))


def _ranked(prediction: Prediction) -> list:
    return sorted(prediction.pockets, key=lambda p: p.rank)


def predictions_table(prediction: Prediction) -> pd.DataFrame:
    """One row per pocket, by rank, in P2Rank's ``_predictions.csv`` layout.

    ``residue_ids`` are P2Rank ids in file order and ``surf_atom_ids`` the
    atoms' serial numbers in the source file (ascending), both space-separated,
    so they can be pasted into viewer selections or joined with P2Rank output.
    """
    features = prediction.features
    ids = residue_ids(features)
    rows = []
    for pocket in _ranked(prediction):
        residues = _sorted_unique(pocket.residue_indices)
        serials = np.unique(features.atom_serial[_sorted_unique(pocket.atom_indices)])
        centre = np.asarray(pocket.centre, dtype=np.float64)
        rows.append(
            {
                "name": f"pocket{pocket.rank}",
                "rank": int(pocket.rank),
                "score": _round(pocket.score, _SCORE_DECIMALS),
                "probability": _round(pocket.probability, _PROBABILITY_DECIMALS),
                "sas_points": len(_sorted_unique(pocket.point_indices)),
                "surf_atoms": len(serials),
                "center_x": _round(centre[0], _CENTRE_DECIMALS),
                "center_y": _round(centre[1], _CENTRE_DECIMALS),
                "center_z": _round(centre[2], _CENTRE_DECIMALS),
                "residue_ids": " ".join(ids[residues].tolist()),
                "surf_atom_ids": " ".join(str(int(s)) for s in serials),
            }
        )
    return pd.DataFrame(rows, columns=list(PREDICTIONS_COLUMNS))


def residues_table(prediction: Prediction) -> pd.DataFrame:
    """One row per protein residue in P2Rank's ``_residues.csv`` layout.

    ``residue_label`` is the author number with its insertion code (``100A``);
    ``pocket`` is the rank of the pocket holding the residue, 0 for none.
    """
    f = prediction.features
    labels = np.char.add(f.residue_number.astype(str), f.residue_icode)
    table = pd.DataFrame(
        {
            "chain": f.residue_chain.astype(str),
            "residue_label": labels.astype(str),
            "residue_name": f.residue_name.astype(str),
            "score": np.round(
                np.asarray(prediction.residue_score, dtype=np.float64), _RESIDUE_SCORE_DECIMALS
            ),
            "zscore": np.round(
                np.asarray(prediction.residue_zscore, dtype=np.float64), _RESIDUE_SCORE_DECIMALS
            ),
            # calibrated; clipped so the printed value is never 0.000 or 1.000 (nothing is certain)
            "probability": np.round(
                np.clip(
                    np.nan_to_num(np.asarray(prediction.residue_probability, dtype=np.float64), nan=0.0),
                    10.0**-_PROBABILITY_DECIMALS,
                    1.0 - 10.0**-_PROBABILITY_DECIMALS,
                ),
                _PROBABILITY_DECIMALS,
            ),
            "pocket": np.asarray(prediction.residue_pocket, dtype=np.int64),
        },
        columns=list(RESIDUES_COLUMNS),
    )
    return table


def point_pocket_ranks(prediction: Prediction) -> np.ndarray:
    """Pocket rank of every SAS point, 0 for none (int32).

    Grown pockets can share points; a shared point goes to the better
    (lower) rank, the pocket a viewer should show it with.
    """
    ranks = np.zeros(prediction.features.n_points, dtype=np.int32)
    for pocket in sorted(prediction.pockets, key=lambda p: p.rank, reverse=True):
        ranks[np.asarray(pocket.point_indices, dtype=np.int64)] = pocket.rank
    return ranks


_DIGITS_UPPER = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DIGITS_LOWER = _DIGITS_UPPER.lower()


def _base36(value: int, width: int, digits: str) -> str:
    out = []
    for _ in range(width):
        value, rem = divmod(value, 36)
        out.append(digits[rem])
    return "".join(reversed(out))


def hybrid36(value: int, width: int) -> str:
    """Encode a non-negative integer in hybrid-36 (the PDB's overflow scheme) in ``width`` columns.

    Decimal up to ``10**width - 1``, then ``A000…`` upward in upper-case base 36,
    then lower case: values stay unique and readable by ChimeraX and gemmi
    where plain wrapping would repeat serial numbers.
    """
    if value < 0:
        raise ValueError(f"hybrid-36 encodes non-negative numbers, got {value}")
    if value < 10**width:
        return f"{value:>{width}d}"
    value -= 10**width
    block = 26 * 36 ** (width - 1)
    offset = 10 * 36 ** (width - 1)  # 'A000…' in base 36
    if value < block:
        return _base36(value + offset, width, _DIGITS_UPPER)
    value -= block
    if value < block:
        return _base36(value + offset, width, _DIGITS_LOWER)
    raise ValueError(f"{value + 10**width + block} does not fit hybrid-36 in {width} columns")


def points_pdb_text(points: np.ndarray, probabilities: np.ndarray, ranks: np.ndarray, title: str = "") -> str:
    """Fixed-column PDB text of SAS points (see the module docstring for the conventions).

    Raises
    ------
    PockNetError
        When a coordinate does not fit the PDB's ``F8.3`` columns.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    # The F6.2 B-factor never reads 0.00 or 1.00: a probability is never certain.
    probs = np.clip(np.nan_to_num(np.asarray(probabilities, dtype=np.float64), nan=0.0), 0.01, 0.99)
    ranks = np.asarray(ranks, dtype=np.int64)
    if len(probs) != len(points) or len(ranks) != len(points):
        raise ValueError(f"{len(points)} points but {len(probs)} probabilities and {len(ranks)} ranks")
    if len(points) and (points.min() < -999.999 or points.max() > 9999.999):
        raise PockNetError(
            f"{title or 'points'}: coordinates outside the PDB format's range (-999.999..9999.999)"
        )
    lines = []
    if title:
        lines.append(f"REMARK 999 PockNet SAS points of {title}"[:80])
    lines.append("REMARK 999 resSeq = pocket rank (0: no pocket), B-factor = probability 0.01-0.99")
    for i, ((x, y, z), p, rank) in enumerate(zip(points.tolist(), probs.tolist(), ranks.tolist())):
        lines.append(
            f"HETATM{hybrid36(i + 1, 5)} {_POINT_ATOM} {_POINT_RESNAME} {_POINT_CHAIN}{hybrid36(rank, 4)}    "
            f"{x:8.3f}{y:8.3f}{z:8.3f}{1.0:6.2f}{p:6.2f}           C  "
        )
    lines.append("END")
    return "\n".join(lines) + "\n"


def read_points_pdb(path: str | Path) -> pd.DataFrame:
    """Read a ``<name>_points.pdb`` back: ``x, y, z, probability, pocket_rank`` per point, in file order.

    gemmi decodes the hybrid-36 serial and residue numbers written by :func:`points_pdb_text`.
    It files a point under an earlier residue of the same number (pocket 2's points after a
    run of pocket-0 points join the first pocket-2 run), so rows are put back in file order
    by serial number: row ``i`` is point ``i`` of the prediction.
    """
    model = gemmi.read_structure(str(path))[0]
    rows = sorted((atom.serial, *atom.pos.tolist(), round(atom.b_iso, 2), residue.seqid.num)  # B: F6.2 in the file
                  for chain in model for residue in chain for atom in residue)  # fmt: skip
    return pd.DataFrame([r[1:] for r in rows], columns=["x", "y", "z", "probability", "pocket_rank"])


_SCRIPT_FORMATS = ("pml", "cxc")
# Unicode categories of characters that end or break a line somewhere (a script, a terminal, a log):
# Cc holds \t \n \r, U+0000-U+001F and U+007F-U+009F (with U+0085, NEL); Zl and Zp are U+2028 and U+2029.
_LINE_BREAKING = frozenset({"Cc", "Zl", "Zp"})
# In comments, invisible and unassigned characters go too (a bidi override can hide text).
_COMMENT_UNSAFE = _LINE_BREAKING | {"Cf", "Cs", "Co", "Cn"}
# In a name given to the scripts: ';' splits PyMOL and ChimeraX commands, '$' starts an environment
# variable both expand in paths, '"' cannot be quoted for ChimeraX (see the module docstring).
_SCRIPT_UNSAFE = ';$"'
_CHAIN_ID = re.compile(r"[A-Za-z0-9]+")
_RESIDUE_LABEL = re.compile(r"-?[0-9]+[A-Za-z0-9]?")
_PYMOL_RESERVED = frozenset({"all", "none", "sele", "enabled", "visible", "center", "origin", "same"})


def _breaks_lines(text: str) -> bool:
    return any(unicodedata.category(ch) in _LINE_BREAKING for ch in text)


def _shown(text: object) -> str:
    """``text`` for an error message: as it is, or as a Python literal when it holds control characters."""
    text = str(text)
    return repr(text) if _breaks_lines(text) else text


def _comment(text: object) -> str:
    """Free text made safe for a ``#`` line of a PyMOL or ChimeraX script.

    Control, format and unassigned characters, ``;`` (PyMOL runs what follows it,
    even on a comment line) and ``\\`` (PyMOL joins a line ending in it to the
    next) become ``_``.
    """
    return "".join(
        "_" if ch in ";\\" or unicodedata.category(ch) in _COMMENT_UNSAFE else ch for ch in str(text)
    )


def _name_problem(name: str, scripts: bool) -> str | None:
    """Why ``name`` cannot prefix the output files (``scripts``: a .pml or .cxc is among them), or None."""
    if not name or "/" in name or "\\" in name or name in {".", ".."}:
        return "cannot name an output file"
    if _breaks_lines(name):
        return "holds control characters (line breaks, tabs …) that would break or forge lines of the outputs"
    bad = sorted(set(name) & set(_SCRIPT_UNSAFE)) if scripts else []
    if bad:
        return (
            f"holds {' '.join(bad)}, which PyMOL and ChimeraX scripts cannot name safely; "
            "rename the file or leave out the pml and cxc formats"
        )
    return None


def structure_file_name(name: str, source: str | Path | None = None) -> str:
    """Name of the structure copy written beside the scripts: ``<name>_structure.cif`` or ``.pdb``.

    The copy keeps the source's format: mmCIF for a ``.cif``/``.mmcif`` file (gzipped
    or not), PDB otherwise. Without ``source`` the name is read the same way
    (``1fbl.cif`` → ``1fbl.cif_structure.cif``).
    """
    hint = str(source if source is not None else name).lower().removesuffix(".gz")
    return f"{name}_structure{'.cif' if hint.endswith(('.cif', '.mmcif')) else '.pdb'}"


def _structure_bytes(features: ProteinFeatures) -> bytes:
    """The source structure as it was featurised, decompressed, for the copy beside the scripts.

    Raises
    ------
    PockNetError
        When the source cannot be read or decompressed, or is no longer the file that was featurised.
    """
    source = str(features.source)
    try:
        raw = Path(source).read_bytes()
    except OSError as exc:
        raise PockNetError(
            f"{_shown(source)}: cannot read the input structure to copy beside the scripts "
            f"({exc.strerror or exc})"
        ) from exc
    if features.source_sha256 and hashlib.sha256(raw).hexdigest() != features.source_sha256:
        raise PockNetError(
            f"{_shown(source)}: the file changed since it was featurised (sha256 differs); predict it again"
        )
    if raw[:2] == b"\x1f\x8b":  # gzip magic: the viewers get a plain copy
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise PockNetError(f"{_shown(source)}: cannot decompress the input structure ({exc})") from exc
    return raw


def _pocket_residue_groups(prediction: Prediction, pocket) -> tuple[list[tuple[str, list[str]]], int]:
    """``([(chain, ["12", "100A", …]), …], left_out)`` of a pocket's residues, chains in first-seen order.

    Chain ids and labels are written into script commands, so a residue whose
    chain id is not letters and digits (a blank one is kept: the selections
    handle it), or whose label is not a number with an optional letter or digit
    insertion code, is left out and counted in ``left_out``.
    """
    f = prediction.features
    groups: dict[str, list[str]] = {}
    left_out = 0
    for r in _sorted_unique(pocket.residue_indices).tolist():
        chain = str(f.residue_chain[r])
        label = f"{int(f.residue_number[r])}{f.residue_icode[r]}"
        if not _RESIDUE_LABEL.fullmatch(label) or (chain.strip() and not _CHAIN_ID.fullmatch(chain)):
            left_out += 1
            continue
        groups.setdefault(chain, []).append(label)
    return list(groups.items()), left_out


def _check_groups(groups: Sequence[tuple[str, Sequence[str]]]) -> None:
    for chain, labels in groups:
        if chain.strip() and not _CHAIN_ID.fullmatch(chain):
            raise ValueError(f"chain id {chain!r} is not letters and digits; a script cannot name it")
        for label in labels:
            if not _RESIDUE_LABEL.fullmatch(label):
                raise ValueError(f"residue label {label!r} is not a number with an optional insertion code")


def chimerax_spec(groups: Sequence[tuple[str, Sequence[str]]], model: int = 1) -> str:
    """ChimeraX atom spec of residues grouped by chain, e.g. ``#1/A:12,15,100A/B:7``.

    A repeated ``/`` restarts the chain level in ChimeraX, so one spec covers
    several chains. Residues are listed one by one, not as ranges: a range
    such as ``100-101`` would also take an inserted ``100A`` that is not in the
    pocket. A blank chain id is left out (ChimeraX cannot name it).

    Raises
    ------
    ValueError
        For a chain id other than letters and digits, or a label other than
        ``-?[0-9]+`` with an optional insertion code: text a command must not hold.
    """
    _check_groups(groups)
    parts = []
    for chain, labels in groups:
        if not labels:
            continue
        chain_part = f"/{chain}" if chain.strip() else ""
        parts.append(f"{chain_part}:{','.join(labels)}")
    return f"#{int(model)}" + "".join(parts) if parts else ""


def _pymol_resi(label: str) -> str:
    # PyMOL reads a leading minus in resi as a range operator unless escaped.
    return "\\" + label if label.startswith("-") else label


def pymol_selection(groups: Sequence[tuple[str, Sequence[str]]], obj: str) -> str:
    """PyMOL selection of residues grouped by chain, e.g. ``1a82a and polymer and (chain A and resi 12+100A)``.

    Raises
    ------
    ValueError
        For a chain id or label :func:`chimerax_spec` refuses, or an object name
        other than letters, digits and ``_``.
    """
    _check_groups(groups)
    if not re.fullmatch(r"[A-Za-z0-9_]+", obj):
        raise ValueError(f"object name {obj!r} is not letters, digits and _")
    parts = []
    for chain, labels in groups:
        if not labels:
            continue
        resi = "+".join(_pymol_resi(label) for label in labels)
        chain_sel = f"chain {chain}" if chain.strip() else 'chain ""'
        parts.append(f"({chain_sel} and resi {resi})")
    if not parts:
        return "none"
    return f"{obj} and polymer and ({' or '.join(parts)})"


def _object_name(name: str) -> str:
    """A PyMOL object name: letters, digits and underscores only, never a reserved word such as ``all``."""
    safe = re.sub(r"[^A-Za-z0-9_]", "_", name) or "protein"
    return f"obj_{safe}" if safe.lower() in _PYMOL_RESERVED else safe


def _cxc_path(file_name: str) -> str:
    """A file name double-quoted for a ChimeraX command (``;`` and blanks allowed inside)."""
    if '"' in file_name or _breaks_lines(file_name):
        raise PockNetError(f"{_shown(file_name)}: a ChimeraX script cannot name this file")
    return f'"{file_name}"'


def _colour(rank: int) -> tuple[str, tuple[int, int, int]]:
    return PALETTE[(rank - 1) % len(PALETTE)]


def _rgb01(rgb: tuple[int, int, int]) -> str:
    return "[" + ", ".join(f"{c / 255:.3f}" for c in rgb) + "]"


def _left_out_note(rank: int, left_out: int) -> list[str]:
    if not left_out:
        return []
    return [f"# pocket{rank}: {left_out} residue(s) left out, with a chain id or label no script can name"]


def _pml_text(prediction: Prediction, structure_file: str, points_file: str) -> str:
    obj = _object_name(prediction.name)
    pts = f"{obj}_points"
    title = f"{_comment(prediction.name)} (model {_comment(prediction.model_name)})"
    lines = [
        f"# PockNet pockets of {title}, PyMOL script.",
        f"# Open it from any folder (pymol path/to/{_comment(prediction.name)}.pml): it loads the files beside it.",
        "# Points: residue number = pocket rank (0: none), B-factor = calibrated probability 0.01-0.99.",
        # PyMOL sets __script__ to the path of the .pml it runs (see the module docstring).
        "python",
        "import os",
        "pocknet_dir = os.path.dirname(os.path.abspath(__script__))",
        f"cmd.load(os.path.join(pocknet_dir, {structure_file!a}), {obj!a})",
        f"cmd.load(os.path.join(pocknet_dir, {points_file!a}), {pts!a})",
        "python end",
        "hide everything",
        f"set_color pocknet_{_PROTEIN_COLOUR[0]}, {_rgb01(_PROTEIN_COLOUR[1])}",
        f"color pocknet_{_PROTEIN_COLOUR[0]}, {obj} and polymer",
        f"show cartoon, {obj}",
        f"show sticks, {obj} and organic",
        f"show surface, {obj} and polymer",
        "set transparency, 0.3",
        f"set sphere_scale, 0.3, {pts}",
        f"show spheres, {pts} and not resi 0",
    ]
    used = dict(_colour(pocket.rank) for pocket in _ranked(prediction))
    lines += [f"set_color pocknet_{name}, {_rgb01(rgb)}" for name, rgb in used.items()]
    for pocket in _ranked(prediction):
        rank = int(pocket.rank)
        colour = f"pocknet_{_colour(rank)[0]}"
        groups, left_out = _pocket_residue_groups(prediction, pocket)
        lines += _left_out_note(rank, left_out)
        lines += [
            f"select pocket{rank}, {pymol_selection(groups, obj)}, enable=0",
            f"color {colour}, pocket{rank}",
            f"color {colour}, {pts} and resi {rank}",
        ]
    lines += [
        "# Option: every point coloured by probability instead of by pocket:",
        f"# show spheres, {pts}",
        f"# spectrum b, blue_white_red, {pts}, minimum=0, maximum=1",
        f"orient {obj}",
    ]
    return "\n".join(lines) + "\n"


def _cxc_text(prediction: Prediction, structure_file: str, points_file: str) -> str:
    title = f"{_comment(prediction.name)} (model {_comment(prediction.model_name)})"
    lines = [
        f"# PockNet pockets of {title}, ChimeraX script.",
        f"# Open it in a fresh session from any folder (chimerax path/to/{_comment(prediction.name)}.cxc).",
        "# ChimeraX runs it in its own folder, where the files are; the structure becomes #1, the points #2.",
        "# Points: residue number = pocket rank (0: none), B-factor = calibrated probability 0.01-0.99.",
        f"open {_cxc_path(structure_file)}",
        f"open {_cxc_path(points_file)}",
        f"color #1 & protein {_PROTEIN_COLOUR[0]}",
        "surface #1",
        "style #2 sphere",
        "size #2 atomRadius 0.4",
        "hide #2:0 target a",
    ]
    for pocket in _ranked(prediction):
        rank = int(pocket.rank)
        colour = _colour(rank)[0]
        groups, left_out = _pocket_residue_groups(prediction, pocket)
        lines += _left_out_note(rank, left_out)
        spec = chimerax_spec(groups, model=1)
        if spec:
            lines += [f"name pocket{rank} {spec}", f"color pocket{rank} {colour}"]
        lines.append(f"color #2:{rank} {colour}")
    lines += [
        "# Option: every point coloured by probability instead of by pocket:",
        "# show #2 target a",
        "# color bfactor #2 palette blue:white:red range 0,1",
        "view",
    ]
    return "\n".join(lines) + "\n"


def _json_safe(value: Any) -> Any:
    """Plain JSON types with NaN and infinities as ``None``."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_json_safe(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _json_summary(prediction: Prediction, structure_file: str | None = None) -> dict[str, Any]:
    f = prediction.features
    ids = residue_ids(f)
    pockets = []
    for pocket in _ranked(prediction):
        centre = np.asarray(pocket.centre, dtype=np.float64)
        pockets.append(
            {
                "name": f"pocket{pocket.rank}",
                "rank": int(pocket.rank),
                "score": _round(pocket.score, _JSON_DECIMALS),
                # calibrated (never printed as 0 or 1); null without a calibrator
                "probability": _round(
                    min(max(float(pocket.probability), 10.0**-_JSON_DECIMALS), 1.0 - 10.0**-_JSON_DECIMALS)
                    if math.isfinite(float(pocket.probability)) else math.nan,
                    _JSON_DECIMALS,
                ),
                "centre": [_round(c, _CENTRE_DECIMALS) for c in centre],
                "residue_ids": ids[_sorted_unique(pocket.residue_indices)].tolist(),
                "n_points": len(_sorted_unique(pocket.point_indices)),
                "n_atoms": len(_sorted_unique(pocket.atom_indices)),
                "colour": _colour(pocket.rank)[0],
            }
        )
    return {
        "name": prediction.name,
        "source": Path(str(f.source)).name,
        "source_sha256": f.source_sha256,
        "structure_file": structure_file,
        "model_name": prediction.model_name,
        "pocknet_version": f.pocknet_version,
        "threshold": _round(prediction.threshold, _JSON_DECIMALS),
        "seconds": _round(prediction.seconds, 3),
        "counts": {
            "points": int(f.n_points),
            "residues": len(f.residue_chain),
            "atoms": len(f.atom_coords),
            "pockets": len(pockets),
        },
        "pockets": pockets,
        "notes": list(prediction.notes),
    }


def _format_files(name: str, fmt: str) -> list[str]:
    return {
        "csv": [f"{name}_predictions.csv", f"{name}_residues.csv"],
        "pdb": [f"{name}_points.pdb"],
        "pml": [f"{name}.pml"],
        "cxc": [f"{name}.cxc"],
        "html": [f"{name}.html"],
        "json": [f"{name}.json"],
    }[fmt]


def output_paths(
    name: str, out_dir: str | Path, formats: Iterable[str] = DEFAULT_FORMATS, source: str | Path | None = None
) -> list[Path]:
    """The files :func:`write_outputs` writes for ``formats``, in writing order.

    With ``pml`` or ``cxc`` the structure copy (:func:`structure_file_name` of
    ``name`` and ``source``) comes right before the first script. The ``json``
    summary, when asked for, is always last, so its presence marks a complete set.
    """
    out_dir = Path(out_dir)
    files: list[str] = []
    copied = False
    for fmt in _validate_formats(formats):
        if fmt in _SCRIPT_FORMATS and not copied:
            files.append(structure_file_name(name, source))
            copied = True
        files += _format_files(name, fmt)
    return [out_dir / file for file in files]


def _write_text(path: Path, text: str) -> None:
    with atomic_write(path) as handle:
        handle.write(text)


def write_outputs(
    prediction: Prediction,
    out_dir: str | Path,
    formats: Iterable[str] | str = DEFAULT_FORMATS,
    structure_copy: str | None = None,
) -> list[Path]:
    """Write the requested formats for one prediction into ``out_dir`` (created if missing).

    Parameters
    ----------
    prediction
        What to write; ``prediction.name`` prefixes every file.
    out_dir
        Output folder.
    formats
        Subset of :data:`FORMATS`, or a comma list as accepted by :func:`parse_formats`;
        default :data:`DEFAULT_FORMATS`. With ``pml`` or ``cxc`` the source structure is
        copied beside the scripts; ``html`` inlines it into the page.
    structure_copy
        Name of the structure copy an earlier call wrote into ``out_dir`` for this same
        prediction (the scripts first, the JSON marker last, as ``pocknet predict`` does):
        the JSON's ``structure_file`` when this call copies nothing itself.

    Returns
    -------
    list of Path
        The written files, in :func:`output_paths` order (the ``json`` summary last).

    Raises
    ------
    ConfigError
        For an unknown format, before anything is written.
    PockNetError
        Before anything is written, for a name that cannot prefix the files
        (see the module docstring) or, with scripts or ``html``, a source structure that
        cannot be read or is no longer the featurised file.
    """
    chosen = parse_formats(formats) if isinstance(formats, str) else _validate_formats(formats)
    name = prediction.name
    f = prediction.features
    scripts = any(fmt in _SCRIPT_FORMATS for fmt in chosen)
    problem = _name_problem(name, scripts)
    if problem:
        raise PockNetError(f"{_shown(f.source)}: output name {name!r} {problem}")
    structure_file = structure_file_name(name, f.source) if scripts else structure_copy
    # read before anything is written
    source_bytes = _structure_bytes(f) if scripts or "html" in chosen else None
    structure = source_bytes if scripts else None
    points_file = _format_files(name, "pdb")[0]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for fmt in chosen:
        if fmt in _SCRIPT_FORMATS and structure is not None:
            path = out_dir / structure_file
            with atomic_write(path, "wb") as handle:
                handle.write(structure)
            written.append(path)
            structure = None
        paths = [out_dir / file for file in _format_files(name, fmt)]
        if fmt == "csv":
            tables = (predictions_table(prediction), residues_table(prediction))
            for path, table in zip(paths, tables):
                _write_text(path, table.to_csv(index=False, lineterminator="\n"))
        elif fmt == "pdb":
            text = points_pdb_text(
                f.points, prediction.probabilities, point_pocket_ranks(prediction), title=name
            )
            _write_text(paths[0], text)
        elif fmt == "pml":
            _write_text(paths[0], _pml_text(prediction, structure_file, points_file))
        elif fmt == "cxc":
            _write_text(paths[0], _cxc_text(prediction, structure_file, points_file))
        elif fmt == "html":
            from pocknet.predict.viewer import viewer_data_from_prediction, viewer_html

            _write_text(paths[0], viewer_html(viewer_data_from_prediction(prediction, source_bytes)))
        elif fmt == "json":
            summary = _json_summary(prediction, structure_file)
            _write_text(paths[0], json.dumps(_json_safe(summary), indent=2, allow_nan=False) + "\n")
        written += paths
    return written


def summary_rows(predictions: Iterable[Prediction]) -> list[dict[str, Any]]:
    """One row per structure for the CLI's summary table.

    Keys: ``name``, ``pockets`` (count), ``top_score``, ``top_probability``,
    ``top_centre`` (``(x, y, z)`` rounded to 3 decimals) and ``seconds``; the
    ``top_*`` values are ``None`` for a structure without pockets, and
    ``top_probability`` is ``None`` without a calibrator (NaN).
    """
    rows = []
    for prediction in predictions:
        ranked = _ranked(prediction)
        top = ranked[0] if ranked else None
        probability = None if top is None or math.isnan(float(top.probability)) else float(top.probability)
        rows.append(
            {
                "name": prediction.name,
                "pockets": len(ranked),
                "top_score": None if top is None else _round(top.score, _SCORE_DECIMALS),
                "top_probability": None if probability is None else round(probability, _PROBABILITY_DECIMALS),
                "top_centre": None
                if top is None
                else tuple(_round(c, _CENTRE_DECIMALS) for c in np.asarray(top.centre, dtype=np.float64)),
                "seconds": round(float(prediction.seconds), 3),
            }
        )
    return rows
