"""Checks on a structure file's bytes before gemmi parses it.

gemmi misreports or silently accepts some broken files (a decompression bomb,
binary data, cut or malformed ATOM/HETATM records, ``********`` coordinates
read as 0); one streaming pass here fails early with the file and line named,
and returns notes on accepted oddities (a PDB without END).
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from pocknet.errors import ConfigError, StructureError

__all__ = ["MAX_DECOMPRESSED_BYTES", "MAX_BYTES_ENV", "size_limit", "check_readable"]

# gemmi inflates a whole file in memory before parsing: a small .gz can expand
# to many GB. The largest PDB entries are a few hundred MB of text.
MAX_DECOMPRESSED_BYTES = 1 << 30
MAX_BYTES_ENV = "POCKNET_MAX_STRUCTURE_BYTES"
_BLOCK = 1 << 20  # bytes read at a time while checking


def size_limit(max_bytes: int | None) -> int:
    """The content-size limit: the argument, else ``$POCKNET_MAX_STRUCTURE_BYTES``, else 1 GiB."""
    if max_bytes is None:
        raw = os.environ.get(MAX_BYTES_ENV, "").strip()
        if not raw:
            return MAX_DECOMPRESSED_BYTES
        try:
            max_bytes = int(raw)
        except ValueError:
            raise ConfigError(f"{MAX_BYTES_ENV}={raw!r}: expected a whole number of bytes") from None
    if max_bytes <= 0:
        raise ConfigError(f"structure size limit must be a positive number of bytes, got {max_bytes}")
    return max_bytes


def _is_pdb_format(path: Path) -> bool:
    """Whether gemmi reads ``path`` as PDB (it decides by extension, as here)."""
    name = path.name.lower()
    return name.removesuffix(".gz").endswith((".pdb", ".ent"))


def _line_blocks(handle: BinaryIO, path: Path, max_bytes: int) -> Iterator[bytes]:
    """The content in blocks of whole lines (the last may lack its line end).

    Streaming keeps memory at about one block; a decompression bomb stops at
    ``max_bytes`` instead of reaching gemmi, which would inflate all of it.
    """
    carry = b""
    total = 0
    while block := handle.read(_BLOCK):
        total += len(block)
        if total > max_bytes:
            raise StructureError(
                f"{path}: decompresses to more than {max_bytes} bytes "
                f"(raise the limit with max_bytes or ${MAX_BYTES_ENV})"
            )
        cut = block.rfind(b"\n") + 1
        if cut == 0 and len(carry) < _BLOCK:
            carry += block
            continue
        cut = cut or len(block)  # a line longer than a block goes on in pieces
        yield carry + block[:cut]
        carry = block[cut:]
    if carry:
        yield carry


_CASE_MASK = np.uint32(0xDFDFDFDF)  # clears the lower-case bit of 4 letters at once
_ATOM = np.frombuffer(b"ATOM", "<u4")[0]
_HETA = np.frombuffer(b"HETA", "<u4")[0]
_BLANK4 = np.frombuffer(b"    ", "<u4")[0]
_WIDTH = 80  # PDB columns checked for non-ASCII bytes
_DIGIT, _SIGN_POINT_SPACE, _OTHER = 0, 1, 2  # byte kinds in coordinate fields
_BYTE_KIND = np.full(256, _OTHER, dtype=np.uint8)
_BYTE_KIND[np.frombuffer(b" .+-", np.uint8)] = _SIGN_POINT_SPACE
_BYTE_KIND[np.frombuffer(b"0123456789", np.uint8)] = _DIGIT
_PDB_FIELDS = (  # (end column, 1-based inclusive, name)
    (6, "record name"), (11, "serial number"), (12, "column 12"), (16, "atom name"),
    (17, "alternate location"), (20, "residue name"), (22, "chain id"), (26, "residue number"),
    (27, "insertion code"), (30, "columns 28-30"), (38, "x coordinate"), (46, "y coordinate"),
    (54, "z coordinate"), (60, "occupancy"), (66, "B-factor"), (72, "columns 67-72"),
    (76, "segment id"), (78, "element"), (80, "charge"),
)  # fmt: skip
_COORDINATE_RECORDS = (b"ATOM", b"HETA", b"ANIS", b"SIGA", b"SIGU")
_TAIL = 512  # bytes kept from the end: the last two records


def _pdb_field(column: int) -> str:
    """Name of the PDB ATOM/HETATM field holding 1-based ``column``."""
    return next(name for end, name in _PDB_FIELDS if column <= end)


def _bad_atom_record(block: bytes) -> int | None:
    """Line index (in ``block``) of the first ATOM/HETATM record gemmi would misread or reject.

    Vectorised over the block (fancy indexing, no per-line Python; about
    0.2 ms per 1000 records). Bad: fewer than 54 columns, a non-ASCII byte in
    columns 1-80, a blank residue number, or a coordinate field that is blank
    or holds anything but digits, sign and point (``nan``, ``inf``, the
    ``********`` overflow that gemmi reads as 0).
    """
    buf = np.frombuffer(block, dtype=np.uint8)
    newlines = np.flatnonzero(buf == 10)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(buf)]))
    padded = np.concatenate((buf, np.full(_WIDTH + 1, 32, dtype=np.uint8)))
    head = padded[starts[:, None] + np.arange(4)].view("<u4")[:, 0] & _CASE_MASK
    rows = np.flatnonzero((head == _ATOM) | (head == _HETA))
    if len(rows) == 0:
        return None
    start, end = starts[rows], ends[rows]
    length = end - start - (padded[end - 1] == 13)  # CRLF line ends
    # Columns of records shorter than 54 may run into the next line: they are bad anyway.
    number = padded[start[:, None] + np.arange(22, 26)].view("<u4")[:, 0]
    kind = _BYTE_KIND[padded[start[:, None] + np.arange(30, 54)]]  # [R, 24]: x, y, z
    bad = (
        (length < 54)
        | (number == _BLANK4)
        | (kind == _OTHER).view("<u8").any(axis=1)  # 3 fields of 8 bytes
        | ~(kind == _DIGIT).view("<u8").all(axis=1)  # a field without a digit
    )
    if not block.isascii():  # rare: find the records with a high byte in columns 1-80
        high = np.flatnonzero(buf >= 128)
        line = np.searchsorted(starts, high, side="right") - 1
        bad |= np.isin(rows, line[high - starts[line] < _WIDTH])
    return int(rows[np.argmax(bad)]) if bad.any() else None


def _atom_record_problem(line: bytes) -> str:
    """Why one ATOM/HETATM record flagged by :func:`_bad_atom_record` is bad, in words."""
    text = line.rstrip(b"\r\n")
    if len(text) < 54:
        return f"record cut short at column {len(text)} (coordinates end at 54): truncated file"
    text = text[:_WIDTH]
    for i, byte in enumerate(text):
        if byte >= 128:
            return f"non-ASCII byte 0x{byte:02x} in the {_pdb_field(i + 1)} (column {i + 1})"
    if not text[22:26].strip():
        return "blank residue number (columns 23-26)"
    for k, axis in enumerate("xyz"):
        field = text[30 + 8 * k : 38 + 8 * k]
        value = field.decode("ascii").strip()
        if b"*" in field:
            return f"{axis} coordinate {value!r} overflowed its 8 columns"
        if not re.fullmatch(r"[+-]?[0-9.]*[0-9][0-9.]*", value):
            return f"{axis} coordinate {value!r} is not a number"
    return "malformed ATOM/HETATM record"


def _record_type(line: bytes) -> bytes:
    """gemmi's record test: the first four letters, any case (``atom`` is ATOM, ``HETA`` is HETATM)."""
    return bytes(b & 0xDF for b in line[:4])


