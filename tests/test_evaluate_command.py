"""`pocknet evaluate` end to end on hand-built scenes (every reader, a structure without a prediction,
the paired test, the unseen subset, apo pairs) and on COACH420 with P2Rank's published predictions."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pdbtext import atom_line, write_pdb
from test_evaluate_readers import fpocket_out, p2rank_csv

from pocknet.errors import PockNetError
from pocknet.evaluate.command import run_evaluation
from pocknet.evaluate.evaluation import evaluate_set, pocket_records

THREE = {"A": "ALA", "C": "CYS", "D": "ASP", "E": "GLU", "F": "PHE", "G": "GLY", "H": "HIS", "I": "ILE", "K": "LYS",
         "L": "LEU", "M": "MET", "N": "ASN", "P": "PRO", "Q": "GLN", "R": "ARG", "S": "SER", "T": "THR", "V": "VAL",
         "W": "TRP", "Y": "TYR"}  # fmt: skip
SEQ_S = "ACDEFGHIKLMNPQRSTVWYACDEF"
SEQ_W = "W" * 25
STEP = 3.8


def site(residue: int) -> np.ndarray:
    """Centre of a ligand placed beside a residue (ring of 6 atoms, radius 1 Å, at y = 4 Å)."""
    return np.array([residue * STEP + 1.0, 4.0, 0.0])


def scene(path: Path, sequence: str, ligand_sites: list[int]) -> Path:
    lines, serial = [], 1
    for i, letter in enumerate(sequence, start=1):
        x = i * STEP
        for name, xyz, element in (("N", (x, 0, 0), "N"), ("CA", (x + 1.46, 0, 0), "C"),
                                   ("C", (x + 2.0, 0.5, 0), "C"), ("O", (x + 2.0, 1.7, 0), "O")):  # fmt: skip
            lines.append(atom_line(serial, name, THREE[letter], "A", i, xyz, element))
            serial += 1
    for k, residue in enumerate(ligand_sites):
        centre = site(residue)
        for j in range(6):
            angle = j * np.pi / 3
            xyz = tuple(centre + [np.cos(angle), 0.0, np.sin(angle)])
            lines.append(atom_line(serial, f"C{j + 1}", f"LG{k}", "A", 900 + k, xyz, "C", het=True))
            serial += 1
    return write_pdb(path, lines)


FAR = np.array([500.0, 500.0, 500.0])
# a: found at rank 1; b (2 ligands): site 20 at rank 2 (top-n), site 3 at rank 3 (top-(n+2) only);
# c: no prediction file (its ligand is a miss); d: no relevant ligand (in no denominator)
FIRST = {"a.pdb": [site(5)], "b.pdb": [FAR, site(20), site(3)], "d.pdb": [site(7)]}
SECOND = {"a.pdb": [site(5)], "b.pdb": [site(3), site(20)], "c.pdb": [site(10)]}


@pytest.fixture()
def structures(tmp_path) -> Path:
    folder = tmp_path / "structures"
    folder.mkdir()
    scene(folder / "a.pdb", SEQ_S, [5])
    scene(folder / "b.pdb", SEQ_W, [3, 20])
    scene(folder / "c.pdb", SEQ_S, [10])
    scene(folder / "d.pdb", SEQ_W, [])
    return folder


def write_predictions(root: Path, fmt: str, centres: dict[str, list[np.ndarray]]) -> Path:
    root.mkdir(parents=True)
    if fmt == "csv":
        rows = [f"{name},{rank},{x},{y},{z}" for name, cs in centres.items() for rank, (x, y, z) in enumerate(cs, 1)]
        (root / "pockets.csv").write_text("name,rank,x,y,z\n" + "\n".join(rows) + "\n")
        return root / "pockets.csv"
    for name, cs in centres.items():
        stem = name.removesuffix(".pdb")
        if fmt in ("p2rank", "pocknet"):
            p2rank_csv(root / f"{name}_predictions.csv", np.array(cs))
            if fmt == "pocknet":
                (root / f"{name}.json").write_text(json.dumps({"name": name, "pocknet_version": "0.1.0"}))
        elif fmt == "fpocket":
            fpocket_out(root, stem, [np.array([c - [0.5, 0, 0], c + [0.5, 0, 0]]) for c in cs])
        elif fmt == "pocketnet":
            pockets = [{"rank": r, "score": 1.0 / r, "center": list(map(float, c))} for r, c in enumerate(cs, 1)]
            (root / f"{stem}_pockets.json").write_text(json.dumps({"source": name, "pockets": pockets[::-1]}))
    return root


@pytest.mark.parametrize("fmt", ["pocknet", "p2rank", "fpocket", "pocketnet", "csv"])
def test_every_format_scores_the_same_scene(tmp_path, structures, fmt):
    predictions = write_predictions(tmp_path / fmt, fmt, FIRST)
    out = tmp_path / "report"
    summary = run_evaluation(structures, predictions, out, fmt="auto")
    method = summary["methods"][fmt]
    assert method["format"] == fmt and method["missing_predictions"] == ["c.pdb"]
    assert summary["structures"]["no_relevant_ligand"] == ["d.pdb"] and summary["structures"]["scored"] == 3
    m = summary["subsets"]["all"]["methods"][fmt]["metrics"]
    assert (m["dca_top_n"]["successes"], m["dca_top_n"]["n"]) == (2, 4)
    assert (m["dca_top_n2"]["successes"], m["dcc_top_n2"]["successes"]) == (3, 3)
    assert (m["dca_success_at_1"]["successes"], m["dca_success_at_1"]["n"]) == (1, 3)
    assert m["dca_success_at_3"]["successes"] == 2
    assert m["dca_top_n"]["ci_low"] < 0.5 < m["dca_top_n"]["ci_high"]

    ligands = pd.read_csv(out / "per_ligand.csv")
    assert ligands[["structure", "ligand", "rank_dca"]].values.tolist() == [
        ["a.pdb", 1, 1], ["b.pdb", 1, 3], ["b.pdb", 2, 2], ["c.pdb", 1, 0]]  # fmt: skip
    row_b = ligands.iloc[1]
    assert row_b["ligand_name"] == "LG0" and row_b["dca_min_rank"] == 3 and row_b["dca_min"] == pytest.approx(1.0, abs=1e-3)
    assert row_b["dcc_rank1"] == pytest.approx(np.linalg.norm(FAR - site(3)), abs=1e-2)
    assert ligands.loc[3, "prediction"] != ligands.loc[3, "prediction"]  # c: no file (empty → NaN)
    missing = pd.read_csv(out / "missing.csv")
    assert missing[["structure", "scored"]].values.tolist() == [["c.pdb", True]]
    assert pd.read_csv(out / "structures.csv")["status"].tolist() == ["ok", "ok", "ok", "no relevant ligand"]
    html = (out / "report.html").read_text()
    assert "<svg" in html and "http" not in html and "c.pdb" in html
    assert "| DCA top-n | " + fmt + " | 50.0 |" in (out / "summary.md").read_text()
    assert json.loads((out / "summary.json").read_text())["methods"][fmt]["prediction_files"] == 3


def test_paired_comparison_and_unseen_subset(tmp_path, structures):
    first = write_predictions(tmp_path / "mine", "p2rank", FIRST)
    second = write_predictions(tmp_path / "theirs", "csv", SECOND)
    fasta = tmp_path / "train.fasta"
    fasta.write_text(f">train_A\n{SEQ_S[:12]}\n{SEQ_S[12:]}\n")
    out = tmp_path / "report"
    summary = run_evaluation(structures, first, out, compare=second, labels=("mine", "theirs"),
                             exclude_similar_to=fasta, identity=0.3)  # fmt: skip
    everything = summary["subsets"]["all"]
    assert everything["methods"]["theirs"]["metrics"]["dca_top_n"]["successes"] == 4
    test = everything["paired"]["dca_top_n"]
    assert (test["both"], test["only_first"], test["only_second"], test["neither"]) == (2, 0, 2, 0)
    assert test["p_value"] == pytest.approx(0.5) and test["verdict"] == "tie"
    assert summary["methods"]["theirs"]["missing_predictions"] == ["d.pdb"]  # d: listed, but has no ligand to miss
    paired = pd.read_csv(out / "paired.csv")
    assert len(paired) == 4 and paired["dca_top_n_theirs"].all() and paired["dca_top_n_mine"].sum() == 2

    assert summary["exclude_similar_to"]["n_unseen_structures"] == 1  # b (d has no ligand, a and c are seen)
    unseen = summary["subsets"]["unseen"]["methods"]["mine"]
    assert (unseen["n_proteins"], unseen["n_ligands"], unseen["metrics"]["dca_top_n"]["successes"]) == (1, 2, 1)
    table = pd.read_csv(out / "structures.csv").set_index("structure")
    assert table.loc["a.pdb", "identity"] == 1.0 and table.loc["a.pdb", "similar_to"] == "train_A"
    assert not table.loc["a.pdb", "unseen"] and table.loc["b.pdb", "unseen"]
    assert pd.read_csv(out / "per_ligand.csv").groupby("structure")["unseen"].first().to_dict() == {
        "a.pdb": False, "b.pdb": True, "c.pdb": False}  # fmt: skip

    # a folder of structures as the reference gives the same subset
    reference = tmp_path / "reference"
    reference.mkdir()
    scene(reference / "train.pdb", SEQ_S, [])
    again = run_evaluation(structures, first, tmp_path / "again", exclude_similar_to=reference)
    assert again["exclude_similar_to"]["n_unseen_structures"] == 1


def test_the_command_scores_through_the_reporting_evaluator(tmp_path, structures):
    """Same records → same numbers as pocket_records + evaluate_set (the reporting stage's calls)."""
    from pocknet.structure.reader import load_structure

    predictions = write_predictions(tmp_path / "p", "p2rank", FIRST)
    summary = run_evaluation(structures, predictions, tmp_path / "out")
    ids = ["a.pdb", "b.pdb", "c.pdb", "d.pdb"]
    ligands = {i: [lig.coords for lig in load_structure(structures / i).relevant_ligands] for i in ids}
    records = pocket_records(ids, lambda i: np.array(FIRST.get(i, np.zeros((0, 3)))).reshape(-1, 3), ligands.__getitem__)
    metrics, _, _ = evaluate_set(records, np.arange(0, 12.01, 0.5))
    ours = summary["subsets"]["all"]["methods"]["p2rank"]["metrics"]
    for key in ("dca_top_n", "dca_top_n2", "dcc_top_n", "dca_success_at_1", "dcc_success_at_3"):
        assert ours[key]["value"] == pytest.approx(metrics[key])


def test_apo_structures_use_the_superposed_holo_ligands(tmp_path, datasets):
    from pocknet.evaluate.apo import transfer_ligands
    from pocknet.structure.reader import load_structure

    bu48 = datasets / "bu48"
    folder = tmp_path / "apo"
    folder.mkdir()
    for name in ("1a6u.pdb", "1krm.pdb"):  # 1krm: apo without a holo partner in pairs.csv
        (folder / name).symlink_to(bu48 / "apo" / name)
    moved, _ = transfer_ligands(load_structure(bu48 / "apo" / "1a6u.pdb"), load_structure(bu48 / "holo" / "1a6w.pdb"))
    predictions = tmp_path / "pred"
    predictions.mkdir()
    p2rank_csv(predictions / "1a6u.pdb_predictions.csv", np.array([FAR, moved[0].mean(axis=0)]))
    summary = run_evaluation(folder, predictions, tmp_path / "out", apo_pairs=bu48 / "pairs.csv")
    assert list(summary["structures"]["not_scored"]) == ["1krm.pdb"]
    assert "no holo partner" in summary["structures"]["not_scored"]["1krm.pdb"]
    ligands = pd.read_csv(tmp_path / "out" / "per_ligand.csv")
    assert len(ligands) == len(moved) and ligands.loc[0, "rank_dcc"] == 2
    assert ligands.loc[0, "ligand_residues"] == "from 1a6w.pdb"


def test_errors_are_one_line_naming_the_file(tmp_path, structures):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(PockNetError, match="empty: no predictions found"):
        run_evaluation(structures, empty, tmp_path / "out")
    bad = write_predictions(tmp_path / "bad", "p2rank", FIRST)
    (bad / "a.pdb_predictions.csv").write_text("name,rank\npocket1,1\n")
    result = subprocess.run([sys.executable, "-m", "pocknet", "evaluate", str(structures), str(bad), "-o", str(tmp_path / "o")],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "a.pdb_predictions.csv: not a P2Rank predictions table" in result.stderr


def test_cli_writes_every_file(tmp_path, structures):
    first = write_predictions(tmp_path / "mine", "pocketnet", FIRST)
    second = write_predictions(tmp_path / "theirs", "fpocket", SECOND)
    out = tmp_path / "report"
    result = subprocess.run([sys.executable, "-m", "pocknet", "evaluate", str(structures), str(first), "--compare",
                             str(second), "-o", str(out)], capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "| DCA top-n | 4 | 0 | 2 | 2 | 0 | 0.5 | tie |" in result.stdout
    for name in ("summary.json", "summary.md", "per_ligand.csv", "structures.csv", "missing.csv", "report.html", "paired.csv"):
        assert (out / name).is_file(), name


def test_coach420_p2rank_published_predictions_reproduce_the_reference(tmp_path, datasets):
    """Acceptance (issue #15): within 0.5 points of an independent evaluator's 71.5 % / 78.3 %."""
    coach = datasets / "coach420"
    summary = run_evaluation(coach, coach / "predictions" / "p2rank", tmp_path / "out", fmt="p2rank", ds=coach / "coach420.ds")
    m = summary["subsets"]["all"]["methods"]["p2rank"]["metrics"]
    assert summary["methods"]["p2rank"]["missing_predictions"] == []
    assert abs(100 * m["dca_top_n"]["value"] - 71.5) <= 0.5
    assert abs(100 * m["dca_top_n2"]["value"] - 78.3) <= 0.5
    assert summary["structures"]["scored"] == 408 and m["dca_top_n"]["n"] == 515
