"""``pml``: ``<name>.pml``, a PyMOL script that shows the pockets on the structure copy.

A ``python`` … ``python end`` block loads the structure copy and the points file from the
script's own folder, then only ``hide``, ``show``, ``color``, ``set_color``, ``select``,
``spectrum``, ``set`` and ``orient`` follow. How it finds its folder, and why no input
reaches a command unchecked: :mod:`pocknet.predict.writers.scripts`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from pocknet.predict.prediction import Prediction
from pocknet.predict.writers.base import PROTEIN_COLOUR, OutputJob, Writer, pocket_colour, ranked
from pocknet.predict.writers.files import write_text
from pocknet.predict.writers.scripts import check_groups, comment, left_out_note, pocket_residue_groups

__all__ = ["WRITER", "pymol_selection"]

_PYMOL_RESERVED = frozenset({"all", "none", "sele", "enabled", "visible", "center", "origin", "same"})


def _pymol_resi(label: str) -> str:
    # PyMOL reads a leading minus in resi as a range operator unless escaped.
    return "\\" + label if label.startswith("-") else label


def pymol_selection(groups: Sequence[tuple[str, Sequence[str]]], obj: str) -> str:
    """PyMOL selection of residues grouped by chain, e.g. ``1a82a and polymer and (chain A and resi 12+100A)``.

    Raises
    ------
    ValueError
        For a chain id or label :func:`~pocknet.predict.writers.chimerax.chimerax_spec` refuses,
        or an object name other than letters, digits and ``_``.
    """
    check_groups(groups)
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


def _rgb01(rgb: tuple[int, int, int]) -> str:
    return "[" + ", ".join(f"{c / 255:.3f}" for c in rgb) + "]"


def _pml_text(prediction: Prediction, structure_file: str, points_file: str) -> str:
    obj = _object_name(prediction.name)
    pts = f"{obj}_points"
    title = f"{comment(prediction.name)} (model {comment(prediction.model_name)})"
    lines = [
        f"# PockNet pockets of {title}, PyMOL script.",
        f"# Open it from any folder (pymol path/to/{comment(prediction.name)}.pml): it loads the files beside it.",
        "# Points: residue number = pocket rank (0: none), B-factor = calibrated probability 0.01-0.99.",
        # PyMOL sets __script__ to the path of the .pml it runs (see pocknet.predict.writers.scripts).
        "python",
        "import os",
        "pocknet_dir = os.path.dirname(os.path.abspath(__script__))",
        f"cmd.load(os.path.join(pocknet_dir, {structure_file!a}), {obj!a})",
        f"cmd.load(os.path.join(pocknet_dir, {points_file!a}), {pts!a})",
        "python end",
        "hide everything",
        f"set_color pocknet_{PROTEIN_COLOUR[0]}, {_rgb01(PROTEIN_COLOUR[1])}",
        f"color pocknet_{PROTEIN_COLOUR[0]}, {obj} and polymer",
        f"show cartoon, {obj}",
        f"show sticks, {obj} and organic",
        f"show surface, {obj} and polymer",
        "set transparency, 0.3",
        f"set sphere_scale, 0.3, {pts}",
        f"show spheres, {pts} and not resi 0",
    ]
    used = dict(pocket_colour(pocket.rank) for pocket in ranked(prediction))
    lines += [f"set_color pocknet_{name}, {_rgb01(rgb)}" for name, rgb in used.items()]
    for pocket in ranked(prediction):
        rank = int(pocket.rank)
        colour = f"pocknet_{pocket_colour(rank)[0]}"
        groups, left_out = pocket_residue_groups(prediction, pocket)
        lines += left_out_note(rank, left_out)
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


def _write(paths: Sequence[Path], job: OutputJob) -> None:
    write_text(paths[0], _pml_text(job.prediction, job.structure_file, job.points_file))


WRITER = Writer(files=lambda name: [f"{name}.pml"], write=_write, script=True, reads_source=True)
