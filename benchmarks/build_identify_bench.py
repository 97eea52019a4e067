"""Build an identification benchmark for `artkit identify`: collection images hung into the
annotated painting outlines of real room photos.

The question `identify` answers is "which item of the collection does this photo show?", and
no data set pairs real rooms with a collection we hold. So the pairs are made: each room photo
of estense-dev gets a few of its annotated paintings replaced by randomly chosen aic-museum
images, warped onto the outline with a homography and degraded the way a visitor's phone
degrades them (exposure, gamma, colour cast, blur, noise, JPEG). Some rooms are left as they
are (re-encoded only, so JPEG artefacts give nothing away): they are the negatives, where the
right answer is "not in the collection". estense-dev's paintings are not aic-museum items, so
untouched paintings are negatives too.

The split is estense-dev's split by video (`split_of` of benchmarks/detection_estense.py), so
that tuning on "tune" never sees a frame of a "report" video; "report" is for reporting only.

    python benchmarks/build_identify_bench.py --rooms ../shared/data/estense-dev \
        --collection ../shared/data/aic-museum --out /tmp/identify-bench --seed 0 \
        [--per-room 1..3] [--negatives 0.3]

Writes OUT/images/*.jpg, OUT/truth.json and OUT/README.txt. The inputs' licences are unknown:
the output is for local evaluation only, never commit or ship it.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from detection_estense import split_of  # noqa: E402

from artkit.atomic import write_bytes, write_json, write_text  # noqa: E402
from artkit.console import make_progress  # noqa: E402
from artkit.errors import ArtkitError  # noqa: E402

#: Outlines smaller than this (in pixels of area) cannot carry an artwork: skipped.
MIN_QUAD_AREA = 16 * 16

README = """Identification benchmark for `artkit identify`, built by
benchmarks/build_identify_bench.py (seed {seed}).

images/     {photos} room photos (JPEG): {hung} collection items hung into {positives} of them,
            {negatives} left untouched (re-encoded only) as negatives.
truth.json  per photo: file, split (tune/report, by video as benchmarks/detection_estense.py),
            source room photo, JPEG quality, and per hung item its collection id and file,
            the four corners in the photo (top-left, top-right, bottom-right, bottom-left),
            its share of the photo area, its obliqueness and its photometric changes.

Built from estense-dev (Galleria Estense room photos) and aic-museum (Art Institute of
Chicago images). The licences of both are unknown: evaluation only, do not commit, ship or
train anything shipped on it. The "report" split is for reporting only.
"""


def parse_range(text: str) -> tuple[int, int]:
    """`"2"` or `"1..3"` as an inclusive (low, high) pair: how many paintings a room gets."""
    low, _, high = text.partition("..")
    try:
        pair = (int(low), int(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or A..B, got {text!r}") from None
    if pair[0] < 1 or pair[1] < pair[0]:
        raise argparse.ArgumentTypeError(f"expected 1 <= A <= B, got {text!r}")
    return pair


def order_corners(points: np.ndarray) -> np.ndarray:
    """The quad's corners clockwise from the top-left one (the one with the smallest x + y):
    the order `getPerspectiveTransform` pairs with the artwork's own corners."""
    centre = points.mean(axis=0)
    angles = np.arctan2(points[:, 1] - centre[1], points[:, 0] - centre[0])
    points = points[np.argsort(angles)]  # clockwise on screen: y points down
    return np.roll(points, -int(np.argmin(points.sum(axis=1))), axis=0)


def outline_quad(annotation: dict[str, Any]) -> tuple[np.ndarray, str]:
    """Four corners of a painting's outline and where they came from.

    estense-dev's outlines are polygons of 3 to 190 points (half of them 4); a homography needs
    4, so longer ones are simplified to their 4-corner approximation, and the bbox stands in
    where that fails (a rounded or odd-shaped frame)."""
    segmentation = annotation.get("segmentation") or []
    if segmentation and len(segmentation[0]) >= 8:
        polygon = np.asarray(segmentation[0], np.float32).reshape(-1, 2)
        if len(polygon) == 4:
            return order_corners(polygon), "polygon"
        hull = cv2.convexHull(polygon)
        perimeter = cv2.arcLength(hull, True)
        for share in (0.01, 0.02, 0.04, 0.08):
            approx = cv2.approxPolyDP(hull, share * perimeter, True).reshape(-1, 2)
            if len(approx) == 4:
                return order_corners(approx.astype(np.float32)), "polygon-fit"
    x, y, w, h = annotation["bbox"]
    corners = np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float32)
    return corners, "bbox"


