"""`artkit.build_painting_detector(...)`: the painting classifier `artkit detect` uses,
rebuilt from licence-clean material in one call.

The recipe (docs/detection.md): synthetic rooms hung with procedural paintings (or with the
images of `paintings`, e.g. a museum's own collection), crops of the frames method's own
proposals labelled painting / background, MobileNet alpha 0.25 from the Keras Applications
ImageNet weights (Apache-2.0) fine-tuned on them, exported to ONNX with the recipe and its
provenance in the model card (``extra["provenance"]``). The same seed gives the same rooms
and crops; TensorFlow's training on CPU is seeded too. The run is kept under ``runs/``
like any training.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from artkit.console import ProgressCallback, info, reporting

WEIGHTS_ORIGIN = ("Keras Applications MobileNet alpha 0.25, ImageNet, no top "
                  "(mobilenet_2_5_224_tf_no_top.h5), Apache-2.0")


@dataclass
class Recipe:
    """What :func:`build_painting_detector` makes, recorded in the model card."""

    rooms: int = 400
    room_size: int = 640
    crop_size: int = 128
    per_photo: int = 6
    epochs: int = 4
    patience: int = 2
    seed: int = 1
    """The first member's rooms' seed; member k's rooms are seeded ``seed + k``."""
    members: int = 3
    """Trainings averaged into the detector (:mod:`artkit.onnx_export.ensemble`), each on its own
    rooms. One training varies a lot with the room seed (AP@0.5 on the tuning half of
    estense-dev 0.737 to 0.783 for seeds 1 to 3); their average scored 0.782
    (docs/detection.md)."""
    crop_seed: int = 0
    train_seed: int = 0
    """The crops' and the training's seeds, recorded like the rooms'."""


def build_painting_detector(output: str | Path, *, weights: str | Path | None,
                            paintings: str | Path | None = None, recipe: Recipe | None = None,
                            workdir: str | Path | None = None,
                            progress: bool | ProgressCallback | None = None) -> Path:
    """Synthesise the rooms, crop the proposals, train and export each member, and average
    the members into `output`; returns `output`.

    `weights`: the MobileNet alpha 0.25 ImageNet weights file (.h5; None: random
    initialisation, for tests only). `paintings`: a folder
    of images to hang instead of procedural paintings (their licence then travels with the
    model). `workdir`: where the rooms, crops, runs and members are kept (default: a
    temporary folder, deleted at the end)."""
    from artkit.atomic import write_bytes
    from artkit.onnx_export.ensemble import average_models

    recipe = recipe or Recipe()
    output = Path(output)
    with reporting(progress), tempfile.TemporaryDirectory(prefix="artkit-detector-") as tmp:
        work = Path(workdir) if workdir is not None else Path(tmp)
        seeds = [recipe.seed + k for k in range(recipe.members)]
        members = [_build_member(work / f"member-{seed}", seed, weights, paintings, recipe)
                   for seed in seeds]
        if len(members) == 1:
            write_bytes(output, members[0][0].read_bytes())
        else:
            average_models([path for path, _, _ in members], output)
        provenance: dict[str, Any] = {
            "recipe": asdict(recipe), "room_seeds": seeds,
            "crops": [counts for _, counts, _ in members],
            "paintings": str(paintings) if paintings is not None
            else "procedural (artkit data synth --task detection), no third-party image",
            "weights": WEIGHTS_ORIGIN if str(weights) != "none" and weights is not None
            else "none (random initialisation)",
            "command": "artkit build-painting-detector --weights W"
                       + (" --paintings DIR" if paintings is not None else "")
                       + f" --seed {recipe.seed} --members {recipe.members}",
            "runs": [run for _, _, run in members]}
        set_provenance(output, provenance)
    return output


def _build_member(work: Path, seed: int, weights: str | Path | None,
                  paintings: str | Path | None, recipe: Recipe
                  ) -> tuple[Path, dict[str, int], str]:
    """One training of the recipe on rooms seeded `seed`: its exported file, crop counts and
    run folder."""
    from artkit.api.train import export, train
    from artkit.data.room_crops import make_room_crops
    from artkit.data.synth import generate

    rooms = generate(work / "rooms", "detection", recipe.rooms, seed=seed,
                     size=recipe.room_size,
                     paintings=Path(paintings) if paintings is not None else None)
    counts = make_room_crops(rooms, work / "crops", per_photo=recipe.per_photo,
                             size=recipe.crop_size, seed=recipe.crop_seed, proposals="frames")
    info(f"rooms seed {seed}, crops: {counts}")
    run = train("mobilenet", data=work / "crops", seed=recipe.train_seed,
                weights="none" if weights is None else str(weights), alpha=0.25,
                input_size=recipe.crop_size, epochs=recipe.epochs, patience=recipe.patience)
    return export(run, output=work / "member.onnx").path, counts, str(run.dir)


def set_provenance(path: Path, provenance: dict[str, Any]) -> None:
    """Write `provenance` into the model card of the exported file at `path`."""
    from artkit.formats.model_card import ModelCard

    card = ModelCard.read(path)
    card.extra = {**card.extra, "provenance": provenance}
    card.write(path)
