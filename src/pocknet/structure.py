"""Read PDB/mmCIF structures into plain numpy arrays.

Rules (SCIENCE.md §1): model 1 only; first alternate location only; hydrogens
dropped; MSE read as MET; waters never ligands. Protein atoms are the heavy
atoms of amino-acid polymer residues (nucleic-acid residues are neither protein
nor ligand). Every other non-water HETATM group is a ligand *candidate*;
:mod:`pocknet.ligands` decides which candidates are relevant.

gemmi does the parsing: it reads PDB and mmCIF, gzipped or not, in a few
milliseconds, which keeps featurisation well under a second per protein.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import gemmi
import numpy as np

from pocknet.errors import StructureError
from pocknet.ligands import Ligand, LigandRules, find_ligands

__all__ = [
    "STRUCTURE_SUFFIXES",
    "ProteinAtoms",
    "Residues",
    "Structure",
    "is_structure_file",
    "load_structure",
    "residue_labels",
    "structure_stem",
]

STRUCTURE_SUFFIXES: tuple[str, ...] = (".pdb", ".ent", ".cif", ".mmcif")
_WATER = frozenset({"HOH", "DOD", "WAT", "H2O"})


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
    if name.endswith(".gz"):
        name = name[:-3]
    return name.endswith(STRUCTURE_SUFFIXES)


def _check_readable(path: Path) -> None:
    """Fail early, with the file named, on what gemmi would misreport or accept."""
    if not path.is_file():
        raise StructureError(f"{path}: no such structure file")
    gzipped = path.name.lower().endswith(".gz")
    opener = gzip.open if gzipped else open
    try:
        with opener(path, "rb") as handle:
            head = handle.read(4096)
            tail = head
            while block := handle.read(1 << 20):  # a truncated gzip fails here, not in gemmi
                tail = block
    except (OSError, EOFError) as exc:
        raise StructureError(f"{path}: cannot read file ({exc})") from exc
    if not head.strip():
        raise StructureError(f"{path}: file is empty")
    if b"\x00" in head:
        raise StructureError(f"{path}: binary data, not a PDB or mmCIF file")
    last_line = tail.rsplit(b"\n", 1)[-1]
    if last_line.startswith((b"ATOM", b"HETATM", b"ANISOU")):
        # A PDB whose final coordinate record has no line end was cut off mid-write.
        raise StructureError(f"{path}: truncated file (last record incomplete: {last_line[:30]!r})")


def _read_gemmi(path: Path) -> gemmi.Structure:
    try:
        st = gemmi.read_structure(str(path), merge_chain_parts=True)
    except (RuntimeError, ValueError, OSError) as exc:
        raise StructureError(f"{path}: cannot parse structure ({exc})") from exc
    if len(st) == 0:
        raise StructureError(f"{path}: no models (no ATOM/HETATM records)")
    st.setup_entities()
    st.remove_hydrogens()
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


def load_structure(
    path: str | Path,
    chains: Sequence[str] | None = None,
    name: str | None = None,
    ligand_rules: LigandRules | None = None,
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

    Raises
    ------
    StructureError
        The file is missing, empty, binary, truncated or unparsable, has no
        protein atoms, or lacks a requested chain.
    """
    path = Path(path)
    _check_readable(path)
    st = _read_gemmi(path)
    model = st[0]
    wanted = None if chains is None else {str(c) for c in chains}
    if wanted is not None:
        present = {ch.name for ch in model}
        missing = sorted(wanted - present)
        if missing:
            raise StructureError(
                f"{path}: chain(s) {', '.join(missing)} not found; present: {', '.join(sorted(present))}"
            )

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
    ligand_groups: list[tuple[str, str, np.ndarray]] = []
    nan3 = (np.nan, np.nan, np.nan)

    for chain in model:
        for res, is_protein in zip(chain, _protein_mask(chain)):
            if is_protein:
                if wanted is not None and chain.name not in wanted:
                    continue
                ri = len(r_chain)
                resname = "MET" if res.name == "MSE" else res.name
                r_chain.append(chain.name)
                r_number.append(res.seqid.num)
                r_icode.append(res.seqid.icode.strip())
                r_name.append(resname)
                ca = nan3
                for atom in _first_altloc_atoms(res):
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
                    ligand_groups.append((res.name, f"{chain.name}_{res.seqid.num}{res.seqid.icode.strip()}", xyz))

    if not coords:
        where = f" in chain(s) {', '.join(sorted(wanted))}" if wanted else ""
        raise StructureError(f"{path}: no protein atoms{where}")

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
    ligands = find_ligands(ligand_groups, atoms.coords, ligand_rules or LigandRules())
    return Structure(
        name=name or structure_stem(path),
        path=path,
        atoms=atoms,
        residues=residues,
        ligands=ligands,
    )


def structure_stem(path: str | Path) -> str:
    """File name without .gz and the structure suffix (``1fbl.cif.gz`` → ``1fbl``)."""
    name = Path(path).name
    if name.lower().endswith(".gz"):
        name = name[:-3]
    stem, dot, suffix = name.rpartition(".")
    return stem if dot and ("." + suffix.lower()) in STRUCTURE_SUFFIXES else name
