"""reporting in process: score the inference stage's pockets (and a made-up P2Rank reference) on
the test and external sets, write the viewer pages, figures and the HTML report (see :mod:`.fixtures`)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from pocknet.pipelines.reporting.pipeline import create_pipeline

from .fixtures import LEAKED_INTO, SEEN_EXTERNAL, UNSEEN_EXTERNAL, mini_project, split_of

CUTOFFS = np.arange(0.0, 12.01, 0.5)
P2RANK = "coach420 (P2Rank published)"


@pytest.fixture(scope="module")
def project(tmp_path_factory, p2rank_test):
    return mini_project(tmp_path_factory, p2rank_test)


@pytest.fixture(scope="module")
def outputs(project):
    return project.result("reporting")


def test_free_inputs_and_outputs():
    pipeline = create_pipeline()
    assert pipeline.inputs() == {"predictions", "protein_features", "splits", "final_model", "params:reporting",
                                 "params:data_engineering", "external_homologues"}  # fmt: skip
    assert pipeline.outputs() == {"evaluation_report"}
    assert pipeline.all_outputs() == {"evaluation_metrics", "evaluation_per_protein", "success_curves", "pr_curves",
                                      "evaluation_examples", "evaluation_report"}  # fmt: skip


def test_only_evaluation_sets_are_read(project, outputs):
    read = {pid for stage, pid in project.reads if stage == "reporting"}
    assert read == {LEAKED_INTO, SEEN_EXTERNAL, UNSEEN_EXTERNAL}
    assert {split_of(project)[pid] for pid in read} == set(project.params["reporting"]["splits"])


def test_metrics_per_set_unseen_subset_and_reference(outputs):
    metrics = outputs["evaluation_metrics"]
    assert json.loads(json.dumps(metrics, default=str)).keys() == metrics.keys()
    assert set(metrics) == {
        "bu48/holo",
        "coach420",
        "coach420 (unseen)",
        P2RANK,
        "coach420 (unseen) (P2Rank published)",
    }
    assert (metrics["bu48/holo"]["n_proteins"], metrics["coach420"]["n_proteins"]) == (1, 2)
    assert metrics["coach420 (unseen)"]["n_proteins"] == 1
    assert metrics["coach420 (unseen)"]["n_structures_with_train_homologue"] == 1
    for name in ("bu48/holo", "coach420"):
        point = {k: v for k, v in metrics[name].items() if k.startswith("point_")}
        assert point and "point_pr_auc" in point and 0.0 < point["point_pr_auc"] <= 1.0
    for name, values in metrics.items():
        for key in ("dca_top_n", "dca_top_n2", "dca_success_at_1", "dca_success_at_3", "dcc_success_at_1"):
            assert math.isnan(values[key]) or 0.0 <= values[key] <= 1.0, (name, key)


def test_reference_predictions_are_scored_by_rank(outputs):
    """Made-up P2Rank file: rank 1 is 30 Å off the ligand, rank 2 on it; the seen structure has no file."""
    metrics = outputs["evaluation_metrics"]
    reference, unseen = metrics[P2RANK], metrics["coach420 (unseen) (P2Rank published)"]
    assert (
        reference["n_proteins"] == 2
        and reference["dca_success_at_1"] == 0.0
        and reference["dca_success_at_3"] == 0.5
    )
    assert (
        unseen["n_proteins"] == 1 and unseen["dca_success_at_1"] == 0.0 and unseen["dca_success_at_3"] == 1.0
    )
    assert reference["dca_top_n"] == 0.0 and reference["n_ligands"] == metrics["coach420"]["n_ligands"]
    table = outputs["evaluation_per_protein"].set_index(["method", "protein"])
    assert table.loc[("p2rank", UNSEEN_EXTERNAL), "n_pockets"] == 2
    assert list(table.loc[("p2rank", UNSEEN_EXTERNAL), "ranks_dca"]) == [2]
    assert table.loc[("p2rank", UNSEEN_EXTERNAL), "dca_top1"] > 25.0
    assert table.loc[("p2rank", SEEN_EXTERNAL), "n_pockets"] == 0
    assert math.isnan(table.loc[("p2rank", SEEN_EXTERNAL), "dca_top1"])


def test_per_protein_table_matches_the_predictions(project, outputs):
    table = outputs["evaluation_per_protein"]
    assert {"set", "method", "protein", "n_ligands", "n_pockets", "ranks_dca", "dca_top1"} <= set(
        table.columns
    )
    pocknet = table[table["method"] == "pocknet"].set_index("protein")
    assert sorted(pocknet.index) == sorted([LEAKED_INTO, SEEN_EXTERNAL, UNSEEN_EXTERNAL])
    assert sorted(table.loc[table["method"] == "p2rank", "protein"]) == sorted(
        [SEEN_EXTERNAL, UNSEEN_EXTERNAL]
    )
    pockets = project.result("inference")["predictions"].groupby("protein").size()
    for pid, row in pocknet.iterrows():
        assert row["n_pockets"] == pockets.get(pid, 0)
        relevant = int(project.features(pid).ligand_relevant.sum())
        assert row["n_ligands"] == relevant and row["set"] == pid.rsplit("/", 1)[0]
        assert math.isnan(row["dca_top1"]) == (row["n_pockets"] == 0)


def test_success_curves_rise_to_the_4_angstrom_rates(outputs):
    curves, metrics = outputs["success_curves"], outputs["evaluation_metrics"]
    assert list(curves.columns) == ["set", "method", "cutoff", "success"]
    groups = dict(list(curves.groupby(["set", "method"])))
    assert set(groups) == {("bu48/holo", "pocknet"), ("coach420", "pocknet"), ("coach420", "p2rank")}
    for (name, method), curve in groups.items():
        np.testing.assert_allclose(curve["cutoff"], CUTOFFS)
        success = curve["success"].to_numpy()
        assert ((0 <= success) & (success <= 1)).all() and (np.diff(success) >= 0).all()
        key = name if method == "pocknet" else f"{name} (P2Rank published)"
        assert success[CUTOFFS == 4.0][0] == pytest.approx(metrics[key]["dca_top_n"])


def test_pr_curves_per_set(outputs):
    curves = outputs["pr_curves"]
    assert {"set", "recall", "precision", "threshold"} <= set(curves.columns)
    assert set(curves["set"]) == {"bu48/holo", "coach420"}
    for _, curve in curves.groupby("set"):
        assert curve["recall"].between(0, 1).all() and curve["precision"].between(0, 1).all()
        assert curve["recall"].is_monotonic_increasing


def test_viewer_pages_of_the_best_median_and_worst_protein(project, outputs):
    examples = outputs["evaluation_examples"]
    viewer = Path(project.params["reporting"]["viewer_dir"])
    chosen = [(e["set"], e["role"], e["protein"]) for e in examples["examples"]]
    assert [(s, r) for s, r, _ in chosen] == [
        ("bu48/holo", "best"),
        ("coach420", "best"),
        ("coach420", "worst"),
    ]
    assert sorted(examples["pages"]) == sorted({p for _, _, p in chosen})
    assert sorted(p.name for p in viewer.iterdir()) == sorted(
        Path(h).name for h in examples["pages"].values()
    )
    for pid, href in examples["pages"].items():
        assert href == f"{viewer.name}/{pid.replace('/', '__')}.html"
        page = (viewer.parent / href).read_text(encoding="utf-8")
        assert Path(pid).name in page and "<html" in page.lower()


def test_report_links_figures_pages_and_sets(project, outputs):
    report = outputs["evaluation_report"]
    assert report.lstrip().lower().startswith("<!doctype html") and "PockNet evaluation" in report
    figures = Path(project.params["reporting"]["figures_dir"])
    for name in ("success_vs_dca_cutoff.png", "pr_curves.png", "reliability_validation.png"):
        assert (figures / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert not (
        figures.parent / "_report.html"
    ).exists()  # the scratch file is gone; the catalog saves the text
    for href in outputs["evaluation_examples"]["pages"].values():
        assert href in report
    assert "BU48 holo" in report and "COACH420" in report
