"""Prediction outputs: P2Rank CSVs, points PDB, PyMOL/ChimeraX scripts, JSON."""

from __future__ import annotations

import ast
import dataclasses
import gzip
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

import gemmi
import numpy as np
import pandas as pd
import pytest

import pocknet.predict.writers.files as files_module
from pocknet.errors import ConfigError, PockNetError
from pocknet.featurize.features import FeaturizeConfig, ProteinFeatures, featurize_file
from pocknet.predict.prediction import Pocket, Prediction
from pocknet.predict import formats as format_names
from pocknet.predict.writers import FORMATS, WRITERS, parse_formats, write_outputs
from pocknet.predict.writers.base import point_pocket_ranks, residue_ids
from pocknet.predict.writers.chimerax import chimerax_spec
from pocknet.predict.writers.files import structure_file_name
from pocknet.predict.writers.json_summary import summary_rows
from pocknet.predict.writers.p2rank_csv import (
    csv_text,
    predictions_columns,
    predictions_table,
    residues_columns,
    residues_table,
)
from pocknet.predict.writers.points_pdb import _POINT_ATOM, hybrid36, points_pdb_text, read_points_pdb
from pocknet.predict.writers.pymol import pymol_selection

P2RANK_PREDICTIONS = (
    "name,rank,score,probability,sas_points,surf_atoms,center_x,center_y,center_z,residue_ids,surf_atom_ids"
)
P2RANK_RESIDUES = "chain,residue_label,residue_name,score,zscore,probability,pocket"
PML_COMMANDS = {"hide", "show", "color", "set_color", "select", "spectrum", "set", "orient"}
CXC_COMMANDS = {"open", "name", "color", "surface", "style", "size", "hide", "view"}
# The two-pocket prediction below: the scripts' exact line counts.
PML_LINES = 3 + 6 + 9 + 2 + 2 * 3 + 4  # comments, python block, set-up, colours, pockets, ending
CXC_LINES = 4 + 2 + 5 + 2 * 3 + 4  # comments, opens, set-up, pockets, ending


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
        "1a82a_structure.pdb",
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
    # probability: the prediction's (calibrated) residue probability, never printed as 0.000 or 1.000
    assert table["probability"].between(0.001, 0.999).all()
    expected = np.clip(prediction.residue_probability, 0.001, 0.999)
    assert np.allclose(table["probability"], expected, atol=0.0005)


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
    assert np.allclose(b, np.clip(prediction.probabilities, 0.01, 0.99), atol=0.0051)
    assert 0.01 - 1e-6 <= b.min() and b.max() <= 0.99 + 1e-6  # F6.2 never reads 0.00 or 1.00 (gemmi: float32)
    xyz = np.array([ra[1].pos.tolist() for ra in by_serial])
    assert np.allclose(xyz, prediction.features.points, atol=6e-4)
    assert sorted(set(ranks.tolist())) == [0, 1, 2]
    assert np.count_nonzero(ranks == 1) == len(prediction.pockets[0].point_indices)


def test_overlapping_points_go_to_better_rank(features: ProteinFeatures) -> None:
    shared = _near_point(features, 100, 10)
    pred = make_prediction(features, [shared, np.concatenate([shared[:3], _near_point(features, 2000, 5)])])
    ranks = point_pocket_ranks(pred)
    assert (ranks[shared] == 1).all()


