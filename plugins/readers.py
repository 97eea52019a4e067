"""Built-in data set readers: class folders, iMet 2019 csv, single-label csv, COCO boxes."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from artkit.data.dataset import Dataset
from artkit.data.decode import is_image_path
from artkit.detection.coco import read_coco
from artkit.errors import DataError
from artkit.hookspecs import hookimpl

IMAGE_DIRS = ("images", "train", "imgs")


def _read_rows(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            fields = reader.fieldnames or []
            missing = [c for c in required if c not in fields]
            if missing:
                raise DataError(f"missing column(s) {', '.join(missing)} "
                                f"(found: {', '.join(fields) or 'no header'})", path)
            return list(reader)
    except UnicodeDecodeError:
        raise DataError("not a UTF-8 text csv file", path) from None


def _images_dir(root: Path) -> Path:
    for name in IMAGE_DIRS:
        if (root / name).is_dir():
            return root / name
    return root


def _resolve_image(images: Path, image_id: str, csv_path: Path, row: int) -> Path:
    """The image file for `image_id` (on data row `row` of `csv_path`): the id itself or the
    id plus a known suffix.

    Ids that resolve outside the images folder (``../x``, absolute paths) are rejected."""
    if not image_id:
        raise DataError(f"row {row}: empty id", csv_path)
    base = images.resolve()
    candidates = [images / image_id] + [images / f"{image_id}{s}"
                                        for s in (".png", ".jpg", ".jpeg")]
    for candidate in candidates:
        resolved = candidate.resolve()
        if not resolved.is_relative_to(base):
            raise DataError(f"row {row}: id '{image_id}' points outside the images folder "
                            f"{images}", csv_path)
        if resolved.is_file():
            return candidate
    raise DataError(f"row {row}: no image for id '{image_id}' in {images} "
                    "(tried .png, .jpg, .jpeg)", csv_path)


class ClassFolderReader:
    name = "folder"
    description = "Image folder with one subfolder per class (multi-class)."

    def can_read(self, path: Path) -> bool:
        return path.is_dir() and any(
            d.is_dir() and any(is_image_path(f) for f in d.iterdir())
            for d in path.iterdir() if not d.name.startswith("."))

    def read(self, path: Path) -> Dataset:
        classes = sorted(d.name for d in path.iterdir()
                         if d.is_dir() and not d.name.startswith("."))
        paths, targets = [], []
        for index, name in enumerate(classes):
            files = sorted(f for f in (path / name).rglob("*") if f.is_file() and
                           is_image_path(f))
            paths += files
            targets += [index] * len(files)
        kept = [c for i, c in enumerate(classes) if i in set(targets)]
        if not paths:
            raise DataError("no images found in the class subfolders", path)
        if len(kept) < 2:
            raise DataError(f"only one class folder with images ({kept[0]}): need at least 2",
                            path)
        remap = {classes.index(c): i for i, c in enumerate(kept)}
        return Dataset(root=path, task="multiclass", paths=paths, labels=kept,
                       targets=np.array([remap[t] for t in targets], dtype=np.int64),
                       reader=self.name)


class IMetReader:
    name = "imet"
    description = "iMet 2019 layout: train.csv (id,attribute_ids), labels.csv, images/."

    def can_read(self, path: Path) -> bool:
        return path.is_dir() and (path / "train.csv").is_file() and \
            (path / "labels.csv").is_file()

    def read(self, path: Path) -> Dataset:
        labels_csv, train_csv = path / "labels.csv", path / "train.csv"
        label_rows = _read_rows(labels_csv, ("attribute_id", "attribute_name"))
        names: dict[str, str] = {}
        for row, r in enumerate(label_rows, start=2):
            if r["attribute_id"] in names:
                raise DataError(f"row {row}: attribute_id {r['attribute_id']} repeated",
                                labels_csv)
            names[r["attribute_id"]] = r["attribute_name"]
        column = {attr_id: i for i, attr_id in enumerate(names)}
        images = _images_dir(path)
        rows = _read_rows(train_csv, ("id", "attribute_ids"))
        targets = np.zeros((len(rows), len(names)), dtype=np.uint8)
        paths = []
        for i, r in enumerate(rows):
            paths.append(_resolve_image(images, r["id"].strip(), train_csv, i + 2))
            for attr in r["attribute_ids"].split():
                if attr not in column:
                    raise DataError(f"row {i + 2}: attribute id {attr} is not in labels.csv",
                                    train_csv)
                targets[i, column[attr]] = 1
        if not paths:
            raise DataError("no rows", train_csv)
        return Dataset(root=path, task="multilabel", paths=paths, labels=list(names.values()),
                       targets=targets, reader=self.name,
                       extra={"attribute_ids": list(names)})


class SingleLabelCsvReader:
    """A csv ``id,<class column>`` next to an images folder (e.g. department_classes.csv).

    Point ``--data`` at the csv file itself; the images are in ``images/`` beside it (or in
    the csv's own folder)."""

    name = "csv"
    description = "Single-label csv (id,<class column>) over an images folder (multi-class)."

    def can_read(self, path: Path) -> bool:
        return path.is_file() and path.suffix.lower() == ".csv"

    def read(self, path: Path) -> Dataset:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), [])
        if len(header) != 2 or header[0] != "id":
            raise DataError(f"expected two columns 'id,<class>', found {header}", path)
        class_column = header[1]
        rows = _read_rows(path, ("id", class_column))
        images = _images_dir(path.parent)
        paths, names = [], []
        for i, r in enumerate(rows):
            label = r[class_column].strip()
            if not label:
                raise DataError(f"row {i + 2}: empty {class_column}", path)
            paths.append(_resolve_image(images, r["id"].strip(), path, i + 2))
            names.append(label)
        labels = sorted(set(names))
        if len(labels) < 2:
            raise DataError(f"only {len(labels)} class in column {class_column}", path)
        index = {n: i for i, n in enumerate(labels)}
        return Dataset(root=path.parent, task="multiclass", paths=paths, labels=labels,
                       targets=np.array([index[n] for n in names], dtype=np.int64),
                       reader=self.name, extra={"csv": str(path)})


