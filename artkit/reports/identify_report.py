"""The report of an identification (``artkit identify --output NAME.json``): each photo
with its paintings' boxes drawn, and beside each box the collection image it was matched
to, its title, confidence and how it was accepted; boxes found ``unknown`` are drawn grey.

It reads the json document :func:`artkit.identify` writes, so the page that
``identify(report=)`` writes at once and ``artkit report NAME.json`` writes later are the
same page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from artkit.atomic import read_json
from artkit.reports.page import Table, render, resolve
from artkit.reports.thumbs import ThumbnailMode, Thumbnails

#: The long side of a photo on the page, in pixels.
PHOTO_SIDE = 640
#: The long side of a matched reference image.
REFERENCE_SIDE = 160
#: Metadata columns shown beside a match (the first ones of the csv that have a value;
#: the json keeps them all).
META_SHOWN = 3


def is_identify_document(document: object) -> bool:
    return isinstance(document, dict) and "results" in document and "rule" in document


def identify_report(source: Path | dict[str, Any], page: Path,
                    thumbnails: ThumbnailMode = "auto", title: str | None = None) -> Path:
    """Write the page of the identification `source` (its json file, or the document
    itself) to `page`."""
    document = read_json(source) if isinstance(source, Path) else source
    beside = source.parent if isinstance(source, Path) else Path.cwd()
    results = document["results"]
    photos = [r for r in results if r.get("status") == "ok"]
    shown = [resolve(p["path"], beside) for p in photos]
    references = sorted({region["item_path"] for p in photos for region in p["regions"]
                         if region.get("item_path")})
    photo_thumbs = Thumbnails(page, thumbnails, len(shown) + len(references), PHOTO_SIDE)
    reference_thumbs = Thumbnails(page.with_name(page.stem + "-items.html"), thumbnails,
                                  len(shown) + len(references), REFERENCE_SIDE)
    thumbs = photo_thumbs.make(shown, "photos")
    reference = dict(zip(references, reference_thumbs.make(
        [resolve(r, beside) for r in references], "collection images"), strict=True))
    cards = []
    for photo, thumb in zip(photos, thumbs, strict=True):
        regions = []
        for number, region in enumerate(photo["regions"], start=1):
            shown = [(k, v) for k, v in (region.get("meta") or {}).items()
                     if v and k.strip().lower() != "title"][:META_SHOWN]
            regions.append({**region, "number": number, "shown_meta": shown,
                            "reference": reference.get(region.get("item_path") or ""),
                            "label": region.get("title")
                            or Path(region.get("item") or "unknown").name})
        cards.append({"path": photo["path"], "thumb": thumb,
                      "size": photo.get("size") or [thumb.height, thumb.width],
                      "known": [r for r in regions if r["item"]],
                      "unknown": [r for r in regions if not r["item"]]})
    cards.sort(key=lambda c: -len(c["known"]))
    skipped = Table.from_dicts("Skipped photos", [
        {"photo": r["path"], "error": r.get("error", "")} for r in results
        if r.get("status") != "ok"])
    summary = Table.from_dicts("Summary", [
        {"what": "photos", "value": document.get("photos", len(photos))},
        {"what": "paintings looked at", "value": document.get("regions", "")},
        {"what": "identified", "value": document.get("identified", "")},
        {"what": "photos with an identification",
         "value": sum(1 for c in cards if c["known"])},
        {"what": "rule", "value": f"{document['rule']['min_inliers']}+ inliers, or cosine "
                                  f"{document['rule']['min_similarity']}+ unverified"}])
    out = render("identify.html.j2", page, kind="identify",
                 title=title or f"artkit identify: {Path(document.get('index', '')).name}",
                 subtitle=f"{len(photos)} photos against {document.get('index', '')}",
                 target=str(source) if isinstance(source, Path) else str(page),
                 notes=[], summary=summary, cards=cards, skipped=skipped)
    photo_thumbs.finish()
    reference_thumbs.finish()
    return out
