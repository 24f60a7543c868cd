"""Read PDB/mmCIF structures into plain numpy arrays.

Rules (SCIENCE.md §1): model 1 only; first alternate location only; hydrogens
dropped; MSE read as MET; waters never ligands. Protein atoms are the heavy
atoms of amino-acid polymer residues (nucleic-acid residues are neither protein
nor ligand). Every other non-water HETATM group is a ligand *candidate*;
:mod:`pocknet.structure.ligands` decides which candidates are relevant.

gemmi does the parsing: it reads PDB and mmCIF, gzipped or not, in a few
milliseconds, which keeps featurisation well under a second per protein.
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import gemmi
import numpy as np

from pocknet.errors import ConfigError, StructureError
from pocknet.structure.ligands import Ligand, LigandRules, find_ligands

__all__ = [
    "MAX_DECOMPRESSED_BYTES",
    "STRUCTURE_SUFFIXES",
    "ProteinAtoms",
    "Residues",
    "Structure",
    "densest_cell",
    "is_structure_file",
    "load_structure",
    "residue_labels",
    "structure_stem",
]

STRUCTURE_SUFFIXES: tuple[str, ...] = (".pdb", ".ent", ".cif", ".mmcif")
_WATER = frozenset({"HOH", "DOD", "WAT", "H2O"})

# gemmi inflates a whole file in memory before parsing: a small .gz can expand
# to many GB. The largest PDB entries are a few hundred MB of text.
MAX_DECOMPRESSED_BYTES = 1 << 30
MAX_BYTES_ENV = "POCKNET_MAX_STRUCTURE_BYTES"
_BLOCK = 1 << 20  # bytes read at a time while checking

# Crowding: real heavy atoms are >= ~1.2 Å apart, so a 1 Å cube holds at most
# 3 of them (2529 files of the shared datasets); unplaced atoms piled at one
# spot make every neighbour search downstream quadratic in the pile.
_CROWD_CELL = 1.0  # Å
MAX_ATOMS_PER_CELL = 10
_COINCIDENT_NOTE = 3  # atoms at one exact position worth a note
_MIN_ATOMS_PER_RESIDUE = 2.0  # below this the model is (nearly) CA-only


@dataclass(frozen=True)
class ProteinAtoms:
    """Protein heavy atoms, one row each, in file order."""

    coords: np.ndarray  # [N, 3] float64
    elements: np.ndarray  # [N] <U2, upper case ('C', 'SE')
    names: np.ndarray  # [N] <U4 ('CA', 'OG1')
    residue_index: np.ndarray  # [N] int32, row in :class:`Residues`
    bfactors: np.ndarray  # [N] float32
    serials: np.ndarray  # [N] int32, serial number from the file

    def __len__(self) -> int:
        return len(self.coords)


@dataclass(frozen=True)
class Residues:
    """Protein residues in file order; chains are contiguous runs of ``chain``."""

    chain: np.ndarray  # [R] <U4 author chain id
    number: np.ndarray  # [R] int32 author residue number
    icode: np.ndarray  # [R] <U1 insertion code, '' when absent
    name: np.ndarray  # [R] <U3 residue name (MSE already MET)
    one_letter: np.ndarray  # [R] <U1 one-letter code, 'X' when unknown
    ca: np.ndarray  # [R, 3] float64 C-alpha coordinates, NaN when missing

    def __len__(self) -> int:
        return len(self.chain)

    def chain_ids(self) -> list[str]:
        """Chain ids in file order, each once."""
        _, first = np.unique(self.chain, return_index=True)
        return [str(self.chain[i]) for i in sorted(first)]

    def sequences(self) -> dict[str, str]:
        """One-letter sequence per chain, in residue order."""
        return {c: "".join(self.one_letter[self.chain == c]) for c in self.chain_ids()}


@dataclass(frozen=True)
class Structure:
    """A protein (selected chains of model 1) with its ligands."""

    name: str
    path: Path
    atoms: ProteinAtoms
    residues: Residues
    ligands: tuple[Ligand, ...]
    notes: tuple[str, ...] = ()  # accepted, but the user should know (e.g. "no END record: ...")

    @property
    def relevant_ligands(self) -> tuple[Ligand, ...]:
        return tuple(lig for lig in self.ligands if lig.relevant)


def residue_labels(residues: Residues) -> np.ndarray:
    """P2Rank residue ids, ``chain_number[icode]`` (e.g. ``A_100A``)."""
    number = residues.number.astype(str)
    return np.char.add(np.char.add(np.char.add(residues.chain, "_"), number), residues.icode)


def is_structure_file(path: str | Path) -> bool:
    """True for .pdb/.ent/.cif/.mmcif files, gzipped or not."""
    name = Path(path).name.lower()
    name = name.removesuffix(".gz")
    return name.endswith(STRUCTURE_SUFFIXES)


def _max_bytes(max_bytes: int | None) -> int:
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


def _check_readable(path: Path, max_bytes: int) -> tuple[str, ...]:
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


def _read_gemmi(path: Path) -> gemmi.Structure:
    # pybind11 turns C++ exceptions into RuntimeError, ValueError, IndexError
    # (std::out_of_range: an mmCIF without a data block) or OverflowError.
    try:
        st = gemmi.read_structure(str(path), merge_chain_parts=True)
        if len(st) == 0:
            raise StructureError(f"{path}: no models (no ATOM/HETATM records)")
        st.setup_entities()
        st.remove_hydrogens()
    except (RuntimeError, ValueError, IndexError, OverflowError, OSError) as exc:
        raise StructureError(f"{path}: cannot parse structure ({exc})") from exc
    # Not st.remove_alternative_conformations(): it also drops a HETATM group
    # that shares its residue number with a protein residue (seen in COACH420).
    return st


def _first_altloc_atoms(res: gemmi.Residue) -> list[gemmi.Atom]:
    """Atoms without an altloc plus those of the residue's first altloc."""
    first = next((a.altloc for a in res if a.altloc != "\0"), "\0")
    return [a for a in res if a.altloc in ("\0", first)]


