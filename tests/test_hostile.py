"""Batch jobs against hostile files and parallel runs: every odd entry is listed as skipped
with its reason, outputs are never half-written, runs and output files are not shared by
accident, and a SIGKILLed predict resumes to every input exactly once."""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from onnx_helpers import exported_tiny_model
from typer.testing import CliRunner

import artkit
from artkit.cli.main import app

pytest.importorskip("tf2onnx")
runner = CliRunner()


@pytest.fixture(scope="module")
def model(synth_multiclass: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return exported_tiny_model(synth_multiclass, tmp_path_factory.mktemp("hostile-model"))


@pytest.fixture
def hostile(synth_multiclass: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Good images beside a dangling link, a folder named like an image (with an image
    inside), a file that cannot be read and a file that vanishes once listing is done."""
    folder = tmp_path / "hostile"
    folder.mkdir()
    good = sorted(synth_multiclass.rglob("*.jpg"))[:3]
    for i, src in enumerate(good):
        shutil.copy(src, folder / f"good{i}.jpg")
    (folder / "dangling.jpg").symlink_to(folder / "nowhere.jpg")
    (folder / "album.jpg").mkdir()
    shutil.copy(good[0], folder / "album.jpg" / "inside.jpg")
    shutil.copy(good[1], folder / "locked.jpg")
    shutil.copy(good[2], folder / "vanishing.jpg")
    real = Path.read_bytes

    def read_bytes(self: Path) -> bytes:  # root reads anything: deny it the way EACCES does
        if self.name == "locked.jpg":
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    return folder


def test_every_hostile_entry_is_listed_with_its_reason(model: Path, hostile: Path) -> None:
    from artkit.runtime.inputs import InputStream

    stream = InputStream.listing(hostile)
    deadline = time.monotonic() + 30
    while stream.total is None and time.monotonic() < deadline:  # the listing thread is done
        time.sleep(0.01)
    (hostile / "vanishing.jpg").unlink()  # gone between listing and decoding
    events: list[artkit.Event] = []
    found = {p.path.relative_to(hostile).as_posix(): p
             for p in artkit.load(model).predict(stream, batch_size=2,
                                                 progress=events.append)}
    assert sorted(found) == ["album.jpg", "album.jpg/inside.jpg", "dangling.jpg",
                             "good0.jpg", "good1.jpg", "good2.jpg", "locked.jpg",
                             "vanishing.jpg"]
    reasons = {name: p.error for name, p in found.items() if not p.ok}
    assert reasons == {"album.jpg": "is a folder, not an image",
                       "dangling.jpg": f"dangling symbolic link (to {hostile / 'nowhere.jpg'})",
                       "locked.jpg": "cannot read file: permission denied",
                       "vanishing.jpg": "file not found"}
    assert all(found[n].ok for n in ("good0.jpg", "album.jpg/inside.jpg"))
    assert events[-1].kind == "end" and events[-1].total == 8  # total known once listed


def test_a_second_predict_on_the_same_output_is_refused(model: Path, hostile: Path,
                                                        tmp_path: Path) -> None:
    from artkit.runtime.writers import OutputLock

    out = tmp_path / "p.csv"
    held = OutputLock(out)
    try:
        result = runner.invoke(app, ["predict", str(hostile), "-m", str(model), "-o", str(out)])
        assert result.exit_code == 1
        assert "another artkit predict is writing this file" in " ".join(result.output.split())
        assert not out.exists()
    finally:
        held.release()
    assert runner.invoke(app, ["predict", str(hostile), "-m", str(model), "-o",
                               str(out)]).exit_code == 0


def test_unwritable_output_is_one_line_and_nothing_is_left(model: Path, hostile: Path,
                                                           tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = runner.invoke(app, ["predict", str(hostile), "-m", str(model), "-o",
                                 str(blocker / "out.csv")])
    flat = " ".join(result.output.split())
    assert result.exit_code == 1 and f"cannot write: {blocker} is a file, not a folder" in flat
    assert "Traceback" not in result.output and blocker.read_text() == "not a folder"


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".json"])
def test_a_full_disk_keeps_whole_rows_and_resumes(model: Path, hostile: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  suffix: str) -> None:
    from artkit.runtime import writers

    out = tmp_path / f"p{suffix}"
    calls = [0]
    originals = {cls: cls._write for cls in (writers.CsvWriter, writers.JsonlWriter)}

    def full_disk(real):
        def write(self, rows):  # the second batch finds the disk full, mid-row
            calls[0] += 1
            if calls[0] == 2:
                self.handle.write('{"path": "torn')
                self.handle.flush()
                raise OSError(errno.ENOSPC, "No space left on device")
            return real(self, rows)
        return write

    for cls, real in originals.items():
        monkeypatch.setattr(cls, "_write", full_disk(real))
    args = ["predict", str(hostile), "-m", str(model), "-o", str(out), "-b", "2"]
    result = runner.invoke(app, args)
    flat = " ".join(result.output.split())
    assert result.exit_code == 1 and "cannot write: No space left on device" in flat
    assert not out.with_name(out.name + ".lock").exists()
    partial = out if suffix != ".json" else out.with_name(out.name + ".partial.jsonl")
    assert partial.read_bytes().endswith(b"\n")  # the torn row is cut off
    if suffix == ".json":
        assert not out.exists()  # the JSON document is only ever written whole
    for cls, real in originals.items():
        monkeypatch.setattr(cls, "_write", real)
    assert runner.invoke(app, [*args, "--resume"]).exit_code == 0
    if suffix == ".json":
        paths = [r["path"] for r in json.loads(out.read_text())["results"]]
    elif suffix == ".jsonl":
        paths = [json.loads(line)["path"] for line in out.read_text().splitlines()]
    else:
        paths = [line.split(",")[0] for line in out.read_text().splitlines()[1:]]
    assert sorted(paths) == sorted(set(paths)) and len(paths) == 8


def _new_run(root: str, queue) -> None:
    os.environ["ARTKIT_RUNS"] = root
    from artkit.training.runs import new_run

    queue.put(new_run("m").dir.name)


def test_runs_started_at_the_same_moment_get_distinct_numbers(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    workers = [context.Process(target=_new_run, args=(str(tmp_path / "runs"), queue))
               for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert sorted(int(queue.get(timeout=5)) for _ in workers) == list(range(1, 9))


@pytest.mark.slow
def test_sigkill_at_random_points_then_resume_gives_every_input_once(model: Path,
                                                                     synth_multiclass: Path,
                                                                     tmp_path: Path) -> None:
    photos = tmp_path / "many"
    photos.mkdir()
    sources = sorted(synth_multiclass.rglob("*.jpg"))
    for i in range(600):
        shutil.copy(sources[i % len(sources)], photos / f"p{i:04d}.jpg")
    out = tmp_path / "p.jsonl"
    command = [sys.executable, "-m", "artkit", "predict", str(photos), "-m", str(model),
               "-o", str(out), "-b", "8", "--quiet", "--show", "0", "--resume"]
    rng = random.Random(0)
    kills = 0
    for _ in range(5):
        target = len(out.read_bytes().splitlines()) + rng.randint(1, 100) if out.exists() \
            else rng.randint(1, 100)
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            if out.exists() and len(out.read_bytes().splitlines()) >= target:
                break  # killed while it writes: anywhere in a batch, or between two
            time.sleep(rng.uniform(0.005, 0.03))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
    assert kills >= 3  # most runs really were cut short
    assert subprocess.run(command, capture_output=True).returncode == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["path"] for r in rows) == sorted(str(p) for p in photos.iterdir())
    assert all(r["status"] == "ok" for r in rows)


NOISY = """
import os, sys
from artkit.cli.noise import filter_stderr
filter_stderr()
os.write(2, b"libpng error: IDAT: invalid literal/lengths set\\n")
os.write(2, b"Corrupt JPEG data: 3 extraneous bytes before marker 0xd9\\n")
os.write(2, b"a message from C that matters\\n")
print("artkit's own line", file=sys.stderr)
if "tf" in sys.argv:
    import tensorflow as tf
    tf.config.list_physical_devices("GPU")  # the CUDA probe that used to print
"""


@pytest.mark.parametrize("debug", ["", "1"])
def test_third_party_noise_is_silenced_unless_debugging(debug: str) -> None:
    env = {**os.environ, "ARTKIT_DEBUG": debug}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    done = subprocess.run([sys.executable, "-c", NOISY, *(["tf"] if not debug else [])],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = sorted(done.stderr.splitlines())
    if debug:
        assert any(line.startswith("libpng error") for line in lines)
    else:
        assert lines == ["a message from C that matters", "artkit's own line"]
