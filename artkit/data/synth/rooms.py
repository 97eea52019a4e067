"""Photos of museum rooms for the synthetic detection set.

A room is drawn in one-point perspective (a back wall, sometimes side walls, a floor and a
ceiling strip) or as a close view of one wall. Framed paintings hang on the walls (those on
side walls warped by the wall's homography): half of them dark old-master canvases, some in
carved gilt frames or oval (old_masters.py). Sculptures on plinths, doors, the caption
cards beside paintings and boards of text are the distractors. The ground truth is the
axis-aligned box of each painting's frame. Then spotlights, a closer framing that cuts
paintings at the photo's edge, a tilted camera (sometimes steeply), a wide-angle lens's
barrel distortion, uneven light, blur and noise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from artkit.data.synth.artworks import PAINTING_CLASSES, draw_sculpture, render_artwork
from artkit.data.synth.canvas import Color, finish, hsv, jitter
from artkit.data.synth.old_masters import gilt_frame, old_master

AA = cv2.LINE_AA
MAX_PAINTINGS = 6
OLD_MASTER_SHARE = 0.5
#: Rooms photographed through a wide-angle lens (a GoPro's frames bow every straight edge:
#: a third of estense-dev's photos).
WIDE_ANGLE_SHARE = 0.35

#: Rooms photographed from closer in: the camera frames part of the room, so paintings are
#: larger and cut by the photo's edge. On estense-dev's tuning half, half the paintings
#: found touch the photo's edge (a fifth in the rooms before) and the first gallery-room
#: detector rejected 46% of those (9% of the others). With closer views the detector's
#: AP@0.5 there was 0.758 (mean of three room seeds) against 0.726 without (two seeds).
CLOSER_SHARE = 0.5
#: How much of the room's width and height a closer photo keeps.
CLOSER_SCALE = (0.45, 0.85)

#: Source of painting content: (rng, height, width) -> uint8 RGB.
PaintingSource = Callable[[np.random.Generator, int, int], np.ndarray]


def _pt(x: float, y: float) -> tuple[int, int]:
    return (int(round(x)), int(round(y)))


def procedural_painting(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Half old-master canvases (what historic galleries hang most), half the synthetic
    artwork classes."""
    if rng.random() < OLD_MASTER_SHARE:
        return old_master(rng, height, width)
    name = PAINTING_CLASSES[rng.integers(len(PAINTING_CLASSES))]
    art = render_artwork(rng, name, height, width, photographed=False)
    if rng.random() < 0.4:  # an old master under yellowed varnish
        varnish = np.array([0.95, 0.8, 0.55], np.float32) * rng.uniform(0.6, 0.9)
        art = (art * varnish).astype(np.uint8)
    return art


@dataclass
class Room:
    """The geometry of one room photo (pixels)."""

    width: int
    height: int
    left: int  # x where the back wall starts
    right: int  # x where the back wall ends
    ceiling: int  # y of the back wall's top edge
    floor: int  # y of the back wall's bottom edge
    close: bool  # a close view of one wall: big paintings, some cut by the photo's edge


