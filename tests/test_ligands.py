"""Ligand rules of SCIENCE.md §1 on synthetic coordinates."""

import numpy as np
import pytest

from pocknet.errors import ConfigError
from pocknet.structure.ligands import LigandRules, find_ligands

# a flat sheet of "protein" atoms in the z = 0 plane
PROTEIN = np.array([[x, y, 0.0] for x in range(-10, 11, 2) for y in range(-10, 11, 2)], dtype=float)


def blob(centre, n, spread=1.2):
    """n atoms on a line, 1.2 Å apart, starting at centre."""
    return np.array([[centre[0] + i * spread, centre[1], centre[2]] for i in range(n)])


def test_relevant_ligand_near_the_protein():
    (lig,) = find_ligands([("ATP", "A_1", blob((0, 0, 3.5), 6))], PROTEIN, LigandRules())
    assert lig.relevant and lig.codes == ("ATP",) and lig.residue_ids == ("A_1",)
    assert lig.min_protein_distance == pytest.approx(3.5)


def test_ignored_codes_are_not_candidates():
    groups = [("GOL", "A_1", blob((0, 0, 3.5), 6)), ("SO4", "A_2", blob((4, 4, 3.5), 5))]
    assert find_ligands(groups, PROTEIN, LigandRules()) == ()


def test_fewer_than_five_atoms_is_not_relevant():
    (lig,) = find_ligands([("ACT", "A_1", blob((0, 0, 3.5), 4))], PROTEIN, LigandRules())
    assert not lig.relevant


def test_distant_ligand_is_not_relevant():
    (lig,) = find_ligands([("ATP", "A_1", blob((0, 0, 4.5), 8))], PROTEIN, LigandRules())
    assert lig.min_protein_distance > 4.0 and not lig.relevant


def test_centre_too_far_is_not_relevant():
    # touches the protein (3.5 Å) but extends straight up: centre ~ 8 Å away
    coords = np.array([[0.0, 0.0, 3.5 + 1.2 * i] for i in range(8)])
    (lig,) = find_ligands([("LIG", "A_1", coords)], PROTEIN, LigandRules())
    assert lig.min_protein_distance <= 4.0
    assert lig.centre_protein_distance > 5.5 and not lig.relevant


def test_groups_closer_than_1_7_merge_transitively():
    a = blob((0, 0, 3.5), 3)  # 3 atoms each: alone neither would be relevant
    b = blob((a[-1, 0] + 1.5, 0, 3.5), 3)
    c = blob((b[-1, 0] + 1.6, 0, 3.5), 3)
    far = blob((-8, -8, 3.5), 3)
    ligs = find_ligands([("NAP", "A_1", a), ("NAP", "A_2", b), ("FAD", "A_3", c), ("X", "A_4", far)], PROTEIN, LigandRules())
    assert len(ligs) == 2
    merged = next(lig for lig in ligs if len(lig.codes) == 3)
    assert merged.codes == ("NAP", "NAP", "FAD") and len(merged.coords) == 9 and merged.relevant
    assert merged.name == "NAP+NAP+FAD"
    lone = next(lig for lig in ligs if lig.codes == ("X",))
    assert not lone.relevant


def test_rules_from_params_and_unknown_keys():
    rules = LigandRules.from_params({"min_atoms": 3, "ignored_codes": ["gol"]})
    assert rules.min_atoms == 3 and rules.ignored_codes == frozenset({"GOL"})
    with pytest.raises(ConfigError, match="min_atom"):
        LigandRules.from_params({"min_atom": 3})