def pml_python_block(text: str) -> tuple[list[str], list[tuple[str, str]]]:
    """The .pml's lines outside its ``python`` block, and the block's ``(file, object)`` loads.

    Asserts the block is exactly ``import os``, the folder of ``__script__`` and
    ``cmd.load(os.path.join(pocknet_dir, <str>), <str>)`` calls: no other code.
    """
    lines = text.splitlines()
    start, end = lines.index("python"), lines.index("python end")
    block = lines[start + 1 : end]
    assert block[:2] == ["import os", "pocknet_dir = os.path.dirname(os.path.abspath(__script__))"]
    loads = []
    for line in block[2:]:
        call = ast.parse(line, mode="eval").body
        assert isinstance(call, ast.Call) and ast.unparse(call.func) == "cmd.load" and not call.keywords
        path, obj = call.args
        assert isinstance(path, ast.Call) and ast.unparse(path.func) == "os.path.join"
        assert ast.unparse(path.args[0]) == "pocknet_dir" and len(path.args) == 2
        loads.append((ast.literal_eval(path.args[1]), ast.literal_eval(obj)))
    assert [line for line in lines if line.startswith("python")] == ["python", "python end"]
    return lines[:start] + lines[end + 1 :], loads


def check_pml(text: str, out: Path) -> list[tuple[str, str]]:
    """Every line a comment, the python block or an allowed command; the loaded files exist in ``out``."""
    outside, loads = pml_python_block(text)
    for line in outside:
        assert line.startswith("#") or line.split()[0] in PML_COMMANDS, line
        # PyMOL splits any line at ';', comments included, and joins one ending in '\\' to the next
        assert ";" not in line and not line.endswith("\\"), line
        assert line.startswith("#") or "__script__" not in line
        assert line.strip() not in {"python", "python end"}  # the block's markers appear once each
    assert ";" not in text
    for file, obj in loads:
        assert (out / file).is_file() and "/" not in file and os.sep not in file
        assert re.fullmatch(r"[A-Za-z0-9_]+", obj)
    return loads


def check_cxc(text: str, out: Path) -> list[str]:
    """Every line a comment or an allowed command; ``open`` only names quoted files that exist in ``out``."""
    opened = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue  # ChimeraX skips the rest of a line that starts with '#', ';' included
        assert line.split()[0] in CXC_COMMANDS, line
        if line.startswith("open "):
            # ChimeraX's cli.py: a "…" token ends at a '"' followed by a blank or the line end,
            # and ';' inside it does not end the command.
            match = re.fullmatch(r'open "([^"]+)"', line)
            assert match, line
            opened.append(match.group(1))
        else:
            assert ";" not in line and '"' not in line and "'" not in line, line
    for file in opened:
        assert (out / file).is_file() and "/" not in file and os.sep not in file
    return opened


def test_pml_script(written, features: ProteinFeatures) -> None:
    out, _ = written
    text = (out / "1a82a.pml").read_text()
    assert len(text.splitlines()) == PML_LINES
    assert check_pml(text, out) == [("1a82a_structure.pdb", "1a82a"), ("1a82a_points.pdb", "1a82a_points")]
    assert str(out) not in text and str(Path(features.source).parent) not in text  # no absolute path
    assert re.search(
        r"^select pocket1, 1a82a and polymer and \(\(chain A and resi [0-9+]+\)\)", text, re.MULTILINE
    )
    assert re.search(r"^select pocket2, ", text, re.MULTILINE)
    assert "color pocknet_royalblue, 1a82a_points and resi 1" in text
    assert "spectrum b" in text


def test_cxc_script(written, prediction: Prediction, features: ProteinFeatures) -> None:
    out, _ = written
    text = (out / "1a82a.cxc").read_text()
    assert len(text.splitlines()) == CXC_LINES
    assert check_cxc(text, out) == ["1a82a_structure.pdb", "1a82a_points.pdb"]
    assert str(out) not in text and str(Path(features.source).parent) not in text
    labels = [
        i.split("_")[1] for i in residue_ids(features)[np.unique(prediction.pockets[0].residue_indices)]
    ]
    assert f"name pocket1 #1/A:{','.join(labels)}" in text
    assert "name pocket2 #1/A:" in text
    assert "color #2:1 royalblue" in text
    assert "surface #1" in text and text.rstrip().endswith("view")


