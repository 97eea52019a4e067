"""How fast `artkit tune-thresholds` searches (1,103 labels on 20,000 validation images), and
how well each strategy's thresholds carry over to held-out images.

Scores are random but shaped like a trained iMet model's: long-tailed label frequencies
(about 3 labels per image, a few labels on a fifth of the images, most on a handful),
negatives' scores piled near 0 and positives' spread over the range, and each label
calibrated a little differently (`--spread`: the log-normal spread of each label's score
scale; 0 means every label behaves alike). Prints, from one run: the time of each strategy,
the ratio of the vectorised global sweep to the plain loop (99 calls of `decide` plus the
metric), and the held-out F2 of thresholds tuned on a smaller validation set for several
`--shrinkage` values.

    python benchmarks/bench_thresholds.py [--images 20000] [--labels 1103] [--spread 0.3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from artkit.decisions.rule import decide
from artkit.decisions.tuning import GRID, ThresholdSearch, sample_scores, tune


def realistic(n: int, n_labels: int, spread: float = 0.3, seed: int = 0
              ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    frequency = 0.2 / np.arange(1, n_labels + 1) ** 0.8  # Zipf-like, ~3 labels per image
    negative_scale = np.exp(rng.normal(0, spread, n_labels))
    positive_scale = np.exp(rng.normal(0, 0.7 * spread, n_labels))
    truth = rng.random((n, n_labels), dtype=np.float32) < frequency[None, :].astype(np.float32)
    scores = rng.beta(0.6, 25.0 * negative_scale[None, :], size=(n, n_labels))
    positives = truth.nonzero()
    scores[positives] = rng.beta(2.0 * positive_scale[positives[1]], 2.5)
    scores = scores.astype(np.float32)
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
    parser.add_argument("--spread", type=float, default=0.3)
    args = parser.parse_args()
    scores, truth, labels = realistic(args.images, args.labels, args.spread)
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
        chosen = result.rule(max_labels=max_labels).apply(scores)
        bound = f" --max-labels {max_labels}" if max_labels else ""
        print(f"tune --strategy {strategy}{bound}: {seconds:.2f} s in all, "
              f"F2 on these scores {sample_scores(chosen, truth)['f']:.4f}")

    held_out(args.labels, args.spread)


def held_out(n_labels: int, spread: float, n_val: int = 1000, n_test: int = 5000) -> None:
    """Tune on `n_val` images, score on `n_test` others drawn the same way."""
    scores, truth, labels = realistic(n_val + n_test, n_labels, spread, seed=1)
    val, test = slice(0, n_val), slice(n_val, None)
    print(f"\nheld-out F2: tuned on {n_val} images, scored on {n_test} others "
          f"(spread {spread})")
    for strategy, shrinkage in (("global", 0), ("group", 0), ("label", 0), ("label", 1),
                                ("label", 3), ("label", 10), ("label", 30)):
        result = tune(scores[val], truth[val], labels, strategy, shrinkage=shrinkage)
        f2 = {name: sample_scores(result.rule().apply(scores[part]), truth[part])["f"]
              for name, part in (("val", val), ("test", test))}
        what = f"label --shrinkage {shrinkage}" if strategy == "label" else strategy
        print(f"  {what:22s} validation {f2['val']:.4f}  held-out {f2['test']:.4f}")


if __name__ == "__main__":
    main()
