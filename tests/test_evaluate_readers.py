"""Readers of other tools' pocket outputs (`pocknet evaluate`): one hand-built scene per format."""

import json
from pathlib import Path

import numpy as np
import pytest

from pocknet.errors import PockNetError
from pocknet.evaluate.readers import (
    Predictions,
    alpha_sphere_centres,
    detect_format,
    name_candidates,
    read_fpocket,
    read_p2rank_centres,
    read_pocketnet,
)

CENTRES = np.array([[1.0, 2.0, 3.0], [-10.5, 0.25, 7.0], [100.125, -200.5, 3.5]])


def p2rank_csv(path: Path, centres: np.ndarray, extra: str = "") -> Path:
    """P2Rank 2.x layout (padded columns), rows written in reverse rank order."""
    rows = ["name,rank,score,connolly_points,surf_atoms,center_x,center_y,center_z,residue_ids,surf_atom_ids   "]
    for rank in range(len(centres), 0, -1):
        x, y, z = centres[rank - 1]
        rows.append(f"pocket{rank},  {rank}, {10 - rank}, 5, 5, {x}, {y}, {z}, A_1 A_2, 1 2")
    path.write_text("\n".join(rows) + "\n" + extra)
    return path


def test_p2rank_predictions_sorted_by_rank(tmp_path):
    centres = read_p2rank_centres(p2rank_csv(tmp_path / "a.pdb_predictions.csv", CENTRES))
    np.testing.assert_allclose(centres, CENTRES)
    empty = tmp_path / "e.pdb_predictions.csv"
    empty.write_text("name,rank,score,center_x,center_y,center_z\n")
    assert read_p2rank_centres(empty).shape == (0, 3)


@pytest.mark.parametrize("text, message", [
    ("", "unreadable prediction file"),
    ("name,rank,score\npocket1,1,3\n", "no column center_x"),
    ("name,rank,center_x,center_y,center_z\npocket1,1,1.0,nan,2\n", "non-finite"),
    ("name,rank,center_x,center_y,center_z\npocket1,1,1.0,abc,2\n", "not numbers"),
])  # fmt: skip
def test_unreadable_p2rank_file_is_one_error_naming_it(tmp_path, text, message):
    path = tmp_path / "bad.pdb_predictions.csv"
    path.write_text(text)
    with pytest.raises(PockNetError, match=message) as err:
        read_p2rank_centres(path)
    assert "bad.pdb_predictions.csv" in str(err.value) and "\n" not in str(err.value)


def test_p2rank_folder_lookup_and_missing_structure(tmp_path):
    folder = tmp_path / "p2rank"
    (folder / "sub").mkdir(parents=True)
    p2rank_csv(folder / "a.pdb_predictions.csv", CENTRES)
    p2rank_csv(folder / "sub" / "b.cif_predictions.csv", CENTRES[:1])
    predictions = Predictions(folder, "p2rank")
    assert len(predictions) == 2
    np.testing.assert_allclose(predictions.centres("/data/a.pdb"), CENTRES)
    np.testing.assert_allclose(predictions.centres("b.cif.gz"), CENTRES[:1])  # .gz dropped
    assert predictions.centres("c.pdb") is None and predictions.source("c.pdb") is None
    assert detect_format(folder) == "p2rank"


def test_pocknet_folder_is_detected_by_its_json(tmp_path):
    p2rank_csv(tmp_path / "a.pdb_predictions.csv", CENTRES)
    (tmp_path / "a.pdb.json").write_text(json.dumps({"name": "a.pdb", "pocknet_version": "0.1.0", "pockets": []}))
    predictions = Predictions(tmp_path)
    assert predictions.format == "pocknet"
    np.testing.assert_allclose(predictions.centres("a.pdb"), CENTRES)


def fpocket_out(root: Path, stem: str, pockets: list[np.ndarray], pqr: bool = True) -> Path:
    """fpocket 4 layout: <stem>_out/<stem>_info.txt, pockets/pocketN_vert.pqr, <stem>_out.pdb."""
    out = root / f"{stem}_out"
    (out / "pockets").mkdir(parents=True)
    info = []
    pdb = ["HEADER", "ATOM      1  CA  GLY A   1      0.000   0.000   0.000  1.00  0.00           C"]
    serial = 2
    for n, spheres in enumerate(pockets, start=1):
        info += [f"Pocket {n} :", f"\tScore : \t{1 - n / 10:.3f}", f"\tNumber of Alpha Spheres : \t{len(spheres)}", ""]
        lines = ["HEADER", "HEADER This is a pqr format file"]
        for i, (x, y, z) in enumerate(spheres, start=1):
            lines.append(f"ATOM  {i:5d}    C STP  {n:4d}    {x:8.3f}{y:8.3f}{z:8.3f}    0.00     3.50")
            pdb.append(f"HETATM{serial:5d}    C STP  {n:4d}    {x:8.3f}{y:8.3f}{z:8.3f}  0.00  0.00          Ve")
            serial += 1
        if pqr:
            (out / "pockets" / f"pocket{n}_vert.pqr").write_text("\n".join(lines + ["TER", "END"]) + "\n")
        (out / "pockets" / f"pocket{n}_atm.pdb").write_text("HEADER\n")
    (out / f"{stem}_info.txt").write_text("Information about the pockets:\n\n" + "\n".join(info))
    (out / f"{stem}_out.pdb").write_text("\n".join(pdb) + "\nEND\n")
    return out / f"{stem}_info.txt"