def frame_painting(rng: np.random.Generator, art: np.ndarray) -> np.ndarray:
    """Put `art` in a frame (carved gilt, some with an oval canvas; plain gilt, dark wood,
    black or white; some canvases unframed)."""
    h, w = art.shape[:2]
    style = rng.choice(6, p=[0.2, 0.2, 0.2, 0.1, 0.1, 0.2])  # gilt frames are the most common
    if style == 5:
        return gilt_frame(rng, art, oval=rng.random() < 0.3)
    if style == 4:  # an unframed canvas: only a thin dark edge
        framed = art.copy()
        cv2.rectangle(framed, (0, 0), (w - 1, h - 1), (40, 35, 30), 1)
        return framed
    color: Color = [hsv(0.12, 0.65, 0.75), hsv(0.07, 0.6, 0.3), (25, 25, 25),
                    (235, 232, 225)][style]
    color = jitter(rng, color, 12)
    border = max(int(min(h, w) * rng.uniform(0.06, 0.14)), 2)
    framed = np.empty((h + 2 * border, w + 2 * border, 3), np.uint8)
    framed[:] = color
    # Bevel: light top/left, dark bottom/right, like a moulding lit from above.
    light = tuple(min(c * 1.35, 255) for c in color)
    dark = tuple(c * 0.55 for c in color)
    fh, fw = framed.shape[:2]
    cv2.fillPoly(framed, [np.array([[0, 0], [fw, 0], [fw - border, border], [border, border],
                                    [border, fh - border], [0, fh]], np.int32)], light)
    cv2.fillPoly(framed, [np.array([[fw, fh], [0, fh], [border, fh - border],
                                    [fw - border, fh - border], [fw - border, border],
                                    [fw, 0]], np.int32)], dark)
    if rng.random() < 0.5:  # a passe-partout mat
        mat = max(border // 2, 1)
        framed[border:fh - border, border:fw - border] = jitter(rng, (235, 230, 215), 8)
        inner = cv2.resize(art, (w - 2 * mat, h - 2 * mat), interpolation=cv2.INTER_AREA)
        framed[border + mat:fh - border - mat, border + mat:fw - border - mat] = inner
    else:
        framed[border:fh - border, border:fw - border] = art
    return framed


def _overlaps(box: tuple[int, int, int, int], boxes: list[tuple[int, int, int, int]],
              gap: int) -> bool:
    x0, y0, x1, y1 = box
    return any(x0 < b[2] + gap and b[0] < x1 + gap and y0 < b[3] + gap and b[1] < y1 + gap
               for b in boxes)


def _paste_quad(image: np.ndarray, picture: np.ndarray, quad: np.ndarray) -> None:
    """Warp `picture` onto the quadrilateral `quad` (tl, tr, br, bl) of `image`."""
    h, w = picture.shape[:2]
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    matrix = cv2.getPerspectiveTransform(src, quad.astype(np.float32))
    size = (image.shape[1], image.shape[0])
    warped = cv2.warpPerspective(picture, matrix, size, flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), matrix, size)
    alpha = (mask.astype(np.float32) / 255)[..., None]
    image[:] = (image * (1 - alpha) + warped * alpha).astype(np.uint8)