def test_structure_copy_is_the_source(written, features: ProteinFeatures) -> None:
    out, _ = written
    copy = out / "1a82a_structure.pdb"
    assert copy.read_bytes() == Path(features.source).read_bytes()
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == features.source_sha256
    atoms = sum(len(res) for ch in gemmi.read_structure(str(copy))[0] for res in ch)
    assert atoms == sum(len(res) for ch in gemmi.read_structure(features.source)[0] for res in ch)


def test_json_summary(written, prediction: Prediction) -> None:
    out, _ = written

    def no_nan(token: str):
        raise AssertionError(f"non-standard JSON constant {token}")

    text = (out / "1a82a.json").read_text()
    data = json.loads(text, parse_constant=no_nan)
    assert data["name"] == "1a82a"
    assert data["model_name"] == "test-model"
    assert data["threshold"] == 0.5 and data["seconds"] == 1.25
    assert data["source"] == "1a82a.pdb"  # the file's name, no folder of this machine
    assert data["source_sha256"] == prediction.features.source_sha256
    assert data["structure_file"] == "1a82a_structure.pdb" and (out / data["structure_file"]).is_file()
    assert str(Path(prediction.features.source).parent) not in text and str(out) not in text
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
    assert json.loads((tmp_path / "1a82a.json").read_text())["structure_file"] is None  # no scripts, no copy
    paths = write_outputs(prediction, tmp_path / "b", "csv, PML")
    assert [p.name for p in paths] == [
        "1a82a_predictions.csv", "1a82a_residues.csv", "1a82a_structure.pdb", "1a82a.pml"
    ]  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == sorted(p.name for p in paths)
    paths = write_outputs(prediction, tmp_path / "c", "cxc")
    assert [p.name for p in paths] == ["1a82a_structure.pdb", "1a82a.cxc"]
    paths = write_outputs(prediction, tmp_path / "d", ("html", "json", "pml"))
    assert [p.name for p in paths] == ["1a82a_structure.pdb", "1a82a.pml", "1a82a.html", "1a82a.json"]  # json last


def test_structure_file_name_keeps_the_source_format() -> None:
    assert structure_file_name("x.cif", "/data/x.cif.gz") == "x.cif_structure.cif"
    assert structure_file_name("x", "a/B.MMCIF") == "x_structure.cif"
    assert structure_file_name("x", "a/b.ent.gz") == "x_structure.pdb"
    assert structure_file_name("1fbl.cif") == "1fbl.cif_structure.cif"


