import numpy as np
import pandas as pd
import pytest

from pocknet.errors import PockNetError
from pocknet.evaluate.evaluation import (
    evaluate_set,
    evaluation_labels,
    pocket_records,
    read_p2rank_centres,
    set_of,
)
from pocknet.pipelines.reporting.nodes import _apo_pairs


def test_set_of():
    assert set_of("bu48/holo/1a6w.pdb") == "bu48/holo"
    assert set_of("coach420/structures/1a26A.pdb") == "coach420/structures"


def test_read_p2rank_published_predictions(datasets):
    centres = read_p2rank_centres(datasets / "coach420" / "predictions" / "p2rank" / "1a26A.pdb_predictions.csv")
    assert centres.shape[1] == 3 and len(centres) >= 4
    np.testing.assert_allclose(centres[0], [39.1793, 24.7356, 17.0521])


def test_apo_pairs_map_apo_ids_to_holo_files(datasets):
    pairs = _apo_pairs(datasets, "bu48/pairs.csv")
    assert len(pairs) == 48
    assert pairs["bu48/apo/1a6u.pdb"] == str(datasets / "bu48" / "holo" / "1a6w.pdb")
    assert _apo_pairs(datasets, "absent.csv") == {}


def test_evaluate_set_counts_and_curve():
    ligand = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    lookup = {"a": [ligand], "b": [ligand + 50], "c": []}
    centres = {"a": np.array([[10.0, 0, 0], [0.5, 1.0, 0]]), "b": np.array([[50.0, 50, 50]]), "c": np.zeros((0, 3))}
    records = pocket_records(["a", "b", "c"], centres.__getitem__, lookup.__getitem__)
    cutoffs = np.arange(0, 12.5, 0.5)
    metrics, per_protein, curve = evaluate_set(records, cutoffs)
    assert metrics["n_proteins"] == 2 and metrics["n_skipped_no_ligand"] == 1
    assert metrics["dca_top_n"] == 0.5  # a: found at rank 2 > n = 1; b: rank 1
    assert metrics["dca_top_n2"] == 1.0 and metrics["dca_success_at_1"] == 0.5
    assert isinstance(per_protein, pd.DataFrame) and len(per_protein) == 2
    assert np.all(np.diff(curve) >= 0) and curve[-1] == 1.0


def test_points_are_labelled_by_the_ligands_they_are_evaluated_on():
    points = np.array([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [3.0, 0.0, 0.0], [10.0, 0.0, 0.0]])
    ligands = [np.zeros((0, 3)), np.array([[0.0, 0.5, 0.0]])]

    class Features:  # the fields evaluation_labels reads
        id, n_points = "bu48/apo/x.pdb", 4
        labels = np.array([0, 0, 0, 1], dtype=np.int8)  # stray HETATM in the apo file itself

    Features.points = points
    params = {"positive_distance": 2.6, "neutral_distance": None}
    assert evaluation_labels(Features, lambda pid: ligands, params).tolist() == [1, 1, 0, 0]
    assert evaluation_labels(Features, lambda pid: ligands, {**params, "neutral_distance": 4.0}).tolist() == [1, 1, -1, 0]
    assert evaluation_labels(Features, lambda pid: [], params).tolist() == [0, 0, 0, 0]

    def failed(pid):
        raise PockNetError("no matched residues")

    assert evaluation_labels(Features, failed, params).tolist() == [-1, -1, -1, -1]


def test_unpaired_apo_structures_are_not_scored_against_their_own_hetatms():
    from pocknet.evaluate.evaluation import as_ligand_lookup

    lookup = as_ligand_lookup({}, {"bu48/apo/1a6u.pdb": "holo/1a6w.pdb"})
    with pytest.raises(PockNetError, match="without a holo partner"):
        lookup("bu48/apo/1krm.pdb")
    records = pocket_records(["bu48/apo/1krm.pdb"], lambda pid: np.zeros((0, 3)), lookup)
    assert records == []
