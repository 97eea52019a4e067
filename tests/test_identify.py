"""`artkit identify`: spatial verification recovers a known homography, an artwork that is
not in the collection is `unknown`, the index round trip keeps what verification reads, the
rule decides as its table says, and the CLI writes what the API writes.

The collection is a handful of drawn "artworks" (random shapes: rich in corners, as
paintings are), the photos a wall with one of them warped onto it inside a frame. The
embedding model and the painting detector are the bundled ones, so no network is trained."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

import artkit
from artkit.cli.main import build_app
from artkit.embeddings.local import DESCRIPTOR_SCALE, read_local_features, root_sift
from artkit.errors import ArtkitError
from artkit.identification.collection import Collection
from artkit.identification.decide import NULL_INLIERS, Candidate, IdentifyRule, null_rate
from artkit.identification.identifier import Region, RegionResult, once_per_image
from artkit.identification.verify import verify

TITLES = ["The Red Square", "Harbour at Dusk", "Portrait of a Lady", "Still Life",
          "Blue Rider", "Orchard"]
#: Where the hung artwork's corners go on the wall (TL, TR, BR, BL): a gentle perspective.
HUNG = np.array([[250, 110], [470, 128], [462, 330], [246, 342]], np.float32)


def artwork(seed: int, height: int = 240, width: int = 180) -> np.ndarray:
    """A drawn artwork: a coloured ground and 60 random shapes (many corners for SIFT)."""
    rng = np.random.default_rng(seed)
    image = np.full((height, width, 3), rng.integers(40, 200, 3), np.uint8)
    for _ in range(60):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(4, 30))
        if rng.random() < 0.5:
            cv2.rectangle(image, (x, y), (x + size, y + int(rng.integers(4, 30))), colour, -1)
        else:
            cv2.circle(image, (x, y), size // 2, colour, -1)
    return image


def hang(art: np.ndarray, corners: np.ndarray = HUNG) -> tuple[np.ndarray, np.ndarray]:
    """A 640x480 wall photo with `art` warped onto `corners` inside a dark frame; the
    homography (art pixels -> photo pixels)."""
    height, width = art.shape[:2]
    source = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    homography = cv2.getPerspectiveTransform(source, corners)
    wall = np.full((480, 640, 3), (214, 205, 190), np.uint8)
    frame = corners + np.array([[-14, -14], [14, -14], [14, 14], [-14, 14]], np.float32)
    cv2.fillConvexPoly(wall, frame.round().astype(np.int32), (60, 40, 25))
    warped = cv2.warpPerspective(art, homography, (640, 480))
    mask = cv2.warpPerspective(np.full(art.shape[:2], 255, np.uint8), homography, (640, 480))
    wall[mask > 127] = warped[mask > 127]
    return wall, homography


def save(image: np.ndarray, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 92])
    return path


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Six artworks indexed with local features and titles; two photos: one with artwork 2
    hung, one with an artwork that is not in the collection."""
    root = tmp_path_factory.mktemp("identify")
    items = [save(artwork(seed), root / "collection" / f"art-{seed}.jpg") for seed in range(6)]
    with (root / "collection.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "title", "artist"])
        writer.writerows([[p.name, t, "artkit tests"] for p, t in zip(items, TITLES, strict=True)])
    artkit.build_index(root / "collection", None, root / "collection.npz",
                       local_features=True, meta=root / "collection.csv", progress=False)
    save(hang(artwork(2))[0], root / "photos" / "hung.jpg")
    save(hang(artwork(99))[0], root / "photos" / "stranger.jpg")
    return {"root": root, "index": root / "collection.npz", "photos": root / "photos",
            "items": root / "collection"}


def test_verification_recovers_a_known_homography() -> None:
    """The item's corners, mapped by the fitted homography, land where the photo has them,
    within 3 px, with most matches inliers; another artwork gives no plausible homography."""
    art = artwork(2)
    photo, _ = hang(art)
    x1, y1 = 200, 80
    crop = photo[y1:380, x1:520]
    xy, descriptors = root_sift(crop, 600, 640)
    item_xy, item_descriptors = root_sift(art, 300, 640)
    found = verify(xy, crop.shape[:2], item_xy, (art.shape[1], art.shape[0]),
                   descriptors @ item_descriptors.T)
    assert found.inliers >= 25 and found.inliers >= 0.5 * found.matches
    assert found.outline is not None
    assert np.abs(found.outline - (HUNG - [x1, y1])).max() < 3.0
    other = artwork(5)
    other_xy, other_descriptors = root_sift(other, 300, 640)
    wrong = verify(xy, crop.shape[:2], other_xy, (other.shape[1], other.shape[0]),
                   descriptors @ other_descriptors.T)
    assert wrong.inliers < 8


def test_identify_names_the_hung_artwork_and_says_unknown_for_a_stranger(
        collection: dict[str, Path]) -> None:
    """Through the bundled detector: the hung artwork is named with its title, its
    verified outline matches where it hangs; the artwork outside the collection is
    unknown in every painting looked at."""
    found = {r.path.name: r for r in artkit.identify(collection["photos"], collection["index"],
                                                      progress=False)}
    hung, stranger = found["hung.jpg"], found["stranger.jpg"]
    assert [r.title for r in hung.known] == ["Portrait of a Lady"]
    best = hung.known[0]
    assert best.item == (collection["items"] / "art-2.jpg").resolve()
    assert best.method == "verified" and best.inliers >= 8
    assert best.confidence == pytest.approx(1 - null_rate(NULL_INLIERS, best.inliers))
    assert np.abs(best.quad - HUNG).max() < 4.0
    assert stranger.ok and stranger.regions and not stranger.known


def test_whole_photo_mode_and_a_broken_photo(collection: dict[str, Path],
                                             tmp_path: Path) -> None:
    """--whole looks at the photo as one artwork; an unreadable file is reported and the
    rest go on."""
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    close_up = save(artwork(4)[10:230, 5:175], tmp_path / "close-up.jpg")
    result = artkit.identify([close_up, broken], collection["index"], whole=True,
                             progress=False)
    first, second = list(result)
    assert len(first.regions) == 1 and first.known[0].title == "Blue Rider"
    assert second.status == "error" and "broken.jpg" in str(second.path)
    assert [s.path.name for s in result.skipped] == ["broken.jpg"]


def test_the_index_round_trip_keeps_what_verification_reads(
        collection: dict[str, Path]) -> None:
    """The index's local features are the items' RootSIFT (xy in the item's pixels,
    descriptors within their uint8 quantisation); its metadata names them."""
    opened = Collection(collection["index"])
    row = [Path(p).name for p in opened.stored_paths].index("art-3.jpg")
    xy, descriptors, size = read_local_features(collection["index"], [row])[0]
    image = cv2.cvtColor(cv2.imread(str(collection["items"] / "art-3.jpg")), cv2.COLOR_BGR2RGB)
    want_xy, want_descriptors = root_sift(image)
    assert size == (180, 240)
    assert np.abs(xy - want_xy).max() < 0.01
    assert np.abs(descriptors - want_descriptors).max() <= 0.5 / DESCRIPTOR_SCALE + 1e-6
    assert opened.title(row) == "Still Life"
    assert opened.item_meta(row) == {"title": "Still Life", "artist": "artkit tests"}


def test_an_index_without_local_features_is_refused(collection: dict[str, Path],
                                                    tmp_path: Path) -> None:
    plain = artkit.build_index(collection["items"], None, tmp_path / "plain.npz",
                               progress=False).path
    with pytest.raises(ArtkitError, match="no local features"):
        artkit.identify(collection["photos"], plain)


def test_the_rule_decides_as_its_table_says() -> None:
    """for_false_rate takes the smallest inlier count the table allows; a verified item
    beats a merely similar one; the global fallback needs its own threshold."""
    assert IdentifyRule.for_false_rate(0.02).min_inliers == 8
    assert IdentifyRule.for_false_rate(0.1).min_inliers == 6
    rule = IdentifyRule(8, 0.95)
    verified = Candidate(1, 0.70, inliers=30)
    similar = Candidate(2, 0.97, inliers=3)
    decision = rule.decide([similar, verified])
    assert decision.candidate == verified and decision.method == "verified"
    assert decision.confidence == pytest.approx(1 - 0.005)
    fallback = rule.decide([similar, Candidate(3, 0.5, inliers=5)])
    assert fallback.candidate == similar and fallback.method == "global"
    assert rule.decide([Candidate(4, 0.9, inliers=7)]).candidate is None
    with pytest.raises(ArtkitError):
        IdentifyRule.for_false_rate(0.001)  # below what 102 photos can show


def test_one_artwork_per_region_and_nested_regions_agree() -> None:
    """Two regions given the same item, or nested regions given different ones: the one
    with more inliers keeps its item."""
    rule = IdentifyRule(8)

    def result(box: list[float], row: int, inliers: int) -> RegionResult:
        candidates = [Candidate(row, 0.8, inliers)]
        return RegionResult(Region(np.array(box, np.float32)), rule.decide(candidates),
                            candidates)

    kept = once_per_image([result([0, 0, 100, 100], 1, 40), result([10, 10, 50, 50], 2, 12),
                           result([200, 0, 300, 100], 1, 20), result([400, 0, 500, 90], 3, 9)])
    assert [r.decision.candidate.row if r.decision.candidate else None for r in kept] == \
        [1, None, None, 3]


def test_the_cli_writes_what_the_api_writes(collection: dict[str, Path],
                                            tmp_path: Path) -> None:
    """identify with --output, --save-vis and --report: the json and csv are the API's
    byte for byte; the overlays and the page are there, the page names the artwork beside
    its reference image."""
    cli, api = tmp_path / "cli", tmp_path / "api"
    outcome = CliRunner().invoke(build_app(), [
        "identify", str(collection["photos"]), "--index", str(collection["index"]),
        "--output", str(cli / "found.json"), "--save-vis", str(cli / "vis"),
        "--report", str(cli / "found.html"), "--quiet"])
    assert outcome.exit_code == 0, outcome.output
    assert "Portrait of a Lady" in outcome.output
    result = artkit.identify(collection["photos"], collection["index"],
                             output=api / "found.json", save_vis=api / "vis",
                             report=api / "found.html", progress=False).finish()
    for name in ("found.json", "found.csv"):
        assert (cli / name).read_bytes() == (api / name).read_bytes()
    assert sorted(p.name for p in (cli / "vis").iterdir()) == ["hung.jpg", "stranger.jpg"]
    assert result.paths.report == api / "found.html"
    document = json.loads((cli / "found.json").read_text())
    assert document["identified"] == 1 and document["photos"] == 2
    page = (cli / "found.html").read_text()
    assert "Portrait of a Lady" in page and page.count('class="idmatch"') == 1
    again = artkit.report(cli / "found.json", tmp_path / "again.html", progress=False)
    assert "Portrait of a Lady" in again.read_text()


def test_the_service_identifies_as_the_api_does(collection: dict[str, Path]) -> None:
    """POST /v1/identify on a real server: the regions the API finds for the same file,
    the artwork named with a reference image the server serves; whole=true looks at the
    upload as one artwork."""
    import httpx
    from test_serve import free_port, running

    from artkit.cli.serve.config import ServeConfig

    photo = collection["photos"] / "hung.jpg"
    offline = next(iter(artkit.identify([photo], collection["index"], progress=False)))
    config = ServeConfig(index=collection["index"], port=free_port(), max_wait_ms=1.0)
    with running(config) as base, httpx.Client(base_url=base, timeout=60) as client:
        assert "/v1/identify" in client.get("/v1/models").json()["endpoints"]
        response = client.post("/v1/identify",
                               files={"file": ("upload.jpg", photo.read_bytes(), "image/jpeg")})
        assert response.status_code == 200, response.text
        served = response.json()
        assert served["regions"] == offline.to_dict()["regions"]
        (match,) = served["matches"]
        assert match["title"] == "Portrait of a Lady"
        thumbnail = client.get(match["reference"])
        assert thumbnail.status_code == 200 and thumbnail.content[:3] == b"\xff\xd8\xff"
        close_up = cv2.imencode(".png", cv2.cvtColor(artwork(4), cv2.COLOR_RGB2BGR))[1]
        whole = client.post("/v1/identify", params={"whole": "true"},
                            files={"file": ("a.png", close_up.tobytes(), "image/png")}).json()
        assert [m["title"] for m in whole["matches"]] == ["Blue Rider"]


def test_the_hnsw_shortlist_names_what_the_exact_one_names(collection: dict[str, Path],
                                                           tmp_path: Path) -> None:
    """An index with an HNSW graph (--ann) is searched through it; on a small collection the
    approximate shortlist holds the same items, so the same artwork is named."""
    pytest.importorskip("usearch")
    graphed = artkit.build_index(collection["items"], None, tmp_path / "graphed.npz",
                                 ann=True, local_features=True,
                                 meta=collection["root"] / "collection.csv", progress=False)
    assert graphed.graph is not None and Collection(graphed.path)._graph is not None
    exact, approximate = (
        [[r.title for r in found.known]
         for found in artkit.identify(collection["photos"], index, exact=flag, progress=False)]
        for index, flag in ((collection["index"], True), (graphed.path, False)))
    assert approximate == exact == [["Portrait of a Lady"], []]
