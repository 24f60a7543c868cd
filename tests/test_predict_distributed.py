"""`pocknet predict --scheduler` / `pocknet.predict_many`: one Dask task per structure on a real cluster
(`dask scheduler` and two `dask worker` processes on 127.0.0.1), outputs byte-identical to a local run,
the time limit and memory bound per structure, the manifest, --resume, fsspec outputs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from test_predict_batch import descendants, kill_all, replicated, survivors

import pocknet
from pocknet.cli import cli
from pocknet.errors import PockNetError
from pocknet.predict.distributed import parse_scheduler, predict_many, split_complete
from pocknet.predict.jobs import collect_inputs

SRC = Path(pocknet.__file__).resolve().parents[1]
# the workers (and CLI subprocesses) import this checkout's pocknet, whatever is installed
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))}
TIMEOUT = 5.0  # seconds per structure: p2rank-test's take < 1 s each, the replicated giant ~20 s


def run_pocknet(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pocknet", *args], capture_output=True, text=True, timeout=300, check=False,
                          env=ENV)  # fmt: skip


def good_inputs(p2rank_test: Path) -> list[str]:
    """19 structures: PDB, mmCIF and mmCIF.gz, 1 100 to 8 500 atoms."""
    d = p2rank_test
    return [str(d / "liganated"), str(d / "1fbl.pdb"), str(d / "1fbl.cif"), str(d / "2W83.pdb"),
            str(d / "2W83.cif.gz"), str(d / "apoholo")]  # fmt: skip


def files_of(folder: Path) -> dict[str, bytes]:
    """Every file's bytes; the JSON without its ``seconds`` (a measurement, different in every run)."""
    out = {}
    for path in sorted(folder.iterdir()):
        data = path.read_bytes()
        if path.suffix == ".json":
            summary = json.loads(data)
            summary.pop("seconds")
            data = json.dumps(summary).encode()
        out[path.name] = data
    return out


@pytest.fixture(scope="module")
def local_reference(tmp_path_factory, p2rank_test) -> dict[str, bytes]:
    """A local run's outputs (no Dask) of the 19 good structures."""
    out = tmp_path_factory.mktemp("local") / "out"
    result = run_pocknet("predict", *good_inputs(p2rank_test), "-o", str(out), "--workers", "2")
    assert result.returncode == 0, result.stderr
    return files_of(out)


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """``dask scheduler`` + two ``dask worker`` (one thread each) as separate processes; all killed at the end."""
    folder = tmp_path_factory.mktemp("dask")
    scheduler_file = folder / "scheduler.json"
    dask = [sys.executable, "-m", "dask"]
    procs = [subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(scheduler_file)], env=ENV, cwd=folder,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]  # fmt: skip
    pids: list[int] = []
    address = ""
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.2)  # the file is written in one go, but give it a moment to land
        address = json.loads(scheduler_file.read_text())["address"]
        for i in range(2):
            procs.append(subprocess.Popen(
                [*dask, "worker", address, "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard",
                 "--name", f"w{i}", "--local-directory", str(folder / f"w{i}")],
                env=ENV, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))  # fmt: skip
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=90)
        yield address, scheduler_file, procs
        # what must go with them: worker processes, their forkservers, pocknet children
        pids = [pid for proc in procs for pid in descendants(proc.pid)]
    finally:
        try:  # the quick way down (SIGTERM makes each worker wait for the scheduler): scheduler and workers
            from distributed import Client

            with Client(address, timeout="10s") as client:
                client.shutdown()
        except Exception:  # noqa: BLE001 - the scheduler never came up, or is gone: signals instead
            for proc in procs:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        alive = survivors(pids, within=10)
        kill_all(alive)
    assert alive == [], "processes left behind by the Dask workers"