class CocoReader:
    name = "coco"
    description = "COCO json boxes (detection): a .json file, or a folder holding one."

    def _json(self, path: Path) -> Path | None:
        if path.is_file() and path.suffix.lower() == ".json":
            return path
        if path.is_dir():
            found = sorted(path.glob("*.json"))
            return found[0] if len(found) == 1 else None
        return None

    def can_read(self, path: Path) -> bool:
        json_path = self._json(path)
        if json_path is None:
            return False
        try:
            head = json_path.read_text(encoding="utf-8")[:100_000]
        except OSError:
            return False
        return '"annotations"' in head and '"images"' in head

    def read(self, path: Path) -> Dataset:
        json_path = self._json(path)
        if json_path is None:
            raise DataError("expected a COCO .json file (or a folder with exactly one)", path)
        # One COCO parser for the reader, `detect --gt` and `evaluate-detect`: the same
        # checks, and every category's non-crowd boxes.
        coco = read_coco(json_path)
        images_dir = _images_dir(json_path.parent)
        boxes = coco.boxes()
        paths, per_image = [], []
        for i, (image_id, file_name) in enumerate(coco.file_names.items()):
            # file_name is relative to the json's folder ("images/x.jpg") or to images/.
            base = json_path.parent if (json_path.parent / file_name).is_file() \
                else images_dir
            paths.append(_resolve_image(base, file_name, json_path, i + 1))
            per_image.append(boxes[image_id].astype(np.float32))
        return Dataset(root=json_path.parent, task="detection", paths=paths,
                       labels=list(coco.categories.values()),
                       targets=np.zeros(len(paths), dtype=np.int64), reader=self.name,
                       boxes=per_image,
                       extra={"coco": str(json_path),
                              "image_ids": list(coco.file_names)})


@hookimpl
def register_dataset_readers(register) -> None:
    # Order matters for auto-detection: the most specific layouts first.
    register(IMetReader())
    register(CocoReader())
    register(SingleLabelCsvReader())
    register(ClassFolderReader())
