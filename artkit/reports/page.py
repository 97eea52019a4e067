"""The pieces every report page is made of (sections, tables, galleries) and the rendering:
jinja2 templates in ``templates/``, with the page's script and style inlined, so the page
needs no server and nothing from the internet."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2

from artkit import atomic
from artkit.formats.versioned import ARTKIT_VERSION

TEMPLATES = Path(__file__).with_name("templates")
PAGE_SIZE = 60


def clean(value: Any, digits: int = 4) -> Any:
    """A JSON-safe value for the page: floats rounded, NaN and infinities as None."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float) or hasattr(value, "item"):
        number = float(value)
        return round(number, digits) if math.isfinite(number) else None
    return value


def format_number(value: Any) -> str:
    """How tables show numbers: 4 decimals for fractions, integers as they are."""
    if isinstance(value, bool) or value is None:
        return "–" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–"
        if value.is_integer() and abs(value) >= 1:
            return f"{int(value):,}"
        return f"{value:.4f}" if abs(value) < 1000 else f"{value:,.1f}"
    return str(value)


@dataclass
class Table:
    """A table the page can sort by any column (click a header)."""

    title: str
    columns: list[str]
    rows: list[list[Any]]
    note: str = ""
    id: str = ""

    @classmethod
    def from_dicts(cls, title: str, rows: list[dict[str, Any]], note: str = "",
                   id: str = "", columns: list[str] | None = None) -> Table:
        if columns is None:
            columns = []
            for row in rows:
                columns += [k for k in row if k not in columns]
        return cls(title, columns, [[row.get(c) for c in columns] for row in rows], note, id)


@dataclass
class Gallery:
    """Image tiles the page pages through, with filters.

    Each item is a dict: ``src`` (thumbnail) or ``err`` (why there is none), ``name``,
    ``href`` (the photo, relative to the page), ``lines`` ([css class, text] pairs under
    the image), ``f`` (filter key -> values), ``score``, and for photos with boxes ``w``,
    ``h`` and ``boxes`` ([x1, y1, x2, y2, css class, label, score] in the photo's
    pixels; score None for an annotated box)."""

    id: str
    title: str
    items: list[dict[str, Any]]
    note: str = ""
    filters: list[dict[str, Any]] = field(default_factory=list)
    score: dict[str, Any] | None = None
    """{"title": ..., "min": ..., "max": ...}: a range filter on the items' ``score``."""
    orders: list[tuple[str, str]] = field(default_factory=list)
    """(key, title) of the orders offered; the first is the items' own order. Keys:
    ``given``, ``score-asc``, ``score-desc``, ``name``."""
    boxes: bool = False
    page_size: int = PAGE_SIZE

    def add_filter(self, key: str, title: str) -> None:
        """A drop-down of every value of ``f[key]`` in the items, most frequent first."""
        counts: Counter[str] = Counter()
        for item in self.items:
            counts.update(item.get("f", {}).get(key, []))
        options = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        self.filters.append({"key": key, "title": title, "options": options})

    def payload(self) -> dict[str, Any]:
        return {"items": self.items, "pageSize": self.page_size, "boxes": self.boxes}


def resolve(path_text: str, beside: Path) -> Path:
    """A photo path read from a results file: as written (relative to where the command
    ran, most often the current folder), else relative to the results file's folder."""
    path = Path(path_text)
    if path.is_absolute() or path.exists():
        return path
    other = beside.parent / path
    return other if other.exists() else path


def relative_link(path: Path, page: Path) -> str | None:
    """A link from the page to `path` (None when no relative path exists, e.g. another
    drive)."""
    import os
    from urllib.parse import quote

    try:
        relative = os.path.relpath(Path(path).resolve(), page.resolve().parent)
    except ValueError:
        return None
    return quote(Path(relative).as_posix())


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["num"] = format_number
    return env


def render(template: str, output: Path, **context: Any) -> Path:
    """Render `template` with `context` and write the page atomically to `output`."""
    page = environment().get_template(template).render(
        css=(TEMPLATES / "report.css").read_text(encoding="utf-8"),
        js=(TEMPLATES / "report.js").read_text(encoding="utf-8"),
        version=ARTKIT_VERSION, generated=datetime.now().strftime("%Y-%m-%d %H:%M"),
        **context)
    return atomic.write_text(output, page)
