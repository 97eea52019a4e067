"""The procedural artwork classes of the synthetic multi-class data set.

Each renderer draws one kind of artwork with its own structure (shapes, texture, layout)
and random colours, scale, position and light, so that a classifier has to look at form
and texture: no class owns a colour, and mean colour says little about the class.
Renderers are also the paintings that hang in the synthetic museum rooms.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from artkit.data.synth.canvas import (
    blank,
    finish,
    gradient_ground,
    hsv,
    jitter,
    random_light,
    random_palette,
    shade_ellipsoid,
    soft_shadow,
)

AA = cv2.LINE_AA
Renderer = Callable[[np.random.Generator, int, int], np.ndarray]


def _pt(x: float, y: float) -> tuple[int, int]:
    return (int(round(x)), int(round(y)))


def _paper(rng: np.random.Generator) -> tuple:
    """A ground for works on paper or silk: usually light, sometimes dark (ink then light)."""
    if rng.random() < 0.3:
        return hsv(rng.random(), rng.uniform(0.2, 0.7), rng.uniform(0.08, 0.3))
    return hsv(rng.uniform(0.05, 0.16), rng.uniform(0.05, 0.45), rng.uniform(0.6, 0.97))


def _contrast_ink(rng: np.random.Generator, ground: tuple) -> tuple:
    light = sum(ground) / 3 > 110
    return hsv(rng.random(), rng.uniform(0, 0.8),
               rng.uniform(0.02, 0.3) if light else rng.uniform(0.65, 1.0))


def geometric_abstraction(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Hard-edged flat shapes: a Mondrian grid or scattered circles, bars and triangles."""
    colors = random_palette(rng, 5)
    image = blank(h, w, jitter(rng, colors[0], 30))
    s = min(h, w)
    if rng.random() < 0.4:
        line = jitter(rng, hsv(0, 0, rng.uniform(0, 0.25)), 10)
        xs = sorted(rng.uniform(0.1, 0.9, rng.integers(2, 5)) * w)
        ys = sorted(rng.uniform(0.1, 0.9, rng.integers(2, 5)) * h)
        cells_x, cells_y = [0, *xs, w], [0, *ys, h]
        for i in range(len(cells_x) - 1):
            for j in range(len(cells_y) - 1):
                if rng.random() < 0.35:
                    cv2.rectangle(image, _pt(cells_x[i], cells_y[j]),
                                  _pt(cells_x[i + 1], cells_y[j + 1]),
                                  colors[rng.integers(1, 5)], -1)
        thick = max(int(s * rng.uniform(0.02, 0.05)), 1)
        for x in xs:
            cv2.line(image, _pt(x, 0), _pt(x, h), line, thick)
        for y in ys:
            cv2.line(image, _pt(0, y), _pt(w, y), line, thick)
        return image
    for _ in range(rng.integers(4, 11)):
        color = colors[rng.integers(1, 5)]
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        size = s * rng.uniform(0.08, 0.35)
        kind = rng.integers(3)
        if kind == 0:
            cv2.circle(image, _pt(cx, cy), int(size), color, -1, AA)
        elif kind == 1:
            angle = rng.uniform(0, 180)
            box = cv2.boxPoints(((cx, cy), (size * 2, size * rng.uniform(0.15, 0.6)), angle))
            cv2.fillConvexPoly(image, box.astype(np.int32), color, AA)
        else:
            pts = np.array([[cx + size * np.cos(a), cy + size * np.sin(a)] for a in
                            rng.uniform(0, 2 * np.pi) + np.array([0, 2.1, 4.2])], np.int32)
            cv2.fillConvexPoly(image, pts, color, AA)
    return image