def max_angle_deviation(quad: np.ndarray) -> float:
    """Obliqueness: the largest deviation (degrees) of an interior angle from 90; 0 for a
    rectangle seen head-on, larger the more the wall is seen from the side."""
    worst = 0.0
    for i in range(4):
        a = quad[i - 1] - quad[i]
        b = quad[(i + 1) % 4] - quad[i]
        cosine = float(a @ b) / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-9)
        worst = max(worst, abs(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))) - 90.0))
    return worst


def photometric(rng: np.random.Generator) -> dict[str, Any]:
    """Random lighting and camera changes for one hung item (the ranges of gallery photos
    taken by phone: dim or bright rooms, warm lamps, slight defocus, sensor noise)."""
    return {"gain": round(float(rng.uniform(0.6, 1.3)), 3),
            "gamma": round(float(rng.uniform(0.7, 1.4)), 3),
            "cast_rgb": [round(float(v), 3) for v in rng.uniform(0.85, 1.15, 3)],
            "blur_sigma": round(float(rng.choice([0.0, rng.uniform(0.5, 2.0)])), 3),
            "noise_sigma": round(float(rng.uniform(0.0, 6.0)), 3)}


def degrade(art: np.ndarray, params: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    """The artwork (RGB uint8) under `params`'s exposure, gamma, colour cast, blur and noise."""
    image = art.astype(np.float32) / 255.0
    image = np.clip(image * params["gain"] * np.asarray(params["cast_rgb"], np.float32), 0, 1)
    image = image ** params["gamma"] * 255.0
    if params["blur_sigma"] > 0:
        image = cv2.GaussianBlur(image, (0, 0), params["blur_sigma"])
    image = image + rng.normal(0.0, params["noise_sigma"], image.shape).astype(np.float32)
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


def hang(photo: np.ndarray, art: np.ndarray, quad: np.ndarray) -> None:
    """Warp `art` onto `quad` of `photo` in place, blended through a slightly feathered mask so
    the edge is not a one-pixel seam that a detector could key on."""
    h, w = art.shape[:2]
    source = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    matrix = cv2.getPerspectiveTransform(source, quad.astype(np.float32))
    size = (photo.shape[1], photo.shape[0])
    warped = cv2.warpPerspective(art, matrix, size, flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), matrix, size)
    alpha = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), 0.7)[..., None]
    photo[:] = np.clip(photo * (1.0 - alpha) + warped * alpha + 0.5, 0, 255).astype(np.uint8)


