"""One structure → per-point features: SAS points, 35 descriptors, labels.

This is the single featurisation path: the ``data_engineering`` pipeline and
(later) ``pocknet predict`` both call :func:`featurize`, so training and
inference see identical inputs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from pocknet import __version__
from pocknet.featurize.descriptors import DESCRIPTOR_NAMES, DescriptorConfig, point_descriptors
from pocknet.config import dataclass_from_params
from pocknet.featurize.labels import ligand_distances, point_labels
from pocknet.structure.ligands import LigandRules
from pocknet.structure.reader import load_structure
from pocknet.structure.records import Structure
from pocknet.featurize.radii import vdw_radii
from pocknet.featurize.surface import sas_points

__all__ = [
    "FEATURIZE_BLOCKS",
    "featurize_blocks",
    "FORMAT_VERSION",
    "SurfaceConfig",
    "LabelConfig",
    "FeaturizeConfig",
    "ProteinFeatures",
    "featurize",
    "featurize_file",
    "file_sha256",
    "relevant_ligand_atoms",
]

FORMAT_VERSION = 2  # 2: atoms and point → atom added


@dataclass(frozen=True)
class SurfaceConfig:
    probe_radius: float = 1.6
    tessellation: int = 2
    merge_distance: float = 0.05


@dataclass(frozen=True)
class LabelConfig:
    positive_distance: float = 2.6
    neutral_distance: float | None = None


@dataclass(frozen=True)
class FeaturizeConfig:
    """Everything that changes the numbers in a feature file."""

    ligands: LigandRules = field(default_factory=LigandRules)
    surface: SurfaceConfig = field(default_factory=SurfaceConfig)
    descriptors: DescriptorConfig = field(default_factory=DescriptorConfig)
    labels: LabelConfig = field(default_factory=LabelConfig)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "FeaturizeConfig":
        """From the ``data_engineering`` block of params.yaml (other keys ignored)."""
        return cls(
            ligands=LigandRules.from_params(params.get("ligands")),
            surface=dataclass_from_params(SurfaceConfig, params.get("surface"), "surface"),
            descriptors=dataclass_from_params(DescriptorConfig, params.get("descriptors"), "descriptors"),
            labels=dataclass_from_params(LabelConfig, params.get("labels"), "labels"),
        )

    def to_json(self) -> str:
        data = asdict(self)
        data["ligands"]["ignored_codes"] = sorted(self.ligands.ignored_codes)
        return json.dumps(data, sort_keys=True)


#: The ``data_engineering`` blocks that change the numbers in a feature file (and so a model's inputs).
FEATURIZE_BLOCKS: tuple[str, ...] = ("ligands", "surface", "descriptors", "labels")


def featurize_blocks(data_engineering: Mapping[str, Any]) -> dict[str, Any]:
    """Those blocks of the ``data_engineering`` params as written (validated): what a model file records."""
    FeaturizeConfig.from_params(data_engineering)
    return {key: data_engineering[key] for key in FEATURIZE_BLOCKS if key in data_engineering}


@dataclass(frozen=True)
class ProteinFeatures:
    """Per-protein featurisation result; the unit the pipelines store and exchange.

    Points index atoms (``point_atom``) and residues (``point_residue``); atoms
    index residues (``atom_residue``); residues are grouped by chain in file
    order, so per-chain sequences are contiguous runs of ``residue_chain``.
    Ligand atoms are concatenated; ligand ``i`` owns rows
    ``ligand_offsets[i]:ligand_offsets[i+1]`` of ``ligand_coords``.
    """

    id: str
    name: str
    source: str
    source_sha256: str
    config_json: str
    points: np.ndarray  # [P, 3] float32
    descriptors: np.ndarray  # [P, 35] float32
    point_atom: np.ndarray  # [P] int32, atom whose SAS sphere holds the point
    point_residue: np.ndarray  # [P] int32
    ligand_distance: np.ndarray  # [P] float32, to nearest relevant-ligand atom (inf: none)
    labels: np.ndarray  # [P] int8: 1 positive, 0 negative, -1 neutral
    residue_chain: np.ndarray  # [R] <U4
    residue_number: np.ndarray  # [R] int32
    residue_icode: np.ndarray  # [R] <U1
    residue_name: np.ndarray  # [R] <U3
    residue_one_letter: np.ndarray  # [R] <U1
    residue_ca: np.ndarray  # [R, 3] float32, NaN when CA missing
    atom_coords: np.ndarray  # [N, 3] float32 protein heavy atoms
    atom_residue: np.ndarray  # [N] int32
    atom_name: np.ndarray  # [N] <U4
    atom_element: np.ndarray  # [N] <U2
    atom_serial: np.ndarray  # [N] int32, serial number in the source file
    ligand_names: np.ndarray  # [L] <U64
    ligand_relevant: np.ndarray  # [L] bool
    ligand_offsets: np.ndarray  # [L + 1] int64
    ligand_coords: np.ndarray  # [sum atoms, 3] float32
    descriptor_names: tuple[str, ...] = DESCRIPTOR_NAMES
    format_version: int = FORMAT_VERSION
    pocknet_version: str = __version__

    @property
    def n_points(self) -> int:
        return len(self.points)

    @property
    def n_positives(self) -> int:
        return int(np.count_nonzero(self.labels == 1))

    def chain_sequences(self) -> dict[str, str]:
        order = list(dict.fromkeys(self.residue_chain.tolist()))
        return {c: "".join(self.residue_one_letter[self.residue_chain == c]) for c in order}


def relevant_ligand_atoms(features: ProteinFeatures) -> list[np.ndarray]:
    """Atom coordinates of each relevant ligand (the ones labels and DCA/DCC are measured to)."""
    offsets = features.ligand_offsets
    return [
        features.ligand_coords[offsets[i] : offsets[i + 1]]
        for i in np.flatnonzero(features.ligand_relevant)
    ]


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def featurize(structure: Structure, config: FeaturizeConfig, id: str | None = None) -> ProteinFeatures:
    """Compute SAS points, descriptors and labels of a loaded structure."""
    atoms = structure.atoms
    radii = vdw_radii(atoms.elements, atoms.names)
    surface = sas_points(
        atoms.coords,
        radii,
        probe=config.surface.probe_radius,
        tessellation=config.surface.tessellation,
        merge_distance=config.surface.merge_distance,
    )
    residue_names = structure.residues.name[atoms.residue_index]
    descriptors = point_descriptors(surface.coords, atoms, residue_names, config.descriptors)
    relevant = structure.relevant_ligands
    distance = ligand_distances(surface.coords, relevant)
    labels = point_labels(distance, config.labels.positive_distance, config.labels.neutral_distance)
    ligands = structure.ligands
    offsets = np.zeros(len(ligands) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(lig.coords) for lig in ligands])
    res = structure.residues
    return ProteinFeatures(
        id=id or structure.name,
        name=structure.name,
        source=str(structure.path),
        source_sha256=file_sha256(structure.path),
        config_json=config.to_json(),
        points=surface.coords.astype(np.float32),
        descriptors=descriptors,
        point_atom=surface.atom.astype(np.int32),
        point_residue=atoms.residue_index[surface.atom].astype(np.int32),
        ligand_distance=distance,
        labels=labels,
        residue_chain=res.chain,
        residue_number=res.number,
        residue_icode=res.icode,
        residue_name=res.name,
        residue_one_letter=res.one_letter,
        residue_ca=res.ca.astype(np.float32),
        atom_coords=atoms.coords.astype(np.float32),
        atom_residue=atoms.residue_index,
        atom_name=atoms.names,
        atom_element=atoms.elements,
        atom_serial=atoms.serials,
        ligand_names=np.asarray([lig.name for lig in ligands], dtype="<U64"),
        ligand_relevant=np.asarray([lig.relevant for lig in ligands], dtype=bool),
        ligand_offsets=offsets,
        ligand_coords=(
            np.concatenate([lig.coords for lig in ligands]).astype(np.float32)
            if ligands
            else np.zeros((0, 3), dtype=np.float32)
        ),
    )


def featurize_file(
    path: str | Path,
    config: FeaturizeConfig,
    id: str | None = None,
    chains: tuple[str, ...] | None = None,
) -> ProteinFeatures:
    """Load and featurise one structure file (raises :class:`~pocknet.errors.StructureError`)."""
    structure = load_structure(path, chains=chains, ligand_rules=config.ligands)
    return featurize(structure, config, id=id)