SPHERES = [np.array([[0.0, 0, 0], [2.0, 0, 0], [1.0, 3.0, -100.5]]), np.array([[-100.25, -200.5, 10.0], [-99.75, -199.5, 12.0]])]


@pytest.mark.parametrize("pqr", [True, False], ids=["vert.pqr", "out.pdb STP"])
def test_fpocket_centre_is_mean_alpha_sphere_in_info_order(tmp_path, pqr):
    info = fpocket_out(tmp_path, "1abc", SPHERES, pqr=pqr)
    expected = np.array([s.mean(axis=0) for s in SPHERES])
    np.testing.assert_allclose(read_fpocket(info), expected, atol=1e-3)
    np.testing.assert_allclose(alpha_sphere_centres(SPHERES), expected)  # the peers' definition
    predictions = Predictions(tmp_path)
    assert predictions.format == "fpocket"
    np.testing.assert_allclose(predictions.centres("x/1abc.pdb"), expected, atol=1e-3)


def test_fpocket_missing_sphere_file_is_an_error(tmp_path):
    info = fpocket_out(tmp_path, "1abc", SPHERES)
    (info.parent / "pockets" / "pocket2_vert.pqr").unlink()
    with pytest.raises(PockNetError, match="pocket2_vert.pqr: missing"):
        read_fpocket(info)


def test_pocketnet_json_by_rank(tmp_path):
    pockets = [{"rank": 2, "score": 1.0, "center": CENTRES[1].tolist()}, {"rank": 1, "score": 2.0, "center": CENTRES[0].tolist()}]
    path = tmp_path / "1abc_pockets.json"
    path.write_text(json.dumps({"source": "1abc.pdb", "n_atoms": 10, "pockets": pockets}))
    np.testing.assert_allclose(read_pocketnet(path), CENTRES[:2])
    predictions = Predictions(tmp_path)
    assert predictions.format == "pocketnet"
    np.testing.assert_allclose(predictions.centres("1abc.pdb"), CENTRES[:2])
    path.write_text(json.dumps({"pockets": [{"rank": 1}]}))
    with pytest.raises(PockNetError, match="1abc_pockets.json: not a pocketnet"):
        read_pocketnet(path)


def test_generic_csv_table(tmp_path):
    table = tmp_path / "mine.csv"
    table.write_text("name,rank,x,y,z\n1abc,2,-10.5,0.25,7\n1abc.pdb,1,9,9,9\n1abc,1,1,2,3\n2xyz.pdb,1,0,0,0\n")
    predictions = Predictions(table, "csv")
    np.testing.assert_allclose(predictions.centres("1abc.pdb"), [[9, 9, 9]])  # full file name first
    np.testing.assert_allclose(predictions.centres("dir/1abc.cif"), CENTRES[:2])  # by stem
    np.testing.assert_allclose(predictions.centres("2xyz.pdb"), [[0, 0, 0]])
    assert predictions.centres("3def.pdb") is None
    assert detect_format(table) == "csv"
    (tmp_path / "bad.csv").write_text("name,x,y\n")
    with pytest.raises(PockNetError, match="bad.csv: generic prediction table needs columns"):
        Predictions(tmp_path / "bad.csv", "csv")


def test_bad_format_empty_folder_and_missing_path(tmp_path):
    with pytest.raises(PockNetError, match="unknown predictions format 'prank'"):
        Predictions(tmp_path, "prank")
    with pytest.raises(PockNetError, match="no predictions found"):
        Predictions(tmp_path)
    with pytest.raises(PockNetError, match="no p2rank prediction files"):
        Predictions(tmp_path, "p2rank")
    with pytest.raises(PockNetError, match="no such predictions file or folder"):
        Predictions(tmp_path / "absent", "p2rank")


def test_name_candidates():
    assert name_candidates("/x/1abc.cif.gz") == ["1abc.cif.gz", "1abc.cif", "1abc"]
    assert name_candidates("1a82a.pdb") == ["1a82a.pdb", "1a82a"]