@pytest.mark.slow
def test_cluster_run_matches_local_lists_failures_and_resumes(
    tmp_path, p2rank_test, dask_cluster, local_reference
):
    address, scheduler_file, procs = dask_cluster
    assert address.startswith("tcp://127.0.0.1:")
    junk = tmp_path / "junk.pdb"
    junk.write_bytes(b"\x00garbage" * 100)
    giant = replicated(p2rank_test / "2W83.pdb", tmp_path / "giant.pdb", 36)  # 177 000 atoms: ~20 s
    inputs = [*good_inputs(p2rank_test), str(junk), str(giant)]
    assert len(collect_inputs(inputs)) == 21
    out = tmp_path / "out"
    args = ["predict", *inputs, "-o", str(out), "--timeout", f"{TIMEOUT:g}"]
    result = run_pocknet(*args, "--scheduler", address)
    assert result.returncode == 1, result.stderr
    errors = sorted(line for line in result.stderr.splitlines() if line.startswith("error:"))
    assert errors == [f"error: {giant}: timed out after {TIMEOUT:g} s (worker killed)",
                      f"error: {junk}: binary data, not a PDB or mmCIF file"]  # fmt: skip
    lines = result.stdout.splitlines()
    assert len([line for line in lines if line.startswith("[")]) == 19
    assert lines[-2:] == [f"wrote 19 structure(s) to {out}; 2 failed", f"manifest: {out}/manifest.csv"]
    # every other structure: byte-identical to the local run (JSON: all but the measured seconds)
    produced = files_of(out)
    manifest = pd.read_csv(out / "manifest.csv", keep_default_na=False)
    del produced["manifest.csv"]
    assert produced.keys() == local_reference.keys()
    assert [name for name in produced if produced[name] != local_reference[name]] == []
    # the manifest: every structure in input order, the two failures with their reasons
    assert list(manifest.columns) == ["structure", "name", "status", "seconds", "error"]
    assert len(manifest) == 21 and (manifest["status"] == "ok").sum() == 19
    failed = manifest[manifest["status"] == "failed"]
    assert list(failed["structure"]) == [str(junk), str(giant)]
    assert "timed out" in failed["error"].iloc[1] and failed["seconds"].iloc[1] >= TIMEOUT
    # both workers survived the killed child and took part
    assert all(proc.poll() is None for proc in procs)
    # --resume: the 19 complete sets are not predicted again (their files untouched), the failures retried
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name != "manifest.csv"}
    again = run_pocknet(*args, "--resume", "--scheduler", str(scheduler_file))  # the address, from the file
    assert again.returncode == 1, again.stderr
    assert not [line for line in again.stdout.splitlines() if line.startswith("[")]
    assert again.stdout.splitlines()[0] == f"skipped 19 structure(s) already complete in {out}"
    assert (
        again.stdout.splitlines()[-2]
        == f"wrote 0 structure(s) to {out}; 2 failed; 19 skipped (already complete)"
    )
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name != "manifest.csv"} == stamps
    resumed = pd.read_csv(out / "manifest.csv", keep_default_na=False)
    assert list(resumed["status"]).count("skipped") == 19 and list(resumed["status"]).count("failed") == 2


@pytest.mark.slow
def test_python_api_on_a_client_uploads_to_an_fsspec_url(
    tmp_path, p2rank_test, dask_cluster, local_reference
):
    from distributed import Client

    address, _, _ = dask_cluster
    target = tmp_path / "bucket" / "run"
    with Client(address, timeout="30s") as client:
        manifest = pocknet.predict_many([p2rank_test / "liganated"], f"file://{target}", client=client)
    assert list(manifest["status"]) == ["ok"] * 5
    assert manifest["seconds"].between(0, TIMEOUT).all()
    produced = files_of(target)
    assert produced.pop("manifest.csv").startswith(b"structure,name,status,seconds,error\n")
    assert produced == {name: local_reference[name] for name in produced}
    assert len(produced) == 5 * 7  # csv x2, points, pml, cxc, structure copy, json marker
    assert not list(target.glob(".*"))  # no temp files, no lock: an object store has none


@pytest.mark.slow
def test_a_model_no_worker_can_load_ends_the_run_in_one_line(tmp_path, p2rank_test, dask_cluster):
    from distributed import Client

    address, _, procs = dask_cluster
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"not a model")
    with Client(address, timeout="30s") as client, pytest.raises(PockNetError) as info:
        predict_many([p2rank_test / "liganated"], tmp_path / "out", client=client, model=bad)
    assert str(info.value).startswith(f"{bad}: ") and "\n" not in str(info.value)
    assert not (tmp_path / "out" / "manifest.csv").exists()
    assert all(proc.poll() is None for proc in procs)  # the Dask workers are fine


