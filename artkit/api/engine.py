"""The one place where the execution engine is chosen: threads here, or Ray actors.

``local`` runs the overlapped thread pipeline in this process; ``ray`` runs the same code
on Ray Data actors (:mod:`artkit.runtime.ray_engine`), on a local Ray instance or on the
cluster at `address`. Both yield the same batches in the same order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from artkit.errors import ArtkitError

Engine = Literal["local", "ray"]
ENGINES: tuple[Engine, ...] = ("local", "ray")


def check_engine(engine: str) -> Engine:
    if engine not in ENGINES:
        raise ArtkitError(f"unknown engine '{engine}'", hint="use local or ray")
    return engine  # type: ignore[return-value]


def require_engine(engine: str, address: str | None = None) -> Engine:
    """`engine`, checked, and for ``ray`` Ray installed and `address` reachable: a command
    that writes a file as it goes (``embed``, ``index build``) fails in one line before it
    opens one."""
    if check_engine(engine) == "ray":
        from artkit.runtime.ray_engine import check_cluster

        check_cluster(address)
    return engine  # type: ignore[return-value]


def score_stream(model_path: Path, session: Any, card: Any, paths: Iterable[Path], *,
                 engine: Engine, batch_size: int, workers: int, device: str,
                 address: str | None, outputs: Sequence[str] = ("scores",)) -> Iterator[Any]:
    """Scored batches (:class:`artkit.runtime.scoring.Scored`) of `paths`, in input order."""
    if check_engine(engine) == "ray":
        from artkit.runtime.ray_engine import ray_score_batches

        return ray_score_batches(model_path, list(paths), batch_size=batch_size, device=device,
                                 address=address, outputs=outputs)
    from artkit.runtime.scoring import score_batches

    return score_batches(session, card, paths, batch_size=batch_size, workers=workers,
                         outputs=outputs)


def detect_stream(paths: Sequence[Path], method: Any, thresholds: Sequence[float],
                  options: dict[str, Any], cam_model: Any, *, engine: Engine, batch_size: int,
                  device: str, address: str | None, keep_images: bool) -> Iterator[Any]:
    """Per batch, the detected photos and the files that failed, in input order."""
    if check_engine(engine) == "ray":
        from artkit.runtime.ray_engine import ray_detect_photos

        return ray_detect_photos(paths, method, thresholds, options, cam_model,
                                 batch_size=batch_size, device=device, address=address,
                                 keep_images=keep_images)
    from artkit.detection.pipeline import detect_photos

    return detect_photos(paths, method, thresholds, options, cam_model, batch_size=batch_size)
