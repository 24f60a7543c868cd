"""Helpers for end-to-end tests: a clean copy of the project and a subprocess runner.

Same recipe as tests/test_dvc_repro.py: the files git would check out (tracked + new, not
ignored) are copied into a temporary folder, which becomes its own git repository, and tools
run from this venv with telemetry off.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# Telemetry / analytics off for every tool that has one.
QUIET_ENV = {
    "KEDRO_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    "DVC_NO_ANALYTICS": "1",
    "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
}  # fmt: skip


def tool_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", **QUIET_ENV)
    env.update(extra)
    return env


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    result = subprocess.run(
        cmd, cwd=cwd, env=env or tool_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"{cmd}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout + result.stderr


def copy_project(root: Path) -> Path:
    """Copy the project's checked-out files into ``root`` (created) and `git init` it."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for rel in filter(None, listed):
        src, dst = REPO / rel, root / rel
        if not (src.exists() or src.is_symlink()):
            continue  # deleted in the work tree
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst, follow_symlinks=False)
    return root


def use_small_sets(root: Path, p2rank_test: Path, datasets: tuple[str, ...] = ("p2rank-test",),
                   absolute_root: bool = False, **training: object) -> None:  # fmt: skip
    """A CI-sized study: only ``datasets`` (params and DVC deps), optional training overrides.

    ``absolute_root`` points data_root at the shared datasets directly: queued DVC experiments
    run in copies holding only git-tracked files, where the data/01_raw links do not exist.
    """
    shared = p2rank_test.parent
    for name in ("p2rank-test", "bu48", "coach420"):
        (root / "data" / "01_raw" / name).symlink_to(shared / name)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["data_engineering"]["datasets"] = list(datasets)
    if absolute_root:
        params["data_engineering"]["data_root"] = str(shared)
    params["training"].update(training)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    stages = yaml.safe_load((root / "dvc.yaml").read_text())
    deps = stages["stages"]["data_engineering"]["deps"]
    raw = "${data_engineering.data_root}/"
    tops = sorted({d.split("/")[0] for d in datasets})
    stages["stages"]["data_engineering"]["deps"] = [raw + t for t in tops] + [
        d for d in deps if not (isinstance(d, str) and d.startswith(raw))
    ]
    (root / "dvc.yaml").write_text(yaml.safe_dump(stages, sort_keys=False))


def git_commit_all(root: Path) -> None:
    run(["git", "init", "-q"], root)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "copy"], root)


def cpu_fingerprint(env: dict[str, str]) -> dict:
    """What ``python -m pocknet.cpu_fingerprint`` prints, run with ``env``."""
    out = subprocess.run([sys.executable, "-m", "pocknet.cpu_fingerprint"], env=env,
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])