_PEPTIDE_BOND_MAX = 1.75  # Å, C(i)–N(i+1); generous for poorly refined entries


def _peptide_bonded(a: gemmi.Residue | None, b: gemmi.Residue | None) -> bool:
    """True when residue ``a``'s C is bonded to residue ``b``'s N."""
    if a is None or b is None:
        return False
    c, n = a.find_atom("C", "*"), b.find_atom("N", "*")
    return c is not None and n is not None and c.pos.dist(n.pos) <= _PEPTIDE_BOND_MAX


def _is_standard_protein(res: gemmi.Residue | None) -> bool:
    if res is None or res.name in _WATER:
        return False
    if res.name == "MSE":
        return True
    info = gemmi.find_tabulated_residue(res.name)
    return res.het_flag == "A" and (info is None or not info.is_nucleic_acid())


def _protein_mask(chain: gemmi.Chain) -> list[bool]:
    """Which residues of a chain are protein.

    ATOM amino acids and MSE are protein. A HETATM amino acid (a modified
    residue such as PTR or TYS) is protein only when peptide-bonded to an
    adjacent protein residue: "not part of a polymer chain" in SCIENCE.md §1.
    Peptide ligands deposited as HETATM stay ligand candidates.
    """
    residues = list(chain)
    mask = [_is_standard_protein(r) for r in residues]
    for i, res in enumerate(residues):
        if mask[i] or res.het_flag != "H" or res.is_water():
            continue
        info = gemmi.find_tabulated_residue(res.name)
        if info is None or not info.is_amino_acid():
            continue
        prev = residues[i - 1] if i > 0 and mask[i - 1] else None
        nxt = residues[i + 1] if i + 1 < len(residues) and mask[i + 1] else None
        mask[i] = _peptide_bonded(prev, res) or _peptide_bonded(res, nxt)
    return mask


def _one_letter(name: str) -> str:
    info = gemmi.find_tabulated_residue(name)
    code = info.one_letter_code.upper() if info is not None else " "
    return code if code.isalpha() else "X"


_LigandGroup = tuple[str, str, np.ndarray]


