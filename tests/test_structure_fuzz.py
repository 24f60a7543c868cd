"""Property-based fuzzing of the structure reader.

Property: whatever the bytes, :func:`pocknet.structure.reader.load_structure` either
returns a :class:`Structure` whose arrays are finite and consistent, or raises
:class:`StructureError` whose message starts with the file path. Any other
exception (UnicodeDecodeError, TypeError, zlib.error, ...) is a bug.

Inputs are mutations of a real protein (1a82a from P2Rank's test set) as PDB,
as mmCIF (converted with gemmi) and gzipped: byte edits, line edits, and odd
values (``nan``, ``inf``, ``********``, non-UTF-8 bytes, blanks) placed into
fixed ATOM/HETATM columns or mmCIF atom_site values.

The "ci" profile (default here) is derandomised and small enough for CI;
``benchmarks/fuzz_structure.py`` runs the "long" profile and counts outcomes.
"""

from __future__ import annotations

import gzip
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import gemmi
import numpy as np
import pytest
from conftest import DATASETS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pocknet.errors import StructureError
from pocknet.structure.reader import load_structure
from pocknet.structure.records import Structure

SOURCE = DATASETS / "p2rank-test" / "liganated" / "1a82a.pdb"

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "long",
    max_examples=5000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = settings.get_profile(os.environ.get("POCKNET_FUZZ_PROFILE", "ci"))

# Fixed PDB ATOM/HETATM fields as 0-based column ranges.
PDB_FIELDS = {
    "record": (0, 6), "serial": (6, 11), "name": (12, 16), "altloc": (16, 17), "resname": (17, 20),
    "chain": (20, 22), "resnum": (22, 26), "icode": (26, 27), "x": (30, 38), "y": (38, 46),
    "z": (46, 54), "occupancy": (54, 60), "bfactor": (60, 66), "segment": (72, 76),
    "element": (76, 78), "charge": (78, 80),
}  # fmt: skip
ODD_VALUES = [
    b"nan", b"NaN", b"inf", b"-inf", b"********", b"*", b"\xe9", b"\xff\xfe", b"\xc3", b"\x80abc",
    b"", b" ", b"    ", b"?", b".", b"-", b"1e308", b"-1e308", b"99999999", b"-9999999", b"0",
    b"'", b'"', b"#", b";", b"\t", b"\r", b"A", b"ZZZZ", b"HOH", b"MSE", b"CA", b"SE",
]  # fmt: skip
FORMATS = ("pdb", "cif", "pdb.gz", "cif.gz")


@dataclass(frozen=True)
class Seeds:
    """The unmutated inputs: 1a82a as PDB and as mmCIF text."""

    pdb: bytes
    cif: bytes

    def text(self, fmt: str) -> bytes:
        return self.cif if fmt.startswith("cif") else self.pdb


def make_seeds() -> Seeds:
    structure = gemmi.read_structure(str(SOURCE))
    structure.setup_entities()
    return Seeds(pdb=SOURCE.read_bytes(), cif=structure.make_mmcif_document().as_string().encode())


def check(path: Path) -> str:
    """Load ``path`` and assert the property; return "ok" or the error message without the path."""
    try:
        structure = load_structure(path)
    except StructureError as exc:
        assert str(exc).startswith(f"{path}: "), f"message does not start with the path: {exc}"
        return str(exc)[len(f"{path}: ") :]
    assert_consistent(structure)
    return "ok"


def assert_consistent(s: Structure) -> None:
    atoms, res = s.atoms, s.residues
    n, r = len(atoms.coords), len(res.chain)
    assert n > 0 and r > 0
    assert atoms.coords.shape == (n, 3) and res.ca.shape == (r, 3)
    for arr in (atoms.elements, atoms.names, atoms.residue_index, atoms.bfactors, atoms.serials):
        assert len(arr) == n
    for arr in (res.number, res.icode, res.name, res.one_letter):
        assert len(arr) == r
    assert np.isfinite(atoms.coords).all() and np.isfinite(atoms.bfactors).all()
    assert atoms.residue_index.min() >= 0 and atoms.residue_index.max() < r
    assert np.all(np.diff(atoms.residue_index) >= 0)  # atoms grouped by residue, in order
    assert np.isin(np.arange(r), atoms.residue_index).all()  # every residue has an atom
    has_ca = ~np.isnan(res.ca).any(axis=1)
    assert np.isfinite(res.ca[has_ca]).all()
    for lig in s.ligands:
        assert lig.coords.ndim == 2 and lig.coords.shape[1] == 3 and np.isfinite(lig.coords).all()
    assert all(isinstance(note, str) for note in getattr(s, "notes", ()))  # getattr: older readers too


def write(workdir: Path, fmt: str, text: bytes, compressed_edit=None) -> Path:
    """Write ``text`` as ``fuzz.<fmt>``; gzip when asked, then apply ``compressed_edit`` to the gzip bytes."""
    path = workdir / f"fuzz.{fmt}"
    if fmt.endswith(".gz"):
        raw = gzip.compress(text, compresslevel=1, mtime=0)
        path.write_bytes(compressed_edit(raw) if compressed_edit else raw)
    else:
        path.write_bytes(text)
    return path


# --- mutations: small descriptions drawn by Hypothesis, applied to the seed text ----------------


