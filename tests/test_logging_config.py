"""`kedro run` logs: one plain line per record, no duplicates, no third-party chatter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_SCRIPT = r"""
import logging, sys, yaml
from kedro.framework.project import LOGGING  # what `kedro run` configures logging with
LOGGING.configure(yaml.safe_load(open(sys.argv[1])))
import pocknet.train.training  # imports Lightning, which installs its own handler and INFO level
from lightning.pytorch.utilities.rank_zero import rank_zero_info
rank_zero_info("Tip: try installing a cloud logger")
logging.getLogger("kedro.io.data_catalog").info("Saving data to x (MemoryDataset)...")
logging.getLogger("kedro.runner.sequential_runner").info("Use the --async flag")
logging.getLogger("lightning.pytorch.callbacks").warning("a real lightning warning")
logging.getLogger("pocknet.progress").info("featurize: 3/9 protein " + "x" * 150)
"""


def _run(config: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(REPO / "conf" / config)],
        capture_output=True, text=True, check=True, cwd=REPO,
    )  # fmt: skip
    return (done.stdout + done.stderr).splitlines()


def test_default_config_is_quiet_plain_and_single() -> None:
    lines = _run("logging.yml")
    assert len(lines) == 2, lines
    assert lines[0].endswith("WARNING lightning.pytorch.callbacks: a real lightning warning")
    assert "pocknet.progress: featurize: 3/9 protein " + "x" * 150 in lines[1]  # one line, not wrapped


def test_verbose_config_shows_the_rest() -> None:
    text = "\n".join(_run("logging_verbose.yml"))
    assert "Saving data to x" in text and "Use the --async flag" in text and "cloud logger" in text
    assert text.count("cloud logger") == 1
