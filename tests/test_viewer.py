"""`pocknet view` and the ``html`` output format: offline 3D pages, checked in a real headless Chromium.

Two kinds of checks:

* on the page text (always run): self-contained, deterministic, escaped, the vendored
  3Dmol.js pinned; clear errors for bad input;
* in the browser (Debian's ``chromium``, driven over the DevTools protocol by
  ``tests/browser.py``; skipped, with the reason, only where no chromium is installed —
  ``.ci/run`` installs it): no console errors, a non-blank WebGL canvas, one table row per
  pocket, a click on row 2 that moves the view, no request but the page itself, a 40 000-atom
  complex that opens with the surface off, and the report's summary table within 1280 px.

"Offline" is checked in both: the page text holds no ``http://``/``https://`` *resource
reference* (``src=``, ``href=``, ``url(…)``, ``@import``, ``import … from``, ``<link>``,
``<iframe>``, ``importScripts``) and the browser records no request other than the
``file://`` page and ``blob:`` workers. URL strings inside the inlined 3Dmol.js (its RCSB/PubChem
download helpers, licence and shader comments) are not references: nothing loads them unless
a page calls those helpers, which ours never does — the request log proves it.
"""

from __future__ import annotations

import json
import re
import string
import subprocess
import sys
import time
from pathlib import Path

import pytest

from browser import Chromium, find_chromium, png_colours, png_difference
from pocknet.errors import PockNetError
from pocknet.predict.viewer.assets import THREEDMOL_VERSION, threedmol_js
from pocknet.predict.viewer.inputs import find_summary, load_folder_prediction
from pocknet.predict.viewer.page import viewer_html
from pocknet.predict.viewer.payload import SURFACE_MAX_ATOMS
from pocknet.predict.writers import FORMATS, parse_formats

EXE = str(Path(sys.executable).with_name("pocknet"))
REPO = Path(__file__).resolve().parents[1]
VENDOR = REPO / "src" / "pocknet" / "predict" / "vendor"

# Resource references that would make a browser fetch something from the network.
RESOURCE_REFERENCE = re.compile(
    r"""(?:\b(?:src|href|action|poster|srcset|data)\s*=\s*["']?\s*(?:https?:)?//)"""
    r"""|(?:url\(\s*["']?\s*(?:https?:)?//)|(?:@import)|(?:\bimport\b[^;\n]{0,200}?\bfrom\s*["']https?:)"""
    r"""|(?:importScripts\(\s*["']https?:)|(?:<link\b)|(?:<iframe\b)""",
    re.IGNORECASE,
)

needs_chromium = pytest.mark.skipif(
    find_chromium() is None, reason="no chromium on PATH (Debian: apt-get install chromium; .ci/run does)"
)


def pocknet(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *args], capture_output=True, text=True, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def predicted(tmp_path_factory, p2rank_test) -> Path:
    """`pocknet predict --formats all` (html included) on 1aaxa (9 pockets) and 2W83.cif.gz (mmCIF)."""
    out = tmp_path_factory.mktemp("predicted")
    result = pocknet("predict", str(p2rank_test / "liganated" / "1aaxa.pdb"), str(p2rank_test / "2W83.cif.gz"),
                     "-o", str(out), "--formats", "all")  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out


def _page_data(page: str) -> dict:
    block = re.search(r'<script type="application/json" id="pocknet-data">(.*?)</script>', page, re.S)
    assert block, "no data block"
    return json.loads(block.group(1))


# --------------------------------------------------------------------------------------
# The page text
# --------------------------------------------------------------------------------------


def test_vendored_3dmol_is_pinned_and_licensed() -> None:
    pin = re.search(r'VERSION="\$\{VERSION:-([0-9.]+)\}"', (VENDOR / "vendor.sh").read_text()).group(1)
    assert THREEDMOL_VERSION == pin
    assert f"3Dmol.js {pin}" in (VENDOR / "README.md").read_text()
    assert f"3dmol v{pin}" in (VENDOR / "3Dmol-min.js.LICENSE.txt").read_text()
    assert "BSD" in (VENDOR / "LICENSE").read_text() or "Redistribution" in (VENDOR / "LICENSE").read_text()
    assert "pako" in (VENDOR / "THIRD_PARTY_LICENSES").read_text()
    import hashlib

    digest = hashlib.sha256((VENDOR / "3Dmol-min.js").read_bytes()).hexdigest()
    assert digest in (VENDOR / "README.md").read_text()  # README records what is vendored
    assert '"predict/vendor/*"' in (REPO / "pyproject.toml").read_text()  # shipped in the wheel
    assert not RESOURCE_REFERENCE.search(threedmol_js())


