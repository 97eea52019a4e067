"""Small inline SVG charts for report pages: the numbers are laid out here, the templates
draw them (no plotting library, no script, nothing fetched)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

WIDTH, HEIGHT = 380, 230
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 34


@dataclass
class Series:
    name: str
    points: str
    """SVG polyline points, in chart pixels."""
    css: str
    """The class that colours it (s0, s1, ... or a named one)."""
    dots: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class Chart:
    title: str
    series: list[Series]
    xticks: list[tuple[float, str]]
    yticks: list[tuple[float, str]]
    xlabel: str = ""
    ylabel: str = ""
    vlines: list[tuple[float, str, str]] = field(default_factory=list)
    """(x pixel, css class, label)."""
    hlines: list[tuple[float, str, str]] = field(default_factory=list)
    bars: list[tuple[float, float, float, float, str]] = field(default_factory=list)
    """(x, y, width, height, tooltip) rectangles, for histograms."""
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    plot_width: int = WIDTH - LEFT - RIGHT
    plot_height: int = HEIGHT - TOP - BOTTOM


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round numbers covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high <= low:
        return [low]
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = first
    while value <= high + 1e-9 * step:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _label(value: float) -> str:
    return f"{value:.4g}"


class _Axes:
    def __init__(self, xs: Sequence[float], ys: Sequence[float],
                 y_range: tuple[float, float] | None):
        finite_x = [x for x in xs if math.isfinite(x)] or [0.0, 1.0]
        finite_y = [y for y in ys if math.isfinite(y)] or [0.0, 1.0]
        self.x0, self.x1 = min(finite_x), max(finite_x)
        if self.x1 == self.x0:
            self.x0, self.x1 = self.x0 - 0.5, self.x1 + 0.5
        self.y0, self.y1 = y_range if y_range else (min(finite_y), max(finite_y))
        if self.y1 == self.y0:
            self.y0, self.y1 = self.y0 - 0.5, self.y1 + 0.5
        self.width, self.height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(self, value: float) -> float:
        return round(LEFT + (value - self.x0) / (self.x1 - self.x0) * self.width, 1)

    def y(self, value: float) -> float:
        return round(TOP + (1 - (value - self.y0) / (self.y1 - self.y0)) * self.height, 1)

    def ticks(self, integer_x: bool) -> tuple[list[tuple[float, str]], list[tuple[float, str]]]:
        xt = [t for t in nice_ticks(self.x0, self.x1) if not integer_x or float(t).is_integer()]
        yt = nice_ticks(self.y0, self.y1)
        return ([(self.x(t), _label(t)) for t in xt], [(self.y(t), _label(t)) for t in yt])


def line_chart(title: str, x: Sequence[float], series: Sequence[tuple[str, Sequence[float], str]],
               xlabel: str = "", ylabel: str = "", y_range: tuple[float, float] | None = None,
               vlines: Sequence[tuple[float, str, str]] = (),
               hlines: Sequence[tuple[float, str, str]] = (), dots: bool = False) -> Chart:
    """Lines over a shared x axis; `series` holds (name, y values, css class). Points that are
    not finite numbers are left out. `vlines`/`hlines` are (value, css class, label)."""
    xs = [float(v) for v in x]
    every_y = [float(v) for _, ys, _ in series for v in ys] + [h[0] for h in hlines]
    axes = _Axes(xs, every_y, y_range)
    drawn = []
    for name, ys, css in series:
        pairs = [(axes.x(a), axes.y(float(b))) for a, b in zip(xs, ys, strict=False)
                 if math.isfinite(a) and b is not None and math.isfinite(float(b))]
        drawn.append(Series(name, " ".join(f"{a},{b}" for a, b in pairs), css,
                            pairs if dots or len(pairs) <= 12 else []))
    xticks, yticks = axes.ticks(integer_x=all(v.is_integer() for v in xs))
    return Chart(title, drawn, xticks, yticks, xlabel, ylabel,
                 vlines=[(axes.x(v), c, t) for v, c, t in vlines],
                 hlines=[(axes.y(v), c, t) for v, c, t in hlines])


def histogram(title: str, values: Sequence[float], bins: int = 20, low: float = 0.0,
              high: float = 1.0, xlabel: str = "") -> Chart:
    """A histogram of `values` over [low, high] in `bins` equal bins."""
    counts = [0] * bins
    for value in values:
        if value is None or not math.isfinite(value):
            continue
        index = min(bins - 1, max(0, int((value - low) / (high - low) * bins)))
        counts[index] += 1
    axes = _Axes([low, high], [0.0, float(max(counts, default=0) or 1)], None)
    bars = []
    step = (high - low) / bins
    for k, count in enumerate(counts):
        x0, x1 = axes.x(low + k * step), axes.x(low + (k + 1) * step)
        top = axes.y(count)
        bars.append((x0 + 0.5, top, max(x1 - x0 - 1, 0.5), round(axes.y(0) - top, 1),
                     f"{low + k * step:.2f}-{low + (k + 1) * step:.2f}: {count}"))
    xticks, yticks = axes.ticks(integer_x=False)
    yticks = [t for t in yticks if float(t[1]).is_integer()]
    return Chart(title, [], xticks, yticks, xlabel, "images", bars=bars)