def _model_arrays(
    path: Path, model: gemmi.Model, wanted: set[str] | None
) -> tuple[ProteinAtoms, Residues, list[_LigandGroup]]:
    """Protein atoms, residues and ligand candidate groups of one model, in file order."""
    coords: list[tuple[float, float, float]] = []
    elements: list[str] = []
    names: list[str] = []
    res_index: list[int] = []
    bfactors: list[float] = []
    serials: list[int] = []
    r_chain: list[str] = []
    r_number: list[int] = []
    r_icode: list[str] = []
    r_name: list[str] = []
    r_ca: list[tuple[float, float, float]] = []
    ligand_groups: list[_LigandGroup] = []
    nan3 = (np.nan, np.nan, np.nan)

    for chain in model:
        for res, is_protein in zip(chain, _protein_mask(chain)):
            if is_protein:
                if wanted is not None and chain.name not in wanted:
                    continue
                heavy = _first_altloc_atoms(res)
                if not heavy:  # only hydrogens, removed: not a residue of the heavy-atom model
                    continue
                ri = len(r_chain)
                resname = "MET" if res.name == "MSE" else res.name
                r_chain.append(chain.name)
                r_number.append(res.seqid.num)
                r_icode.append(res.seqid.icode.strip())
                r_name.append(resname)
                ca = nan3
                for atom in heavy:
                    element = atom.element.name.upper()
                    atom_name = atom.name
                    if res.name == "MSE" and atom_name == "SE":
                        atom_name = "SD"
                    p = atom.pos
                    coords.append((p.x, p.y, p.z))
                    elements.append(element)
                    names.append(atom_name)
                    res_index.append(ri)
                    bfactors.append(atom.b_iso)
                    serials.append(atom.serial)
                    if atom_name == "CA" and element == "C":
                        ca = (p.x, p.y, p.z)
                r_ca.append(ca)
            elif res.het_flag == "H" and not res.is_water() and res.name not in _WATER:
                xyz = np.array(
                    [(a.pos.x, a.pos.y, a.pos.z) for a in _first_altloc_atoms(res)], dtype=np.float64
                ).reshape(-1, 3)
                if len(xyz):
                    _require_number(path, chain, res)
                    ligand_groups.append(
                        (res.name, f"{chain.name}_{res.seqid.num}{res.seqid.icode.strip()}", xyz)
                    )

    if not coords:
        where = f" in chain(s) {', '.join(sorted(wanted))}" if wanted else ""
        raise StructureError(f"{path}: no protein atoms{where}")
    if None in r_number:  # gemmi's reading of a blank (PDB) or '?' (mmCIF) number
        i = r_number.index(None)
        raise StructureError(f"{path}: residue {r_name[i]} in chain {r_chain[i]} has no residue number")

    atoms = ProteinAtoms(
        coords=np.asarray(coords, dtype=np.float64).reshape(-1, 3),
        elements=np.asarray(elements, dtype="<U2"),
        names=np.asarray(names, dtype="<U4"),
        residue_index=np.asarray(res_index, dtype=np.int32),
        bfactors=np.asarray(bfactors, dtype=np.float32),
        serials=np.asarray(serials, dtype=np.int32),
    )
    residues = Residues(
        chain=np.asarray(r_chain, dtype="<U4"),
        number=np.asarray(r_number, dtype=np.int32),
        icode=np.asarray(r_icode, dtype="<U1"),
        name=np.asarray(r_name, dtype="<U3"),
        one_letter=np.asarray([_one_letter(n) for n in r_name], dtype="<U1"),
        ca=np.asarray(r_ca, dtype=np.float64).reshape(-1, 3),
    )
    return atoms, residues, ligand_groups


def _require_number(path: Path, chain: gemmi.Chain, res: gemmi.Residue) -> None:
    """gemmi reads a blank (PDB) or '?' (mmCIF) residue number as None: refuse it, not print "None"."""
    if res.seqid.num is None:
        raise StructureError(f"{path}: residue {res.name} in chain {chain.name} has no residue number")


def _check_finite(
    path: Path, atoms: ProteinAtoms, residues: Residues, ligand_groups: list[_LigandGroup]
) -> None:
    """Refuse NaN/inf coordinates or B-factors (mmCIF ``nan``, ``inf``, ``********`` read as NaN)."""
    finite = np.isfinite(atoms.coords).all(axis=1) & np.isfinite(atoms.bfactors)
    if not finite.all():
        i = int(np.argmin(finite))
        label = residue_labels(residues)[atoms.residue_index[i]]
        raise StructureError(
            f"{path}: atom {atoms.names[i]} of residue {label} has a non-finite coordinate or B-factor "
            f"({atoms.coords[i].tolist()}, B {atoms.bfactors[i]})"
        )
    for code, label, xyz in ligand_groups:
        if not np.isfinite(xyz).all():
            raise StructureError(f"{path}: HETATM group {code} {label} has a non-finite coordinate")


def densest_cell(coords: np.ndarray, cell: float = _CROWD_CELL) -> np.ndarray:
    """Indices of the atoms in the most populated ``cell``-sized grid cube.

    O(N log N) with no pair lists, so it is safe to run on exactly the inputs
    (thousands of atoms at one spot) that make pair searches explode.
    """
    if len(coords) == 0:
        return np.zeros(0, dtype=np.int64)
    cells = np.floor(coords / cell)
    if np.abs(cells).max() < 2**20:  # one int64 key per cube: 1-D unique is ~10x faster
        ints = cells.astype(np.int64) + 2**20
        cells = (ints[:, 0] << 42) | (ints[:, 1] << 21) | ints[:, 2]
    _, inverse, counts = np.unique(cells, axis=0, return_inverse=True, return_counts=True)
    return np.flatnonzero(inverse.reshape(-1) == np.argmax(counts))


def _position(xyz: np.ndarray) -> str:
    return "({:.3f}, {:.3f}, {:.3f})".format(*xyz)


