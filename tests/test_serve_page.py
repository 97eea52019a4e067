"""The page `artkit serve` shows at /, in headless Chromium (Debian's chromium and
chromedriver through selenium, as tests/test_report.py): a photo picked in the page comes
back with its prediction, its boxes drawn, its rectified crops, the collection items it
shows and its most similar collection photos beside it, with no console error and nothing
fetched from elsewhere."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from test_serve import TOKEN, free_port, jpeg, running  # noqa: E402

from artkit.bundled import painting_detector  # noqa: E402
from artkit.cli.serve.config import ServeConfig  # noqa: E402

#: Where the screenshot goes (docs/images/serve-page.png when making the docs' picture).
SHOT = os.environ.get("ARTKIT_SERVE_SHOT")


@pytest.fixture(scope="module")
def driver() -> Iterator[object]:
    from browser import headless, unavailable

    reason = unavailable()
    if reason:
        pytest.skip(f"no headless browser: {reason}")
    with headless(1280, 1000) as chrome:
        yield chrome


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    from artkit.api.embed import build_index

    folder = tmp_path_factory.mktemp("page-photos")
    for seed in range(3):
        (folder / f"work{seed}.jpg").write_bytes(jpeg(480, 360, seed=seed))
    index = build_index(folder, None, folder.parent / "index.npz", local_features=True,
                        progress=False).path
    config = ServeConfig(model=painting_detector(), index=index, port=free_port(),
                         token=TOKEN)
    with running(config) as url:
        yield url, folder


def test_the_page_shows_every_answer_for_a_picked_photo(driver, served) -> None:
    from browser import console_errors, screenshot
    from selenium.webdriver.support.ui import WebDriverWait

    url, folder = served
    driver.get(url + "/")
    WebDriverWait(driver, 10).until(lambda d: d.execute_script(
        "return document.documentElement.getAttribute('data-ready') === '1'"))
    assert "401" in driver.find_element("id", "models").text  # no token yet
    token = driver.find_element("id", "token")
    token.send_keys(TOKEN)
    WebDriverWait(driver, 10).until(
        lambda d: "predict" in d.find_element("id", "models").text)
    driver.find_element("id", "files").send_keys(str(folder / "work1.jpg"))
    WebDriverWait(driver, 30).until(lambda d: d.find_elements(
        "css selector", ".card[data-done='1']"))
    card = driver.find_element("css selector", ".card")
    assert card.find_element("css selector", ".errors").text == ""
    labels = card.find_elements("css selector", ".labels li")
    assert labels and labels[0].text.split()[0] in ("painting", "background")
    assert "found" in card.find_element("css selector", ".found").text
    canvas_width = driver.execute_script("return document.querySelector('canvas').width")
    assert canvas_width == 480
    crops = card.find_elements("css selector", ".crops img")
    boxes = int(card.find_element("css selector", ".found").text.split()[0])
    assert len(crops) == min(boxes, 12)
    matches = card.find_elements("css selector", ".similar figure.match")
    assert len(matches) == 3
    assert "work1.jpg" in matches[0].text
    identified = card.find_elements("css selector", ".identify figure.match")
    assert identified and all("work1.jpg" in m.text for m in identified)
    loaded = driver.execute_script(
        "return Array.from(document.querySelectorAll('.similar img'))"
        ".every(i => i.complete && i.naturalWidth > 0)")
    assert loaded
    resources = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert all(r.startswith((url, "blob:", "data:")) for r in resources), resources
    errors = console_errors(driver)  # only the models list asked for before the token
    assert all("/v1/models" in e and "401" in e for e in errors), errors
    if SHOT:
        screenshot(driver, Path(SHOT), height=1100)