@pytest.mark.slow
def test_local_cluster_holds_the_memory_bound(tmp_path, p2rank_test):
    small = p2rank_test / "liganated" / "1a82a.pdb"
    big = replicated(small, tmp_path / "big.pdb", 24)  # > 120 MB beyond the loaded model; 1a82a < 5 MB
    out = tmp_path / "out"
    result = run_pocknet("predict", str(big), str(small), "-o", str(out), "--scheduler", "local:2",
                         "--max-memory", "0.04", "--formats", "csv")  # fmt: skip
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {big}: out of memory (limit 0.04 GB; raise --max-memory)"]
    assert (out / "1a82a.pdb_predictions.csv").is_file()
    assert result.stdout.splitlines()[-2] == f"wrote 1 structure(s) to {out}; 1 failed"
    assert "distributed." not in result.stderr  # Dask's INFO lines stay quiet without -v


# ------------------------------------------------------------------------------------- fast


def test_scheduler_addresses():
    assert parse_scheduler("local:3") == ("local", 3)
    assert parse_scheduler("tcp://127.0.0.1:8786") == ("address", "tcp://127.0.0.1:8786")
    assert parse_scheduler("local")[0] == "local"
    assert parse_scheduler("/x/dask.json") == ("file", "/x/dask.json")
    for bad in ("local:0", "local:x", " "):
        with pytest.raises(PockNetError):
            parse_scheduler(bad)


def test_import_pocknet_stays_light():
    code = ("import sys, pocknet; assert callable(pocknet.predict_many); "
            "print(sorted({'distributed', 'dask', 'torch', 'pandas', 'numpy'} & set(sys.modules)))")  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"  # Dask, torch and pandas come with the first run only


def test_cluster_options_fail_in_one_line(tmp_path, p2rank_test, monkeypatch):
    small = str(p2rank_test / "liganated" / "1a82a.pdb")
    result = CliRunner().invoke(cli, ["predict", small, "-o", str(tmp_path / "o"), "--scheduler", "local:2",
                                      "--workers", "2"])  # fmt: skip
    assert result.exit_code == 2 and "--workers is for local runs" in result.output
    result = CliRunner().invoke(cli, ["predict", small, "-o", "s3://bucket/run"])
    assert result.exit_code == 2 and "a URL needs --scheduler" in result.output
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if Dask were not installed
    with pytest.raises(PockNetError, match=r"^--scheduler needs Dask: pip install 'dask\[distributed\]'"):
        predict_many([small], tmp_path / "o2", scheduler="local:1")


def test_resume_needs_the_marker_and_every_requested_file(tmp_path, p2rank_test):
    jobs = collect_inputs([p2rank_test / "liganated" / "1a82a.pdb", p2rank_test / "1fbl.cif"])
    (tmp_path / "1a82a.pdb.json").write_text("{}")  # a set written with --formats json only
    for name in ("1fbl.cif_predictions.csv", "1fbl.cif_residues.csv", "1fbl.cif.done"):
        (tmp_path / name).write_text("")
    to_run, complete = split_complete(jobs, tmp_path, ("csv",))
    assert [j.name for j in complete] == ["1fbl.cif"] and [j.name for j in to_run] == ["1a82a.pdb"]
    to_run, complete = split_complete(jobs, tmp_path, ("json",))
    assert [j.name for j in complete] == ["1a82a.pdb"]
    to_run, complete = split_complete(jobs, tmp_path, ("csv", "json"))  # the csv files of 1a82a are missing
    assert complete == []
    (tmp_path / "1fbl.cif.done").unlink()  # files without their marker: an interrupted set
    assert split_complete(jobs, tmp_path, ("csv",))[1] == []


def test_local_resume_skips_complete_sets(tmp_path, p2rank_test):
    small = p2rank_test / "liganated" / "1a82a.pdb"
    shutil.copyfile(small, tmp_path / "a.pdb")
    out = tmp_path / "out"
    first = CliRunner().invoke(cli, ["predict", str(small), "-o", str(out), "--formats", "csv"])
    assert first.exit_code == 0, first.output
    stamp = (out / "1a82a.pdb.done").stat().st_mtime_ns
    again = CliRunner().invoke(
        cli, ["predict", str(small), str(tmp_path / "a.pdb"), "-o", str(out), "--formats", "csv", "--resume"]
    )
    assert again.exit_code == 0, again.output
    lines = again.stdout.splitlines()
    assert lines[0] == f"skipped 1 structure(s) already complete in {out}"
    assert lines[1].startswith("[1/1] a.pdb ")
    assert lines[-1] == f"wrote 1 structure(s) to {out}; 0 failed; 1 skipped (already complete)"
    assert (out / "1a82a.pdb.done").stat().st_mtime_ns == stamp
    assert not (out / "manifest.csv").exists()  # the local runner writes what it always wrote