def test_html_format_is_known_but_not_a_default() -> None:
    assert "html" in FORMATS and FORMATS[-1] == "json"
    assert parse_formats("json,html") == ("html", "json")


def test_html_page_is_self_contained_and_matches_the_prediction(predicted: Path) -> None:
    page = (predicted / "1aaxa.pdb.html").read_text(encoding="utf-8")
    summary = json.loads((predicted / "1aaxa.pdb.json").read_text())
    assert page.startswith("<!DOCTYPE html>")
    assert not RESOURCE_REFERENCE.search(page), RESOURCE_REFERENCE.search(page)
    assert "<script src" not in page and threedmol_js() in page
    data = _page_data(page)
    assert [p["rank"] for p in data["pockets"]] == [p["rank"] for p in summary["pockets"]]
    assert len(summary["pockets"]) >= 3
    assert page.count('<tr data-rank="') == len(summary["pockets"])
    assert len(data["points"]["rank"]) == summary["counts"]["points"] == len(data["points"]["xyz"]) // 3
    assert data["structure"]["format"] == "pdb" and data["structure"]["text"].count("ATOM  ") > 1000
    assert data["residues"] and data["surface"] is True
    # the folder's files give the same page as the prediction itself did
    again = viewer_html(load_folder_prediction(predicted / "1aaxa.pdb.json"))
    assert _page_data(again)["pockets"] == data["pockets"]
    assert _page_data(again)["points"]["rank"] == data["points"]["rank"]
    cif = _page_data((predicted / "2W83.cif.html").read_text(encoding="utf-8"))
    assert cif["structure"]["format"] == "cif" and "_atom_site" in cif["structure"]["text"]


def test_page_is_deterministic_and_escapes_script_endings(predicted: Path) -> None:
    data = load_folder_prediction(predicted / "1aaxa.pdb.json")
    assert viewer_html(data) == viewer_html(data)
    import dataclasses

    evil = "</script><script>alert(1)</script><!--"
    tricky = dataclasses.replace(
        data, name=f"x{evil}", structure=data.structure + f"REMARK {evil}\n", notes=(evil,),
        pockets=tuple({**p, "residue_ids": [*p["residue_ids"], evil]} for p in data.pockets),
    )  # fmt: skip
    page = viewer_html(tricky)
    # exactly our three script elements end: 3Dmol.js, the data, the page's code
    assert page.count("</script>") == 3 and "<script>alert" not in page
    decoded = _page_data(page)
    assert decoded["name"] == f"x{evil}" and decoded["structure"]["text"].endswith(f"REMARK {evil}\n")


def test_surface_starts_off_for_large_structures(predicted: Path) -> None:
    import dataclasses

    data = load_folder_prediction(predicted / "1aaxa.pdb.json")
    big = dataclasses.replace(data, n_atoms=SURFACE_MAX_ATOMS + 1)
    page = viewer_html(big)
    assert _page_data(page)["surface"] is False and "off at first" in page


