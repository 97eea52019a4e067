"""A complete artkit model plugin in one file: nearest class mean on colour histograms.

Install a package whose pyproject.toml declares

    [project.entry-points.artkit]
    toy = "artkit_toy"

and `artkit train toy-histogram` exists, with its own `--bins` option, and so does the
command `artkit toy-colours`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import typer

from artkit import hookimpl
from artkit.atomic import atomic_path
from artkit.contracts import OptionSpec, TrainContext
from artkit.data.decode import decode_image
from artkit.training.runs import Run


def colour_histogram(path: Path, bins: int) -> np.ndarray:
    """Joint RGB histogram of one image, L1-normalised."""
    pixels = decode_image(path).reshape(-1, 3) // (256 // bins)
    codes = (pixels[:, 0] * bins + pixels[:, 1]) * bins + pixels[:, 2]
    counts = np.bincount(codes, minlength=bins**3).astype(np.float32)
    return counts / counts.sum()


class HistogramPredictor:
    def __init__(self, means: np.ndarray, labels: list[str], bins: int):
        self.means, self.labels, self.bins = means, labels, bins

    def predict_paths(self, paths: Sequence[Path]) -> np.ndarray:
        features = np.stack([colour_histogram(p, self.bins) for p in paths])
        distances = np.linalg.norm(features[:, None, :] - self.means[None], axis=2)
        logits = -distances * 50.0
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)  # scores that sum to 1 per image


class ToyHistogramModel:
    name = "toy-histogram"
    description = "Nearest class mean on colour histograms (the worked plugin example)."
    tasks = ("multiclass",)
    options = [OptionSpec("bins", int, 4, "Histogram bins per colour channel.")]

    def train(self, ctx: TrainContext) -> None:
        bins = ctx.options["bins"]
        features = np.stack([colour_histogram(ctx.dataset.paths[i], bins)
                             for i in ctx.train_idx])
        targets = ctx.dataset.targets[ctx.train_idx]
        means = np.stack([features[targets == c].mean(axis=0) if np.any(targets == c)
                          else np.zeros(features.shape[1], np.float32)
                          for c in range(len(ctx.dataset.labels))])
        with atomic_path(ctx.run.path("class_means.npy")) as tmp:
            np.save(tmp, means)

    def load(self, run: Run) -> HistogramPredictor:
        config = run.config
        means = np.load(run.path("class_means.npy"))
        return HistogramPredictor(means, config.labels, config.options["bins"])


@hookimpl
def register_models(register) -> None:
    register(ToyHistogramModel())


def colours_command(images: list[Path], bins: int = 4) -> None:
    """Print the strongest colour bin of each image: what the toy model compares."""
    for path in images:
        histogram = colour_histogram(path, bins)
        code = int(histogram.argmax())
        rgb = (code // bins**2, code // bins % bins, code % bins)
        typer.echo(f"{path}\tbin {rgb}\t{histogram[code]:.2f}")


@hookimpl
def register_commands(cli: typer.Typer) -> None:
    cli.command("toy-colours")(colours_command)
