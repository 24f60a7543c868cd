"""Prediction outputs: P2Rank CSVs, points PDB, PyMOL/ChimeraX scripts, JSON."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import gemmi
import numpy as np
import pandas as pd
import pytest

from pocknet.errors import ConfigError, PockNetError
from pocknet.features import FeaturizeConfig, ProteinFeatures, featurize_file
from pocknet.outputs import (
    FORMATS,
    chimerax_spec,
    hybrid36,
    parse_formats,
    point_pocket_ranks,
    points_pdb_text,
    predictions_table,
    read_points_pdb,
    residue_ids,
    residues_table,
    summary_rows,
    write_outputs,
)
from pocknet.prediction import Pocket, Prediction

P2RANK_PREDICTIONS = (
    "name,rank,score,probability,sas_points,surf_atoms,center_x,center_y,center_z,residue_ids,surf_atom_ids"
)
P2RANK_RESIDUES = "chain,residue_label,residue_name,score,zscore,probability,pocket"
PML_COMMANDS = {"load", "hide", "show", "color", "set_color", "select", "spectrum", "set", "orient"}


@pytest.fixture(scope="module")
def features(p2rank_test: Path) -> ProteinFeatures:
    return featurize_file(p2rank_test / "liganated" / "1a82a.pdb", FeaturizeConfig())


def _pocket(
    features: ProteinFeatures, probs: np.ndarray, rank: int, points: np.ndarray, probability: float
) -> Pocket:
    points = np.asarray(points, dtype=np.int64)
    return Pocket(
        rank=rank,
        score=float(np.sum(probs[points].astype(np.float64) ** 2)),
        probability=probability,
        centre=features.points[points].mean(axis=0),
        point_indices=points,
        residue_indices=np.unique(features.point_residue[points]).astype(np.int64),
        atom_indices=np.unique(features.point_atom[points]).astype(np.int64),
    )


def make_prediction(
    features: ProteinFeatures, pocket_points: list[np.ndarray], name: str = "1a82a"
) -> Prediction:
    """A hand-made prediction: pocket k holds ``pocket_points[k-1]``; pocket 2 has no calibrated probability."""
    rng = np.random.default_rng(7)
    probs = rng.uniform(0.0, 0.3, features.n_points).astype(np.float32)
    pockets = []
    for rank, points in enumerate(pocket_points, start=1):
        probs[points] = rng.uniform(0.5, 1.0, len(points))
        pockets.append(_pocket(features, probs, rank, points, 0.87 if rank == 1 else float("nan")))
    n_res = len(features.residue_chain)
    residue_pocket = np.zeros(n_res, dtype=np.int32)
    for pocket in reversed(pockets):
        residue_pocket[pocket.residue_indices] = pocket.rank
    return Prediction(
        name=name,
        features=features,
        probabilities=probs,
        threshold=0.5,
        pockets=tuple(pockets),
        residue_score=rng.uniform(0, 5, n_res),
        residue_zscore=rng.normal(size=n_res),
        residue_probability=rng.uniform(0, 1, n_res),
        residue_pocket=residue_pocket,
        model_name="test-model",
        seconds=1.25,
        notes=("hand-made",),
    )


def _near_point(features: ProteinFeatures, point: int, n: int) -> np.ndarray:
    """The ``n`` SAS points nearest to ``point``: a compact pocket."""
    d = np.linalg.norm(features.points - features.points[point], axis=1)
    return np.sort(np.argsort(d)[:n])


@pytest.fixture(scope="module")
def prediction(features: ProteinFeatures) -> Prediction:
    return make_prediction(features, [_near_point(features, 100, 40), _near_point(features, 2000, 15)])


@pytest.fixture(scope="module")
def written(prediction: Prediction, tmp_path_factory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("outputs") / "nested" / "folder"  # created by write_outputs
    return out, write_outputs(prediction, out)


def test_writes_every_format_and_no_temp_files(written) -> None:
    out, paths = written
    assert [p.name for p in paths] == [
        "1a82a_predictions.csv",
        "1a82a_residues.csv",
        "1a82a_points.pdb",
        "1a82a.pml",
        "1a82a.cxc",
        "1a82a.json",
    ]
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in paths)  # no .tmp left


def test_predictions_csv_is_p2rank_layout(written, prediction: Prediction, features: ProteinFeatures) -> None:
    out, _ = written
    path = out / "1a82a_predictions.csv"
    assert path.read_text().splitlines()[0] == P2RANK_PREDICTIONS
    table = pd.read_csv(path)
    assert len(table) == len(prediction.pockets)
    assert table["name"].tolist() == ["pocket1", "pocket2"]
    assert table["rank"].tolist() == [1, 2]
    assert table["probability"].iloc[0] == pytest.approx(0.87)
    assert np.isnan(table["probability"].iloc[1])  # no calibrator: empty field
    file_serials = {a.serial for res in gemmi.read_structure(features.source)[0][0] for a in res}
    for row, pocket in zip(table.itertuples(), prediction.pockets):
        ids = row.residue_ids.split(" ")
        assert all(re.fullmatch(r"[A-Za-z0-9]+_-?\d+[A-Za-z]?", i) for i in ids)
        assert ids == residue_ids(features)[np.unique(pocket.residue_indices)].tolist()
        assert ids[0].startswith("A_")
        serials = [int(s) for s in str(row.surf_atom_ids).split(" ")]
        assert serials == sorted(features.atom_serial[pocket.atom_indices].tolist())
        assert set(serials) <= file_serials
        assert row.sas_points == len(pocket.point_indices)
        assert row.surf_atoms == len(serials)
        assert [row.center_x, row.center_y, row.center_z] == pytest.approx(pocket.centre.tolist(), abs=1e-3)
        assert row.score == pytest.approx(pocket.score, abs=0.006)


def test_residues_csv(written, prediction: Prediction, features: ProteinFeatures) -> None:
    out, _ = written
    path = out / "1a82a_residues.csv"
    assert path.read_text().splitlines()[0] == P2RANK_RESIDUES
    table = pd.read_csv(path, dtype={"chain": str, "residue_label": str})
    assert len(table) == len(features.residue_chain)
    assert table["pocket"].tolist() == prediction.residue_pocket.tolist()
    assert set(table["pocket"]) == {0, 1, 2}
    assert table["residue_label"].tolist() == features.residue_number.astype(str).tolist()
    assert table["residue_name"].tolist() == features.residue_name.tolist()
    assert table.equals(residues_table(prediction).astype({"residue_label": str}))


def test_points_pdb_parses_with_ranks_and_probabilities(written, prediction: Prediction) -> None:
    out, _ = written
    path = out / "1a82a_points.pdb"
    lines = path.read_text().splitlines()
    assert lines[-1] == "END"
    assert all(len(line) == 80 for line in lines if line.startswith("HETATM"))
    structure = gemmi.read_structure(str(path))
    atoms = [(res, atom) for chain in structure[0] for res in chain for atom in res]
    assert len(atoms) == prediction.features.n_points
    ranks = point_pocket_ranks(prediction)
    # gemmi groups atoms by residue: compare per point via the serial (file order = point order)
    by_serial = sorted(atoms, key=lambda ra: ra[1].serial)
    assert [ra[1].serial for ra in by_serial] == list(range(1, len(atoms) + 1))
    assert np.array_equal([ra[0].seqid.num for ra in by_serial], ranks)
    assert {ra[0].name for ra in atoms} == {"STP"}
    b = np.array([ra[1].b_iso for ra in by_serial])
    assert np.allclose(b, prediction.probabilities, atol=0.0051)
    xyz = np.array([ra[1].pos.tolist() for ra in by_serial])
    assert np.allclose(xyz, prediction.features.points, atol=6e-4)
    assert sorted(set(ranks.tolist())) == [0, 1, 2]
    assert np.count_nonzero(ranks == 1) == len(prediction.pockets[0].point_indices)


def test_overlapping_points_go_to_better_rank(features: ProteinFeatures) -> None:
    shared = _near_point(features, 100, 10)
    pred = make_prediction(features, [shared, np.concatenate([shared[:3], _near_point(features, 2000, 5)])])
    ranks = point_pocket_ranks(pred)
    assert (ranks[shared] == 1).all()


def test_pml_script(written, features: ProteinFeatures) -> None:
    out, _ = written
    text = (out / "1a82a.pml").read_text()
    source = str(Path(features.source).resolve())
    assert f'load "{source}", 1a82a' in text
    assert 'load "1a82a_points.pdb", 1a82a_points' in text
    assert re.search(
        r"^select pocket1, 1a82a and polymer and \(\(chain A and resi [0-9+]+\)\)", text, re.MULTILINE
    )
    assert re.search(r"^select pocket2, ", text, re.MULTILINE)
    assert "color pocknet_royalblue, 1a82a_points and resi 1" in text
    assert "spectrum b" in text
    commands = {line.split()[0] for line in text.splitlines() if line.strip() and not line.startswith("#")}
    assert commands <= PML_COMMANDS


def test_cxc_script(written, prediction: Prediction, features: ProteinFeatures) -> None:
    out, _ = written
    text = (out / "1a82a.cxc").read_text()
    assert f'open "{Path(features.source).resolve()}"' in text
    assert 'open "1a82a_points.pdb"' in text
    labels = [
        i.split("_")[1] for i in residue_ids(features)[np.unique(prediction.pockets[0].residue_indices)]
    ]
    assert f"name pocket1 #1/A:{','.join(labels)}" in text
    assert "name pocket2 #1/A:" in text
    assert "color #2:1 royalblue" in text
    assert "surface #1" in text and text.rstrip().endswith("view")


def test_json_summary(written, prediction: Prediction) -> None:
    out, _ = written

    def no_nan(token: str):
        raise AssertionError(f"non-standard JSON constant {token}")

    data = json.loads((out / "1a82a.json").read_text(), parse_constant=no_nan)
    assert data["name"] == "1a82a"
    assert data["model_name"] == "test-model"
    assert data["threshold"] == 0.5 and data["seconds"] == 1.25
    assert data["source"] == prediction.features.source
    assert data["counts"]["pockets"] == 2
    assert data["counts"]["points"] == prediction.features.n_points
    first, second = data["pockets"]
    assert first["rank"] == 1 and first["probability"] == 0.87
    assert second["probability"] is None  # NaN → null
    assert first["n_points"] == len(prediction.pockets[0].point_indices)
    assert first["residue_ids"] == predictions_table(prediction)["residue_ids"].iloc[0].split(" ")
    assert len(first["centre"]) == 3


def test_format_subset_writes_only_those(prediction: Prediction, tmp_path: Path) -> None:
    paths = write_outputs(prediction, tmp_path, ("json", "pdb"))
    assert [p.name for p in paths] == ["1a82a_points.pdb", "1a82a.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1a82a.json", "1a82a_points.pdb"]
    paths = write_outputs(prediction, tmp_path / "b", "csv, PML")
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == sorted(
        ["1a82a.pml", "1a82a_predictions.csv", "1a82a_residues.csv"]
    )


def test_unknown_format_raises_and_writes_nothing(prediction: Prediction, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="xyz"):
        write_outputs(prediction, tmp_path / "out", ("csv", "xyz"))
    assert not (tmp_path / "out").exists()
    with pytest.raises(PockNetError):
        parse_formats("csv,mol2")
    with pytest.raises(ConfigError):
        parse_formats(" , ")


def test_parse_formats() -> None:
    assert parse_formats("json, csv,csv") == ("csv", "json")
    assert parse_formats("all") == FORMATS
    assert parse_formats("PDB") == ("pdb",)


def test_insertion_codes_in_specs_and_ids(features: ProteinFeatures, tmp_path: Path) -> None:
    points = _near_point(features, 100, 40)
    residue = int(np.unique(features.point_residue[points])[0])
    number = features.residue_number.copy()
    icode = features.residue_icode.copy()
    number[residue], icode[residue] = 100, "A"
    inserted = dataclasses.replace(features, residue_number=number, residue_icode=icode)
    pred = make_prediction(inserted, [points])
    write_outputs(pred, tmp_path)
    table = pd.read_csv(tmp_path / "1a82a_predictions.csv")
    assert "A_100A" in table["residue_ids"].iloc[0].split(" ")
    cxc = (tmp_path / "1a82a.cxc").read_text()
    assert re.search(r"^name pocket1 #1/A:([0-9,]+,)?100A(,|$)", cxc, re.MULTILINE)
    pml = (tmp_path / "1a82a.pml").read_text()
    assert re.search(r"resi ([0-9A-Z+]+\+)?100A(\+|\))", pml)
    residues = pd.read_csv(tmp_path / "1a82a_residues.csv", dtype={"residue_label": str})
    assert residues["residue_label"].iloc[residue] == "100A"
    assert chimerax_spec([("A", ["12", "100A"]), ("B", ["7"])]) == "#1/A:12,100A/B:7"
    assert chimerax_spec([("A", [])]) == ""


def test_real_structure_with_insertion_codes(datasets: Path, tmp_path: Path) -> None:
    feats = featurize_file(datasets / "chen11" / "b.068.001.001_1f8ba.pdb", FeaturizeConfig())
    with_icode = np.flatnonzero(feats.residue_icode != "")
    assert len(with_icode)
    target = int(with_icode[0])
    point = int(np.flatnonzero(feats.point_residue == target)[0])
    pred = make_prediction(feats, [_near_point(feats, point, 30)], name="1f8ba")
    write_outputs(pred, tmp_path, ("cxc", "pml"))
    label = f"{feats.residue_number[target]}{feats.residue_icode[target]}"
    chain = feats.residue_chain[target]
    cxc = (tmp_path / "1f8ba.cxc").read_text()
    spec = re.search(r"^name pocket1 (\S+)$", cxc, re.MULTILINE).group(1)
    assert re.search(rf"/{chain}:([^/]*,)?{label}(,|/|$)", spec)
    assert re.search(rf"resi ([^)]*\+)?{label}(\+|\))", (tmp_path / "1f8ba.pml").read_text())


def test_points_beyond_99999_use_hybrid36(tmp_path: Path) -> None:
    n = 100_010
    rng = np.random.default_rng(0)
    points = rng.uniform(-50, 50, (n, 3))
    text = points_pdb_text(points, rng.uniform(0, 1, n), np.zeros(n, dtype=np.int64))
    path = tmp_path / "big.pdb"
    path.write_text(text)
    structure = gemmi.read_structure(str(path))
    serials = [a.serial for chain in structure[0] for res in chain for a in res]
    assert sorted(serials) == list(range(1, n + 1))
    assert hybrid36(99_999, 5) == "99999" and hybrid36(100_000, 5) == "A0000"
    assert hybrid36(7, 4) == "   7" and hybrid36(10_000, 4) == "A000"
    back = read_points_pdb(path)
    assert len(back) == n and back["pocket_rank"].eq(0).all()
    np.testing.assert_allclose(back[["x", "y", "z"]].to_numpy(), points, atol=5e-4)


def test_points_pdb_round_trip(tmp_path: Path) -> None:
    points = np.array([[1.0, -2.5, 3.25], [10.0, 20.0, -30.125]])
    path = tmp_path / "p.pdb"
    path.write_text(points_pdb_text(points, np.array([0.123, 0.9]), np.array([2, 10_000]), title="p"))
    back = read_points_pdb(path)
    np.testing.assert_allclose(back[["x", "y", "z"]].to_numpy(), points)
    assert back["probability"].tolist() == [0.12, 0.9] and back["pocket_rank"].tolist() == [2, 10_000]  # hybrid-36


def test_points_out_of_pdb_range_raise() -> None:
    with pytest.raises(PockNetError, match="range"):
        points_pdb_text(np.array([[10000.0, 0.0, 0.0]]), np.array([0.5]), np.array([0]))


def test_summary_rows(prediction: Prediction, features: ProteinFeatures) -> None:
    empty = dataclasses.replace(prediction, name="empty", pockets=(), seconds=0.5)
    rows = summary_rows([prediction, empty])
    assert [r["name"] for r in rows] == ["1a82a", "empty"]
    top = rows[0]
    assert top["pockets"] == 2
    assert top["top_score"] == pytest.approx(prediction.pockets[0].score, abs=0.006)
    assert top["top_probability"] == 0.87
    assert top["top_centre"] == pytest.approx(tuple(prediction.pockets[0].centre.tolist()), abs=1e-3)
    assert top["seconds"] == 1.25
    assert rows[1] == {
        "name": "empty",
        "pockets": 0,
        "top_score": None,
        "top_probability": None,
        "top_centre": None,
        "seconds": 0.5,
    }
