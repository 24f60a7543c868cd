"""Predicted structures (AlphaFold, ESMFold): detection, --structure-kind, the bfactor-free model.

The synthetic predicted files are a real p2rank-test chain (1a82a) with the header an AlphaFold
DB PDB file carries, as ModelCIF, headerless (ESMFold's usual output, with and without its
``PARENT N/A`` line) and with pLDDT-like values in the B-factor column. The bfactor-free model
is trained here, on the tiny H5 set of :mod:`training_fixtures`, with
``training.exclude_features: [bfactor.bfactor]``: the code path the shipped second model takes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import gemmi
import numpy as np
import pytest
import torch
from training_fixtures import PROTEINS, tiny_training_params, write_h5

from pocknet.errors import ConfigError, PockNetError
from pocknet.featurize.descriptor_columns import BFACTOR_COLUMN, DESCRIPTOR_NAMES
from pocknet.featurize.features import FeaturizeConfig, featurize_file
from pocknet.model.files import load_model, save_model
from pocknet.predict.bundled import PREDICTED_MODEL_ENV, predicted_model_path
from pocknet.predict.predictor import Predictor, default_model_path
from pocknet.predict.writers.json_summary import json_summary
from pocknet.structure.kind import HeaderFacts, detect_kind, resolve_kind
from pocknet.structure.reader import load_structure
from pocknet.train.config import TrainingConfig
from pocknet.train.model_card import render_model_card, ship
from pocknet.train.training import export_model, fit, validation_report
from pocknet.trainset.arrays import PointDataset, load_split
from pocknet.trainset.h5reader import H5Reader

EXE = str(Path(sys.executable).with_name("pocknet"))
NO_BFACTOR = [name for name in DESCRIPTOR_NAMES if name != BFACTOR_COLUMN]

# An AlphaFold DB PDB file's header (model AF-P13000-F1, v2), as the database writes it.
AF_HEADER = """\
HEADER                                            01-JUL-21                     
TITLE     ALPHAFOLD MONOMER V2.0 PREDICTION FOR DETHIOBIOTIN SYNTHETASE         
TITLE    2 (P13000)                                                             
COMPND    MOL_ID: 1;                                                            
COMPND   2 MOLECULE: DETHIOBIOTIN SYNTHETASE;                                   
COMPND   3 CHAIN: A                                                             
SOURCE    MOL_ID: 1;                                                            
SOURCE   2 ORGANISM_SCIENTIFIC: ESCHERICHIA COLI;                               
REMARK   1                                                                      
REMARK   1 REFERENCE 1                                                          
REMARK   1  AUTH   JOHN JUMPER, RICHARD EVANS, ALEXANDER PRITZEL, TIM GREEN,    
REMARK   1  TITL   HIGHLY ACCURATE PROTEIN STRUCTURE PREDICTION WITH ALPHAFOLD  
REMARK   1  REF    NATURE                        V. 596   583 2021              
REMARK   1  DOI    10.1038/S41586-021-03819-2                                   
"""


def _protein_only(pdb: Path) -> str:
    """The ATOM records (a predicted model has no ligands), then END."""
    return (
        "".join(
            line for line in pdb.read_text().splitlines(keepends=True) if line.startswith(("ATOM", "TER"))
        )
        + "END\n"
    )


def _with_plddt(text: str) -> str:
    """B-factor column (61-66) → a pLDDT-like value per residue, 30-98 (high = confident, unlike B)."""
    out = []
    for line in text.splitlines(keepends=True):
        if line.startswith("ATOM"):
            plddt = 30.0 + (int(line[22:26]) * 37) % 69
            line = f"{line[:60]}{plddt:6.2f}{line[66:]}"
        out.append(line)
    return "".join(out)


@pytest.fixture(scope="module")
def files(tmp_path_factory, p2rank_test) -> dict[str, Path]:
    """Synthetic predicted and experimental files built from 1a82a."""
    d = tmp_path_factory.mktemp("kinds")
    source = p2rank_test / "liganated" / "1a82a.pdb"
    atoms = _with_plddt(_protein_only(source))
    paths = {
        "alphafold": AF_HEADER + atoms,
        "esmfold": atoms,  # no header at all
        "esmfold_parent": "PARENT N/A\n" + atoms,
        # a crystal structure phased with an AlphaFold model names AlphaFold in its remarks
        "xray_af_search_model": "EXPDTA    X-RAY DIFFRACTION\nREMARK 200 STARTING MODEL: ALPHAFOLD MODEL\n"
        + source.read_text(),
    }
    out = {}
    for name, text in paths.items():
        out[name] = d / f"{name}.pdb"
        out[name].write_text(text)
    st = gemmi.read_structure(str(out["esmfold"]))
    st.setup_entities()
    doc = st.make_mmcif_document()
    doc[0].set_pair("_software.name", "AlphaFold")
    doc[0].set_pair("_ma_qa_metric.name", "pLDDT")
    doc.write_file(str(d / "alphafold.cif"))
    out["alphafold_cif"] = d / "alphafold.cif"
    doc = st.make_mmcif_document()
    doc[0].set_pair("_ma_data.content_type", gemmi.cif.quote("model coordinates"))  # ModelCIF, no tool named
    doc.write_file(str(d / "modelcif.cif"))
    out["modelcif"] = d / "modelcif.cif"
    out["experimental"] = source
    out["experimental_cif"] = p2rank_test / "1fbl.cif"
    return out


# --------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    "facts, kind, evidence",
    [
        (HeaderFacts(texts=(("TITLE", "ALPHAFOLD MONOMER V2.0 PREDICTION FOR X"),)), "predicted", "TITLE: ALPHAFOLD"),
        (HeaderFacts(texts=(("_software.name", "ColabFold"),)), "predicted", "_software.name: ColabFold"),
        (HeaderFacts(texts=(("REMARK", "REMARK 250 ESMFOLD V1"),)), "predicted", "ESMFOLD"),
        (HeaderFacts(modelcif=("_ma_data", "_ma_model_list")), "predicted", "ModelCIF categories _ma_data"),
        (HeaderFacts(method="THEORETICAL MODEL"), "predicted", "THEORETICAL MODEL"),
        (HeaderFacts(parent_record=True), "predicted", "PARENT record"),
        (HeaderFacts(method="X-RAY DIFFRACTION", texts=(("REMARK", "STARTING MODEL: ALPHAFOLD"),)), "experimental", ""),
        (HeaderFacts(method="SOLUTION NMR", parent_record=True), "experimental", ""),
        (HeaderFacts(texts=(("TITLE", "CRYSTAL STRUCTURE OF ADENYLATE KINASE"),)), "experimental", ""),
        (HeaderFacts(), "experimental", ""),
    ],
    ids=["af-title", "colabfold-software", "esmfold-remark", "modelcif", "theoretical", "parent", "xray-af-remark",
         "nmr", "plain-title", "no-header"],
)  # fmt: skip
def test_header_rules(facts, kind, evidence):
    found, why = detect_kind(facts)
    assert found == kind and evidence in why and bool(why) == (kind == "predicted")


@pytest.mark.parametrize(
    "name, kind, evidence",
    [
        (
            "alphafold",
            "predicted",
            "TITLE: ALPHAFOLD MONOMER V2.0 PREDICTION FOR DETHIOBIOTIN SYNTHETASE (P13000)",
        ),
        ("alphafold_cif", "predicted", "_software.name: AlphaFold"),
        ("modelcif", "predicted", "ModelCIF categories _ma_data"),
        ("esmfold_parent", "predicted", "PARENT record, as OpenFold and ESMFold write"),
        ("esmfold", "experimental", None),
        ("xray_af_search_model", "experimental", None),
        ("experimental", "experimental", None),
        ("experimental_cif", "experimental", None),
    ],
)
def test_reader_records_kind_and_evidence(files, name, kind, evidence):
    structure = load_structure(files[name])
    assert structure.kind == kind
    kind_notes = [n for n in structure.notes if "predicted" in n]
    if evidence is None:
        assert kind_notes == []
    else:
        assert kind_notes == [f"predicted structure ({evidence})"]


def test_structure_kind_option_overrides_the_header(files):
    forced = load_structure(files["esmfold"], kind="predicted")  # ESMFold output without a header
    assert forced.kind == "predicted" and "predicted structure (--structure-kind predicted)" in forced.notes
    against = load_structure(files["alphafold"], kind="experimental")
    assert against.kind == "experimental"
    assert any(n.startswith("read as experimental (--structure-kind experimental), though the file looks predicted (TITLE")
               for n in against.notes)  # fmt: skip
    assert (
        load_structure(files["experimental"], kind="experimental").notes
        == load_structure(files["experimental"]).notes
    )
    same = load_structure(files["alphafold"], kind="predicted")
    np.testing.assert_array_equal(same.atoms.coords, load_structure(files["alphafold"]).atoms.coords)
    with pytest.raises(ConfigError, match="structure kind must be one of auto, experimental, predicted"):
        resolve_kind("alphafold", "experimental", "")


# --------------------------------------------------------------------------- training without a descriptor


def test_exclude_features_is_checked():
    assert (
        TrainingConfig().exclude_features
        == ()
        == TrainingConfig.from_params({"exclude_features": []}).exclude_features
    )
    config = TrainingConfig.from_params({"exclude_features": [BFACTOR_COLUMN]})
    assert list(config.feature_names(DESCRIPTOR_NAMES)) == NO_BFACTOR
    assert (
        TrainingConfig().feature_names(DESCRIPTOR_NAMES) is DESCRIPTOR_NAMES
    )  # nothing excluded: the same object
    with pytest.raises(
        ConfigError,
        match=r"'bfactor' is not one of the 35 descriptor names; did you mean 'bfactor.bfactor'\?",
    ):
        TrainingConfig.from_params({"exclude_features": ["bfactor"]})
    with pytest.raises(ConfigError, match="must be a list of descriptor names"):
        TrainingConfig.from_params({"exclude_features": BFACTOR_COLUMN})
    with pytest.raises(ConfigError, match="lists a name twice"):
        TrainingConfig.from_params({"exclude_features": [BFACTOR_COLUMN, BFACTOR_COLUMN]})
    with pytest.raises(ConfigError, match="excludes every descriptor"):
        TrainingConfig.from_params({"exclude_features": list(DESCRIPTOR_NAMES)})
    with pytest.raises(ConfigError, match="not a column of the training set"):
        config.feature_names(NO_BFACTOR)


@pytest.fixture(scope="module")
def h5(tmp_path_factory, p2rank_test) -> Path:
    return write_h5(tmp_path_factory.mktemp("h5") / "set.h5", p2rank_test)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, h5):
    """A tiny model trained without bfactor.bfactor: (module, data, bundle, saved file)."""
    tmp = tmp_path_factory.mktemp("no_bfactor")
    params = tiny_training_params(tmp, max_epochs=1, exclude_features=[BFACTOR_COLUMN])
    module, _, data = fit(h5, TrainingConfig.from_params(params))
    report = validation_report(module.model, data, "iou")
    with H5Reader(h5) as reader:
        bundle = export_model(module, reader, report, {"training": params}, {"stage": "test"})
    path = tmp / "tiny_predicted.pt"
    save_model(bundle, path)
    return module, data, bundle, path


def test_excluded_model_records_its_columns(trained):
    module, data, bundle, path = trained
    assert bundle.feature_names == NO_BFACTOR
    assert bundle.model_config["n_features"] == 34 and module.model.config.n_features == 34
    assert data.train_arrays.tabular.shape[1] == 34
    assert len(module.model.feature_mean) == 34  # normalisation statistics of the kept columns only
    net, loaded = load_model(path, feature_names=DESCRIPTOR_NAMES)  # an ordered subset loads
    assert loaded.feature_names == NO_BFACTOR and net.config.n_features == 34


def test_training_and_prediction_feed_the_same_columns(trained, p2rank_test, h5):
    """Same logits on the same points: the H5 batch path (training) and Predictor (pocknet predict)."""
    module, _, bundle, path = trained
    with H5Reader(h5) as reader:
        rows = load_split(reader, "val", feature_names=bundle.feature_names)
        assert rows.tabular.shape[1] == 34
        module.model.eval()
        with torch.no_grad():
            h5_logits = module.model(PointDataset(rows, None).__getitems__(range(len(rows)))).numpy()
    val_file = p2rank_test / next(rel for rel, split in PROTEINS.items() if split == "val")
    features = featurize_file(val_file, FeaturizeConfig())
    for predictor in (Predictor(bundle=bundle), Predictor(path)):
        logits, _ = predictor.logits_and_scores(features)
        np.testing.assert_allclose(logits, h5_logits, atol=1e-5)


def test_excluded_model_ignores_the_b_factor_column(trained, p2rank_test, tmp_path):
    """pLDDT in place of B changes the default model's scores, never the bfactor-free model's."""
    source = p2rank_test / "liganated" / "1t7qa.pdb"
    plddt = tmp_path / "1t7qa_plddt.pdb"
    plddt.write_text(_with_plddt(source.read_text()))
    a, b = (featurize_file(p, FeaturizeConfig()) for p in (source, plddt))
    column = DESCRIPTOR_NAMES.index(BFACTOR_COLUMN)
    assert not np.array_equal(a.descriptors[:, column], b.descriptors[:, column])
    np.testing.assert_array_equal(np.delete(a.descriptors, column, 1), np.delete(b.descriptors, column, 1))
    free = Predictor(trained[3])
    np.testing.assert_array_equal(free.logits_and_scores(a)[0], free.logits_and_scores(b)[0])
    default = Predictor(predicted_model=None)
    assert not np.array_equal(default.logits_and_scores(a)[0], default.logits_and_scores(b)[0])


def test_other_feature_sets_are_still_refused(trained, tmp_path):
    bundle = trained[2]
    for i, names in enumerate([NO_BFACTOR[::-1], [*NO_BFACTOR[:-1], "bfactor.mean"], []]):
        path = tmp_path / f"foreign{i}.pt"
        save_model(bundle.replace(feature_names=names), path)
        with pytest.raises(PockNetError) as error:
            load_model(path, feature_names=DESCRIPTOR_NAMES)
        assert (
            str(error.value)
            == f"{path}: model was trained on a different feature set than this PockNet computes"
        )


# --------------------------------------------------------------------------- which model scores what


def test_predicted_structures_get_the_bfactor_free_model(trained, files):
    path = trained[3]
    predictor = Predictor(predicted_model=path)
    experimental = predictor.predict_file(files["experimental"])
    assert experimental.model_name == "pocknet_default" and experimental.structure_kind == "experimental"
    assert predictor._predicted is None  # loaded lazily: no predicted structure yet
    assert experimental.notes == Predictor(predicted_model=None).predict_file(files["experimental"]).notes
    for name, kind in [("alphafold", "auto"), ("alphafold_cif", "auto"), ("esmfold", "predicted")]:
        prediction = predictor.predict_file(files[name], structure_kind=kind)
        assert prediction.model_name == "tiny_predicted" and prediction.structure_kind == "predicted", name
        assert "scored by model tiny_predicted, trained without bfactor.bfactor" in prediction.notes
        summary = json_summary(prediction)
        assert list(summary)[-1] == "structure_kind" and summary["structure_kind"] == "predicted"
        assert summary["model_name"] == "tiny_predicted"
    assert predictor._predicted is not None
    forced = predictor.predict_file(files["alphafold"], structure_kind="experimental")
    assert forced.model_name == "pocknet_default" and forced.structure_kind == "experimental"


def test_without_a_predicted_model_the_default_scores_with_a_note(files, monkeypatch):
    monkeypatch.setenv(PREDICTED_MODEL_ENV, "none")
    assert predicted_model_path() is None
    prediction = Predictor().predict_file(files["alphafold"])
    assert prediction.model_name == "pocknet_default" and prediction.structure_kind == "predicted"
    assert any(n.startswith("no model without bfactor.bfactor is installed (pocknet_predicted.pt): the default model "
                            "read the B-factor column (pLDDT in predicted structures)") for n in prediction.notes)  # fmt: skip
    monkeypatch.setenv(PREDICTED_MODEL_ENV, str(files["alphafold"].parent / "missing.pt"))
    with pytest.raises(PockNetError, match=f"{PREDICTED_MODEL_ENV}=.*missing.pt: no such model file"):
        predicted_model_path()


def test_a_chosen_model_scores_everything(files, trained):
    chosen = Predictor(default_model_path(), predicted_model=trained[3])  # --model given: no switch
    prediction = chosen.predict_file(files["alphafold"])
    assert prediction.model_name == "pocknet_default" and prediction.structure_kind == "predicted"
    assert "model pocknet_default read the B-factor column (pLDDT in predicted structures) as crystallographic " \
           "B-factors" in prediction.notes  # fmt: skip
    free = Predictor(trained[3]).predict_file(files["alphafold"])
    assert free.model_name == "tiny_predicted"


def test_json_of_stored_features_has_no_structure_kind(features_1a82a):
    summary = json_summary(Predictor(predicted_model=None).predict_features(features_1a82a))
    assert "structure_kind" not in summary and list(summary)[-1] == "notes"


def test_model_card_names_excluded_features(trained, tmp_path):
    bundle, path = trained[2], trained[3]
    card = render_model_card(bundle, "0" * 64, 1024, "tiny")
    assert "- Features: 34 P2Rank-style SAS-point descriptors (excluded: bfactor.bfactor)" in card
    default = default_model_path()  # its card, rendered again, is the shipped one to the byte
    digest = hashlib.sha256(default.read_bytes()).hexdigest()
    shipped_card = (default.parent / "MODEL_CARD.md").read_text(encoding="utf-8")
    training_data = re.search(r"^- Training data: (.+)$", shipped_card, re.M).group(1)
    again = render_model_card(load_model(default)[1], digest, default.stat().st_size, training_data)
    assert again == shipped_card
    shipped = ship(path, "tiny", dest=tmp_path, predicted=True)
    assert shipped == tmp_path / "pocknet_predicted.pt" and shipped.read_bytes() == path.read_bytes()
    assert (
        (tmp_path / "MODEL_CARD_predicted.md")
        .read_text()
        .startswith("# PockNet model for predicted structures")
    )
    with pytest.raises(PockNetError, match="reads bfactor.bfactor"):
        ship(default, "CHEN11", dest=tmp_path, predicted=True)


# --------------------------------------------------------------------------- the command line


def _predict(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, "predict", *args], capture_output=True, text=True, timeout=600, check=False,
                          env={**os.environ, **env})  # fmt: skip


def test_cli_switches_models_per_structure(files, trained, tmp_path):
    """One batch, two workers: the predicted model only for the AlphaFold file; the option forces the rest."""
    env = {PREDICTED_MODEL_ENV: str(trained[3])}
    out = tmp_path / "auto"
    result = _predict(str(files["alphafold"]), str(files["experimental"]), str(files["esmfold"]), "-o", str(out),
                      "--formats", "json", "--workers", "2", env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    summaries = {p.name: json.loads(p.read_text()) for p in out.glob("*.json")}
    used = {name: (s["model_name"], s["structure_kind"]) for name, s in summaries.items()}
    assert used == {
        "alphafold.pdb.json": ("tiny_predicted", "predicted"),
        "1a82a.pdb.json": ("pocknet_default", "experimental"),
        "esmfold.pdb.json": ("pocknet_default", "experimental"),  # no header: cannot tell
    }
    lines = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert sum(line.endswith("  predicted structure, model tiny_predicted") for line in lines) == 1
    assert sum(line.endswith(" s)") for line in lines) == 2
    forced = _predict(str(files["esmfold"]), "-o", str(tmp_path / "forced"), "--formats", "json",
                      "--structure-kind", "predicted", env=env)  # fmt: skip
    assert forced.returncode == 0, forced.stderr
    summary = json.loads((tmp_path / "forced" / "esmfold.pdb.json").read_text())
    assert (summary["model_name"], summary["structure_kind"]) == ("tiny_predicted", "predicted")
    assert "predicted structure (--structure-kind predicted)" in summary["notes"]
