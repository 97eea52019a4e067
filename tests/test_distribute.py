"""`artkit train --strategy`: tf.distribute on the CPU, checked as TensorFlow checks it.

A single-device run, a MirroredStrategy run over the CPU split into two logical devices,
and a two-worker MultiWorkerMirroredStrategy run (two processes on localhost ports, each
with its TF_CONFIG) train the same tiny network on the same images with the same global
batch: the trained weights must agree. The processes run at once (logical devices and
collective ops must be set up before TensorFlow starts, so each layout needs its own).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from artkit.errors import ArtkitError
from artkit_plugins.lib.keras_base import distribute

SCRIPT = Path(__file__).with_name("distribute_script.py")
# Adam with a large epsilon: its update for a near-zero gradient is then no longer about
# +-lr whatever the gradient's rounding, so float noise between device layouts stays noise.
TRAIN = ["--epochs", "2", "--batch-size", "16", "--seed", "3", "--lr", "0.01", "--eps", "0.1"]
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cluster(index: int, ports: list[int]) -> str:
    return json.dumps({"cluster": {"worker": [f"localhost:{p}" for p in ports]},
                       "task": {"type": "worker", "index": index}})


@pytest.fixture(scope="module")
def trained(synth_multiclass: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """runs-local/ (strategies one and mirrored), runs-worker0/, runs-worker1/ after the
    trainings: three processes at once."""
    base = tmp_path_factory.mktemp("distribute")
    ports = [free_port(), free_port()]
    jobs = {"local": (2, "one,mirrored", None),
            "worker0": (1, "multi-worker", cluster(0, ports)),
            "worker1": (1, "multi-worker", cluster(1, ports))}
    processes = {}
    for name, (logical, strategies, tf_config) in jobs.items():
        env = {**os.environ, "ARTKIT_RUNS": str(base / f"runs-{name}"),
               "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
        env.pop("TF_CONFIG", None)
        if tf_config:
            env["TF_CONFIG"] = tf_config
        command = [sys.executable, str(SCRIPT), str(logical), strategies,
                   "--data", str(synth_multiclass), *TRAIN]
        processes[name] = subprocess.Popen(command, env=env, cwd=base, text=True,
                                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    outputs = {}
    try:
        for name, process in processes.items():
            outputs[name] = process.communicate(timeout=600)[0]
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
    for name, process in processes.items():
        assert process.returncode == 0, f"{name}:\n{outputs.get(name, '')[-3000:]}"
    return base


def weights(run: Path) -> dict[str, np.ndarray]:
    import h5py

    found: dict[str, np.ndarray] = {}
    with h5py.File(run / "model.weights.h5", "r") as handle:
        handle.visititems(lambda name, item: found.__setitem__(name, item[()])
                          if isinstance(item, h5py.Dataset) else None)
    return found


def losses(run: Path, column: str) -> list[float]:
    import csv

    with (run / "history.csv").open(newline="") as handle:
        return [float(row[column]) for row in csv.DictReader(handle)]


def assert_same_training(run: Path, reference: Path) -> None:
    """Same weights and Adam moments, and the same validation loss after every epoch.

    Not compared: Keras 3's scalar counters (the optimizer's step count, as saved) and its
    running training loss, which it tallies per replica and which come out wrong under
    tf.distribute even when every weight agrees (docs/scaling.md)."""
    mine, theirs = weights(run), weights(reference)
    arrays = [name for name in theirs if theirs[name].ndim > 0]
    assert mine.keys() == theirs.keys() and len(arrays) >= 18
    # Two replicas add the gradients in another order than one device, and two epochs at
    # lr 0.01 amplify that rounding to ~1e-4 on a few small biases (which ones depends on
    # the pixels); a wrong cross-replica average moves the weights by tens of percent.
    for name in arrays:
        np.testing.assert_allclose(mine[name], theirs[name], rtol=0.02, atol=1e-4,
                                   err_msg=name)
    np.testing.assert_allclose(losses(run, "val_loss"), losses(reference, "val_loss"),
                               rtol=1e-3)  # that rounding moves the loss by ~1e-4 too


def run_of(base: Path, job: str, strategy: str) -> Path:
    return base / f"runs-{job}" / "tiny-cnn" / strategy


def test_mirrored_over_two_devices_matches_one_device(trained: Path) -> None:
    reference = run_of(trained, "local", "one")
    assert not np.allclose(*losses(reference, "val_loss")), "nothing trained"
    assert_same_training(run_of(trained, "local", "mirrored"), reference)
    config = json.loads((run_of(trained, "local", "mirrored") / "config.json").read_text())
    assert config["options"]["strategy"] == "mirrored"


def test_two_workers_match_one_device_and_only_the_chief_writes(trained: Path) -> None:
    chief = run_of(trained, "worker0", "multi-worker")
    assert_same_training(chief, run_of(trained, "local", "one"))
    assert (chief / "metrics.json").exists()
    other = trained / "runs-worker1"
    assert not other.exists() or not any(other.rglob("*")), "a non-chief wrote a run folder"


# -- the cluster description, without TensorFlow -----------------------------------------------

def test_chief_is_worker_zero_or_the_chief_task(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert distribute.is_chief(distribute.tf_config()) and distribute.n_workers(None) == 1
    assert distribute.scratch_runs_root("multi-worker") is None
    monkeypatch.setenv("TF_CONFIG", cluster(1, [1, 2]))
    config = distribute.tf_config()
    assert not distribute.is_chief(config) and distribute.n_workers(config) == 2
    assert distribute.resolve_strategy_name("auto", n_gpus=0) == "multi-worker"
    scratch = distribute.scratch_runs_root("auto")
    assert scratch is not None and scratch.is_dir() and not str(scratch).startswith(os.getcwd())
    monkeypatch.setenv("TF_CONFIG", json.dumps(
        {"cluster": {"chief": ["a:1"], "worker": ["b:1"]}, "task": {"type": "worker",
                                                              "index": 0}}))
    assert not distribute.is_chief(distribute.tf_config())
    monkeypatch.delenv("TF_CONFIG")
    assert distribute.resolve_strategy_name("auto", n_gpus=2) == "mirrored"
    assert distribute.resolve_strategy_name("auto", n_gpus=1) == "default"


@pytest.mark.parametrize("text", ["{not json", '{"cluster": {"worker": ["a:1"]}}',
                                  '{"cluster": {"worker": []}, "task": {"type": "chief", '
                                  '"index": 0}}'])
def test_a_broken_tf_config_is_one_clear_error(text: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TF_CONFIG", text)
    with pytest.raises(ArtkitError, match="TF_CONFIG"):
        distribute.tf_config()