def _is_cut_record(last: bytes, previous: bytes) -> bool:
    """Whether a final ATOM/HETATM line without a line end was cut mid-record.

    It was when it is shorter than the record before it and stops before the
    element column (77-78); a complete record merely lacking its newline is fine.
    """
    last, previous = last.rstrip(b"\r"), previous.rstrip(b"\r")
    atoms = (b"ATOM", b"HETA")
    return (
        _record_type(last) in atoms and _record_type(previous) in atoms and len(last) < min(78, len(previous))
    )


def _pdb_end_notes(path: Path, tail: bytes, last_record: bytes) -> tuple[str, ...]:
    """Judge how a PDB ends: a cut final record fails; coordinates without END get a note."""
    if not tail.endswith(b"\n"):
        *_, previous, last = (b"\n" + tail).split(b"\n")
        if _is_cut_record(last, previous):
            raise StructureError(
                f"{path}: truncated file (last record cut at column {len(last)}: {last[:30]!r})"
            )
    if _record_type(last_record) in _COORDINATE_RECORDS:
        # Cut at a line boundary, a PDB still parses: only the missing END tells.
        return ("no END record after the last ATOM/HETATM line: the file may be truncated",)
    return ()


def _check_pdb_block(path: Path, block: bytes, first_line: int) -> None:
    """Raise, naming file and line, on the first ATOM/HETATM record of ``block`` gemmi would misread."""
    bad = _bad_atom_record(block)
    if bad is not None:
        line = block.split(b"\n", bad + 1)[bad]
        raise StructureError(f"{path}: line {first_line + bad}: {_atom_record_problem(line)}")


def check_readable(path: Path, max_bytes: int) -> tuple[str, ...]:
    """Fail early, with the file named, on what gemmi would misreport or accept; return notes.

    One streaming pass over the (decompressed) text: size limit, gzip
    integrity, emptiness and binary data anywhere (not just the first 4 KB)
    and, for PDB, the fixed-column ATOM/HETATM fields and the file's end.
    """
    if not path.is_file():
        raise StructureError(f"{path}: no such structure file")
    gzipped = path.name.lower().endswith(".gz")
    if not gzipped and path.stat().st_size > max_bytes:
        raise StructureError(
            f"{path}: larger than {max_bytes} bytes (raise the limit with max_bytes or ${MAX_BYTES_ENV})"
        )
    pdb = _is_pdb_format(path)
    has_text, line_number, tail, last_record = False, 1, b"", b""
    try:
        with (gzip.open if gzipped else open)(path, "rb") as handle:
            for block in _line_blocks(handle, path, max_bytes):  # a truncated gzip fails here, not in gemmi
                if b"\x00" in block:
                    raise StructureError(f"{path}: binary data, not a PDB or mmCIF file")
                has_text = has_text or re.search(rb"\S", block) is not None
                if pdb:
                    _check_pdb_block(path, block, line_number)
                    tail = (tail + block[-_TAIL:])[-_TAIL:]
                    if stripped := block.rstrip():
                        last_record = stripped[stripped.rfind(b"\n") + 1 :]
                line_number += block.count(b"\n")
    except (OSError, EOFError, zlib.error) as exc:
        raise StructureError(f"{path}: cannot read file ({exc})") from exc
    if not has_text:
        raise StructureError(f"{path}: file is empty")
    return _pdb_end_notes(path, tail, last_record) if pdb else ()
