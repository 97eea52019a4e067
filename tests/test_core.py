"""Run folders, atomic writes and one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

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


class _Flaky:
    """A test model plugin that scores every image alike, or fails while training when its
    `fail` option says so (an error, or Ctrl-C)."""

    name = "flaky"
    description = "Test-only model whose training can fail."
    tasks = ("multiclass",)

    @property
    def options(self):
        from artkit.contracts import OptionSpec

        return [OptionSpec("fail", str, "no", "no, error or interrupt.")]

    def train(self, ctx) -> None:
        from artkit.errors import ArtkitError

        ctx.run.write_json("half-written.json", {})
        if ctx.options["fail"] == "error":
            raise ArtkitError("the training broke", ctx.run.dir)
        if ctx.options["fail"] == "interrupt":
            raise KeyboardInterrupt

    def load(self, run):
        import numpy as np

        n = len(run.config.labels)
        return SimpleNamespace(predict_paths=lambda paths: np.full((len(paths), n), 1 / n,
                                                                   np.float32))


def test_a_failed_training_is_marked_and_never_the_default_run(synth_multiclass: Path):
    import json

    from onnx_helpers import register_test_model

    import artkit

    register_test_model(_Flaky(), "tests.test_core")
    data = synth_multiclass
    finished = artkit.train("flaky", data=data)
    with pytest.raises(artkit.ArtkitError, match="the training broke"):
        artkit.train("flaky", data=data, fail="error")
    with pytest.raises(KeyboardInterrupt):
        artkit.train("flaky", data=data, fail="interrupt")
    failed, interrupted = (artkit.get_run(f"flaky/{n}") for n in (2, 3))
    assert failed.failure["error"].endswith("the training broke")
    assert interrupted.failure["interrupted"] is True
    assert [finished.status, failed.status, interrupted.status] == \
        ["done", "failed", "interrupted"]
    with pytest.raises(artkit.ArtkitError, match="it failed: .*the training broke"):
        failed.result()
    assert "it failed: " in artkit.report(failed).read_text(encoding="utf-8")
    assert interrupted.unfinished() == "it was interrupted"
    # export and evaluate default to the latest *finished* run
    assert artkit.get_run().dir == finished.dir
    listed = CliRunner().invoke(app, ["runs", "--json"])
    assert listed.exit_code == 0, listed.output
    assert {row["run"]: row["status"] for row in json.loads(listed.output)} == {
        str(finished.dir): "done", str(failed.dir): "failed",
        str(interrupted.dir): "interrupted"}