def _draw_room(rng: np.random.Generator, width: int, height: int) -> tuple[np.ndarray, Room]:
    wall = hsv(rng.random(), rng.uniform(0, 0.45), rng.uniform(0.35, 0.95))
    floor_color = hsv(rng.uniform(0.02, 0.12), rng.uniform(0.1, 0.6), rng.uniform(0.15, 0.6))
    close = rng.random() < 0.45
    side = not close and rng.random() < 0.6
    room = Room(width, height,
                left=int(width * rng.uniform(0.12, 0.3)) if side else 0,
                right=int(width * rng.uniform(0.7, 0.88)) if side else width,
                ceiling=0 if close else int(height * rng.uniform(0.0, 0.12)),
                floor=int(height * (rng.uniform(0.85, 1.0) if close else
                                    rng.uniform(0.68, 0.82))),
                close=close)
    image = np.empty((height, width, 3), np.uint8)
    image[:] = jitter(rng, (230, 228, 222), 10)  # ceiling
    cv2.rectangle(image, (room.left, room.ceiling), (room.right, room.floor), wall, -1)
    side_wall = tuple(c * rng.uniform(0.7, 0.9) for c in wall)
    if side:
        cv2.fillPoly(image, [np.array([[0, 0], [room.left, room.ceiling],
                                       [room.left, room.floor], [0, height]], np.int32)],
                     side_wall)
        cv2.fillPoly(image, [np.array([[width, 0], [room.right, room.ceiling],
                                       [room.right, room.floor], [width, height]], np.int32)],
                     side_wall)
    floor_quad = np.array([[room.left, room.floor], [room.right, room.floor],
                           [width, height], [0, height]], np.int32)
    cv2.fillPoly(image, [floor_quad], floor_color)
    # Floorboards converging to the vanishing point of the side walls.
    vanish = _vanishing_point(room)
    for x_far in np.linspace(room.left, room.right, int(rng.integers(5, 14)))[1:-1]:
        t = (height - vanish[1]) / max(room.floor - vanish[1], 1)
        x_near = vanish[0] + (x_far - vanish[0]) * t
        cv2.line(image, _pt(x_far, room.floor), _pt(x_near, height),
                 tuple(c * 0.8 for c in floor_color), 1, AA)
    cv2.line(image, (room.left, room.floor), (room.right, room.floor),
             tuple(c * 0.6 for c in wall), max(height // 120, 1))
    return image, room


def _vanishing_point(room: Room) -> tuple[float, float]:
    """Where the floor edges of the two side walls meet (the centre if there are none)."""
    if room.left <= 0 or room.right >= room.width:
        return (room.width / 2, room.floor - (room.floor - room.ceiling) * 0.4)
    # Left edge (0, H) -> (left, floor); right edge (W, H) -> (right, floor).
    slope_l = (room.floor - room.height) / room.left
    slope_r = (room.floor - room.height) / (room.right - room.width)
    x = (slope_l * 0 - slope_r * room.width) / (slope_l - slope_r)
    return (x, room.height + slope_l * x)


def _try_one_back_wall(rng, image, room, source, boxes, occupied, budget: int) -> None:
    """Try to hang one framed painting at eye level on the back wall, clear of the others,
    small enough that `budget` paintings can share the wall.

    In a close view the painting may run past the photo's edge; its box is then clipped."""
    wall_h = room.floor - room.ceiling
    ph = wall_h * (rng.uniform(0.3, 0.75) if room.close else rng.uniform(0.18, 0.5))
    aspect = rng.uniform(0.6, 1.6)
    share = (room.right - room.left) / max(budget, 1) * rng.uniform(0.55, 0.9)
    pw = int(min(ph * aspect, share))
    ph = int(pw / aspect)
    if ph < 12 or pw < 12 or (not room.close and pw > room.right - room.left - 8):
        return
    if room.close:
        x0 = int(rng.uniform(-0.35 * pw, room.width - 0.65 * pw))
    else:
        x0 = int(rng.uniform(room.left + 4, room.right - pw - 4))
    eye_level = rng.uniform(0.3, 0.62) if budget > 3 else rng.uniform(0.38, 0.55)
    y0 = max(int(room.ceiling + wall_h * eye_level - ph / 2), room.ceiling + 2)
    full = (x0, y0, x0 + pw, y0 + ph)
    if y0 + ph > room.floor - 6 or _overlaps(full, occupied, max(room.width // 60, 3)):
        return
    framed = cv2.resize(frame_painting(rng, source(rng, ph, pw)), (pw, ph),
                        interpolation=cv2.INTER_AREA)
    box = (max(x0, 0), y0, min(x0 + pw, room.width), y0 + ph)
    shadow = max(ph // 25, 1)  # a soft drop shadow below-right of the frame
    region = image[box[1] + shadow:box[3] + shadow, box[0] + shadow:box[2] + shadow]
    region[:] = (region * 0.7).astype(np.uint8)
    image[box[1]:box[3], box[0]:box[2]] = framed[:, box[0] - x0:box[2] - x0]
    boxes.append(box)
    occupied.append(full)
    if rng.random() < 0.7:  # a wall label beside the painting: a small light distractor
        _wall_label(rng, image, room, full, occupied)


def _wall_label(rng, image, room, painting, occupied) -> None:
    x0, y0, x1, y1 = painting
    pw, ph = x1 - x0, y1 - y0
    lw, lh = max(pw // 5, 5), max(ph // 7, 4)
    lx = x1 + max(pw // 12, 3) if rng.random() < 0.7 else x0 - max(pw // 12, 3) - lw
    ly = y1 - lh - int(rng.uniform(0, 0.4) * ph)
    label = (lx, ly, lx + lw, ly + lh)
    if lx < room.left or lx + lw >= room.right or _overlaps(label, occupied, 1):
        return
    cv2.rectangle(image, label[:2], label[2:], jitter(rng, (240, 238, 230), 6), -1)
    ink = (60, 55, 50)
    for k in range(1, max(min(lh // 3, 5), 1)):  # lines of small print
        y = ly + k * 3
        cv2.line(image, (lx + 2, y), (lx + int(lw * rng.uniform(0.4, 0.9)), y), ink, 1)
    occupied.append(label)


def info_panel(rng: np.random.Generator, image: np.ndarray, room: Room,
               occupied: list[tuple[int, int, int, int]]) -> None:
    """A board of text on the wall, the size of a small painting: grey, dark or white, a
    title and paragraphs, sometimes a dark tactile plate. Real galleries have them by the
    door of every room, and a classifier that has only seen small white captions calls
    them paintings."""
    wall_h = room.floor - room.ceiling
    ph = int(wall_h * rng.uniform(0.12, 0.35))
    pw = int(ph * rng.uniform(0.6, 1.1))
    if ph < 10 or room.right - room.left - pw < 8:
        return
    x0 = int(rng.uniform(room.left + 4, room.right - pw - 4))
    y0 = int(room.ceiling + wall_h * rng.uniform(0.3, 0.6) - ph / 2)
    box = (x0, max(y0, room.ceiling + 2), x0 + pw, max(y0, room.ceiling + 2) + ph)
    if box[3] > room.floor - 6 or _overlaps(box, occupied, max(room.width // 60, 3)):
        return
    board = jitter(rng, [(150, 150, 148), (70, 68, 66), (228, 226, 220)][rng.integers(3)], 12)
    ink = (30, 30, 30) if np.mean(board) > 120 else (225, 225, 220)
    cv2.rectangle(image, box[:2], box[2:], board, -1)
    margin, line = max(pw // 10, 2), max(ph // 40, 1)
    y = box[1] + margin
    cv2.line(image, (box[0] + margin, y), (box[0] + int(pw * rng.uniform(0.4, 0.8)), y), ink,
             line * 2)  # the title
    y += line * 6
    while y < box[3] - margin:
        if rng.random() < 0.15:
            y += line * 3  # a new paragraph
        else:
            cv2.line(image, (box[0] + margin, y),
                     (box[0] + margin + int((pw - 2 * margin) * rng.uniform(0.6, 1.0)), y),
                     ink, max(line // 2, 1))
        y += line * 3
    if rng.random() < 0.5:
        cv2.rectangle(image, (box[2] - margin - pw // 8, box[3] - margin - ph // 4),
                      (box[2] - margin, box[3] - margin), (25, 25, 25), -1)
    occupied.append(box)


def _hang_side_wall(rng, image, room, source, boxes, left_side: bool) -> None:
    """A painting on a side wall: a rectangle in wall coordinates warped into perspective."""
    x_far = room.left if left_side else room.right
    x_near = 0 if left_side else room.width
    if abs(x_far - x_near) < room.width * 0.1:
        return
    u0, u1 = sorted(rng.uniform(0.15, 0.85, 2))
    if u1 - u0 < 0.2:
        return
    v_mid, v_half = rng.uniform(0.4, 0.55), rng.uniform(0.12, 0.2)

    def wall_point(u: float, v: float) -> list[float]:
        # u: 0 at the near edge, 1 at the back wall; v: 0 at the top, 1 at the floor line.
        x = x_near + (x_far - x_near) * u
        top = (0.0 + (room.ceiling - 0.0) * u)
        bottom = room.height + (room.floor - room.height) * u
        return [x, top + (bottom - top) * v]

    quad = np.array([wall_point(u0, v_mid - v_half), wall_point(u1, v_mid - v_half),
                     wall_point(u1, v_mid + v_half), wall_point(u0, v_mid + v_half)])
    if not left_side:
        quad = quad[[1, 0, 3, 2]]
    x0, y0 = np.floor(quad.min(0)).astype(int)
    x1, y1 = np.ceil(quad.max(0)).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, room.width), min(y1, room.height)
    if x1 - x0 < 8 or y1 - y0 < 12:
        return
    art_h = int(y1 - y0)
    art_w = max(int(art_h * rng.uniform(0.7, 1.4)), 8)
    framed = frame_painting(rng, source(rng, art_h, art_w))
    _paste_quad(image, framed, quad)
    boxes.append((int(x0), int(y0), int(x1), int(y1)))


def _plinths(rng, image, room, boxes) -> None:
    """0-2 sculptures on plinths on the floor, never in front of a painting."""
    placed: list[tuple[int, int, int, int]] = []
    # Far plinths first, so that a nearer one is drawn over them.
    for base_y in sorted(room.floor + (room.height - room.floor) *
                         rng.uniform(0.3, 0.9, int(rng.integers(0, 3)))):
        scale = 0.6 + 0.8 * (base_y - room.floor) / max(room.height - room.floor, 1)
        pw, ph = room.width * 0.08 * scale, room.height * 0.22 * scale
        cx = rng.uniform(pw, room.width - pw)
        statue_h = ph * rng.uniform(0.8, 1.4)
        footprint = (int(cx - statue_h * 0.4), int(base_y - ph - statue_h),
                     int(cx + statue_h * 0.4), int(base_y))
        if _overlaps(footprint, boxes + placed, 2):
            continue
        placed.append(footprint)
        tone = jitter(rng, (225, 222, 215), 15)
        cv2.rectangle(image, _pt(cx - pw / 2, base_y - ph), _pt(cx + pw / 2, base_y), tone, -1)
        cv2.rectangle(image, _pt(cx - pw / 2, base_y - ph), _pt(cx - pw / 4, base_y),
                      tuple(c * 0.85 for c in tone), -1)
        draw_sculpture(rng, image, cx, base_y - ph, statue_h)


def _spotlights(rng, image, boxes) -> np.ndarray:
    """Pools of light on the wall around each painting, as from ceiling spots."""
    h, w = image.shape[:2]
    light = np.zeros((h, w), np.float32)
    for x0, y0, x1, y1 in boxes:
        cv2.ellipse(light, _pt((x0 + x1) / 2, (y0 + y1) / 2 - (y1 - y0) * 0.2),
                    _pt((x1 - x0) * 0.9, (y1 - y0) * 1.0), 0, 0, 360, 1.0, -1)
    if not boxes:
        return image
    light = cv2.GaussianBlur(light, (0, 0), max(h, w) * 0.04)
    gain = 0.85 + rng.uniform(0.2, 0.45) * light
    return np.clip(image * gain[..., None], 0, 255).astype(np.uint8)


def _door(rng, image, room, occupied) -> None:
    if rng.random() > 0.35:
        return
    wall_h = room.floor - room.ceiling
    dw, dh = int(wall_h * 0.35), int(wall_h * 0.75)
    x0 = int(rng.uniform(room.left, max(room.right - dw, room.left + 1)))
    box = (x0, room.floor - dh, x0 + dw, room.floor)
    if _overlaps(box, occupied, 4):
        return
    cv2.rectangle(image, box[:2], box[2:], jitter(rng, (40, 35, 30), 15), -1)
    occupied.append(box)


def render_room(rng: np.random.Generator, width: int, height: int,
                source: PaintingSource = procedural_painting
                ) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """One room photo (uint8 RGB) and the boxes (x0, y0, x1, y1) of its paintings."""
    scale = rng.uniform(*CLOSER_SCALE) if rng.random() < CLOSER_SHARE else 1.0
    photo_size = (width, height)
    width, height = round(width / scale), round(height / scale)
    image, room = _draw_room(rng, width, height)
    budget = int(rng.choice(MAX_PAINTINGS + 1, p=[0.08, 0.2, 0.22, 0.2, 0.14, 0.1, 0.06]))
    boxes: list[tuple[int, int, int, int]] = []
    occupied: list[tuple[int, int, int, int]] = []
    _door(rng, image, room, occupied)
    for _ in range(int(rng.choice(3, p=[0.5, 0.35, 0.15]))):
        info_panel(rng, image, room, occupied)
    for left_side in (True, False):
        if len(boxes) < budget and room.left > 0 and rng.random() < 0.4:
            _hang_side_wall(rng, image, room, source, boxes, left_side)
    for _ in range(40):
        if len(boxes) >= budget:
            break
        _try_one_back_wall(rng, image, room, source, boxes, occupied, budget)
    _plinths(rng, image, room, boxes)
    image = _spotlights(rng, image, boxes)
    if scale < 1.0:
        image, boxes = _window(rng, image, boxes, *photo_size)
    if rng.random() < 0.6:  # a tilted camera; a hand-held or head-mounted one tilts a lot
        limit = 7.0 if rng.random() < 0.75 else 40.0
        image, boxes = _roll(image, boxes, rng.uniform(-limit, limit))
    if rng.random() < WIDE_ANGLE_SHARE:  # an action camera's barrel distortion
        image, boxes = _barrel(image, boxes, rng.uniform(0.08, 0.35))
    return finish(rng, image, noise=(2, 7), blur=0.5, blur_scale=0.5), boxes


def _clip_box(box: tuple[float, float, float, float], full: float, width: int, height: int
              ) -> tuple[int, int, int, int] | None:
    """`box` clipped to the photo, or None when what is left is a sliver (under 8 px, or
    under 30% of the painting's `full` area). The sliver stays in the photo, unannotated:
    annotating slivers too (crops of a frame's edge labelled painting) lowered the
    detector's AP@0.5 on the tuning half of estense-dev from 0.758 to 0.726 (mean of three
    room seeds)."""
    bx0, by0 = max(box[0], 0.0), max(box[1], 0.0)
    bx1, by1 = min(box[2], float(width)), min(box[3], float(height))
    if bx1 - bx0 < 8 or by1 - by0 < 8 or (bx1 - bx0) * (by1 - by0) < 0.3 * full:
        return None
    return int(np.floor(bx0)), int(np.floor(by0)), int(np.ceil(bx1)), int(np.ceil(by1))


def _window(rng: np.random.Generator, image: np.ndarray,
            boxes: list[tuple[int, int, int, int]], width: int, height: int
            ) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """A closer photo: a random `width` x `height` window of a room drawn larger, so the
    paintings are larger and some are cut by the photo's edge."""
    x0 = int(rng.integers(0, image.shape[1] - width + 1))
    y0 = int(rng.integers(0, image.shape[0] - height + 1))
    kept = []
    for bx0, by0, bx1, by1 in boxes:
        clipped = _clip_box((bx0 - x0, by0 - y0, bx1 - x0, by1 - y0),
                            (bx1 - bx0) * (by1 - by0), width, height)
        if clipped is not None:
            kept.append(clipped)
    return np.ascontiguousarray(image[y0:y0 + height, x0:x0 + width]), kept


def _roll(image: np.ndarray, boxes: list[tuple[int, int, int, int]], degrees: float
          ) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Tilt the camera: rotate (zoomed in so that no corner is empty); each box becomes the
    bounding box of its rotated corners, clipped to the photo (a painting mostly outside the
    photo is left as an unannotated sliver: `_clip_box`)."""
    h, w = image.shape[:2]
    angle = np.radians(abs(degrees))
    zoom = np.cos(angle) + np.sin(angle) * max(w / h, h / w)
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, zoom)
    rotated = cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REFLECT_101)
    kept = []
    for x0, y0, x1, y1 in boxes:
        corners = np.array([[x0, y0, 1], [x1, y0, 1], [x1, y1, 1], [x0, y1, 1]], np.float64)
        moved = corners @ matrix.T
        clipped = _clip_box((*moved.min(0), *moved.max(0)),
                            float(np.prod(moved.max(0) - moved.min(0))), w, h)
        if clipped is not None:
            kept.append(clipped)
    return rotated, kept


def _barrel(image: np.ndarray, boxes: list[tuple[int, int, int, int]], strength: float
            ) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Barrel distortion of strength k: a point at normalised radius r in the distorted photo
    shows the scene point at r (1 + k r^2), so straight edges bow outwards, as through an
    action camera's lens. Each box becomes the bounding box of its distorted outline."""
    h, w = image.shape[:2]
    cx, cy, norm = w / 2, h / 2, np.hypot(w / 2, h / 2)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = (xx - cx) / norm, (yy - cy) / norm
    factor = 1 + strength * (dx * dx + dy * dy)
    shrink = 1 + strength  # the corners show the scene's corners: nothing outside is asked
    map_x = (cx + dx * factor / shrink * norm).astype(np.float32)
    map_y = (cy + dy * factor / shrink * norm).astype(np.float32)
    warped = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    kept = []
    t = np.linspace(0, 1, 24)
    for x0, y0, x1, y1 in boxes:
        outline = np.concatenate([np.stack([x0 + (x1 - x0) * t, np.full_like(t, y0)], 1),
                                  np.stack([x0 + (x1 - x0) * t, np.full_like(t, y1)], 1),
                                  np.stack([np.full_like(t, x0), y0 + (y1 - y0) * t], 1),
                                  np.stack([np.full_like(t, x1), y0 + (y1 - y0) * t], 1)])
        source = (outline - [cx, cy]) / norm * shrink  # = distorted r x (1 + k r^2)
        target = source.copy()
        for _ in range(20):  # invert r_s = r_d (1 + k r_d^2) by fixed-point iteration
            target = source / (1 + strength * (target ** 2).sum(axis=1, keepdims=True))
        moved = target * norm + [cx, cy]
        bx0, by0 = np.clip(moved.min(0), 0, [w, h])
        bx1, by1 = np.clip(moved.max(0), 0, [w, h])
        if bx1 - bx0 >= 8 and by1 - by0 >= 8:
            kept.append((int(np.floor(bx0)), int(np.floor(by0)), int(np.ceil(bx1)),
                         int(np.ceil(by1))))
    return warped, kept