def test_json_is_written_last_and_structure_before_scripts(
    prediction: Prediction, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    order: list[str] = []
    real = files_module.atomic_write

    @contextmanager
    def recording(target, *args, **kwargs):
        with real(target, *args, **kwargs) as handle:
            yield handle
        order.append(Path(target).name)  # published

    monkeypatch.setattr(files_module, "atomic_write", recording)
    paths = write_outputs(prediction, tmp_path)
    assert order == [p.name for p in paths]
    assert order[-1] == "1a82a.json"
    assert order.index("1a82a_structure.pdb") < order.index("1a82a.pml") < order.index("1a82a.cxc")


def test_gzipped_mmcif_is_copied_decompressed(p2rank_test: Path, tmp_path: Path) -> None:
    source = p2rank_test / "2W83.cif.gz"
    feats = featurize_file(source, FeaturizeConfig())
    pred = make_prediction(feats, [_near_point(feats, 100, 30)], name="2W83.cif")
    paths = write_outputs(pred, tmp_path, "pdb,pml,cxc,json")
    assert [p.name for p in paths] == [
        "2W83.cif_points.pdb", "2W83.cif_structure.cif", "2W83.cif.pml", "2W83.cif.cxc", "2W83.cif.json"
    ]  # fmt: skip
    copy = tmp_path / "2W83.cif_structure.cif"
    assert copy.read_bytes() == gzip.decompress(source.read_bytes())
    assert len(gemmi.read_structure(str(copy))[0]) == len(gemmi.read_structure(str(source))[0])
    assert check_pml((tmp_path / "2W83.cif.pml").read_text(), tmp_path)[0] == ("2W83.cif_structure.cif", "2W83_cif")
    assert check_cxc((tmp_path / "2W83.cif.cxc").read_text(), tmp_path)[0] == "2W83.cif_structure.cif"
    summary = json.loads((tmp_path / "2W83.cif.json").read_text())
    assert (summary["source"], summary["structure_file"]) == ("2W83.cif.gz", "2W83.cif_structure.cif")


def test_unreadable_or_changed_source_raises_and_writes_nothing(
    prediction: Prediction, features: ProteinFeatures, tmp_path: Path
) -> None:
    gone = dataclasses.replace(prediction, features=dataclasses.replace(features, source=str(tmp_path / "gone.pdb")))
    with pytest.raises(PockNetError, match="gone.pdb: cannot read"):
        write_outputs(gone, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in write_outputs(gone, tmp_path / "csv", "csv,pdb,json")] == [
        "1a82a_predictions.csv", "1a82a_residues.csv", "1a82a_points.pdb", "1a82a.json"
    ]  # fmt: skip: without scripts nothing is copied, so nothing needs the source
    edited = tmp_path / "1a82a.pdb"
    edited.write_bytes(Path(features.source).read_bytes() + b"REMARK edited\n")
    changed = dataclasses.replace(prediction, features=dataclasses.replace(features, source=str(edited)))
    with pytest.raises(PockNetError, match="changed since it was featurised"):
        write_outputs(changed, tmp_path / "out", "pml")
    assert not (tmp_path / "out").exists()


def test_folder_is_movable(prediction: Prediction, tmp_path: Path) -> None:
    write_outputs(prediction, tmp_path / "first" / "out")
    moved = tmp_path / "elsewhere" / "renamed"
    moved.parent.mkdir()
    shutil.move(tmp_path / "first" / "out", moved)
    for file, _ in check_pml((moved / "1a82a.pml").read_text(), moved):
        assert gemmi.read_structure(str(moved / file))[0].count_atom_sites() > 0
    for file in check_cxc((moved / "1a82a.cxc").read_text(), moved):
        assert gemmi.read_structure(str(moved / file))[0].count_atom_sites() > 0


# Hostile structure names: a file name is user input, and the scripts are code.
LINE_BREAKING_NAMES = [
    "y\nsystem touch X\n#.pdb",  # a new line would be a PyMOL/ChimeraX command
    "y\rsystem touch X.pdb",
    "a\tb.pdb",
    "a\u2028system touch X.pdb",  # Unicode line and paragraph separators, NEL
    "a\u2029b.pdb",
    "a\x85b.pdb",
    "a\x00b.pdb",
    "a\x1bb.pdb",
    "a\x7fb.pdb",
]
SCRIPT_UNSAFE_NAMES = [
    "a;system rm -rf x.pdb",  # PyMOL splits even a .pml's own file name at ';'
    "1a82a.pml;system touch X;#.pdb",
    "a$HOME.pdb",
    'a"b.pdb',
    'a" ;open evil.py".pdb',
]
SAFE_ODD_NAMES = [
    "my protein (1).pdb",
    "it's [x] #2.pdb",
    "ünïcødé-ü.pdb",
    "a'b",
    "-x,y=%s{}`id`&|<>*?.pdb",
    "system touch X.pdb",
    "python end",
]


def _renamed(prediction: Prediction, name: str) -> Prediction:
    return dataclasses.replace(prediction, name=name)


@pytest.mark.parametrize("name", LINE_BREAKING_NAMES + ["a\\b.pdb", "a/b.pdb", "..", ""])
@pytest.mark.parametrize("formats", ["all", "csv", "json"])
def test_names_with_control_characters_are_refused(prediction, tmp_path, name, formats) -> None:
    with pytest.raises(PockNetError) as error:
        write_outputs(_renamed(prediction, name), tmp_path / "out", formats)
    message = str(error.value)
    assert message.startswith(prediction.features.source) and repr(name) in message
    assert not _breaks(message)  # one line, as the CLI prints it
    assert not (tmp_path / "out").exists()


def _breaks(text: str) -> bool:
    return len(text.splitlines()) > 1 or any(c in text for c in "\r\n\x85\u2028\u2029")


@pytest.mark.parametrize("name", SCRIPT_UNSAFE_NAMES)
def test_names_scripts_cannot_name_are_refused_only_with_scripts(prediction, tmp_path, name) -> None:
    for formats in ("pml", "cxc", "all"):
        with pytest.raises(PockNetError, match="rename the file or leave out the pml and cxc formats"):
            write_outputs(_renamed(prediction, name), tmp_path / "out", formats)
        assert not (tmp_path / "out").exists()
    paths = write_outputs(_renamed(prediction, name), tmp_path / "data", "csv,pdb,json")
    assert [p.name for p in paths] == [
        f"{name}_predictions.csv", f"{name}_residues.csv", f"{name}_points.pdb", f"{name}.json"
    ]  # fmt: skip
    assert json.loads(paths[-1].read_text())["name"] == name


@pytest.mark.parametrize("name", SAFE_ODD_NAMES)
def test_odd_names_stay_inside_string_literals_and_quotes(prediction, tmp_path, name) -> None:
    pred = _renamed(prediction, name)
    paths = write_outputs(pred, tmp_path)
    pml = (tmp_path / f"{name}.pml").read_text()
    cxc = (tmp_path / f"{name}.cxc").read_text()
    assert len(pml.splitlines()) == PML_LINES and len(cxc.splitlines()) == CXC_LINES
    loads = check_pml(pml, tmp_path)
    assert [file for file, _ in loads] == [f"{name}_structure.pdb", f"{name}_points.pdb"]
    assert check_cxc(cxc, tmp_path) == [f"{name}_structure.pdb", f"{name}_points.pdb"]
    # outside comments, the name appears only inside the python block's literals and the open "…" tokens
    commands = [line for line in pml.splitlines() + cxc.splitlines() if not line.startswith("#")]
    assert not any(line.startswith(("system", "open evil")) for line in commands)
    for line in commands:
        if name in line and line not in {"python", "python end"}:
            assert line.startswith(("cmd.load(", "open ")), line
    assert {p.name for p in paths} <= {p.name for p in tmp_path.iterdir()}


def test_comments_are_sanitised(prediction: Prediction, tmp_path: Path) -> None:
    hostile = "m\nsystem touch X;system rm -rf y\u2028open evil.py\x1b[31m\u202e\\"
    pred = dataclasses.replace(prediction, model_name=hostile)
    write_outputs(pred, tmp_path, "pdb,pml,cxc")
    pml, cxc = (tmp_path / "1a82a.pml").read_text(), (tmp_path / "1a82a.cxc").read_text()
    assert len(pml.splitlines()) == PML_LINES and len(cxc.splitlines()) == CXC_LINES
    check_pml(pml, tmp_path)
    check_cxc(cxc, tmp_path)
    first = pml.splitlines()[0]
    assert first == "# PockNet pockets of 1a82a (model m_system touch X_system rm -rf y_open evil.py_[31m__), PyMOL script."
    assert not any(line.startswith(("system", "open evil")) for line in pml.splitlines() + cxc.splitlines())


def test_hostile_source_path_reaches_no_script(prediction: Prediction, features: ProteinFeatures, tmp_path) -> None:
    folder = tmp_path / "d\nsystem touch X;#"
    folder.mkdir()
    source = folder / "s;system rm -rf y'\".pdb"
    shutil.copy(features.source, source)
    pred = dataclasses.replace(prediction, features=dataclasses.replace(features, source=str(source)))
    write_outputs(pred, tmp_path / "out")
    out = tmp_path / "out"
    for script in ("1a82a.pml", "1a82a.cxc"):
        text = (out / script).read_text()
        assert "system" not in text and "rm -rf" not in text
    assert len((out / "1a82a.pml").read_text().splitlines()) == PML_LINES
    assert (out / "1a82a_structure.pdb").read_bytes() == source.read_bytes()
    assert json.loads((out / "1a82a.json").read_text())["source"] == source.name


def test_chain_ids_scripts_cannot_name_are_left_out(prediction: Prediction, features: ProteinFeatures, tmp_path) -> None:
    chains = features.residue_chain.copy().astype(object)
    hostile = np.unique(prediction.pockets[0].residue_indices)[:3]
    chains[hostile] = "A;open evil.py"
    feats = dataclasses.replace(features, residue_chain=np.asarray(chains, dtype=str))
    write_outputs(dataclasses.replace(prediction, features=feats), tmp_path, "pdb,pml,cxc")
    pml, cxc = (tmp_path / "1a82a.pml").read_text(), (tmp_path / "1a82a.cxc").read_text()
    note = "# pocket1: 3 residue(s) left out, with a chain id or label no script can name"
    assert note in pml.splitlines() and note in cxc.splitlines()
    assert len(pml.splitlines()) == PML_LINES + 1 and len(cxc.splitlines()) == CXC_LINES + 1
    check_pml(pml, tmp_path)
    check_cxc(cxc, tmp_path)
    assert "evil" not in pml and "evil" not in cxc
    with pytest.raises(ValueError, match="chain id"):
        chimerax_spec([("A;open evil.py", ["12"])])
    with pytest.raises(ValueError, match="chain id"):
        pymol_selection([("A B", ["12"])], "x")
    with pytest.raises(ValueError, match="residue label"):
        chimerax_spec([("A", ["12;"])])
    with pytest.raises(ValueError, match="object name"):
        pymol_selection([("A", ["12"])], "x;y")


def _pymol_command() -> list[str] | None:
    """How to run PyMOL here: $POCKNET_TEST_PYMOL (e.g. "python3 -m pymol") or ``pymol`` on the PATH."""
    if os.environ.get("POCKNET_TEST_PYMOL"):
        return shlex.split(os.environ["POCKNET_TEST_PYMOL"])
    found = shutil.which("pymol")
    return [found] if found else None


@pytest.mark.skipif(_pymol_command() is None, reason="no PyMOL: set POCKNET_TEST_PYMOL or put pymol on the PATH")
@pytest.mark.parametrize("name", ["1a82a", "it's (1) #x.pdb"])
def test_pymol_runs_the_script_from_anywhere_after_a_move(prediction: Prediction, tmp_path, name) -> None:
    write_outputs(_renamed(prediction, name), tmp_path / "made")
    shutil.move(tmp_path / "made", tmp_path / "moved")
    obj = re.sub(r"[^A-Za-z0-9_]", "_", name)
    report = f'print("COUNTS", cmd.count_atoms("{obj}"), cmd.count_atoms("{obj}_points"), cmd.count_atoms("pocket1"))'
    expected_atoms = gemmi.read_structure(prediction.features.source)[0].count_atom_sites()
    for cwd, script in [(tmp_path, f"moved/{name}.pml"), ("/", str(tmp_path / "moved" / f"{name}.pml"))]:
        run = subprocess.run([*_pymol_command(), "-cq", script, "-d", report], cwd=cwd, capture_output=True,
                             text=True, timeout=300, check=False)  # fmt: skip
        counts = [line.split()[1:] for line in run.stdout.splitlines() if line.startswith("COUNTS")]
        assert counts, run.stdout + run.stderr
        structure, points, pocket = map(int, counts[-1])
        assert structure == expected_atoms and points == prediction.features.n_points and pocket > 0


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


def test_points_pdb_reads_back_in_file_order(tmp_path: Path) -> None:
    """gemmi files interleaved runs of one residue number together; rows still come back as written."""
    points = np.arange(18, dtype=np.float64).reshape(6, 3)
    ranks = np.array([0, 2, 0, 2, 1, 0])
    path = tmp_path / "p.pdb"
    path.write_text(points_pdb_text(points, np.linspace(0.1, 0.6, 6), ranks))
    back = read_points_pdb(path)
    assert back["pocket_rank"].tolist() == ranks.tolist()
    np.testing.assert_allclose(back[["x", "y", "z"]].to_numpy(), points)


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
        "model_name": prediction.model_name,
        "structure_kind": None,  # not read from a file
    }


