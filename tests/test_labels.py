import numpy as np
import pytest
from scipy.spatial.distance import cdist

from pocknet.errors import ConfigError
from pocknet.featurize.labels import NEGATIVE, NEUTRAL, POSITIVE, ligand_distances, point_labels


def test_1a82a_positives_sit_on_relevant_ligands(structure_1a82a, features_1a82a):
    f = features_1a82a
    atp = next(lig for lig in structure_1a82a.relevant_ligands if lig.name == "ATP")
    positives = f.points[f.labels == POSITIVE]
    assert len(positives) > 0
    relevant_atoms = np.concatenate([lig.coords for lig in structure_1a82a.relevant_ligands])
    assert cdist(positives, relevant_atoms).min(axis=1).max() <= 2.6 + 1e-4
    # ATP's own pocket is labelled
    assert (cdist(positives, atp.coords).min(axis=1) <= 2.6 + 1e-4).sum() >= 10
    # negatives are farther than 2.6 Å from every relevant-ligand atom
    negatives = f.points[f.labels == NEGATIVE]
    assert cdist(negatives, relevant_atoms).min(axis=1).min() > 2.6 - 1e-4
    rate = f.n_positives / f.n_points
    assert 0.005 <= rate <= 0.10


def test_neutral_band():
    d = np.array([0.5, 2.6, 2.7, 5.0, 8.1, 9.0, np.inf], dtype=np.float32)
    assert point_labels(d).tolist() == [1, 1, 0, 0, 0, 0, 0]
    assert point_labels(d, 2.6, 8.1).tolist() == [1, 1, NEUTRAL, NEUTRAL, NEUTRAL, 0, 0]
    with pytest.raises(ConfigError):
        point_labels(d, 2.6, 2.0)


def test_ligands_given_as_coordinates():
    ligands = [np.zeros((0, 3)), np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 9.0]])]
    np.testing.assert_allclose(ligand_distances(np.array([[0.0, 0.0, 3.0]]), ligands), [2.0])


def test_no_ligands_means_no_positives():
    d = ligand_distances(np.zeros((5, 3)), [])
    assert np.isinf(d).all()
    assert (point_labels(d) == NEGATIVE).all()