def apply_byte_edits(data: bytes, edits: list[tuple[str, float, bytes]]) -> bytes:
    """Byte-level edits at relative positions: set, insert, delete, cut."""
    out = bytearray(data)
    for kind, where, value in edits:
        at = int(where * len(out))
        if kind == "set":
            out[at : at + len(value)] = value
        elif kind == "insert":
            out[at:at] = value
        elif kind == "delete":
            del out[at : at + max(1, len(value))]
        elif kind == "cut":
            del out[at:]
    return bytes(out)


def apply_line_edits(data: bytes, edits: list[tuple[str, float, float, int]]) -> bytes:
    """Line-level edits: delete, duplicate, swap, cut a line at a column, drop the line end."""
    lines = data.splitlines(keepends=True)
    for kind, a, b, column in edits:
        if not lines:
            break
        i, j = int(a * len(lines)) % len(lines), int(b * len(lines)) % len(lines)
        if kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(j, lines[i])
        elif kind == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "cut_line":
            lines[i] = lines[i][:column] + b"\n"
        elif kind == "no_newline":
            lines[i] = lines[i].rstrip(b"\r\n")
        elif kind == "crlf":
            lines[i] = lines[i].rstrip(b"\r\n") + b"\r\n"
        elif kind == "truncate_file":
            del lines[i:]
    return b"".join(lines)


def place_pdb_value(data: bytes, row: float, field: str, value: bytes, right: bool) -> bytes:
    """Put ``value`` into one fixed-column field of one ATOM/HETATM record."""
    lines = data.splitlines(keepends=True)
    atoms = [k for k, line in enumerate(lines) if line[:6] in (b"ATOM  ", b"HETATM")]
    k = atoms[int(row * len(atoms)) % len(atoms)]
    line = lines[k].rstrip(b"\n").ljust(80)
    start, end = PDB_FIELDS[field]
    width = end - start
    cell = (value.rjust(width) if right else value.ljust(width))[:width]
    lines[k] = line[:start] + cell + line[end:] + b"\n"
    return b"".join(lines)


def place_cif_value(data: bytes, row: float, column: float, value: bytes, quote: str) -> bytes:
    """Replace one value of one atom_site row (optionally quoted)."""
    lines = data.splitlines(keepends=True)
    rows = [k for k, line in enumerate(lines) if line.startswith((b"ATOM ", b"HETATM "))]
    k = rows[int(row * len(rows)) % len(rows)]
    values = lines[k].split()
    values[int(column * len(values)) % len(values)] = quote.encode() + value + quote.encode()
    lines[k] = b" ".join(values) + b"\n"
    return b"".join(lines)


fractions = st.floats(min_value=0.0, max_value=0.999999, allow_nan=False)
odd_bytes = st.one_of(
    st.sampled_from(ODD_VALUES),
    st.binary(max_size=8),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=8).map(str.encode),
)
byte_edits = st.lists(
    st.tuples(st.sampled_from(["set", "insert", "delete", "cut"]), fractions, odd_bytes.filter(bool)),
    min_size=1,
    max_size=4,
)
line_edits = st.lists(
    st.tuples(
        st.sampled_from(["delete", "duplicate", "swap", "cut_line", "no_newline", "crlf", "truncate_file"]),
        fractions,
        fractions,
        st.integers(0, 90),
    ),
    min_size=1,
    max_size=4,
)


@pytest.fixture(scope="module")
def seeds() -> Seeds:
    if not SOURCE.is_file():
        pytest.fail(f"{SOURCE} not found; set POCKNET_DATASETS")
    return make_seeds()


@pytest.fixture(scope="module")
def workdir():
    with tempfile.TemporaryDirectory(prefix="pocknet-fuzz-") as name:
        yield Path(name)


def test_unmutated_seeds_load(seeds, workdir):
    for fmt in FORMATS:
        assert check(write(workdir, fmt, seeds.text(fmt))) == "ok"


@settings(PROFILE)
@given(fmt=st.sampled_from(FORMATS), edits=byte_edits, in_gzip=st.booleans())
def test_byte_mutations(seeds, workdir, fmt, edits, in_gzip):
    if fmt.endswith(".gz") and in_gzip:  # damage the compressed stream itself
        path = write(workdir, fmt, seeds.text(fmt), compressed_edit=lambda raw: apply_byte_edits(raw, edits))
    else:
        path = write(workdir, fmt, apply_byte_edits(seeds.text(fmt), edits))
    check(path)


@settings(PROFILE)
@given(fmt=st.sampled_from(FORMATS), edits=line_edits)
def test_line_mutations(seeds, workdir, fmt, edits):
    check(write(workdir, fmt, apply_line_edits(seeds.text(fmt), edits)))


@settings(PROFILE)
@given(
    fmt=st.sampled_from(["pdb", "pdb.gz"]),
    places=st.lists(
        st.tuples(fractions, st.sampled_from(sorted(PDB_FIELDS)), odd_bytes, st.booleans()),
        min_size=1,
        max_size=3,
    ),
)
def test_odd_values_in_pdb_fields(seeds, workdir, fmt, places):
    text = seeds.pdb
    for row, field, value, right in places:
        text = place_pdb_value(text, row, field, value, right)
    check(write(workdir, fmt, text))


@settings(PROFILE)
@given(
    fmt=st.sampled_from(["cif", "cif.gz"]),
    places=st.lists(
        st.tuples(fractions, fractions, odd_bytes, st.sampled_from(["", "'", '"'])), min_size=1, max_size=3
    ),
)
def test_odd_values_in_mmcif_atom_site(seeds, workdir, fmt, places):
    text = seeds.cif
    for row, column, value, quote in places:
        text = place_cif_value(text, row, column, value, quote)
    check(write(workdir, fmt, text))
