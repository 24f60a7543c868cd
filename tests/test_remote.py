"""DVC remotes: push the data_engineering outputs, wipe cache + outputs, pull, compare bytes.

A clean copy of the project runs `dvc repro data_engineering` on p2rank-test only, then
round-trips its outputs through
  * an S3 remote served by moto (server mode, 127.0.0.1 only, dummy credentials kept in
    .dvc/config.local: never in .dvc/config),
  * a local-directory remote,
  * the default remote `storage` of .dvc/config (a folder beside the repository).
"""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from project_copy import BIN, REPO, copy_project, git_commit_all, run, tool_env, use_small_sets

pytestmark = pytest.mark.slow

STAGE = "data_engineering"
BUCKET = "pocknet-test"
KEY_ID = "pocknet-test-key-id"
SECRET = "pocknet-test-secret-7Rq2"  # dummy; must end up in .dvc/config.local only
REGION = "us-east-1"


def _dvc_env(tmp: Path) -> dict[str, str]:
    """No AWS credentials in the environment: DVC must find them in .dvc/config.local."""
    env = tool_env(
        AWS_CONFIG_FILE=str(tmp / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):  # fmt: skip
        env.pop(name, None)
    return env


@pytest.fixture(scope="module")
def project(tmp_path_factory, p2rank_test) -> tuple[Path, dict[str, str]]:
    """Clean copy with data_engineering reproduced on p2rank-test."""
    tmp = tmp_path_factory.mktemp("remote")
    root = copy_project(tmp / "pocknet")
    use_small_sets(root, p2rank_test)
    git_commit_all(root)
    env = _dvc_env(tmp)
    run(["dvc", "repro", STAGE], root, env=env)
    return root, env


def _cached_outs(root: Path) -> list[Path]:
    """The stage's outputs that DVC caches (metrics with cache: false are in git, not pushed)."""
    outs = yaml.safe_load((root / "dvc.yaml").read_text())["stages"][STAGE]["outs"]
    paths = []
    for out in outs:
        if isinstance(out, dict):
            ((out, opts),) = out.items()
            if opts and opts.get("cache") is False:
                continue
        paths.append(root / out)
    return paths


def _files(root: Path) -> dict[str, Path]:
    files = {}
    for out in _cached_outs(root):
        for path in sorted(out.rglob("*")) if out.is_dir() else [out]:
            if path.is_file():
                files[path.relative_to(root).as_posix()] = path
    return files


def _digests(root: Path, algorithm: str = "sha256") -> dict[str, str]:
    return {rel: hashlib.new(algorithm, p.read_bytes()).hexdigest() for rel, p in _files(root).items()}


def _wipe(root: Path) -> None:
    shutil.rmtree(root / ".dvc" / "cache", ignore_errors=True)
    for out in _cached_outs(root):
        if out.is_dir():
            shutil.rmtree(out)
        else:
            out.unlink()
    assert not _files(root)


def _round_trip(root: Path, env: dict[str, str], remote: str) -> dict[str, str]:
    """push -> wipe cache and outputs -> pull; returns the md5 of every file (DVC's object ids)."""
    before = _digests(root)
    assert len(before) > 3 and any(rel.endswith(".npz") for rel in before), before
    md5 = _digests(root, "md5")
    run(["dvc", "push", "-r", remote, STAGE], root, env=env)
    _wipe(root)
    run(["dvc", "pull", "-r", remote, STAGE], root, env=env)
    assert _digests(root) == before  # same files, byte-identical
    assert "up to date" in run(["dvc", "status", STAGE], root, env=env)
    return md5


def _object_key(md5: str) -> str:
    return f"files/md5/{md5[:2]}/{md5[2:]}"


def test_default_remote_is_storage_beside_the_repo(project):
    root, env = project
    config = (REPO / ".dvc" / "config").read_text()
    assert "analytics = false" in config
    listed = run(["dvc", "remote", "list"], root, env=env).split()  # lines wrap without a tty
    storage = root.parent / "pocknet-dvc-storage"
    assert "storage" in listed, listed
    at = listed.index("storage")
    assert listed[at : at + 3] == ["storage", str(storage), "(default)"], listed
    assert run(["dvc", "remote", "default"], root, env=env).strip() == "storage"
    # a plain `dvc push` uses it
    run(["dvc", "push", STAGE], root, env=env)
    for md5 in _digests(root, "md5").values():
        assert (storage / _object_key(md5)).is_file()


def test_local_directory_remote_round_trip(project, tmp_path):
    root, env = project
    remote_dir = tmp_path / "dvc-remote"
    run(["dvc", "remote", "add", "localdir", str(remote_dir)], root, env=env)
    md5 = _round_trip(root, env, "localdir")
    for digest in md5.values():
        assert (remote_dir / _object_key(digest)).is_file()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def moto_s3(tmp_path):
    """moto in server mode on a free loopback port; yields (endpoint, boto3 client)."""
    boto3 = pytest.importorskip("boto3")
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = (tmp_path / "moto.log").open("w")
    server = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=tool_env(),
    )  # fmt: skip
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name=REGION,
        aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert server.poll() is None, (tmp_path / "moto.log").read_text()
                assert time.monotonic() < deadline, "moto server did not start in 30 s"
                time.sleep(0.2)
        yield endpoint, client
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        log.close()


def test_s3_remote_round_trip(project, moto_s3):
    root, env = project
    endpoint, client = moto_s3
    client.create_bucket(Bucket=BUCKET)
    run(["dvc", "remote", "add", "s3", f"s3://{BUCKET}/cache"], root, env=env)
    run(["dvc", "remote", "modify", "s3", "endpointurl", endpoint], root, env=env)
    run(["dvc", "remote", "modify", "s3", "region", REGION], root, env=env)
    run(["dvc", "remote", "modify", "--local", "s3", "access_key_id", KEY_ID], root, env=env)
    run(["dvc", "remote", "modify", "--local", "s3", "secret_access_key", SECRET], root, env=env)

    shared, local = (root / ".dvc" / "config").read_text(), (root / ".dvc" / "config.local").read_text()
    assert endpoint in shared and SECRET not in shared and KEY_ID not in shared
    assert SECRET in local and KEY_ID in local
    run(["git", "check-ignore", "-q", ".dvc/config.local"], root, env=env)  # never committed

    md5 = _round_trip(root, env, "s3")
    keys = {obj["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
            for obj in page.get("Contents", [])}  # fmt: skip
    assert {f"cache/{_object_key(d)}" for d in md5.values()} <= keys