def test_points_pdb_b_factor_never_reads_certain() -> None:
    """A probability is never 0 or 1: the two-decimal B-factor is clipped to 0.01..0.99."""
    points = np.zeros((5, 3)) + np.arange(5)[:, None]
    text = points_pdb_text(points, np.array([0.0, 0.004, 0.5, 0.996, 1.0]), np.zeros(5, int))
    b = [line[60:66] for line in text.splitlines() if line.startswith("HETATM")]
    assert b == ["  0.01", "  0.01", "  0.50", "  0.99", "  0.99"]


def test_format_names_are_the_writers() -> None:
    """The CLI parses --formats with pocknet.predict.formats, which must name every writer, in order."""
    assert tuple(WRITERS) == format_names.FORMATS == FORMATS
    assert set(format_names.DEFAULT_FORMATS) == set(FORMATS) - {"html"}


def test_csv_text_is_what_pandas_to_csv_wrote(prediction: Prediction) -> None:
    """The writer's CSV (no pandas) is byte for byte ``DataFrame.to_csv``'s, odd values included."""
    empty = dataclasses.replace(prediction, pockets=())
    for pred in (prediction, empty):
        for columns in (predictions_columns(pred), residues_columns(pred)):
            assert csv_text(columns) == pd.DataFrame(columns).to_csv(index=False, lineterminator="\n")
    odd = {
        "text": np.array(["a,b", 'say "hi"', "two\nlines", "", " pad ", "x"], dtype=object),
        "int": np.array([0, -1, 2**40, 7, 3, 12], dtype=np.int64),
        "float": np.array([np.nan, -0.0, 1e-5, 123456789.123, 1e17, 0.1 + 0.2]),
        "rounded": np.round(np.array([0.12345, -2.5, 3.0, np.nan, 1e-4, 99.99999]), 4),
    }
    assert csv_text(odd) == pd.DataFrame(odd).to_csv(index=False, lineterminator="\n")
    assert predictions_table(prediction)["name"].tolist() == [f"pocket{p.rank}" for p in prediction.pockets]


