"""Saving matplotlib figures the one way artkit does: laid out, PNG, atomic, closed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from artkit.atomic import atomic_path

DPI = 110


def save_figure(figure: Any, path: str | Path, dpi: int = DPI) -> Path:
    """Write `figure` to `path` as PNG (atomically) and free it; returns the path."""
    import matplotlib.pyplot as plt

    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=dpi, format="png")
    plt.close(figure)
    return Path(path)