def test_view_cli_folder_structure_and_errors(predicted: Path, tmp_path: Path, p2rank_test: Path) -> None:
    # a prediction folder: a page per structure and an index linking them
    pages = tmp_path / "pages"
    result = pocknet("view", str(predicted), "-o", str(pages))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in pages.iterdir()) == ["1aaxa.pdb.html", "2W83.cif.html", "index.html"]
    index = (pages / "index.html").read_text()
    assert 'href="1aaxa.pdb.html"' in index and 'href="2W83.cif.html"' in index
    assert not RESOURCE_REFERENCE.search(index)
    # a structure and its folder; the gzipped source and the copy both match
    n_pockets = len(json.loads((predicted / "2W83.cif.json").read_text())["pockets"])
    assert n_pockets > 0
    for structure in (p2rank_test / "2W83.cif.gz", predicted / "2W83.cif_structure.cif"):
        result = pocknet("view", str(structure), str(predicted), "-o", str(tmp_path / "one.html"))
        assert result.returncode == 0, result.stderr
        assert f"({n_pockets} pocket(s))" in result.stdout
    # a folder that does not match the structure: another file under the same name
    impostor = tmp_path / "impostor" / "1aaxa.pdb"
    impostor.parent.mkdir()
    impostor.write_bytes((p2rank_test / "liganated" / "1a82a.pdb").read_bytes())
    result = pocknet("view", str(impostor), str(predicted))
    assert result.returncode == 1 and "does not match the structure" in result.stderr
    # a structure the folder never saw
    result = pocknet("view", str(p2rank_test / "liganated" / "1a82a.pdb"), str(predicted))
    assert result.returncode == 1 and "holds no prediction of this structure" in result.stderr
    assert "1aaxa.pdb" in result.stderr  # says what it does hold
    # missing files
    result = pocknet("view", str(tmp_path / "nope.pdb"))
    assert result.returncode == 1 and "nope.pdb: no such file" in result.stderr
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in predicted.glob("1aaxa.pdb*"):
        if not f.name.endswith("_points.pdb"):
            (broken / f.name).write_bytes(f.read_bytes())
    result = pocknet("view", str(broken))
    assert result.returncode == 1 and "1aaxa.pdb_points.pdb: missing" in result.stderr
    assert "missing" in (broken / "index.html").read_text()
    result = pocknet("view", str(tmp_path / "pages"))  # pages only, no predictions
    assert result.returncode == 1 and "no PockNet predictions" in result.stderr
    with pytest.raises(PockNetError, match="no such prediction folder"):
        find_summary(p2rank_test / "liganated" / "1aaxa.pdb", tmp_path / "nowhere")
    result = pocknet("view", str(predicted), str(predicted))
    assert result.returncode == 2 and "a prediction folder comes alone" in result.stderr


def test_view_predicts_when_given_only_a_structure(tmp_path: Path, p2rank_test: Path) -> None:
    result = pocknet("view", str(p2rank_test / "liganated" / "1a82a.pdb"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "1a82a.pdb.html").read_text()
    assert len(_page_data(page)["pockets"]) >= 1 and "file://" in result.stdout


def test_empty_prediction_page_says_so(tmp_path: Path, p2rank_test: Path) -> None:
    # --threshold replaces the first level's seed only; a one-level copy of the model leaves no pocket at 1
    from pocknet.model.files import save_model
    from pocknet.predict.predictor import Predictor

    bundle = Predictor(predicted_model=None).bundle
    one_level = tmp_path / "one_level.pt"
    save_model(bundle.replace(pockets={**bundle.pockets, "second_seed_threshold": "none"}), one_level)
    result = pocknet("predict", str(p2rank_test / "liganated" / "1a82a.pdb"), "--threshold", "1", "--model",
                     str(one_level), "-o", str(tmp_path / "out"), "--formats", "pdb,html,json")  # fmt: skip
    tmp_path = tmp_path / "out"
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "1a82a.pdb.html").read_text()
    assert 'id="no-pockets"' in page and "No pockets were predicted" in page
    assert '<option value="all" selected>' in page  # every point shown, by probability
    assert '<tr data-rank="' not in page


# --------------------------------------------------------------------------------------
# In the browser
# --------------------------------------------------------------------------------------


def _assert_clean(browser: Chromium, page: Path) -> None:
    errors = [text for level, text in browser.console if level in ("error", "assert")]
    assert not errors and not browser.exceptions and not browser.log_errors, (
        errors, browser.exceptions, browser.log_errors,
    )  # fmt: skip
    # offline: nothing requested but the page itself and the viewer's in-memory workers
    foreign = [u for u in browser.requests if u != page.as_uri() and not u.startswith(("blob:", "data:"))]
    assert not foreign, foreign


