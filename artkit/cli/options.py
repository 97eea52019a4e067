"""The options several commands share, each declared once.

A command takes its default from the API (``batch_size: BatchSizeOption = DEFAULT``, with
the constant imported from :mod:`artkit.api`), so the CLI never restates a default.

``--engine local`` runs the overlapped thread pipeline in this process; ``ray`` runs the same
code on Ray Data actors (:mod:`artkit.runtime.ray_engine`), on a local Ray instance or on
the cluster at ``--ray-address``. Both give the same output files in the same order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from artkit.api.engine import Engine
from artkit.runtime.session import Device

QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

StrictOption = Annotated[bool, typer.Option(
    "--strict", help="Exit with status 3 (PARTIAL) if any input was skipped because it could "
    "not be read.")]

DeviceOption = Annotated[Device, typer.Option(
    "--device", help="onnxruntime provider: auto uses a GPU when the CUDA provider can "
    "really run, else the CPU.")]

BatchSizeOption = Annotated[int, typer.Option(
    "--batch-size", "-b", min=1, help="Images per onnxruntime batch.")]

WorkersOption = Annotated[int | None, typer.Option(
    "--workers", min=1, help="Decoding threads (default: one per CPU).")]

EngineOption = Annotated[Engine, typer.Option(
    "--engine", help="local: threads in this process; ray: Ray Data actors (each with one "
    "onnxruntime session) on a local Ray instance or on --ray-address. Same results.")]

RayAddressOption = Annotated[str | None, typer.Option(
    "--ray-address", help="With --engine ray: the cluster to join ('auto' or "
    "ray://host:10001); default: start a local Ray instance.")]

MobileNetWeightsOption = Annotated[Path, typer.Option(
    "--weights", help="MobileNet alpha 0.25 ImageNet weights (Keras Applications "
    "mobilenet_2_5_224_tf_no_top.h5, Apache-2.0); 'none': random initialisation.")]
"""What the bundled models are built from (build-painting-detector, build-embedding-model)."""
