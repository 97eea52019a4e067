"""Run folders, atomic writes and one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from artkit import atomic
from artkit.cli.main import app
from artkit.training.runs import new_run, resolve_run


def test_atomic_write_leaves_nothing_on_failure(tmp_path: Path):
    target = tmp_path / "model.bin"
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("crash while writing")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    atomic.write_json(target, {"ok": 1})
    assert atomic.read_json(target) == {"ok": 1}


def test_runs_are_numbered_and_named(tmp_path: Path):
    first, second = new_run("m"), new_run("m")
    assert first.dir.name == "1" and second.dir.name == "2" and first.name == "m-1"
    named = new_run("m", "baseline")
    named.write_json("config.json", {"model": "m"})
    named.append_history({"epoch": 1, "loss": 0.5})
    named.append_history({"epoch": 2, "loss": 0.4, "acc": 0.9})
    assert [r["loss"] for r in named.history()] == ["0.5", "0.4"]
    assert named.history()[1]["acc"] == "0.9"
    named.truncate_history(1)
    assert len(named.history()) == 1
    assert resolve_run("m/baseline").dir == named.dir
    with pytest.raises(Exception, match="already exists"):
        new_run("m", "baseline")
    with pytest.raises(Exception, match="may only hold"):
        new_run("m", "../escape")


def test_known_errors_are_one_red_line_without_traceback(tmp_path: Path):
    result = CliRunner().invoke(app, ["data", "info", str(tmp_path / "missing")])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) <= 2 and "data set not found" in result.output
    assert "Traceback" not in result.output


def test_debug_variable_shows_the_traceback(tmp_path: Path):
    env = dict(os.environ, ARTKIT_DEBUG="1")
    proc = subprocess.run([sys.executable, "-m", "artkit", "data", "info",
                           str(tmp_path / "missing")], capture_output=True, text=True, env=env)
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "data set not found" in proc.stderr


def test_atomic_files_get_ordinary_permissions(tmp_path: Path):
    target = atomic.write_text(tmp_path / "readable.txt", "x")
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
