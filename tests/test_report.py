"""Report plots, tables and the self-contained HTML page."""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pocknet.errors import PockNetError
from pocknet.evaluate.report.figures import (
    plot_pr_curve,
    plot_reliability_diagram,
    plot_success_curve,
    pr_curve_points,
)
from pocknet.evaluate.report.page import html_report
from pocknet.evaluate.report.tables import calibration_tables, metrics_table

PNG = b"\x89PNG\r\n\x1a\n"


def _only(folder: Path, *names: str) -> None:
    """Exactly these files exist: atomic writes leave no temporary files behind."""
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)


# --------------------------------------------------------------------------------------
# pr_curve_points / metrics_table
# --------------------------------------------------------------------------------------


def test_pr_curve_points_tiny_example():
    labels = np.array([1, 0, 1, 0, -1, 1])
    scores = np.array([0.9, 0.8, 0.7, 0.2, 0.95, 0.1])  # the neutral 0.95 must not count
    frame = pr_curve_points(labels, scores)
    assert list(frame.columns) == ["recall", "precision", "threshold"]
    expected = pd.DataFrame(
        {
            "recall": [1 / 3, 1 / 3, 2 / 3, 2 / 3, 1.0],
            "precision": [1.0, 0.5, 2 / 3, 0.5, 0.6],
            "threshold": [0.9, 0.8, 0.7, 0.2, 0.1],
        }
    )
    pd.testing.assert_frame_equal(frame, expected)


def test_pr_curve_points_thinned_and_sorted():
    rng = np.random.default_rng(0)
    labels = (rng.random(20_000) < 0.05).astype(int)
    scores = np.clip(rng.random(20_000) * 0.7 + labels * 0.3, 0, 1)
    frame = pr_curve_points(labels, scores)
    assert 400 <= len(frame) <= 500
    assert frame["recall"].is_monotonic_increasing
    assert frame["threshold"].is_monotonic_decreasing
    assert frame["recall"].iloc[-1] == 1.0
    assert frame["precision"].iloc[-1] == pytest.approx(labels.mean())
    assert len(pr_curve_points(labels, scores, max_points=10)) <= 10


def test_pr_curve_points_undefined_is_empty():
    assert pr_curve_points(np.array([0, 0, -1]), np.array([0.1, 0.2, 0.3])).empty
    assert pr_curve_points(np.array([], dtype=int), np.array([])).empty
    with pytest.raises(ValueError):
        pr_curve_points(np.array([1, 2]), np.array([0.1, 0.2]))


def test_metrics_table():
    table = metrics_table(
        {"BU48 holo": {"pr_auc": 0.41, "dca_top_n_pct": 75.0}, "COACH420": {"dca_top_n_pct": 72.0}}
    )
    assert list(table.columns) == ["set", "pr_auc", "dca_top_n_pct"]
    assert table["set"].tolist() == ["BU48 holo", "COACH420"]
    assert table.loc[0, "pr_auc"] == 0.41 and math.isnan(table.loc[1, "pr_auc"])


# --------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------


def _curves():
    rng = np.random.default_rng(1)
    labels = (rng.random(3000) < 0.1).astype(int)
    scores = np.clip(rng.random(3000) * 0.6 + labels * 0.35, 0, 1)
    return {
        "BU48 holo": pr_curve_points(labels, scores),
        "COACH420": pr_curve_points(labels[::-1], scores),
        "empty": pr_curve_points(np.zeros(3, dtype=int), np.zeros(3)),
    }


def _success():
    cutoffs = np.linspace(0.0, 12.0, 49)
    return {
        "PockNet COACH420": (cutoffs, 1 - np.exp(-cutoffs / 3)),
        "P2Rank COACH420": (cutoffs, 0.9 * (1 - np.exp(-cutoffs / 2.5))),
    }


def test_plots_written_nonempty_and_reproducible(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        assert plot_pr_curve(_curves(), folder / "pr.png") == folder / "pr.png"
        assert plot_success_curve(_success(), folder / "dca.png") == folder / "dca.png"
        plot_success_curve(_success(), folder / "dcc.png", xlabel="DCC cutoff (Å)", title="DCC")
    for name in ("pr.png", "dca.png", "dcc.png"):
        data = (a / name).read_bytes()
        assert data.startswith(PNG) and len(data) > 5000
        assert data == (b / name).read_bytes(), name
    assert (a / "dca.png").read_bytes() != (a / "dcc.png").read_bytes()
    assert b"matplotlib" not in (a / "pr.png").read_bytes()  # no Software metadata
    _only(a, "pr.png", "dca.png", "dcc.png")


def test_plot_success_curve_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="differ"):
        plot_success_curve({"x": (np.arange(3.0), np.zeros(4))}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="fractions"):
        plot_success_curve({"x": (np.arange(3.0), np.array([10.0, 50.0, 90.0]))}, tmp_path / "x.png")
    _only(tmp_path)


