"""Progress off a terminal: timed plain lines (CI logs, `make run > log`), never a bar."""

from __future__ import annotations

import logging
import re

import pytest

from pocknet import progress as progress_module
from pocknet.progress import ProgressLine, format_duration, progress


def test_format_duration() -> None:
    assert [format_duration(s) for s in (0, 42.4, 185, 3720)] == ["0s", "42s", "3m 05s", "1h 02m"]


def test_progress_logs_lines_off_a_terminal(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(progress_module, "on_terminal", lambda: False)
    with caplog.at_level(logging.INFO, logger="pocknet.progress"):
        assert list(progress(range(5), desc="featurize", unit="protein", interval=0.0)) == list(range(5))
    lines = [r.getMessage() for r in caplog.records if r.name == "pocknet.progress"]
    assert len(lines) == 5
    assert lines[0].startswith("featurize: 1/5 protein (20%), ")
    assert re.search(r"ETA \d+s", lines[0])
    assert lines[-1].startswith("featurize: 5/5 protein (100%)") and "elapsed" in lines[-1]
    assert not any("\r" in line for line in lines)


def test_progress_is_rate_limited_but_always_reports_the_end(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(progress_module, "on_terminal", lambda: False)
    with caplog.at_level(logging.INFO, logger="pocknet.progress"):
        list(progress(iter(range(1000)), desc="h5", interval=3600.0))  # no total: a generator
    lines = [r.getMessage() for r in caplog.records if r.name == "pocknet.progress"]
    assert lines == [lines[-1]] and lines[-1].startswith("h5: 1000 it, ")


def test_progress_line_extra_text() -> None:
    line = ProgressLine("epoch 1/3", 10, unit="batch", interval=0.0)
    line.count = 4
    assert line.line("loss 0.5").startswith("epoch 1/3: 4/10 batch (40%)") and line.line("loss 0.5").endswith("loss 0.5")