def _crowding_notes(path: Path, coords: np.ndarray) -> tuple[str, ...]:
    """Refuse piles of atoms at (almost) one position; note small exact coincidences.

    Modelling tools put unplaced atoms at the origin. Left in, every pair
    search downstream (burial, ligand merging, descriptors) grows with the
    square of the pile: 1 500 atoms at one point took 3.7 GB in the SAS step.
    """
    members = coords[densest_cell(coords)]
    if len(members) >= MAX_ATOMS_PER_CELL:
        if np.ptp(members, axis=0).max() < 1e-3:
            raise StructureError(
                f"{path}: {len(members)} atoms share one position {_position(members[0])}; "
                "unplaced atoms? remove them"
            )
        near = _position(members.mean(axis=0))
        raise StructureError(
            f"{path}: {len(members)} atoms within one {_CROWD_CELL:g} Å cube near {near} "
            "(real heavy atoms are at least ~1.2 Å apart); unplaced or duplicated atoms? remove them"
        )
    if len(members) < _COINCIDENT_NOTE:
        return ()
    _, first, same = np.unique(np.round(coords, 3), axis=0, return_index=True, return_counts=True)
    top = int(np.argmax(same))
    if same[top] < _COINCIDENT_NOTE:
        return ()
    where = _position(coords[first[top]])
    return (f"{same[top]} atoms share one position {where}: unplaced atoms? their surface is meaningless",)


def _model_notes(atoms: ProteinAtoms, residues: Residues) -> tuple[str, ...]:
    """Warnings about models that featurise but give unreliable descriptors.

    Real residues have ~8 heavy atoms (at least 6.7 on average in every file
    of the shared datasets); fewer than 2 means CA-only or nearly so.
    """
    if len(atoms) < _MIN_ATOMS_PER_RESIDUE * len(residues):
        return ("CA-only model: surface and descriptors are unreliable",)
    return ()


def load_structure(
    path: str | Path,
    chains: Sequence[str] | None = None,
    name: str | None = None,
    ligand_rules: LigandRules | None = None,
    max_bytes: int | None = None,
) -> Structure:
    """Read one structure file.

    Parameters
    ----------
    path
        PDB or mmCIF file, optionally gzipped.
    chains
        Author chain ids to keep (protein atoms only; ligands of any chain are
        candidates). ``None`` keeps every chain.
    name
        Name to carry in outputs; defaults to the file name without suffixes.
    ligand_rules
        Ligand detection rules; SCIENCE.md §1 defaults when ``None``.
    max_bytes
        Refuse files whose (decompressed) content is larger; ``None``:
        ``$POCKNET_MAX_STRUCTURE_BYTES`` or :data:`MAX_DECOMPRESSED_BYTES`.

    Raises
    ------
    StructureError
        The file is missing, empty, binary, truncated, too large or
        unparsable; has malformed atom records (non-ASCII text, blank residue
        numbers, non-numeric or non-finite coordinates) or piles of atoms at
        one position; has no protein atoms, or lacks a requested chain.
        Accepted oddities (a PDB without END, a CA-only model) are listed in
        :attr:`Structure.notes`.
    """
    path = Path(path)
    notes = _check_readable(path, _max_bytes(max_bytes))
    st = _read_gemmi(path)
    model = st[0]
    wanted = None if chains is None else {str(c) for c in chains}
    try:  # gemmi decodes names as UTF-8 on access
        if wanted is not None:
            present = {ch.name for ch in model}
            missing = sorted(wanted - present)
            if missing:
                raise StructureError(
                    f"{path}: chain(s) {', '.join(missing)} not found; present: {', '.join(sorted(present))}"
                )
        atoms, residues, ligand_groups = _model_arrays(path, model, wanted)
    except UnicodeDecodeError as exc:
        raise StructureError(f"{path}: atom, residue or chain name is not UTF-8 text ({exc})") from exc
    _check_finite(path, atoms, residues, ligand_groups)
    notes += _crowding_notes(path, np.concatenate([atoms.coords] + [xyz for _, _, xyz in ligand_groups]))
    notes += _model_notes(atoms, residues)
    ligands = find_ligands(ligand_groups, atoms.coords, ligand_rules or LigandRules())
    return Structure(
        name=name or structure_stem(path),
        path=path,
        atoms=atoms,
        residues=residues,
        ligands=ligands,
        notes=notes,
    )


def structure_stem(path: str | Path) -> str:
    """File name without .gz and the structure suffix (``1fbl.cif.gz`` → ``1fbl``)."""
    name = Path(path).name
    if name.lower().endswith(".gz"):
        name = name[:-3]
    stem, dot, suffix = name.rpartition(".")
    return stem if dot and ("." + suffix.lower()) in STRUCTURE_SUFFIXES else name
