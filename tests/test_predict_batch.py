"""`pocknet predict` batches: unique names, workers that die with the parent, one-line failures,
output folders checked, locked and cleaned, memory limits, validated options, streamed results."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from pocknet.cli import cli
from pocknet.errors import PockNetError
from pocknet.predict.batch import result_line
from pocknet.predict.failures import failure_message
from pocknet.predict.jobs import JobResult, PredictJob, _name_candidates, _unique_name, collect_inputs
from pocknet.predict.workers import _death_reason, _run_one

EXE = str(Path(sys.executable).with_name("pocknet"))
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def pocknet(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=120, env=env)


def start(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([EXE, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


@pytest.fixture
def small(p2rank_test: Path) -> Path:
    return p2rank_test / "liganated" / "1a82a.pdb"


def copies(folder: Path, src: Path, n: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        shutil.copyfile(src, folder / f"s{i:03d}.pdb")
        paths.append(str(folder / f"s{i:03d}.pdb"))
    return paths


def replicated(src: Path, target: Path, n: int) -> Path:
    """``n`` copies of a protein's chain, 80 Å apart: a real structure that is slow and memory-hungry."""
    atoms = [line for line in src.read_text().splitlines() if line.startswith("ATOM")]
    chains = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    lines = []
    for i in range(n):
        for line in atoms:
            x, y = float(line[30:38]) + 80.0 * (i % 6), float(line[38:46]) + 80.0 * (i // 6)
            lines.append(line[:21] + chains[i] + line[22:30] + f"{x:8.3f}{y:8.3f}" + line[46:])
        lines.append("TER")
    target.write_text("\n".join(lines) + "\nEND\n")
    return target


def child_pids(pid: int) -> list[int]:
    pids = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            pids += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return pids


def worker_pids(pid: int) -> list[int]:
    """The parent's grandchildren: workers fork from the forkserver, a child of the parent."""
    return [worker for child in child_pids(pid) for worker in child_pids(child)]


def descendants(pid: int) -> list[int]:
    children = child_pids(pid)
    return children + [d for child in children for d in descendants(child)]


def running(pid: int) -> bool:
    """Alive and not a zombie (a reaped-late zombie has done no harm)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def survivors(pids: list[int], within: float = 5.0) -> list[int]:
    deadline = time.monotonic() + within
    while (alive := [p for p in pids if running(p)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


# ------------------------------------------------------------------------------------- 1: output names


def test_same_name_same_parent_never_overwrites(tmp_path, small):
    inputs = []
    for top in ("a", "b", "c"):
        (tmp_path / top / "x").mkdir(parents=True)
        inputs.append(str(shutil.copyfile(small, tmp_path / top / "x" / "1.pdb")))
    names = [job.name for job in collect_inputs(inputs)]
    assert names == ["1.pdb", "x_1.pdb", "c_x_1.pdb"]
    result = pocknet("predict", *inputs, "-o", str(tmp_path / "out"), "--formats", "csv")
    assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "out").glob("*_predictions.csv"))) == 3
    assert result.stdout.splitlines()[-1] == f"wrote 3 structure(s) to {tmp_path / 'out'}; 0 failed"


def test_names_unique_case_insensitively_then_numbered_and_duplicates_predicted_once(tmp_path, small):
    for folder, name in (("d1", "X.pdb"), ("d2", "x.pdb")):
        (tmp_path / folder).mkdir()
        shutil.copyfile(small, tmp_path / folder / name)
    (tmp_path / "d2" / "link.pdb").symlink_to(tmp_path / "d2" / "x.pdb")
    jobs = collect_inputs([tmp_path / "d1" / "X.pdb", tmp_path / "d2" / "x.pdb", tmp_path / "d2" / "." / "x.pdb",
                           tmp_path / "d2" / "link.pdb"])  # fmt: skip
    assert [job.name for job in jobs] == ["X.pdb", "d2_x.pdb"]  # the same file thrice: predicted once
    # folders: the same tree twice is one set of jobs
    assert len(collect_inputs([tmp_path, tmp_path])) == 2
    # once every parent is taken too, a number makes the name unique
    path = tmp_path / "d1" / "X.pdb"
    taken = {name.casefold() for name in _name_candidates(path)}
    assert _unique_name(path, taken) == "X_2.pdb" and "x_2.pdb" in taken
    assert _unique_name(path, taken) == "X_3.pdb"


# ------------------------------------------------------------------------------------- 2, 10: workers


@pytest.mark.parametrize("sig, workers", [(signal.SIGTERM, 2), (signal.SIGKILL, 2), (signal.SIGTERM, 1),
                                          (signal.SIGKILL, 1)], ids=["term-2", "kill-2", "term-1", "kill-1"])  # fmt: skip
def test_workers_die_with_their_parent(tmp_path, small, sig, workers):
    inputs = copies(tmp_path / "in", small, 40)
    proc = start(
        "predict", *inputs, "-o", str(tmp_path / "out"), "--formats", "csv", "--workers", str(workers)
    )
    pids: list[int] = []
    try:
        first = proc.stdout.readline()  # a structure has finished: the workers are loaded and busy
        assert first.startswith("[1/40] "), first + proc.stderr.read()
        busy = worker_pids(proc.pid)
        pids = descendants(proc.pid)  # the workers, the forkserver they fork from, multiprocessing's tracker
        assert len(busy) == workers
        # item 10: the parent holds no model (nor torch); the memory limit is the workers' alone
        assert "libtorch" not in Path(f"/proc/{proc.pid}/maps").read_text()
        assert all("libtorch" in Path(f"/proc/{pid}/maps").read_text() for pid in busy)
        limits = {pid: Path(f"/proc/{pid}/limits").read_text() for pid in [proc.pid, *busy]}
        assert "Max address space         unlimited" in limits[proc.pid]
        assert all("Max address space         unlimited" not in limits[pid] for pid in busy)
        os.kill(proc.pid, sig)
        proc.wait(timeout=10)
        assert survivors(pids) == []
        if sig == signal.SIGTERM:
            assert proc.returncode == 128 + signal.SIGTERM
            assert "terminated: " in proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()
        kill_all(pids)


def test_ctrl_c_stops_once_lists_progress_and_leaves_no_worker(tmp_path, small):
    inputs = copies(tmp_path / "in", small, 40)
    proc = start("predict", *inputs, "-o", str(tmp_path / "out"), "--formats", "csv", "--workers", "2",
                 start_new_session=True)  # fmt: skip
    pids: list[int] = []
    try:
        assert proc.stdout.readline().startswith("[1/40] ")
        pids = descendants(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole process group
        _, stderr = proc.communicate(timeout=10)
        assert proc.returncode == 130
        assert "Traceback" not in stderr
        assert f"of 40 structures finished (outputs in {tmp_path / 'out'})" in stderr
        assert stderr.count("interrupted: ") == 1
        assert survivors(pids) == []
    finally:
        proc.kill()
        proc.wait()
        kill_all(pids)


def test_killed_worker_is_reported_by_signal_and_replaced(tmp_path, small):
    big = replicated(small, tmp_path / "big.pdb", 24)
    after = shutil.copyfile(small, tmp_path / "after.pdb")
    proc = start("predict", str(small), str(big), str(after), "-o", str(tmp_path / "out"), "--formats", "csv")
    try:
        assert proc.stdout.readline().startswith("[1/3] 1a82a.pdb")
        time.sleep(0.5)  # well inside the big structure (about 2.5 s)
        (worker,) = worker_pids(proc.pid)
        os.kill(worker, signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert error_lines(stderr) == [f"error: {big}: worker process died (killed by SIGKILL (out of memory?))"]
    assert "after.pdb" in stdout and stdout.splitlines()[-1].endswith("; 1 failed")


def test_death_reason_names_the_signal():
    assert _death_reason(-9) == "worker process died (killed by SIGKILL (out of memory?))"
    assert _death_reason(-11) == "worker process died (killed by SIGSEGV)"
    assert _death_reason(3) == "worker process died (exit code 3)"
    assert "None" not in _death_reason(None)


# ------------------------------------------------------------------------------------- 3: failure lines


class _Exploding:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def predict_file(self, *args, **kwargs):
        raise self.exc


@pytest.mark.parametrize(
    "exc, expected",
    [
        (KeyError("k"), "x/1.pdb: internal error (KeyError: 'k')"),
        (ValueError("bad\nvalue"), "x/1.pdb: internal error (ValueError: bad value)"),
        (MemoryError(), "x/1.pdb: out of memory (limit 2 GB; raise --max-memory)"),
        (RuntimeError("DefaultCPUAllocator: can't allocate memory"), "x/1.pdb: out of memory (limit 2 GB; raise --max-memory)"),
        (PockNetError("chain Q missing"), "x/1.pdb: chain Q missing"),
        (PockNetError("x/1.pdb: file is empty"), "x/1.pdb: file is empty"),
    ],
)  # fmt: skip
def test_every_failure_is_one_line_naming_the_file(tmp_path, exc, expected):
    assert failure_message(exc, Path("x/1.pdb"), max_memory=2) == expected
    result, _ = _run_one(_Exploding(exc), PredictJob(Path("x/1.pdb"), "1.pdb"), tmp_path, ("csv",), None, 2)
    assert not result.ok and result.error == expected


def test_write_failure_names_file_and_folder_and_leaves_set_unmarked(tmp_path, small):
    out = tmp_path / "out"
    (out / "1a82a.pdb_residues.csv").mkdir(parents=True)  # a folder where a file must go: EISDIR on rename
    (out / "1a82a.pdb.done").write_text("1a82a.pdb_predictions.csv\n")  # from an earlier, complete run
    result = pocknet("predict", str(small), "-o", str(out), "--formats", "csv")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"error: {small}: cannot write outputs to {out}: Is a directory"]
    assert not (out / "1a82a.pdb.done").exists()  # the set is no longer marked complete


def test_featurize_failures_are_one_line(tmp_path, small):
    (tmp_path / "file").write_text("")
    result = pocknet("featurize", str(small), "-o", str(tmp_path / "file" / "x.npz"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(
        f"error: {small}: cannot write features to {tmp_path / 'file' / 'x.npz'}: "
    )
    assert len(result.stderr.splitlines()) == 1


# ------------------------------------------------------------------------------------- 4, 6: output folder


def test_output_folder_checked_before_any_model_work(tmp_path, small):
    (tmp_path / "file").write_text("")
    foreign = tmp_path / "model.pt"
    foreign.write_bytes(b"not a model")  # a model error would mean the model was looked at first
    result = pocknet("predict", str(small), "-o", str(tmp_path / "file"), "--model", str(foreign))
    assert result.returncode == 2 and "is a file" in result.stderr
    result = pocknet("predict", str(small), "-o", str(tmp_path / "file" / "out"), "--model", str(foreign))
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {tmp_path / 'file' / 'out'}: cannot create output folder: ")
    assert "model" not in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits")
def test_read_only_output_folder_fails_at_once(tmp_path, small):
    out = tmp_path / "ro"
    out.mkdir(mode=0o500)
    try:
        result = pocknet("predict", str(small), "-o", str(out))
    finally:
        out.chmod(0o700)
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: {out}: output folder is not writable: Permission denied"


def test_stale_temp_files_removed_markers_written_last(tmp_path, small):
    out = tmp_path / "out"
    out.mkdir()
    stale = out / ".1a82a.pdb.json.k3j_9xq2.tmp"  # what atomic_path leaves when killed mid-write
    keep = [out / ".keep.tmp", out / "notes.tmp", out / ".x.short.tmp"]
    for path in [stale, *keep]:
        path.write_text("x")
        os.utime(path, (time.time() - 60, time.time() - 60))
    result = pocknet("predict", str(small), "-o", str(out), "--formats", "csv,json")
    assert result.returncode == 0, result.stderr
    assert not stale.exists() and all(path.exists() for path in keep)
    assert not (out / ".pocknet.lock").exists()
    json_time = (out / "1a82a.pdb.json").stat().st_mtime_ns
    assert all(p.stat().st_mtime_ns <= json_time for p in out.glob("1a82a.pdb_*.csv"))
    result = pocknet("predict", str(small), "-o", str(out), "--formats", "csv")
    assert result.returncode == 0, result.stderr
    assert not (out / "1a82a.pdb.json").exists()  # the old marker: this set is marked by .done
    assert (out / "1a82a.pdb.done").read_text() == "1a82a.pdb_predictions.csv\n1a82a.pdb_residues.csv\n"


def test_a_refused_run_leaves_no_empty_folder_it_created(tmp_path, small):
    from pocknet.predict.output_folder import OutputFolder

    bad_model = tmp_path / "bad.pt"
    bad_model.write_bytes(b"not a model")
    result = pocknet("predict", str(small), "-o", str(tmp_path / "new" / "out"), "--model", str(bad_model))
    assert result.returncode == 1 and "bad.pt" in result.stderr
    assert not (tmp_path / "new" / "out").exists() and (tmp_path / "new").is_dir()  # only the folder it named
    kept = tmp_path / "kept"
    kept.mkdir()
    with OutputFolder(kept):
        pass
    assert kept.is_dir() and not list(kept.iterdir())  # a folder the user made stays


def test_second_run_into_a_locked_folder_is_refused(tmp_path, small):
    out = tmp_path / "out"
    out.mkdir()
    with open(out / ".pocknet.lock", "w") as held:
        held.write("4242\n")
        held.flush()
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = pocknet("predict", str(small), "-o", str(out))
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"error: {out}: another pocknet predict (PID 4242) is writing to this folder"
    )
    assert not list(out.glob("1a82a*"))


# ------------------------------------------------------------------------------------- 5: memory


def test_structure_over_the_memory_limit_fails_and_the_batch_goes_on(tmp_path, small):
    # measured: 1a82a needs < 5 MB beyond the loaded worker, 24 copies of it > 120 MB
    big = replicated(small, tmp_path / "big.pdb", 24)
    result = pocknet("predict", str(big), str(small), "-o", str(tmp_path / "out"), "--formats", "csv",
                     "--max-memory", "0.04", env=ONE_THREAD)  # fmt: skip
    assert result.returncode == 1
    assert error_lines(result.stderr) == [f"error: {big}: out of memory (limit 0.04 GB; raise --max-memory)"]
    assert (tmp_path / "out" / "1a82a.pdb_predictions.csv").is_file()  # by a fresh worker
    assert result.stdout.splitlines()[-1] == f"wrote 1 structure(s) to {tmp_path / 'out'}; 1 failed"


# ------------------------------------------------------------------------------------- 7: options


@pytest.mark.parametrize(
    "args, message",
    [
        (["--threshold", "nan"], "is not a probability in [0, 1]"),
        (["--threshold", "1.5"], "is not a probability in [0, 1]"),
        (["--threshold", "-0.1"], "is not a probability in [0, 1]"),
        (["--timeout", "0"], "is not a positive number of seconds"),
        (["--timeout", "-5"], "is not a positive number of seconds"),
        (["--timeout", "nan"], "is not a positive number of seconds"),
        (["--workers", "0"], "x>=1"),
        (["--workers", "-2"], "x>=1"),
        (["--max-memory", "nan"], "is not a number of GB"),
        (["--max-memory", "-1"], "is not a number of GB"),
    ],
)  # fmt: skip
def test_bad_options_are_usage_errors(tmp_path, small, args, message):
    result = CliRunner().invoke(cli, ["predict", str(small), "-o", str(tmp_path / "out"), *args])
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------- 8: empty folder


def test_empty_folder_is_one_failed_entry(tmp_path, small):
    empty = tmp_path / "x.pdb"
    empty.mkdir()
    jobs = collect_inputs([empty, small])
    assert jobs[0].error.startswith(f"{empty}: no structure files (.pdb/.ent/.cif/.mmcif, optionally .gz)")
    result = pocknet("predict", str(empty), str(small), "-o", str(tmp_path / "out"), "--formats", "csv")
    assert result.returncode == 1
    assert error_lines(result.stderr) == [f"error: {jobs[0].error}"]
    assert (tmp_path / "out" / "1a82a.pdb_predictions.csv").is_file()


# ------------------------------------------------------------------------------------- 9: model files


def test_malformed_model_bundles_fail_in_one_line(tmp_path, small):
    import datetime

    import torch

    from pocknet.model.files import load_model
    from pocknet.predict.predictor import default_model_path

    good = torch.load(default_model_path(), weights_only=True)
    cases = {
        "foo": ({"foo": 1}, "not a PockNet model file (missing key 'format')"),
        "no-threshold": ({k: v for k, v in good.items() if k != "threshold"},
                         "not a PockNet model file (missing key 'threshold')"),
        "shape": ({**good, "state_dict": {**good["state_dict"], "output.weight": torch.zeros(2, 7)}},
                  "not a PockNet model file (network does not fit: "),
        "config": ({**good, "model_config": {**good["model_config"], "bogus": 1}},
                   "not a PockNet model file (network does not fit: "),
    }  # fmt: skip
    for name, (bundle, message) in cases.items():
        torch.save(bundle, tmp_path / f"{name}.pt")
        with pytest.raises(PockNetError) as info:
            load_model(tmp_path / f"{name}.pt")
        assert str(info.value).startswith(f"{tmp_path / name}.pt: {message}"), name
    torch.save({**good, "extra": datetime.date(2020, 1, 1)}, tmp_path / "unsafe.pt")
    with pytest.raises(PockNetError) as info:
        load_model(tmp_path / "unsafe.pt")
    assert str(info.value).startswith(
        f"{tmp_path}/unsafe.pt: refused: the file holds Python objects beyond tensors"
    )
    assert "weights_only" not in str(info.value)
    # through the CLI: the first worker's report ends the run in one line
    result = pocknet(
        "predict", str(small), "--model", str(tmp_path / "no-threshold.pt"), "-o", str(tmp_path / "o")
    )
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == f"error: {tmp_path}/no-threshold.pt: not a PockNet model file (missing key 'threshold')"
    )


# ------------------------------------------------------------------------------------- 11: streamed lines


def test_results_stream_as_they_finish_as_plain_lines(tmp_path, small):
    big = replicated(small, tmp_path / "big.pdb", 30)
    proc = start("predict", str(small), str(big), "-o", str(tmp_path / "out"), "--formats", "csv")
    try:
        first = proc.stdout.readline()
        assert proc.poll() is None  # printed while the big structure is still being predicted
        assert re.match(r"\[1/2\] 1a82a\.pdb  [1-9]\d* pocket\(s\)  top score [\d.]+  probability ", first)
        assert first.rstrip().endswith(" s)")
        os.kill(proc.pid, signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=10)
    finally:
        proc.kill()
        proc.wait()
    assert "\r" not in first + stdout + stderr  # no carriage-return bar off a terminal


def test_result_line_without_pockets_has_no_nan():
    job = PredictJob(Path("x.pdb"), "x.pdb")
    empty = JobResult(job, ok=True, summary={"name": "x.pdb", "pockets": 0, "top_score": None,
                                             "top_probability": float("nan"), "top_centre": None, "seconds": 0.5})  # fmt: skip
    line = result_line(empty, 3, 40)
    assert line == "[3/40] x.pdb  0 pocket(s)  top score -  probability -  centre -  (0.50 s)"
    assert "nan" not in line.lower()


def test_forkserver_leaves_without_teardown_but_with_its_output():
    """The module the forkserver preloads ends the process at exit: output flushed, status 0, no teardown."""
    from pocknet.predict.workers import _context

    code = (
        "import sys, pocknet.predict.forkserver_exit\n"
        "sys.stdout.write('out')\n"  # buffered, no newline: flushed by the exit hook, not by teardown
        "sys.stderr.write('err')\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (run.returncode, run.stdout, run.stderr) == (0, "out", "err")
    if sys.platform.startswith("linux"):
        from multiprocessing import forkserver

        _context()
        assert "pocknet.predict.forkserver_exit" in forkserver._forkserver._preload_modules