@needs_chromium
def test_page_in_headless_chromium(predicted: Path) -> None:
    page = predicted / "1aaxa.pdb.html"
    n_pockets = len(json.loads((predicted / "1aaxa.pdb.json").read_text())["pockets"])
    with Chromium() as browser:
        browser.open(page.as_uri(), 1280, 800)
        browser.wait_for("window.pocknetView && window.pocknetView.ready", 120)
        assert browser.evaluate("window.pocknetView.error") is None
        assert browser.evaluate("document.querySelectorAll('#pockets tbody tr').length") == n_pockets
        assert browser.evaluate("document.getElementById('ctl-surface').checked") is True
        before = browser.screenshot("#viewer")
        assert png_colours(before) > 50  # WebGL drew the protein: far more than the white background
        view = browser.evaluate("JSON.stringify(pocknetView.viewer.getView())")
        browser.click("#pockets tbody tr:nth-child(2)")
        browser.pump(1.0)  # the zoom animates over 0.3 s
        assert browser.evaluate("pocknetView.focused") == 2
        assert browser.evaluate("document.querySelector('#pockets tbody tr:nth-child(2)').classList.contains('focused')")
        assert browser.evaluate("JSON.stringify(pocknetView.viewer.getView())") != view
        after = browser.screenshot("#viewer")
        assert png_difference(before, after) > 0.05
        # the toggles redraw without errors
        browser.evaluate("document.getElementById('ctl-colour').value = 'residue';"
                         "document.getElementById('ctl-colour').dispatchEvent(new Event('change'))")  # fmt: skip
        browser.evaluate("document.getElementById('ctl-points').value = 'all';"
                         "document.getElementById('ctl-points').dispatchEvent(new Event('change'))")  # fmt: skip
        browser.click("#ctl-surface")
        browser.pump(1.0)
        assert png_difference(after, browser.screenshot("#viewer")) > 0.05
        _assert_clean(browser, page)


def _tiled_pdb(source: Path, copies: int) -> str:
    """``copies`` translated copies of a structure, one chain each: a large complex."""
    lines = [ln for ln in source.read_text().splitlines() if ln.startswith(("ATOM  ", "HETATM"))]
    out, serial = [], 0
    for t in range(copies):
        dx, dy, dz = (t % 4) * 60.0, (t // 4 % 3) * 60.0, (t // 12) * 60.0
        for ln in lines:
            serial += 1
            x, y, z = float(ln[30:38]) + dx, float(ln[38:46]) + dy, float(ln[46:54]) + dz
            out.append(f"{ln[:6]}{serial % 100000:5d}{ln[11:21]}{string.ascii_uppercase[t]}{ln[22:30]}"
                       f"{x:8.3f}{y:8.3f}{z:8.3f}{ln[54:]}")  # fmt: skip
        out.append("TER")
    return "\n".join([*out, "END", ""])


@pytest.mark.slow
@needs_chromium
def test_forty_thousand_atoms_render_with_the_surface_off(tmp_path: Path, p2rank_test: Path) -> None:
    big = tmp_path / "big.pdb"
    big.write_text(_tiled_pdb(p2rank_test / "liganated" / "1a82a.pdb", 24))
    result = pocknet("predict", str(big), "-o", str(tmp_path / "out"), "--formats", "pdb,html,json")
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "out" / "big.pdb.json").read_text())
    assert summary["counts"]["atoms"] >= 40_000
    page = tmp_path / "out" / "big.pdb.html"
    with Chromium(timeout=240) as browser:
        browser.open(page.as_uri(), 1280, 800)
        browser.wait_for("window.pocknetView && window.pocknetView.ready", 240)
        assert browser.evaluate("document.getElementById('ctl-surface').checked") is False
        assert png_colours(browser.screenshot("#viewer")) > 50
        _assert_clean(browser, page)


