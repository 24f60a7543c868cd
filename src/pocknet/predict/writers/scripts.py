"""What the PyMOL and ChimeraX scripts share: finding their folder, and keeping input out of commands.

The scripts name only files in their own folder (the structure copy, written after the
points file and before the scripts, and the points file), and find that folder themselves,
so they run from anywhere (``pymol out/x.pdb.pml``, ``pymol /abs/out/x.pdb.pml``,
``chimerax out/x.pdb.cxc``):

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
  and a ChimeraX quoted token ends at any ``"`` followed by a blank
  (:func:`pocknet.predict.writers.files.name_problem`).
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
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from pocknet.predict.prediction import Prediction
from pocknet.predict.writers.base import sorted_unique
from pocknet.predict.writers.files import LINE_BREAKING

__all__ = ["check_groups", "comment", "left_out_note", "pocket_residue_groups"]

# In comments, invisible and unassigned characters go too (a bidi override can hide text).
_COMMENT_UNSAFE = LINE_BREAKING | {"Cf", "Cs", "Co", "Cn"}
_CHAIN_ID = re.compile(r"[A-Za-z0-9]+")
_RESIDUE_LABEL = re.compile(r"-?[0-9]+[A-Za-z0-9]?")


def comment(text: object) -> str:
    """Free text made safe for a ``#`` line of a PyMOL or ChimeraX script.

    Control, format and unassigned characters, ``;`` (PyMOL runs what follows it,
    even on a comment line) and ``\\`` (PyMOL joins a line ending in it to the
    next) become ``_``.
    """
    return "".join(
        "_" if ch in ";\\" or unicodedata.category(ch) in _COMMENT_UNSAFE else ch for ch in str(text)
    )


def pocket_residue_groups(prediction: Prediction, pocket) -> tuple[list[tuple[str, list[str]]], int]:
    """``([(chain, ["12", "100A", …]), …], left_out)`` of a pocket's residues, chains in first-seen order.

    Chain ids and labels are written into script commands, so a residue whose
    chain id is not letters and digits (a blank one is kept: the selections
    handle it), or whose label is not a number with an optional letter or digit
    insertion code, is left out and counted in ``left_out``.
    """
    f = prediction.features
    groups: dict[str, list[str]] = {}
    left_out = 0
    for r in sorted_unique(pocket.residue_indices).tolist():
        chain = str(f.residue_chain[r])
        label = f"{int(f.residue_number[r])}{f.residue_icode[r]}"
        if not _RESIDUE_LABEL.fullmatch(label) or (chain.strip() and not _CHAIN_ID.fullmatch(chain)):
            left_out += 1
            continue
        groups.setdefault(chain, []).append(label)
    return list(groups.items()), left_out


def check_groups(groups: Sequence[tuple[str, Sequence[str]]]) -> None:
    """Refuse (``ValueError``) a chain id or residue label that is not text a command may hold."""
    for chain, labels in groups:
        if chain.strip() and not _CHAIN_ID.fullmatch(chain):
            raise ValueError(f"chain id {chain!r} is not letters and digits; a script cannot name it")
        for label in labels:
            if not _RESIDUE_LABEL.fullmatch(label):
                raise ValueError(f"residue label {label!r} is not a number with an optional insertion code")


def left_out_note(rank: int, left_out: int) -> list[str]:
    if not left_out:
        return []
    return [f"# pocket{rank}: {left_out} residue(s) left out, with a chain id or label no script can name"]