def pointillism(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A soft scene (sky, land, a few blobs) painted as dense dots of broken colour."""
    colors = random_palette(rng, 4)
    scene = gradient_ground(rng, h, w, colors[0], colors[1])
    horizon = int(h * rng.uniform(0.35, 0.7))
    scene[horizon:] = (scene[horizon:] * 0.5 + np.array(colors[2]) * 0.5).astype(np.uint8)
    for _ in range(rng.integers(1, 4)):
        cv2.ellipse(scene, _pt(rng.uniform(0, w), rng.uniform(0, h)),
                    _pt(rng.uniform(0.05, 0.2) * w, rng.uniform(0.05, 0.2) * h), 0, 0, 360,
                    colors[3], -1)
    scene = cv2.GaussianBlur(scene, (0, 0), min(h, w) * 0.03)
    image = blank(h, w, jitter(rng, (235, 230, 220), 20))
    radius = max(min(h, w) * rng.uniform(0.014, 0.028), 1.6)
    count = int(h * w / (radius * radius) * 0.6)
    xs = rng.integers(0, w, count)
    ys = rng.integers(0, h, count)
    shifts = rng.normal(0, 30, (count, 3))
    base = scene[ys, xs].astype(np.float64) + shifts
    r = max(int(round(radius)), 1)
    for x, y, c in zip(xs.tolist(), ys.tolist(), np.clip(base, 0, 255).tolist(), strict=True):
        cv2.circle(image, (x, y), r, c, -1)
    return image


def striped_textile(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Woven stripes (plain, zigzag or ikat-blurred) with a visible thread texture."""
    colors = random_palette(rng, 5)
    period = rng.uniform(0.08, 0.3) * min(h, w)
    widths = rng.uniform(0.2, 1.0, 5)
    widths = np.cumsum(widths / widths.sum()) * period
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    coord = yy if rng.random() < 0.5 else xx
    if rng.random() < 0.4:
        other = xx if coord is yy else yy
        amp = period * rng.uniform(0.2, 0.6)
        coord = coord + amp * np.abs(((other / (period * 0.7)) % 2) - 1)
    phase = (coord + rng.uniform(0, period)) % period
    index = np.searchsorted(widths, phase.ravel()).reshape(h, w).clip(0, 4)
    image = np.array(colors, np.float32)[index]
    if rng.random() < 0.3:
        image = cv2.GaussianBlur(image, (0, 0), period * 0.06)
    weave = 1 + 0.12 * np.sin(xx * np.pi * rng.uniform(0.6, 1.0)) * \
        np.sin(yy * np.pi * rng.uniform(0.6, 1.0))
    return np.clip(image * weave[..., None], 0, 255).astype(np.uint8)


def landscape(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Sky over a horizon, rolling hills, sometimes a sun, trees or water."""
    hue = rng.random()
    sky = gradient_ground(rng, h, w, hsv(hue, rng.uniform(0.2, 0.8), rng.uniform(0.5, 1)),
                          hsv(hue + rng.normal(0, 0.1), rng.uniform(0, 0.5),
                              rng.uniform(0.6, 1)))
    image = sky
    horizon = h * rng.uniform(0.3, 0.65)
    if rng.random() < 0.5:
        cv2.circle(image, _pt(rng.uniform(0, w), rng.uniform(0.05, 0.3) * horizon),
                   int(min(h, w) * rng.uniform(0.04, 0.09)),
                   hsv(rng.uniform(0, 0.17), rng.uniform(0.2, 0.9), 1.0), -1, AA)
    land_hue = rng.random()
    xs = np.linspace(0, w, 24)
    for layer in range(rng.integers(2, 5)):
        base = horizon + layer * h * rng.uniform(0.04, 0.12)
        amp = h * rng.uniform(0.02, 0.12)
        f1, p1 = rng.uniform(0.5, 3), rng.uniform(0, 6.3)
        ys = base - amp * np.sin(xs / w * f1 * 2 * np.pi + p1) - amp * 0.5 * np.sin(
            xs / w * 5.3 + p1 * 2)
        pts = np.array([*zip(xs, ys, strict=True), (w, h), (0, h)], np.int32)
        color = hsv(land_hue + rng.normal(0, 0.06), rng.uniform(0.2, 0.8),
                    rng.uniform(0.15, 0.7) * (1 + 0.15 * layer))
        cv2.fillPoly(image, [pts], color, AA)
    if rng.random() < 0.35:
        water = int(h * rng.uniform(0.72, 0.88))
        reflection = np.flipud(image[2 * water - h:water]).astype(np.float32)
        image[water:] = (reflection * 0.55 + np.array(hsv(rng.uniform(0.5, 0.65), 0.5, 0.6))
                         * 0.45).astype(np.uint8)
    for _ in range(rng.integers(0, 7)):
        x, y = rng.uniform(0, w), rng.uniform(horizon, h)
        size = min(h, w) * rng.uniform(0.03, 0.08) * (0.5 + y / h)
        cv2.line(image, _pt(x, y), _pt(x, y - size), (60, 40, 25), max(int(size / 6), 1))
        cv2.circle(image, _pt(x, y - size * 1.4), int(size * 0.7),
                   hsv(land_hue + rng.normal(0, 0.08), 0.6, rng.uniform(0.15, 0.45)), -1, AA)
    return image


def portrait(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A head-and-shoulders sitter: oval face, hair, garment, on a plain or dark ground."""
    ground = hsv(rng.random(), rng.uniform(0.1, 0.7), rng.uniform(0.05, 0.8))
    image = gradient_ground(rng, h, w, jitter(rng, ground, 25), jitter(rng, ground, 25))
    s = min(h, w)
    cx = w * rng.uniform(0.35, 0.65)
    face_w = s * rng.uniform(0.13, 0.22)
    face_h = face_w * rng.uniform(1.2, 1.45)
    cy = h * rng.uniform(0.3, 0.45)
    garment = hsv(rng.random(), rng.uniform(0.1, 0.9), rng.uniform(0.05, 0.8))
    cv2.ellipse(image, _pt(cx, cy + face_h + s * 0.5), _pt(face_w * 3.2, s * 0.55), 0, 180,
                360, garment, -1, AA)
    cv2.ellipse(image, _pt(cx, cy + face_h + s * 0.5), _pt(face_w * 3.2, s * 0.55), 0, 0,
                180, garment, -1, AA)
    skin = hsv(rng.uniform(0.03, 0.1), rng.uniform(0.2, 0.6), rng.uniform(0.3, 0.95))
    cv2.rectangle(image, _pt(cx - face_w * 0.4, cy), _pt(cx + face_w * 0.4, cy + face_h * 1.4),
                  skin, -1)
    hair = hsv(rng.uniform(0.02, 0.12), rng.uniform(0.2, 0.8), rng.uniform(0.05, 0.7))
    cv2.ellipse(image, _pt(cx, cy - face_h * 0.15), _pt(face_w * 1.15, face_h * 1.05), 0, 0,
                360, hair, -1, AA)
    shade_ellipsoid(image, cx, cy, face_w, face_h, skin, random_light(rng), ambient=0.55)
    eye_y = cy - face_h * 0.1
    for side in (-1, 1):
        cv2.circle(image, _pt(cx + side * face_w * 0.4, eye_y), max(int(face_w * 0.1), 1),
                   (30, 20, 15), -1, AA)
    cv2.line(image, _pt(cx - face_w * 0.3, cy + face_h * 0.45),
             _pt(cx + face_w * 0.3, cy + face_h * 0.45), (120, 50, 50), max(int(s / 80), 1), AA)
    return image


def vase(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A turned vessel seen in profile, shaded as a solid of revolution, with painted bands."""
    ground = hsv(rng.random(), rng.uniform(0, 0.4), rng.uniform(0.2, 0.95))
    image = gradient_ground(rng, h, w, ground, jitter(rng, ground, 35))
    cx = w * rng.uniform(0.4, 0.6)
    top, bottom = h * rng.uniform(0.1, 0.25), h * rng.uniform(0.8, 0.93)
    height = bottom - top
    t = np.linspace(0, 1, 64)
    radius = (0.16 + 0.13 * np.sin(np.pi * t * rng.uniform(0.8, 1.2) + rng.uniform(-0.4, 0.4))
              + 0.05 * np.sin(3 * np.pi * t + rng.uniform(0, 6)))
    radius = np.clip(radius * w * rng.uniform(0.8, 1.3), w * 0.04, w * 0.45)
    radius[:4] = radius[4] * rng.uniform(0.7, 1.0)
    soft_shadow(image, (cx + w * 0.05, bottom), (radius[-1] * 1.4, h * 0.03), 0.45)
    body = random_palette(rng, 3)
    light = rng.uniform(-0.8, 0.8)
    ys = (top + t * height).astype(int)
    bands = rng.uniform(0.2, 0.8, rng.integers(1, 4))
    band_w = rng.uniform(0.03, 0.08)
    for i in range(len(t) - 1):
        r = radius[i]
        y0, y1 = ys[i], max(ys[i + 1], ys[i] + 1)
        xs = np.arange(max(int(cx - r), 0), min(int(cx + r) + 1, w))
        if len(xs) == 0:
            continue
        u = (xs - cx) / max(r, 1)
        shade = 0.35 + 0.65 * np.clip(np.sqrt(np.clip(1 - u * u, 0, 1)) * 0.8 + u * light * 0.5,
                                      0, 1)
        color = body[0]
        for j, b in enumerate(bands):
            if abs(t[i] - b) < band_w:
                color = body[1 + j % 2]
        image[y0:y1, xs[0]:xs[-1] + 1] = np.clip(shade[:, None] * np.array(color), 0, 255)
    return image


def calligraphy(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Brushed characters in columns or rows on paper or silk, sometimes with a red seal."""
    ground = _paper(rng)
    image = blank(h, w, ground)
    ink = _contrast_ink(rng, ground)
    s = min(h, w)
    cell = s * rng.uniform(0.12, 0.22)
    vertical = rng.random() < 0.6
    margin = cell * 0.6
    n_major = max(int((w - 2 * margin) // cell), 1) if vertical else \
        max(int((h - 2 * margin) // cell), 1)
    n_minor = max(int((h - 2 * margin) // cell), 1) if vertical else \
        max(int((w - 2 * margin) // cell), 1)
    for a in range(n_major):
        for b in range(rng.integers(max(n_minor // 2, 1), n_minor + 1)):
            col, row = (a, b) if vertical else (b, a)
            ox, oy = margin + col * cell, margin + row * cell
            for _ in range(rng.integers(2, 6)):
                p0 = (ox + rng.uniform(0.1, 0.9) * cell, oy + rng.uniform(0.1, 0.9) * cell)
                p1 = (ox + rng.uniform(0.1, 0.9) * cell, oy + rng.uniform(0.1, 0.9) * cell)
                thick = max(int(cell * rng.uniform(0.05, 0.14)), 1)
                cv2.line(image, _pt(*p0), _pt(*p1), ink, thick, AA)
    if rng.random() < 0.6:
        x, y = rng.uniform(0.05, 0.8) * w, rng.uniform(0.6, 0.85) * h
        size = s * rng.uniform(0.06, 0.1)
        cv2.rectangle(image, _pt(x, y), _pt(x + size, y + size),
                      hsv(rng.uniform(-0.03, 0.03), 0.8, 0.75), -1)
    return image


def mosaic(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Tesserae set in grout: a simple motif (disc, band, figure) pieced from small tiles."""
    colors = random_palette(rng, 4)
    motif = gradient_ground(rng, h, w, colors[0], jitter(rng, colors[0], 40))
    for _ in range(rng.integers(1, 4)):
        if rng.random() < 0.5:
            cv2.circle(motif, _pt(rng.uniform(0, w), rng.uniform(0, h)),
                       int(min(h, w) * rng.uniform(0.15, 0.35)), colors[rng.integers(1, 4)], -1)
        else:
            y = rng.uniform(0, h)
            cv2.rectangle(motif, _pt(0, y), _pt(w, y + h * rng.uniform(0.08, 0.2)),
                          colors[rng.integers(1, 4)], -1)
    grout = hsv(rng.random(), rng.uniform(0, 0.3), rng.uniform(0.1, 0.9))
    image = blank(h, w, grout)
    tile = max(min(h, w) * rng.uniform(0.045, 0.08), 3.0)
    gap = max(tile * 0.12, 0.6)
    ys = np.arange(0, h + tile, tile)
    for row, y in enumerate(ys):
        offset = (tile / 2) * (row % 2) * (rng.random() < 0.8)
        for x in np.arange(-offset, w + tile, tile):
            cx, cy = x + tile / 2, y + tile / 2
            color = motif[min(int(cy), h - 1), min(max(int(cx), 0), w - 1)].astype(float)
            color = np.clip(color + rng.normal(0, 14, 3), 0, 255)
            half = tile / 2 - gap
            corners = np.array([[-half, -half], [half, -half], [half, half], [-half, half]])
            corners += rng.normal(0, tile * 0.06, corners.shape)
            cv2.fillConvexPoly(image, (corners + [cx, cy]).astype(np.int32), color.tolist())
    return image


def sculpture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A shaded solid (bust, torso or abstract stack of forms) on a plain studio ground."""
    ground = hsv(rng.random(), rng.uniform(0, 0.3), rng.uniform(0.05, 0.95))
    image = gradient_ground(rng, h, w, ground, jitter(rng, ground, 30))
    draw_sculpture(rng, image, w * rng.uniform(0.35, 0.65), h * rng.uniform(0.85, 0.95),
                   min(h, w) * rng.uniform(0.55, 0.8))
    return image


MATERIALS = {  # hue, saturation, value ranges, shine
    "marble": ((0.05, 0.12), (0.0, 0.12), (0.75, 0.98), 0.3),
    "bronze": ((0.06, 0.12), (0.4, 0.8), (0.3, 0.6), 0.6),
    "terracotta": ((0.02, 0.07), (0.45, 0.75), (0.45, 0.8), 0.05),
    "stone": ((0.0, 1.0), (0.0, 0.15), (0.35, 0.7), 0.0),
    "patina": ((0.35, 0.5), (0.25, 0.5), (0.3, 0.6), 0.2),
}


def draw_sculpture(rng: np.random.Generator, image: np.ndarray, cx: float, base_y: float,
                   height: float) -> None:
    """Draw a sculpture (bust, standing figure, abstract stack, animal or head on a socle)
    standing at (cx, base_y), about `height` pixels tall."""
    material = MATERIALS[list(MATERIALS)[rng.integers(len(MATERIALS))]]
    color = hsv(rng.uniform(*material[0]), rng.uniform(*material[1]), rng.uniform(*material[2]))
    light = random_light(rng)
    kind = rng.integers(5)
    unit = height
    soft_shadow(image, (cx + unit * 0.12, base_y), (unit * 0.3, unit * 0.05), 0.5)
    parts: list[tuple[float, float, float, float]] = []  # cx, cy, ax, ay
    if kind == 0:  # bust: plinth block, shoulders, neck, head
        parts = [(0, -0.12, 0.17, 0.12), (0, -0.33, 0.3, 0.14), (0, -0.5, 0.07, 0.1),
                 (0, -0.72, 0.13, 0.17)]
    elif kind == 1:  # standing figure
        lean = rng.uniform(-0.05, 0.05)
        parts = [(-0.05, -0.22, 0.055, 0.22), (0.05, -0.22, 0.055, 0.22),
                 (lean, -0.5, 0.13, 0.17), (lean, -0.68, 0.16, 0.08),
                 (lean * 1.5, -0.86, 0.065, 0.085), (-0.17, -0.55, 0.04, 0.15),
                 (0.17, -0.55, 0.04, 0.15)]
    elif kind == 3:  # an animal (or a reclining figure): a long body on short legs
        facing = rng.choice([-1, 1])
        parts = [(x, -0.1, 0.035, 0.1) for x in (-0.25, -0.17, 0.17, 0.25)]
        parts += [(0, -0.3, 0.36, 0.13), (facing * 0.34, -0.42, 0.07, 0.1),
                  (facing * 0.42, -0.52, 0.1, 0.08)]
    elif kind == 4:  # a head on a socle
        parts = [(0, -0.1, 0.12, 0.1), (0, -0.3, 0.08, 0.12), (0, -0.6, 0.2, 0.26)]
    else:  # abstract stack of rounded forms
        y = 0.0
        for _ in range(rng.integers(2, 5)):
            ay = rng.uniform(0.08, 0.2)
            parts.append((rng.uniform(-0.08, 0.08), -(y + ay), rng.uniform(0.1, 0.3), ay))
            y += ay * 1.7
    for px, py, ax, ay in parts:
        shade_ellipsoid(image, cx + px * unit, base_y + py * unit, ax * unit, ay * unit,
                        jitter(rng, color, 6), light, ambient=0.3, shine=material[3])


def engraving(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A print: forms modelled only by parallel hatching and cross-hatching in one ink."""
    ground = _paper(rng)
    image = blank(h, w, ground)
    ink = _contrast_ink(rng, ground)
    s = min(h, w)
    spacing = max(s * rng.uniform(0.025, 0.05), 2.0)
    mask_layers = []
    for _ in range(rng.integers(2, 5)):
        mask = np.zeros((h, w), np.uint8)
        if rng.random() < 0.5:
            cv2.circle(mask, _pt(rng.uniform(0, w), rng.uniform(0, h)),
                       int(s * rng.uniform(0.15, 0.4)), 255, -1)
        else:
            cv2.rectangle(mask, _pt(rng.uniform(0, w), rng.uniform(0, h)),
                          _pt(rng.uniform(0, w), rng.uniform(0, h)), 255, -1)
        mask_layers.append(mask)
    diag = int(np.hypot(h, w))
    for mask in mask_layers:
        hatch = np.zeros((h, w), np.uint8)
        angle = rng.uniform(0, np.pi)
        dx, dy = np.cos(angle), np.sin(angle)
        for off in np.arange(-diag, diag, spacing):
            ox, oy = w / 2 - dy * off, h / 2 + dx * off
            cv2.line(hatch, _pt(ox - dx * diag, oy - dy * diag),
                     _pt(ox + dx * diag, oy + dy * diag), 255, 1, AA)
        alpha = (hatch.astype(np.float32) / 255 * (mask > 0))[..., None]
        image[:] = (image * (1 - alpha) + np.array(ink) * alpha).astype(np.uint8)
    cv2.rectangle(image, _pt(s * 0.03, s * 0.03), _pt(w - s * 0.03, h - s * 0.03), ink, 1)
    return image


def floral_pattern(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Wallpaper or tile: rosettes of petals and leaves repeated on a (half-drop) grid."""
    colors = random_palette(rng, 4)
    image = blank(h, w, jitter(rng, colors[0], 20))
    step = min(h, w) * rng.uniform(0.18, 0.35)
    petals = int(rng.integers(4, 9))
    petal = step * rng.uniform(0.18, 0.28)
    spin = rng.uniform(0, 360)
    for row, y in enumerate(np.arange(-step, h + step, step)):
        for x in np.arange(-step, w + step, step) + (step / 2) * (row % 2):
            for k in range(petals):
                angle = spin + 360 * k / petals
                px = x + np.cos(np.radians(angle)) * petal
                py = y + np.sin(np.radians(angle)) * petal
                cv2.ellipse(image, _pt(px, py), _pt(petal, petal * 0.45), angle, 0, 360,
                            colors[1], -1, AA)
            cv2.circle(image, _pt(x, y), max(int(petal * 0.45), 1), colors[2], -1, AA)
            lx, ly = x + step / 2, y + step / 2
            cv2.ellipse(image, _pt(lx, ly), _pt(petal * 0.8, petal * 0.3), 45, 0, 360,
                        colors[3], -1, AA)
    return image


def action_painting(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Poured and dripped paint: long tangled skeins of lines and splatters over a ground."""
    colors = random_palette(rng, 5)
    image = blank(h, w, jitter(rng, colors[0], 25))
    s = min(h, w)
    for _ in range(rng.integers(6, 16)):
        color = jitter(rng, colors[rng.integers(1, 5)], 20)
        n = int(rng.integers(8, 20))
        steps = rng.normal(0, s * 0.12, (n, 2)).cumsum(axis=0)
        pts = (steps + [rng.uniform(0, w), rng.uniform(0, h)]).astype(np.int32)
        cv2.polylines(image, [pts], False, color, max(int(s * rng.uniform(0.005, 0.02)), 1), AA)
    for _ in range(rng.integers(20, 80)):
        cv2.circle(image, _pt(rng.uniform(0, w), rng.uniform(0, h)),
                   max(int(s * rng.uniform(0.003, 0.015)), 1),
                   colors[rng.integers(1, 5)], -1, AA)
    return image


#: Class name -> renderer, in the order of the data set's class folders.
ARTWORK_CLASSES: dict[str, Renderer] = {
    "landscape": landscape,
    "portrait": portrait,
    "geometric_abstraction": geometric_abstraction,
    "pointillism": pointillism,
    "striped_textile": striped_textile,
    "vase": vase,
    "calligraphy": calligraphy,
    "mosaic": mosaic,
    "sculpture": sculpture,
    "engraving": engraving,
    "floral_pattern": floral_pattern,
    "action_painting": action_painting,
}

#: Share of the data set per class: as in the seed paper, two classes hold about two thirds.
CLASS_SHARES: dict[str, float] = {
    name: share for name, share in zip(
        ARTWORK_CLASSES, [0.35, 0.31] + [0.034] * (len(ARTWORK_CLASSES) - 2), strict=True)}

#: Classes that read as paintings when framed on a wall (sculpture and vase are objects).
PAINTING_CLASSES = tuple(c for c in ARTWORK_CLASSES if c not in ("sculpture", "vase"))


def render_artwork(rng: np.random.Generator, class_name: str, height: int, width: int,
                   photographed: bool = True) -> np.ndarray:
    """One artwork of `class_name` as (height, width, 3) uint8 RGB.

    With `photographed` the image gets random exposure, white balance, uneven light, noise
    and blur, like a photo of the object; without it, the clean drawing (for a painting that
    a room scene lights itself)."""
    if class_name not in ARTWORK_CLASSES:
        raise KeyError(f"unknown artwork class {class_name!r}; known: {', '.join(ARTWORK_CLASSES)}")
    image = ARTWORK_CLASSES[class_name](rng, height, width)
    return finish(rng, image) if photographed else image