def jpeg_bytes(image: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def load_rooms(rooms: Path) -> tuple[list[dict[str, Any]], dict[int, list[dict[str, Any]]]]:
    """estense-dev's photos (sorted by file, so the seed alone fixes the output) and their
    painting annotations by image id."""
    truth_path = rooms / "annotations_coco.json"
    if not truth_path.is_file():
        raise ArtkitError("no annotations_coco.json in the rooms folder", path=rooms,
                          hint="pass estense-dev's folder as --rooms")
    try:
        coco = json.loads(truth_path.read_text(encoding="utf-8"))
        images = sorted(coco["images"], key=lambda image: image["file_name"])
        by_image: dict[int, list[dict[str, Any]]] = {image["id"]: [] for image in images}
        for annotation in coco["annotations"]:
            by_image[annotation["image_id"]].append(annotation)
    except (ValueError, KeyError, TypeError) as error:
        raise ArtkitError(f"not a COCO detection file ({error})", path=truth_path) from None
    return images, by_image


def load_collection(collection: Path) -> list[Path]:
    files = sorted(p for p in (collection / "images").glob("*")
                   if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    if not files:
        raise ArtkitError("no images in the collection's images/ folder", path=collection,
                          hint="pass aic-museum's folder as --collection")
    return files


def build_photo(rooms: Path, image: dict[str, Any], annotations: list[dict[str, Any]],
                collection: list[Path], rng: np.random.Generator, per_room: tuple[int, int],
                negative_share: float) -> tuple[bytes, dict[str, Any]]:
    """One benchmark photo (JPEG bytes) and its truth record."""
    photo = np.asarray(Image.open(rooms / image["file_name"]).convert("RGB")).copy()
    height, width = photo.shape[:2]
    quads = [(annotation["id"], *outline_quad(annotation)) for annotation in annotations]
    quads = [q for q in quads if cv2.contourArea(q[1]) >= MIN_QUAD_AREA]
    negative = not quads or rng.random() < negative_share
    count = 0 if negative else min(len(quads), int(rng.integers(per_room[0], per_room[1] + 1)))
    chosen = sorted(rng.choice(len(quads), count, replace=False).tolist()) if count else []
    picks = rng.choice(len(collection), count, replace=False).tolist() if count else []
    items = []
    for slot, pick in zip(chosen, picks, strict=True):
        annotation_id, quad, outline = quads[slot]
        params = photometric(rng)
        art = np.asarray(Image.open(collection[pick]).convert("RGB"))
        hang(photo, degrade(art, params, rng), quad)
        items.append({"item_id": collection[pick].stem, "item_file": collection[pick].name,
                      "annotation_id": annotation_id, "outline": outline,
                      "corners": [[round(float(x), 1), round(float(y), 1)] for x, y in quad],
                      "area_share": round(float(cv2.contourArea(quad)) / (width * height), 5),
                      "max_angle_dev_deg": round(max_angle_deviation(quad), 2),
                      "photometric": params})
    quality = int(rng.integers(60, 96))
    name = Path(image["file_name"]).stem + ".jpg"
    record = {"file": f"images/{name}", "split": split_of(image["file_name"]),
              "source": image["file_name"], "width": width, "height": height,
              "jpeg_quality": quality, "negative": negative, "items": items}
    return jpeg_bytes(photo, quality), record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=Path, required=True, help="estense-dev's folder")
    parser.add_argument("--collection", type=Path, required=True, help="aic-museum's folder")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-room", type=parse_range, default=(1, 3),
                        help="paintings replaced per positive room, N or A..B (default 1..3)")
    parser.add_argument("--negatives", type=float, default=0.3,
                        help="share of rooms left untouched (default 0.3)")
    args = parser.parse_args()
    try:
        build(args.rooms, args.collection, args.out, args.seed, args.per_room, args.negatives)
    except ArtkitError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(1) from None


def build(rooms: Path, collection_dir: Path, out: Path, seed: int, per_room: tuple[int, int],
          negative_share: float) -> dict[str, Any]:
    """Write the benchmark into `out` and return its truth."""
    for label, path in (("rooms", rooms), ("collection", collection_dir)):
        if not path.is_dir():
            raise ArtkitError(f"the {label} folder does not exist", path=path)
        if out.resolve().is_relative_to(path.resolve()):
            raise ArtkitError(f"--out lies inside the {label} folder, which is read-only input",
                              path=out)
    if not 0.0 <= negative_share <= 1.0:
        raise ArtkitError(f"--negatives must be a share in [0, 1], got {negative_share}")
    images, by_image = load_rooms(rooms)
    collection = load_collection(collection_dir)
    cv2.setNumThreads(1)
    photos = []
    with make_progress(rate_unit="img") as progress:
        task = progress.add_task("building", total=len(images))
        for index, image in enumerate(images):
            # One generator per room: a photo's draws do not depend on the photos before it.
            rng = np.random.default_rng([seed, index])
            data, record = build_photo(rooms, image, by_image[image["id"]], collection, rng,
                                       per_room, negative_share)
            write_bytes(out / record["file"], data)
            photos.append(record)
            progress.advance(task)
    truth = {"seed": seed, "rooms": str(rooms), "collection": str(collection_dir),
             "per_room": list(per_room), "negatives": negative_share,
             "corners_order": "top-left, top-right, bottom-right, bottom-left",
             "photos": photos}
    write_json(out / "truth.json", truth)
    hung = sum(len(p["items"]) for p in photos)
    negatives = sum(p["negative"] for p in photos)
    write_text(out / "README.txt", README.format(seed=seed, photos=len(photos), hung=hung,
                                                 positives=len(photos) - negatives,
                                                 negatives=negatives))
    for split in ("tune", "report"):
        part = [p for p in photos if p["split"] == split]
        print(f"{split}: {len(part)} photos, {sum(len(p['items']) for p in part)} items hung, "
              f"{sum(p['negative'] for p in part)} negatives")
    return truth


if __name__ == "__main__":
    main()
