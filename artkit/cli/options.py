"""The `--engine` and `--ray-address` options that `predict` and `detect` share.

``local`` runs the overlapped thread pipeline in this process; ``ray`` runs the same code
on Ray Data actors (:mod:`artkit.runtime.ray_engine`), on a local Ray instance or on the
cluster at ``--ray-address``. Both give the same output files in the same order.
"""

from __future__ import annotations

from typing import Annotated, Literal

import typer

Engine = Literal["local", "ray"]

EngineOption = Annotated[Engine, typer.Option(
    "--engine", help="local: threads in this process; ray: Ray Data actors (each with one "
    "onnxruntime session) on a local Ray instance or on --ray-address. Same results.")]

RayAddressOption = Annotated[str | None, typer.Option(
    "--ray-address", help="With --engine ray: the cluster to join ('auto' or "
    "ray://host:10001); default: start a local Ray instance.")]
