"""Training speed of each Keras model plugin, and how long each step waits for its input.

For every model at two input sizes it trains a few steps through artkit's real tf.data
pipeline (files decoded and resized in parallel, cached, shuffled, prefetched) and the same
number of steps on batches already held in memory. The pipeline's share of the step time is
``1 - t_memory / t_pipeline``: near zero means decoding is hidden behind the training step.

    .venv/bin/python benchmarks/bench_train.py                 # all four models
    .venv/bin/python benchmarks/bench_train.py --models mobilenet --steps 8

Prints one table; ratios come from one run on this machine (no absolute claims elsewhere).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

#: (model, small size, default size) measured.
SIZES = {"alexnet": (112, 227), "mobilenet": (128, 224), "inception-v3": (150, 299),
         "vgg19-cam": (112, 160)}


def photos(n: int, size: int) -> list[Path]:
    """`n` synthetic artwork JPEGs of `size` px from artkit's own generator."""
    from artkit.data.synth import generate

    out = Path(tempfile.mkdtemp(prefix="bench-train-"))
    root = generate(out, task="multiclass", n=n, seed=0, size=size)
    return sorted(p for p in root.rglob("*") if p.suffix in (".jpg", ".png"))


def timed_fit(model, data, steps: int) -> float:
    start = time.perf_counter()
    model.fit(data.take(steps), epochs=1, verbose=0)
    return time.perf_counter() - start


def measure(name: str, size: int, paths: list[Path], batch: int, steps: int) -> dict:
    import tensorflow as tf

    from artkit import registry
    from artkit_plugins.lib.keras_base.metrics import compile_model
    from artkit_plugins.lib.keras_base.pipeline import make_dataset

    plugin = registry.get(registry.Kind.MODEL, name)
    options = {"weights": "none", "freeze_base": False, "alpha": 1.0, "cut_at": "block5_conv3",
               "cam_filters": 1024, "lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7}
    n_labels = 10
    model = plugin.build_network(n_labels, "multiclass", size, options)
    compile_model(model, "multiclass", n_labels, options)
    used = paths[:batch * steps]
    targets = np.eye(n_labels, dtype=np.float32)[np.arange(len(used)) % n_labels]
    pipeline = make_dataset(used, targets, size, batch, shuffle_seed=0)

    cold = timed_fit(model, pipeline, steps)  # traces the step, decodes, fills the cache
    held = [element for element in pipeline.take(steps)]
    # Same static batch shape as the pipeline's, so the training step is not traced again.
    in_memory = tf.data.Dataset.from_tensor_slices(tuple(
        tf.concat([b[i] for b in held], 0) for i in range(3))).batch(batch, drop_remainder=True)
    # Alternate, best of two each: the CPU is shared, so single timings are noisy.
    warm, memory = float("inf"), float("inf")
    for _ in range(2):
        warm = min(warm, timed_fit(model, pipeline, steps))  # cached: epoch 2+ steady state
        memory = min(memory, timed_fit(model, in_memory, steps))
    images = batch * steps
    return {"model": name, "size": size, "batch": batch,
            "img/s (pipeline)": images / warm, "img/s (in memory)": images / memory,
            "input wait share": max(0.0, 1.0 - memory / warm),
            "first call img/s (trace+decode)": images / cold}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=list(SIZES))
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--source-size", type=int, default=320,
                        help="side of the JPEGs decoded (larger than every input size)")
    args = parser.parse_args()

    from artkit.cli.common import print_table

    paths = photos(args.batch * args.steps, args.source_size)
    rows = []
    for name in args.models:
        for size in SIZES[name]:
            rows.append(measure(name, size, paths, args.batch, args.steps))
            print_table("training speed (so far)", rows[-1:])
    print_table(f"training speed: batch {args.batch}, {args.steps} steps, "
                f"{args.source_size}px JPEGs decoded", rows)


if __name__ == "__main__":
    main()