def _calibration():
    """A model file's ``calibration`` as the swa stage writes it (pocknet.predict.calibration.fit_levels)."""
    from pocknet.predict.calibration import fit_levels

    rng = np.random.default_rng(0)
    data = {}
    for level, n in (("point", 5000), ("residue", 2000), ("pocket", 300)):
        score = rng.normal(0.0, 2.0, n) if level == "point" else rng.gamma(1.0, 10.0, n)
        truth = 1 / (1 + np.exp(-score)) if level == "point" else 1 - np.exp(-score / 20)
        data[level] = (score, rng.uniform(size=n) < truth, rng.integers(0, 10, n))
    return fit_levels(data)[0]


def test_reliability_diagram_from_a_model_files_calibration(tmp_path):
    tables, ece = calibration_tables(_calibration())
    assert sorted(tables) == ["pocket", "point", "residue"]
    assert list(tables["pocket"].columns) == ["lower", "upper", "mean_predicted", "observed", "count"]
    assert ece["level"].tolist() == ["point", "residue", "pocket"]
    assert {"ece_val_in_sample", "ece_val_cross_fitted", "method", "n"} <= set(ece.columns)
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        assert plot_reliability_diagram(tables, folder / "rel.png", title="validation") == folder / "rel.png"
    data = (a / "rel.png").read_bytes()
    assert data.startswith(PNG) and len(data) > 5000 and data == (b / "rel.png").read_bytes()
    html_report("t", [("Calibration", [a / "rel.png", ece])], tmp_path / "r.html")
    text = (tmp_path / "r.html").read_text()
    assert "data:image/png;base64," in text and "ece_val_cross_fitted" in text
    # older model files (a pocket calibrator alone) and none: nothing to draw
    assert calibration_tables({"method": "isotonic", "x": [0.0], "y": [0.5]})[0] == {}
    assert calibration_tables(None)[0] == {}
    with pytest.raises(ValueError, match="lacks"):
        plot_reliability_diagram({"x": pd.DataFrame({"observed": [0.5]})}, tmp_path / "x.png")


# --------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------


def test_html_report_is_self_contained(tmp_path):
    png = plot_success_curve(_success(), tmp_path / "dca.png")
    table = metrics_table(
        {"BU48 holo": {"pr_auc": 0.41437, "dca_top_n_pct": 75.04}, "COACH420": {"dca_top_n_pct": 72.0}}
    )
    out = html_report(
        "PockNet <evaluation>",
        [
            ("Summary", ["Scores on held-out sets & more.\n\nSecond paragraph.", table]),
            ("Success curves", [png]),
        ],
        tmp_path / "report" / "index.html",
    )
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "<table" in text and "data:image/png;base64," in text
    assert "http://" not in text and "https://" not in text
    assert "<link" not in text and "<script" not in text and "<style>" in text
    assert "PockNet &lt;evaluation&gt;" in text and "held-out sets &amp; more." in text
    assert text.count("<p>") == 2
    assert "0.414" in text and "75.0 %" in text and "72.0 %" in text and "–" in text
    encoded = text.split("data:image/png;base64,")[1].split('"')[0]
    assert base64.b64decode(encoded) == png.read_bytes()
    _only(tmp_path / "report", "index.html")
    # deterministic: the same inputs give the same bytes
    again = html_report(
        "PockNet <evaluation>",
        [
            ("Summary", ["Scores on held-out sets & more.\n\nSecond paragraph.", table]),
            ("Success curves", [png]),
        ],
        tmp_path / "again.html",
    )
    assert again.read_bytes() == out.read_bytes()


