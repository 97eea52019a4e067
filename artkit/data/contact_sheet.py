"""Contact sheets: a grid of sample images with their labels, to look at a data set.

Multi-class sets get one row per class; multi-label sets a grid with each image's
attributes under it; detection sets a grid of photos with their ground-truth boxes drawn.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from artkit.atomic import atomic_path
from artkit.data.dataset import Dataset
from artkit.data.decode import decode_image, resize_to

BACKGROUND = (255, 255, 255)
TEXT = (20, 20, 20)
BOX = (0, 255, 60)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def _tile(path: Path, side: int) -> Image.Image:
    image = decode_image(path)
    h, w = image.shape[:2]
    scale = side / max(h, w)
    return Image.fromarray(resize_to(image, (max(int(h * scale), 1), max(int(w * scale), 1))))


def _by_class(dataset: Dataset, per_class: int, side: int) -> Image.Image:
    label_w, gap = 150, 4
    rows = len(dataset.labels)
    sheet = Image.new("RGB", (label_w + per_class * (side + gap), rows * (side + gap) + gap),
                      BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = _font(13)
    counts = dataset.counts()
    for row, name in enumerate(dataset.labels):
        y = gap + row * (side + gap)
        draw.text((6, y + side // 2 - 14), name, fill=TEXT, font=font)
        draw.text((6, y + side // 2 + 2), f"n = {counts[row]}", fill=(110, 110, 110),
                  font=_font(12))
        members = np.flatnonzero(dataset.targets == row)[:per_class]
        for col, index in enumerate(members):
            sheet.paste(_tile(dataset.paths[index], side), (label_w + col * (side + gap), y))
    return sheet


def _multilabel(dataset: Dataset, count: int, side: int, columns: int) -> Image.Image:
    caption_lines, line_h, gap = 5, 12, 6
    rows = -(-count // columns)
    cell_h = side + caption_lines * line_h + gap
    sheet = Image.new("RGB", (columns * (side + gap) + gap, rows * cell_h + gap), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = _font(10)
    for k in range(min(count, len(dataset))):
        x, y = gap + (k % columns) * (side + gap), gap + (k // columns) * cell_h
        sheet.paste(_tile(dataset.paths[k], side), (x, y))
        names = [dataset.labels[j].split("::")[-1] for j in np.flatnonzero(dataset.targets[k])]
        for line, name in enumerate(names[:caption_lines]):
            draw.text((x, y + side + 1 + line * line_h), name, fill=TEXT, font=font)
    return sheet


def _detection(dataset: Dataset, count: int, side: int, columns: int) -> Image.Image:
    gap = 6
    tiles = []
    for k in range(min(count, len(dataset))):
        image = decode_image(dataset.paths[k])
        h, w = image.shape[:2]
        scale = side / max(h, w)
        tile = Image.fromarray(resize_to(image, (int(h * scale), int(w * scale))))
        draw = ImageDraw.Draw(tile)
        for x0, y0, x1, y1 in (dataset.boxes or [])[k] * scale:
            draw.rectangle((x0, y0, x1, y1), outline=BOX, width=2)
        tiles.append(tile)
    tile_h = max(t.height for t in tiles)
    rows = -(-len(tiles) // columns)
    sheet = Image.new("RGB", (columns * (side + gap) + gap, rows * (tile_h + gap) + gap),
                      BACKGROUND)
    for k, tile in enumerate(tiles):
        sheet.paste(tile, (gap + (k % columns) * (side + gap), gap + (k // columns) *
                           (tile_h + gap)))
    return sheet


def _tile_or_blank(path: Path, side: int) -> Image.Image:
    try:
        return _tile(path, side)
    except Exception:  # noqa: BLE001 - a sheet shows what it can; the file is named below
        return Image.new("RGB", (side, side), (200, 200, 200))


def save_image_rows(rows: list[list[tuple[str | Path, str]]], path: str | Path,
                    side: int = 128) -> Path:
    """Save a PNG with one row of (image, caption) tiles per entry of `rows` (a query and
    its neighbours, a group of duplicates)."""
    caption_h, gap = 28, 6
    columns = max((len(r) for r in rows), default=1)
    sheet = Image.new("RGB", (columns * (side + gap) + gap,
                              len(rows) * (side + caption_h + gap) + gap), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = _font(10)
    for r, row in enumerate(rows):
        y = gap + r * (side + caption_h + gap)
        for c, (image_path, caption) in enumerate(row):
            x = gap + c * (side + gap)
            sheet.paste(_tile_or_blank(Path(image_path), side), (x, y))
            name = Path(image_path).name
            draw.text((x, y + side + 1), name[:24], fill=TEXT, font=font)
            draw.text((x, y + side + 14), caption, fill=(110, 110, 110), font=font)
    return _save_png(sheet, path)


def _save_png(sheet: Image.Image, path: str | Path) -> Path:
    # A 256-colour palette keeps a sheet of noisy photos small enough to commit and share.
    palette = sheet.quantize(colors=256, method=Image.Quantize.FASTOCTREE)
    sheet = sheet.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG)
    path = Path(path)
    with atomic_path(path) as tmp:
        sheet.save(tmp, format="PNG", optimize=True)
    return path


def save_contact_sheet(dataset: Dataset, path: str | Path, per_class: int = 6,
                       side: int = 80) -> Path:
    """Save a PNG grid of sample images of `dataset` with their labels (or boxes)."""
    if dataset.task == "multiclass":
        sheet = _by_class(dataset, per_class, side)
    elif dataset.task == "multilabel":
        sheet = _multilabel(dataset, 4 * per_class, side, columns=per_class)
    else:
        sheet = _detection(dataset, 9, side * 3, columns=3)
    return _save_png(sheet, path)