# --------------------------------------------------------------------------------------
# The report: viewer pages of chosen proteins, and a summary that fits a laptop screen
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report(predicted: Path, p2rank_test: Path, tmp_path_factory) -> Path:
    """The reporting stage's last two nodes on one real prediction (set ``p2rank-test``) and study-like metrics."""
    import numpy as np
    import pandas as pd
    from test_report import study_metrics

    from pocknet.featurize.features import FeaturizeConfig, featurize_file
    from pocknet.pipelines.reporting.nodes import render_report, write_example_pages

    root = tmp_path_factory.mktemp("report")
    preds = root / "06_predictions" / "p2rank-test"
    preds.mkdir(parents=True)
    for f in predicted.glob("1aaxa.pdb*"):
        (preds / f.name).write_bytes(f.read_bytes())
    pid = "p2rank-test/1aaxa.pdb"
    features = featurize_file(p2rank_test / "liganated" / "1aaxa.pdb", FeaturizeConfig())
    per_protein = pd.DataFrame([{"protein": pid, "n_ligands": 1, "n_pockets": 9, "ranks_dca": "[1]", "ranks_dcc": "[2]",
                                 "set": "p2rank-test", "method": "pocknet", "dca_top1": 1.5}])  # fmt: skip
    reporting = {"viewer_dir": str(root / "07_reporting" / "viewer"), "predictions_dir": str(root / "06_predictions"),
                 "figures_dir": str(root / "07_reporting" / "figures"), "apo_pairs": None}  # fmt: skip
    (root / "07_reporting" / "viewer").mkdir(parents=True)
    (root / "07_reporting" / "viewer" / "stale.html").write_text("from an earlier run")
    examples = write_example_pages(per_protein, {pid: lambda: features}, reporting, {"data_root": str(root)})
    assert examples["pages"] == {pid: "viewer/p2rank-test__1aaxa.pdb.html"}
    cutoffs = np.arange(0.0, 12.01, 0.5)
    curves = pd.DataFrame({"set": "bu48/holo", "method": "pocknet", "cutoff": cutoffs, "success": cutoffs / 12})
    pr = pd.DataFrame({"recall": [0.1, 0.5, 0.9], "precision": [0.9, 0.6, 0.2], "threshold": [0.9, 0.5, 0.1],
                       "set": "bu48/holo"})  # fmt: skip
    text = render_report(study_metrics(), curves, pr, reporting, None, per_protein, examples)
    page = root / "07_reporting" / "report.html"
    page.write_text(text, encoding="utf-8")
    assert text == render_report(study_metrics(), curves, pr, reporting, None, per_protein, examples)  # deterministic
    return page


def test_report_links_a_viewer_page_with_the_reference_ligand(report: Path) -> None:
    viewer_dir = report.parent / "viewer"
    assert sorted(p.name for p in viewer_dir.iterdir()) == ["p2rank-test__1aaxa.pdb.html"]  # stale page gone
    text = report.read_text()
    assert "http" not in text  # the report itself stays offline and small: pages are linked, not inlined
    assert 'src="viewer/p2rank-test__1aaxa.pdb.html"' in text and 'href="viewer/p2rank-test__1aaxa.pdb.html"' in text
    assert "dca_success_at_1" not in text.partition("<details>")[0]
    page = (viewer_dir / "p2rank-test__1aaxa.pdb.html").read_text()
    assert not RESOURCE_REFERENCE.search(page)
    data = _page_data(page)
    assert len(data["reference"]) >= 3 and "Reference ligand" in page and 'href="../report.html"' in page


@needs_chromium
def test_report_fits_a_laptop_screen_in_chromium(report: Path) -> None:
    with Chromium() as browser:
        browser.open(report.as_uri(), 1280, 800)
        width, viewport = browser.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width <= viewport == 1280  # the summary tables (and everything else) without horizontal scroll
        tables = browser.evaluate("Array.from(document.querySelectorAll('table.paper')).map(t => t.getBoundingClientRect().right)")
        assert tables and max(tables) <= 1280
        # sortable per-protein table: a click on a header sorts by it
        browser.click("table.sortable thead th:nth-child(6)")
        assert browser.evaluate("document.querySelector('table.sortable thead th:nth-child(6)').getAttribute('aria-sort')") == "ascending"
        # the embedded viewer loads and draws inside the report (a file:// frame is another origin to
        # the page's scripts, so the test watches its pixels)
        browser.evaluate("document.querySelector('iframe.viewer').scrollIntoView()")
        canvas = (0.05, 0.2, 0.4, 0.6)  # the 3D area of the framed page (its left part, below the header)
        deadline = time.monotonic() + 120
        while png_colours(browser.screenshot("iframe.viewer", canvas)) <= 50 and time.monotonic() < deadline:
            browser.pump(1.0)
        assert png_colours(browser.screenshot("iframe.viewer", canvas)) > 50
        errors = [text for level, text in browser.console if level in ("error", "assert")]
        assert not errors and not browser.exceptions and not browser.log_errors
        root = report.parent.as_uri()
        assert all(u.startswith((root, "blob:", "data:")) for u in browser.requests), browser.requests