def test_html_report_index_and_errors(tmp_path):
    frame = pd.DataFrame({"mean": [0.5]}, index=pd.Index(["auc"], name="metric"))
    text = html_report("t", [("s", [frame])], tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<th>metric</th>" in text and "<th>auc</th>" in text and "0.500" in text
    with pytest.raises(PockNetError, match="does not exist"):
        html_report("t", [("s", [tmp_path / "missing.png"])], tmp_path / "bad.html")
    (tmp_path / "fake.png").write_text("not a png")
    with pytest.raises(PockNetError, match="not a PNG"):
        html_report("t", [("s", [tmp_path / "fake.png"])], tmp_path / "bad.html")
    with pytest.raises(TypeError):
        html_report("t", [("s", [42])], tmp_path / "bad.html")
    _only(tmp_path, "r.html", "fake.png")


# --------------------------------------------------------------------------------------
# The evaluation report's tables (issue #16): paper-style summary, examples, per protein
# --------------------------------------------------------------------------------------


def study_metrics() -> dict:
    """metrics.json as the reporting stage writes it: three sets, one with P2Rank beside PockNet."""
    def entry(top_n: float, n_ligands: int, n_proteins: int, with_points: bool = True) -> dict:
        values = {"cutoff": 4.0, "n_ligands": n_ligands, "n_proteins": n_proteins, "n_skipped_no_ligand": 2,
                  "dca_top_n": top_n, "dca_top_n2": min(1.0, top_n + 0.1), "dcc_top_n": top_n - 0.2,
                  "dcc_top_n2": top_n - 0.1, "dca_success_at_1": top_n, "dca_success_at_3": min(1.0, top_n + 0.1),
                  "dcc_success_at_1": top_n - 0.2, "dcc_success_at_3": top_n - 0.1}  # fmt: skip
        if with_points:
            values.update({"point_pr_auc": 0.415, "point_pr_auc_protein_mean": 0.54, "point_roc_auc": 0.94,
                           "point_f1": 0.45, "point_iou": 0.29, "point_precision": 0.39, "point_recall": 0.55,
                           "pocket_n": 245, "pocket_mean_probability": 0.26, "pocket_hit_rate": 0.26,
                           "pocket_ece": 0.03, "pocket_ece_equal_mass": 0.047, "point_n_points": 220306})  # fmt: skip
        return values

    return {
        "bu48/apo": entry(0.7, 60, 46),
        "bu48/holo": entry(0.8, 65, 46),
        "coach420/structures": entry(0.7165048543689321, 515, 408),
        "coach420/structures (P2Rank published)": entry(0.717, 515, 408, with_points=False),
    }


def study_per_protein() -> pd.DataFrame:
    rows = []
    for name, method in (("bu48/holo", "pocknet"), ("coach420/structures", "pocknet"), ("coach420/structures", "p2rank")):
        for i, (ranks, dca) in enumerate([("[1]", 0.4), ("[2, 0]", 7.5), ("[0]", float("nan")), ("[1, 3]", 1.2)]):
            rows.append({"protein": f"{name}/p{i}.pdb", "n_ligands": len(json.loads(ranks)), "n_pockets": 3 if dca == dca else 0,
                         "ranks_dca": ranks, "ranks_dcc": ranks, "set": name, "method": method,
                         "dca_top1": dca if method == "pocknet" else 2.0})  # fmt: skip
    return pd.DataFrame(rows)


def test_summary_tables_read_like_a_paper():
    from pocknet.evaluate.report.tables import set_label, summary_tables
    from pocknet.evaluate.stats import wilson_interval

    text = "\n".join(block.text for block in summary_tables(study_metrics()))
    assert set_label("bu48/holo") == "BU48 holo" and set_label("coach420/structures") == "COACH420"
    # percentages over Wilson intervals, human headers, no raw names outside the "all numbers" table
    low, high = wilson_interval(round(0.7165048543689321 * 515), 515)
    assert "71.7 %" in text and f"{100 * low:.1f}–{100 * high:.1f}" in text
    main, _, everything = text.partition("<details>")
    assert "dca_success_at_1" not in main and ">cutoff<" not in main and "DCA top-(n+2)" in main
    assert "<code>dca_success_at_1</code>" in everything and "<code>cutoff</code>" in everything
    # PockNet and P2Rank side by side within the COACH420 group, PockNet first
    coach = main.split("COACH420", 1)[1]
    assert coach.index("PockNet") < coach.index("P2Rank (published)")
    assert main.count("P2Rank (published)") == 2  # the two success tables; points/calibration are PockNet's


def test_choose_examples_best_median_worst_per_set():
    from pocknet.evaluate.report.proteins import choose_examples

    chosen = choose_examples(study_per_protein())
    holo = [(e["role"], e["protein"]) for e in chosen if e["set"] == "bu48/holo"]
    # by top-pocket DCA 0.4, 1.2, 7.5, no pocket (farthest)
    assert holo == [("best", "bu48/holo/p0.pdb"), ("median", "bu48/holo/p3.pdb"), ("worst", "bu48/holo/p2.pdb")]
    assert {e["set"] for e in chosen} == {"bu48/holo", "coach420/structures"}  # P2Rank rows choose nothing
    worst = next(e for e in chosen if e["role"] == "worst")
    assert math.isnan(worst["first_hit"]) and math.isnan(worst["dca_top1"])
    assert choose_examples(study_per_protein().drop(columns="dca_top1")) == []


def test_per_protein_table_is_sortable_and_links_pages(tmp_path):
    from pocknet.evaluate.report.page import Html
    from pocknet.evaluate.report.proteins import examples_block, per_protein_table

    per_protein = study_per_protein()
    pages = {"bu48/holo/p2.pdb": "viewer/bu48__holo__p2.pdb.html"}
    table = per_protein_table(per_protein, pages)
    assert isinstance(table, Html) and table.sortable
    assert table.text.count("<tr>") == 1 + 8  # header + PockNet rows of both sets
    assert 'href="viewer/bu48__holo__p2.pdb.html"' in table.text and "P2Rank first hit" in table.text
    assert 'class="num miss" data-v="">miss' in table.text and 'data-v="7.5"' in table.text
    block = examples_block([{"set": "bu48/holo", "role": "worst", "protein": "bu48/holo/p2.pdb",
                             "dca_top1": math.nan, "first_hit": math.nan}], pages)  # fmt: skip
    assert 'target="example-viewer"' in block.text and '<iframe class="viewer"' in block.text
    out = html_report("t", [("Per protein", [table]), ("3D", [block])], tmp_path / "r.html").read_text()
    assert out.count("<script>") == 1 and "table.sortable" in out  # the sorting script, once, inline
    assert "http" not in out
    plain = html_report("t", [("s", ["text"])], tmp_path / "p.html").read_text()
    assert "<script" not in plain  # no script without a sortable table
