"""Training on several devices or machines with ``tf.distribute`` (``--strategy``).

- ``one``: one device (the first GPU, else the CPU) through ``OneDeviceStrategy``.
- ``mirrored``: ``MirroredStrategy`` over every local GPU (over the logical CPU devices
  where there is no GPU, which is how TensorFlow's own tests exercise it).
- ``multi-worker``: ``MultiWorkerMirroredStrategy`` over the machines ``TF_CONFIG`` names.
- ``auto``: multi-worker when ``TF_CONFIG`` names several workers, mirrored when there are
  several GPUs, TensorFlow's default strategy (no distribution) otherwise.

``--batch-size`` is the *global* batch: each of the N replicas gets batch / N images per
step and the gradients are summed, so a step is the same update whatever N is; the
learning rate is therefore never rescaled behind the user's back (docs/scaling.md).

Only the chief of a multi-worker training writes the run folder; every other worker
trains in a temporary folder removed when it exits (:func:`scratch_runs_root`).

This module imports TensorFlow only inside functions (plugins are imported to build the CLI).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from artkit.contracts import OptionSpec
from artkit.errors import ArtkitError

STRATEGIES = ("auto", "one", "mirrored", "multi-worker")

STRATEGY_OPTION = OptionSpec(
    "strategy", str, "auto", "tf.distribute strategy: 'one' device, 'mirrored' over the "
    "local GPUs, 'multi-worker' over the machines in TF_CONFIG; 'auto' picks multi-worker "
    "when TF_CONFIG names several workers, mirrored with several GPUs, else one device. "
    "--batch-size is the global batch (docs/scaling.md).", choices=STRATEGIES)


def tf_config() -> dict[str, Any] | None:
    """The parsed ``TF_CONFIG`` environment variable, or None when it is not set."""
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        return None
    try:
        config = json.loads(text)
        cluster, task = config["cluster"], config["task"]
        if not isinstance(cluster, dict) or task["type"] not in cluster:
            raise KeyError(task["type"])
        int(task["index"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtkitError(f"TF_CONFIG is not a valid cluster description ({exc!r})",
                          hint='expected {"cluster": {"worker": ["host:port", ...]}, '
                          '"task": {"type": "worker", "index": 0}}') from None
    return config


def n_workers(config: dict[str, Any] | None) -> int:
    if config is None:
        return 1
    return sum(len(config["cluster"].get(kind, [])) for kind in ("chief", "worker"))


def is_chief(config: dict[str, Any] | None) -> bool:
    """TensorFlow's rule: the ``chief`` task if the cluster has one, else worker 0."""
    if config is None:
        return True
    task_type, index = config["task"]["type"], int(config["task"]["index"])
    if "chief" in config["cluster"]:
        return task_type == "chief"
    return task_type == "worker" and index == 0


def resolve_strategy_name(name: str, n_gpus: int) -> str:
    """What ``auto`` means here (see the module docstring)."""
    if name not in STRATEGIES:
        raise ArtkitError(f"--strategy must be one of {', '.join(STRATEGIES)}, not '{name}'")
    if name != "auto":
        return name
    if n_workers(tf_config()) > 1:
        return "multi-worker"
    return "mirrored" if n_gpus > 1 else "default"


def scratch_runs_root(strategy: str) -> Path | None:
    """Where this process's run folder goes instead of ``runs/``: a temporary folder (removed
    at exit) for a non-chief worker of a multi-worker training, None for everyone else."""
    config = tf_config()
    multi = strategy == "multi-worker" or (strategy == "auto" and n_workers(config) > 1)
    if not multi or is_chief(config):
        return None
    scratch = Path(tempfile.mkdtemp(prefix="artkit-worker-"))
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    return scratch


def make_strategy(name: str):
    """The ``tf.distribute.Strategy`` for ``--strategy name``.

    Call it before any other TensorFlow operation: a multi-worker strategy must set up its
    collective communication before TensorFlow initialises its runtime."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    chosen = resolve_strategy_name(name, len(gpus))
    if chosen == "default":
        return tf.distribute.get_strategy()
    if chosen == "one":
        return tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
    if chosen == "mirrored":
        devices = [d.name for d in tf.config.list_logical_devices("GPU" if gpus else "CPU")]
        return tf.distribute.MirroredStrategy(devices)
    config = tf_config()
    if config is None:
        raise ArtkitError("--strategy multi-worker needs TF_CONFIG describing the cluster",
                          hint="see docs/scaling.md")
    return _multi_worker_strategy()


def _multi_worker_strategy():
    """``MultiWorkerMirroredStrategy`` whose ``reduce`` works with Keras 3.

    Keras 3 reduces nested batches (its first-batch model build) and scalar metrics with
    ``axis=0``; TensorFlow's collective strategy accepts neither (it raises on a nested
    PerReplica structure and on a reduction axis of a scalar). Reducing leaf by leaf, and a
    scalar over the replicas only, is what Keras means in both cases."""
    import tensorflow as tf

    class KerasMultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        def reduce(self, reduce_op, value, axis):
            def one(leaf):
                rank = self.experimental_local_results(leaf)[0].shape.rank
                parent = super(KerasMultiWorkerMirroredStrategy, self)
                return parent.reduce(reduce_op, leaf, None if rank == 0 else axis)

            return tf.nest.map_structure(one, value)

    return KerasMultiWorkerMirroredStrategy()


def check_global_batch(batch_size: int, strategy: Any) -> None:
    replicas = int(strategy.num_replicas_in_sync)
    if batch_size % replicas:
        raise ArtkitError(f"--batch-size {batch_size} is the global batch and must divide "
                          f"evenly over the {replicas} replicas",
                          hint=f"use a multiple of {replicas}")


def distributable(dataset: Any) -> Any:
    """`dataset` with an explicit auto-shard policy: DATA (every worker runs the pipeline
    and keeps its share of each batch). The images come from a list of paths, not from
    files TensorFlow could split between workers, so FILE sharding does not apply."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)
