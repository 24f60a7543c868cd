"""finalize in process: best-epoch vs SWA on validation PR-AUC, the pocket rescorer (fitted on
training proteins' pockets, kept on validation), then point/residue/pocket calibration fitted on
the validation proteins only (see :mod:`.fixtures`)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from pocknet.pipelines.finalize.pipeline import create_pipeline

from .fixtures import mini_project, split_of

RELIABILITY_COLUMNS = ["level", "bin", "lower", "upper", "mean_predicted", "observed", "count"]


@pytest.fixture(scope="module")
def project(tmp_path_factory, p2rank_test):
    return mini_project(tmp_path_factory, p2rank_test)


@pytest.fixture(scope="module")
def outputs(project):
    return project.result("finalize")


@pytest.fixture(scope="module")
def validation(project):
    return sorted(pid for pid, split in split_of(project).items() if split == "val")


def test_free_inputs_and_outputs():
    pipeline = create_pipeline()
    assert pipeline.inputs() == {"trained_model", "swa_model", "protein_features", "splits",
                                 "params:pockets", "params:finalize"}  # fmt: skip
    assert pipeline.outputs() == {"final_model", "final_metrics", "calibration_reliability", "seed_thresholds"}
    assert "pocket_rescoring" in pipeline.all_outputs()  # in memory, between the rescorer and calibration


def test_the_pocket_seed_thresholds_are_the_best_validation_dca_top_n(project, outputs):
    """Every (seed, second) pair clusters the validation points; the best DCA top-n ships."""
    table, final, metrics = outputs["seed_thresholds"], outputs["final_model"], outputs["final_metrics"]
    pockets = project.params["pockets"]
    assert pockets["seed_threshold"] == "validation" and pockets["second_seed_threshold"] == "validation"
    seeds = sorted({*map(float, pockets["seed_threshold_candidates"]), float(final.threshold)})
    assert sorted(table["threshold"].unique()) == seeds
    for seed, rows in table.groupby("threshold"):
        seconds = rows["second_threshold"].dropna()
        assert rows["second_threshold"].isna().sum() == 1 and (seconds < seed).all()
        assert sorted(seconds) == [c for c in map(float, pockets["second_seed_threshold_candidates"]) if c < seed]
        # a second level only appends pockets: it never loses a ligand found by the first
        one_level = rows.loc[rows["second_threshold"].isna()].iloc[0]
        assert (rows["dca_top_n"] >= one_level["dca_top_n"]).all()
        assert (rows["dca_success_at_1"] == one_level["dca_success_at_1"]).all()
    assert table[["dca_top_n", "dca_top_n2", "dca_success_at_1"]].apply(lambda c: c.between(0, 1)).all().all()
    assert (table["dca_top_n"] <= table["dca_top_n2"]).all() and (table["proteins"] > 0).all()
    seed, second = final.pockets["seed_threshold"], final.pockets["second_seed_threshold"]
    assert isinstance(seed, float) and seed in seeds
    assert second == "none" or (isinstance(second, float) and second < seed)
    assert metrics["pocket_seed_threshold"] == seed
    assert metrics["pocket_second_seed_threshold"] == (None if second == "none" else second)
    row = table[(table["threshold"] == seed) & (
        table["second_threshold"].isna() if second == "none" else table["second_threshold"] == second)]  # fmt: skip
    assert row["dca_top_n"].item() == table["dca_top_n"].max()
    # ties on every criterion go to the higher seed, then to one level
    criteria = ["dca_top_n", "dca_top_n2", "dca_success_at_1"]
    tied = table[table[criteria].eq(row[criteria].iloc[0]).all(axis=1)]
    assert seed == tied["threshold"].max()
    if tied.loc[tied["threshold"] == seed, "second_threshold"].isna().any():
        assert second == "none"


def test_the_candidate_with_the_higher_validation_pr_auc_ships(project, outputs):
    candidates = {
        "best_epoch": project.result("training")["trained_model"],
        "swa": project.result("swa")["swa_model"],
    }

    def pr_auc(name):
        value = candidates[name].metrics.get("pr_auc")
        return -math.inf if value is None or math.isnan(value) else value

    chosen = max(sorted(candidates), key=pr_auc)
    final, metrics = outputs["final_model"], outputs["final_metrics"]
    assert metrics["selected"] == chosen and final.provenance["selected"] == chosen
    assert metrics["val_pr_auc"] == candidates[chosen].metrics["pr_auc"]
    for key, value in candidates[chosen].state_dict.items():
        assert torch.equal(final.state_dict[key], value), key
    assert final.threshold == candidates[chosen].threshold


def test_finalize_reads_training_and_validation_proteins_only(project, outputs, validation):
    read = {pid for stage, pid in project.reads if stage == "finalize"}
    splits = split_of(project)
    training = {pid for pid, split in splits.items() if split == "train"}
    # every validation protein has a ligand here; the training proteins are the rescorer's examples; no test or
    # external protein is read
    assert read == set(validation) | training
    assert {splits[pid] for pid in read} == {"train", "val"}


def test_the_pocket_rescorer_is_kept_only_if_validation_dca_top_n_rises(project, outputs):
    final, metrics = outputs["final_model"], outputs["final_metrics"]
    rescoring = metrics["pocket_rescoring"]
    assert rescoring["mode"] == project.params["finalize"]["pocket_rescoring"] == "validation"
    assert rescoring == final.provenance["pocket_rescoring"]
    if "val_dca_top_n_rescored" not in rescoring:  # the mini project's training pockets may all miss or all hit
        assert not rescoring["used"] and final.pocket_rescorer is None
        return
    assert rescoring["used"] == (rescoring["val_dca_top_n_rescored"] > rescoring["val_dca_top_n_score_order"])
    assert (final.pocket_rescorer is not None) == rescoring["used"]
    if rescoring["used"]:
        assert final.pocket_rescorer["feature_names"][0] == "log_score"
        assert final.calibration["pocket"]["feature"] == "identity"  # fitted on the rescorer's logits


def test_model_carries_pockets_and_calibration_of_every_level(project, outputs, validation):
    final = outputs["final_model"]
    metrics = outputs["final_metrics"]
    second = metrics["pocket_second_seed_threshold"]
    assert final.pockets == {**project.params["pockets"], "seed_threshold": metrics["pocket_seed_threshold"],
                             "second_seed_threshold": "none" if second is None else second}  # fmt: skip
    calibration = final.calibration
    assert calibration == json.loads(json.dumps(calibration))  # plain values: the file loads weights-only
    assert {"point", "residue", "pocket", "ece", "reliability", "targets"} <= set(calibration)
    assert calibration["point"] is not None and calibration["residue"] is not None
    assert calibration["folds"] == project.params["finalize"]["calibration_folds"]
    assert calibration["bins"] == project.params["finalize"]["calibration_bins"]
    # the points calibrated on: every labelled point of the validation proteins
    points = sum(int((project.features(pid).labels >= 0).sum()) for pid in validation)
    provenance = final.provenance
    assert provenance["calibration_points"] == points == calibration["ece"]["point"]["n"]
    assert provenance["calibration_method"] == project.params["finalize"]["calibration"]
    assert provenance["calibration_residues"] == sum(
        len(project.features(pid).residue_chain) for pid in validation
    )


def test_metrics_are_fractions_on_validation(outputs, validation):
    metrics = outputs["final_metrics"]
    assert metrics == json.loads(json.dumps(metrics))
    assert metrics["val_proteins_with_ligands"] == len(validation)
    assert 0.0 <= metrics["val_pocket_hit_rate"] <= 1.0 and 0.0 <= metrics["val_success_at_1"] <= 1.0
    for level in ("point", "residue"):
        ece = metrics["calibration"][level]
        assert 0.0 <= ece["ece_val_in_sample"] <= 1.0 and 0.0 <= ece["ece_val_cross_fitted"] <= 1.0
        assert ece["ece_val_uncalibrated"] is not None


def test_reliability_table_is_the_in_sample_table_per_level(project, outputs):
    table, final = outputs["calibration_reliability"], outputs["final_model"]
    assert list(table.columns) == RELIABILITY_COLUMNS and not table.isna().any().any()
    bins = project.params["finalize"]["calibration_bins"]
    assert table["bin"].between(0, bins - 1).all() and (table["count"] > 0).all()
    assert ((0 <= table["lower"]) & (table["lower"] < table["upper"]) & (table["upper"] <= 1)).all()
    assert table["mean_predicted"].between(0, 1).all() and table["observed"].between(0, 1).all()
    assert {"point", "residue"} <= set(table["level"])
    calibration = final.calibration
    for level, rows in table.groupby("level"):
        assert int(rows["count"].sum()) == calibration["ece"][level]["n"]
        assert (
            rows[["lower", "upper", "mean_predicted", "observed", "count"]].values.tolist()
            == calibration["reliability"][level]
        )


def test_final_model_file_round_trip(outputs, tmp_path):
    from pocknet.catalog_datasets import ModelFileDataset

    dataset = ModelFileDataset(filepath=str(tmp_path / "final_model.pt"))
    dataset.save(outputs["final_model"])
    assert torch.load(tmp_path / "final_model.pt", map_location="cpu", weights_only=True)[
        "calibration"
    ] == outputs["final_model"].calibration
    assert dataset.load().pockets == outputs["final_model"].pockets
