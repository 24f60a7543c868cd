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
from collections.abc import Sequence
from pathlib import Path

import gemmi
import numpy as np

from pocknet.errors import StructureError
from pocknet.structure.file_checks import check_readable, size_limit
from pocknet.structure.kind import HeaderFacts, detect_kind, resolve_kind
from pocknet.structure.ligands import LigandRules, find_ligands
from pocknet.structure.model_checks import check_finite, crowding_notes, model_notes
from pocknet.structure.paths import structure_stem
from pocknet.structure.records import ProteinAtoms, Residues, Structure

__all__ = ["load_structure"]

_WATER = frozenset({"HOH", "DOD", "WAT", "H2O"})


def _read_gemmi(path: Path) -> tuple[gemmi.Structure, gemmi.cif.Document]:
    """The structure and, for mmCIF, the parsed document (kept for its header categories; empty for PDB)."""
    # pybind11 turns C++ exceptions into RuntimeError, ValueError, IndexError
    # (std::out_of_range: an mmCIF without a data block) or OverflowError.
    doc = gemmi.cif.Document()
    try:
        st = gemmi.read_structure(str(path), merge_chain_parts=True, save_doc=doc)
        if len(st) == 0:
            raise StructureError(f"{path}: no models (no ATOM/HETATM records)")
        st.setup_entities()
        st.remove_hydrogens()
    except (RuntimeError, ValueError, IndexError, OverflowError, OSError) as exc:
        raise StructureError(f"{path}: cannot parse structure ({exc})") from exc
    # Not st.remove_alternative_conformations(): it also drops a HETATM group
    # that shares its residue number with a protein residue (seen in COACH420).
    return st, doc


_HEAD_BYTES = 1 << 16  # a PDB's PARENT record (OpenFold/ESMFold) comes before its first atom


def _header_facts(path: Path, st: gemmi.Structure, doc: gemmi.cif.Document) -> HeaderFacts:
    """Method, titles, software, remarks and ModelCIF categories: what :func:`detect_kind` judges."""
    info = dict(st.info)
    cif = len(doc) > 0
    texts = [
        ("_struct.title" if cif else "TITLE", info.get("_struct.title", "")),
        ("_struct_keywords" if cif else "HEADER", info.get("_struct_keywords.pdbx_keywords", "")),
        ("_struct_keywords" if cif else "KEYWDS", info.get("_struct_keywords.text", "")),
        *(("_software.name" if cif else "REMARK 3 PROGRAM", item.name) for item in st.meta.software),
    ]
    modelcif: list[str] = []
    parent = False
    if cif:
        block = doc[0]
        texts += [("_software.name", str(v)) for v in block.find_values("_software.name")]
        modelcif = [name.rstrip(".") for name in block.get_mmcif_category_names() if name.startswith("_ma_")]
    else:
        texts += [("REMARK", line) for line in st.raw_remarks]
        with (gzip.open if path.name.lower().endswith(".gz") else open)(path, "rb") as handle:
            head = handle.read(_HEAD_BYTES)
        parent = head.startswith(b"PARENT ") or b"\nPARENT " in head
    return HeaderFacts(
        method=info.get("_exptl.method", ""), texts=tuple((w, t) for w, t in texts if t),
        modelcif=tuple(modelcif), parent_record=parent,
    )  # fmt: skip


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



def load_structure(
    path: str | Path,
    chains: Sequence[str] | None = None,
    name: str | None = None,
    ligand_rules: LigandRules | None = None,
    max_bytes: int | None = None,
    kind: str = "auto",
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
        ``$POCKNET_MAX_STRUCTURE_BYTES`` or :data:`~pocknet.structure.file_checks.MAX_DECOMPRESSED_BYTES`.
    kind
        ``auto`` (the header decides, :mod:`pocknet.structure.kind`), ``experimental`` or
        ``predicted``; a predicted structure's evidence is one of the notes.

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
    notes = check_readable(path, size_limit(max_bytes))
    st, doc = _read_gemmi(path)
    try:  # gemmi decodes header text as UTF-8 on access
        detected, evidence = detect_kind(_header_facts(path, st, doc))
    except (UnicodeDecodeError, OSError, EOFError, RuntimeError, ValueError):  # an unreadable header tells nothing
        detected, evidence = "experimental", ""
    del doc
    structure_kind, kind_notes = resolve_kind(kind, detected, evidence)
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
    check_finite(path, atoms, residues, ligand_groups)
    notes += crowding_notes(path, np.concatenate([atoms.coords] + [xyz for _, _, xyz in ligand_groups]))
    notes += model_notes(atoms, residues)
    ligands = find_ligands(ligand_groups, atoms.coords, ligand_rules or LigandRules())
    return Structure(
        name=name or structure_stem(path),
        path=path,
        atoms=atoms,
        residues=residues,
        ligands=ligands,
        notes=notes + kind_notes,
        kind=structure_kind,
    )
