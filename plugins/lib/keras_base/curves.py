"""Training and validation curves from ``history.csv`` (the seed paper's Figures 2, 4, 7,
10 and 11): one panel per metric, training solid, validation dashed."""

from __future__ import annotations

from pathlib import Path

from artkit.reports.plots import save_figure

SKIPPED_COLUMNS = {"epoch", "seconds", "lr"}
PANEL_ORDER = ["loss", "top1", "f2", "top5", "auc", "precision", "recall"]


def plot_curves(history: list[dict[str, str]], out: Path, title: str) -> Path | None:
    """Save the curves PNG; None when there is no finished epoch to plot."""
    if not history:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = [int(row["epoch"]) for row in history]
    names = [k for k in history[0] if k not in SKIPPED_COLUMNS and not k.startswith("val_")]
    names.sort(key=lambda k: PANEL_ORDER.index(k) if k in PANEL_ORDER else len(PANEL_ORDER))
    columns = min(3, len(names))
    rows = -(-len(names) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows),
                                squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        ax.plot(epochs, [float(r[name]) for r in history], "o-", label="train", ms=3)
        if f"val_{name}" in history[0]:
            ax.plot(epochs, [float(r[f"val_{name}"]) for r in history], "s--",
                    label="validation", ms=3)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    figure.suptitle(title)
    return save_figure(figure, out)
