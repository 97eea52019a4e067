"""How fast `artkit tune-thresholds` searches: 1,103 labels on 20,000 validation images.

Scores are random but shaped like a trained iMet model's: long-tailed label frequencies
(about 4 labels per image, a few labels on a fifth of the images, most on a handful),
negatives' scores piled near 0 and positives' spread over the range. Prints the time of each
strategy and, for the global sweep, the ratio to the plain loop (99 calls of `decide` plus the
metric), all from one run.

    python benchmarks/bench_thresholds.py [--images 20000] [--labels 1103]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from artkit.decision import decide
from artkit.thresholds import GRID, ThresholdSearch, sample_scores, tune


def realistic(n: int, n_labels: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray,
                                                             list[str]]:
    rng = np.random.default_rng(seed)
    frequency = 0.2 / np.arange(1, n_labels + 1) ** 0.8  # Zipf-like, ~4 labels per image
    truth = rng.random((n, n_labels), dtype=np.float32) < frequency[None, :].astype(np.float32)
    scores = rng.beta(0.6, 25.0, size=(n, n_labels)).astype(np.float32)
    positives = truth.nonzero()
    scores[positives] = rng.beta(2.0, 2.5, size=len(positives[0])).astype(np.float32)
    groups = ["culture"] * (n_labels // 3) + ["tag"] * (n_labels - n_labels // 3)
    labels = [f"{g}::{j}" for j, g in enumerate(groups)]
    return scores, truth.astype(np.uint8), labels


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    out = function(*args, **kwargs)
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--labels", type=int, default=1103)
    args = parser.parse_args()
    scores, truth, labels = realistic(args.images, args.labels)
    print(f"{args.images} images x {args.labels} labels, "
          f"{truth.sum(1).mean():.1f} true labels per image")

    search, t_setup = timed(ThresholdSearch, scores, truth)
    curve, t_curve = timed(search.global_curve)
    naive_steps = 10  # the plain loop is slow: time 10 of the 99 thresholds, scale up

    def plain_sweep() -> list[float]:
        return [sample_scores(decide(scores, t), truth)["f"] for t in GRID[::10][:naive_steps]]

    plain, t_plain = timed(plain_sweep)
    t_plain *= len(GRID) / naive_steps
    assert np.allclose(plain, curve[::10][:naive_steps])
    print(f"binning and decide masks: {t_setup:.2f} s")
    print(f"global sweep (99 thresholds): {t_curve:.2f} s; plain loop ~{t_plain:.1f} s "
          f"-> {t_plain / t_curve:.0f}x faster")
    for strategy, max_labels in (("global", None), ("group", None), ("label", None),
                                 ("label", 8)):
        result, seconds = timed(tune, scores, truth, labels, strategy, max_labels=max_labels)
        chosen = decide(scores, result.stored(), max_labels=max_labels)
        bound = f" --max-labels {max_labels}" if max_labels else ""
        print(f"tune --strategy {strategy}{bound}: {seconds:.2f} s in all, "
              f"F2 on these scores {sample_scores(chosen, truth)['f']:.4f}")


if __name__ == "__main__":
    main()
