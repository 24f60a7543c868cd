"""Report plots, tables and the self-contained HTML page."""

from __future__ import annotations

import base64
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pocknet.errors import PockNetError
from pocknet.evaluate.report import (
    calibration_tables,
    html_report,
    metrics_table,
    plot_pr_curve,
    plot_reliability_diagram,
    plot_success_curve,
    pr_curve_points,
)

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
