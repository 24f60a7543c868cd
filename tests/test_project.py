"""Project wiring: one params file, DVC stages matching Kedro pipelines and catalog, the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml
from kedro.framework.startup import bootstrap_project

from pocknet import __version__

REPO = Path(__file__).resolve().parents[1]


def _yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def test_params_yaml_is_the_only_parameter_file():
    assert list((REPO / "conf").rglob("parameters*")) == []
    bootstrap_project(REPO)
    from kedro.framework.session import KedroSession

    with KedroSession.create(project_path=REPO) as session:
        params = session.load_context().params
    assert params == _yaml(REPO / "params.yaml")


def test_kedro_sees_params_yaml_in_a_checkout_without_symlinks(tmp_path):
    """DVC's queued experiments run in such checkouts; `kedro run --params` still overrides."""
    for rel in ("params.yaml", "conf/base/catalog.yml", "conf/local/.gitkeep"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes((REPO / rel).read_bytes())
    from pocknet.settings import CONFIG_LOADER_ARGS, ParamsFileConfigLoader

    loader = ParamsFileConfigLoader(
        conf_source=str(tmp_path / "conf"), runtime_params={"training": {"seed": 99}}, **CONFIG_LOADER_ARGS
    )
    params = loader["parameters"]
    assert params["training"]["seed"] == 99
    assert params["swa"] == _yaml(REPO / "params.yaml")["swa"]


def test_dvc_stages_are_the_registered_pipelines():
    bootstrap_project(REPO)
    from pocknet.pipeline_registry import register_pipelines

    stages = set(_yaml(REPO / "dvc.yaml")["stages"])
    pipelines = set(register_pipelines()) - {"__default__"}
    assert stages == pipelines
    for name in stages:
        assert _yaml(REPO / "dvc.yaml")["stages"][name]["cmd"] == f"kedro run --pipelines {name}"


def test_data_engineering_stage_tracks_its_datasets_and_outputs():
    stage = _yaml(REPO / "dvc.yaml")["stages"]["data_engineering"]
    params = _yaml(REPO / "params.yaml")["data_engineering"]
    for dataset in params["datasets"]:
        top = Path(dataset).parts[0]
        assert "${data_engineering.data_root}/" + top in stage["deps"], dataset
    catalog = _yaml(REPO / "conf" / "base" / "catalog.yml")
    entries = [*stage["outs"], *stage.get("metrics", [])]
    declared = {e if isinstance(e, str) else next(iter(e)) for e in entries}
    for name in ("protein_features", "featurization_log", "featurization_summary", "featurization_failures"):
        entry = catalog[name]
        assert entry.get("filepath", entry.get("path")) in declared, name


def test_dvc_lock_is_committed_for_data_engineering():
    lock = _yaml(REPO / "dvc.lock")
    assert "data_engineering" in lock["stages"]


def test_cli_help_and_version():
    exe = Path(sys.executable).with_name("pocknet")
    help_out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True).stdout
    assert "PockNet" in help_out and "featurize" in help_out
    version = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True).stdout
    assert __version__ in version


def test_cli_reports_bad_input_in_one_line(tmp_path):
    bad = tmp_path / "empty.pdb"
    bad.write_text("")
    exe = Path(sys.executable).with_name("pocknet")
    result = subprocess.run([str(exe), "featurize", str(bad)], capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: {bad}: file is empty"


def test_ruff_finds_no_unused_imports_or_undefined_names():
    ruff = Path(sys.executable).with_name("ruff")
    result = subprocess.run([str(ruff), "check", "--select", "F,E9", "--output-format", "concise", "src", "tests",
                             "benchmarks"], cwd=REPO, capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stdout


def test_shipped_model_is_the_locked_final_model():
    """`make run` builds the model we ship: the bundled file is the final_model.pt in dvc.lock."""
    import hashlib

    lock = _yaml(REPO / "dvc.lock")
    outs = {o["path"]: o["md5"] for o in lock["stages"]["finalize"]["outs"]}
    shipped = REPO / "src" / "pocknet" / "models" / "pocknet_default.pt"
    assert hashlib.md5(shipped.read_bytes()).hexdigest() == outs["data/05_models/final_model.pt"]


def test_no_empty_or_stale_output_folders_in_the_lock():
    """The embedding cache holds only what the manifest needs (never a leftover of earlier runs)."""
    lock = _yaml(REPO / "dvc.lock")
    outs = {o["path"]: o for o in lock["stages"]["embedding"]["outs"]}
    params = _yaml(REPO / "params.yaml")["embedding"]
    if params["model"] == "none":
        assert outs["data/03_embeddings/cache"]["nfiles"] == 1  # the README only
