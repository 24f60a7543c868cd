"""Naming and writing the output files: name checks, the structure copy, atomic writes.

A name with control characters (``\\n``, ``\\r``, ``\\t``, U+0000-U+001F, U+007F-U+009F,
U+2028, U+2029) is refused for every format; with ``pml`` or ``cxc`` one with ``;``, ``$``
or ``"`` is refused too (why: :mod:`pocknet.predict.writers.scripts`).

With ``pml`` or ``cxc`` the input structure is copied beside the outputs as
``<name>_structure.pdb`` or ``<name>_structure.cif`` (its own format, decompressed when it
was ``.gz``), so an output folder is self-contained and can be moved or sent whole.

Every file is written through :func:`pocknet.atomic.atomic_write`, so a reader
(or an interrupted run) never sees a half-written output.
"""

from __future__ import annotations

import gzip
import hashlib
import unicodedata
import zlib
from pathlib import Path

from pocknet.atomic import atomic_write
from pocknet.errors import PockNetError
from pocknet.featurize.features import ProteinFeatures

__all__ = [
    "LINE_BREAKING",
    "breaks_lines",
    "name_problem",
    "shown",
    "structure_bytes",
    "structure_file_name",
    "write_bytes",
    "write_text",
]

# Unicode categories of characters that end or break a line somewhere (a script, a terminal, a log):
# Cc holds \t \n \r, U+0000-U+001F and U+007F-U+009F (with U+0085, NEL); Zl and Zp are U+2028 and U+2029.
LINE_BREAKING = frozenset({"Cc", "Zl", "Zp"})
# In a name given to the scripts: ';' splits PyMOL and ChimeraX commands, '$' starts an environment
# variable both expand in paths, '"' cannot be quoted for ChimeraX (see pocknet.predict.writers.scripts).
_SCRIPT_UNSAFE = ';$"'


def breaks_lines(text: str) -> bool:
    return any(unicodedata.category(ch) in LINE_BREAKING for ch in text)


def shown(text: object) -> str:
    """``text`` for an error message: as it is, or as a Python literal when it holds control characters."""
    text = str(text)
    return repr(text) if breaks_lines(text) else text


def name_problem(name: str, scripts: bool) -> str | None:
    """Why ``name`` cannot prefix the output files (``scripts``: a .pml or .cxc is among them), or None."""
    if not name or "/" in name or "\\" in name or name in {".", ".."}:
        return "cannot name an output file"
    if breaks_lines(name):
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


def structure_bytes(features: ProteinFeatures) -> bytes:
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
            f"{shown(source)}: cannot read the input structure to copy beside the scripts "
            f"({exc.strerror or exc})"
        ) from exc
    if features.source_sha256 and hashlib.sha256(raw).hexdigest() != features.source_sha256:
        raise PockNetError(
            f"{shown(source)}: the file changed since it was featurised (sha256 differs); predict it again"
        )
    if raw[:2] == b"\x1f\x8b":  # gzip magic: the viewers get a plain copy
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise PockNetError(f"{shown(source)}: cannot decompress the input structure ({exc})") from exc
    return raw


def write_text(path: Path, text: str) -> None:
    with atomic_write(path) as handle:
        handle.write(text)


def write_bytes(path: Path, data: bytes) -> None:
    with atomic_write(path, "wb") as handle:
        handle.write(data)