def test_points_pdb_fast_records_match_the_per_line_format() -> None:
    """Decimal serials and ranks are written in one formatting call: the same text as line by line."""
    rng = np.random.default_rng(3)
    points = rng.uniform(-999, 9999, (500, 3))
    for decimals in range(5):  # values that round at, just below and just above the third decimal
        points[decimals::6] = np.round(points[decimals::6], decimals + 1)
    points[:3] = [[-0.0, 0.0005, -0.0005], [1e-9, 999.9995, -999.999], [0.1234999, 2.0, 3.0]]
    probs = rng.uniform(-0.1, 1.1, 500)
    probs[::7] = np.nan
    ranks = rng.integers(0, 10_000, 500)
    lines = [line for line in points_pdb_text(points, probs, ranks).splitlines() if line.startswith("HETATM")]
    clipped = np.clip(np.nan_to_num(probs, nan=0.0), 0.01, 0.99)
    for i, line in enumerate(lines):
        x, y, z = points[i]
        assert line == (
            f"HETATM{hybrid36(i + 1, 5)} {_POINT_ATOM} STP  {hybrid36(int(ranks[i]), 4)}    "
            f"{x:8.3f}{y:8.3f}{z:8.3f}{1.0:6.2f}{clipped[i]:6.2f}           C  "
        )
