"""Headless Chromium for the report tests, benchmarks/bench_report.py and docs screenshots.

Selenium (the `dev` extra) drives Debian's `chromium` through its `chromedriver`
(`apt-get install -y chromium chromium-driver`; `.ci/run` installs them when missing).
Nothing is downloaded: the driver and the browser are the system's.

As a script, it screenshots a report (what docs/images/report-*.png were made with)::

    python tests/browser.py PAGE.html OUT.png [--width 1280] [--height 2000] [--from ID]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
DRIVERS = ("chromedriver",)


def _which(names: tuple[str, ...]) -> str | None:
    return next((found for name in names if (found := shutil.which(name))), None)


def unavailable() -> str | None:
    """Why no headless browser can run here (None when one can)."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    if _which(BROWSERS) is None:
        return "no Chromium on PATH (apt-get install -y chromium chromium-driver)"
    if _which(DRIVERS) is None:
        return "no chromedriver on PATH (apt-get install -y chromium-driver)"
    return None


@contextlib.contextmanager
def headless(width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A headless Chromium WebDriver that keeps the page's console messages."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = _which(BROWSERS) or ""
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                     "--disable-dev-shm-usage", "--force-device-scale-factor=1",
                     "--no-first-run", "--disable-extensions", "--mute-audio",
                     f"--window-size={width},{height}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options,
                              service=Service(executable_path=_which(DRIVERS) or ""))
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver: Any) -> list[str]:
    """The page's console errors (and failed loads) since the last call."""
    return [entry["message"] for entry in driver.get_log("browser")
            if entry.get("level") == "SEVERE"]


def open_page(driver: Any, page: Path, timeout: float = 10.0) -> None:
    """Load `page` and wait until its script has started (``data-ready`` on <html>)."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(Path(page).resolve().as_uri())
    WebDriverWait(driver, timeout).until(lambda d: d.execute_script(
        "return document.documentElement.getAttribute('data-ready') === '1'"))


def screenshot(driver: Any, out: Path, height: int | None = None, start: str | None = None,
               width: int = 1280) -> Path:
    """A PNG of the page, `width` wide, from the top (or from the element with id `start`),
    `height` pixels tall (None: to the end of the page). Waits for the images in view."""
    driver.execute_script("""
        const images = Array.from(document.images);
        images.forEach(i => { i.loading = 'eager'; });""")
    top = 0
    if start:
        top = int(driver.execute_script(
            "return document.getElementById(arguments[0]).getBoundingClientRect().top"
            " + window.scrollY - 8", start))
    full = int(driver.execute_script("return document.documentElement.scrollHeight"))
    clip_height = min(height or full, full - top)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": clip_height, "deviceScaleFactor": 1, "mobile": False})
    driver.execute_script("window.scrollTo(0, arguments[0])", top)
    driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const pending = Array.from(document.images).filter(i => !i.complete)
          .map(i => new Promise(r => { i.onload = i.onerror = r; }));
        Promise.all(pending).then(() => requestAnimationFrame(() => done()));""")
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": top, "width": width, "height": clip_height, "scale": 1}})
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(base64.b64decode(shot["data"]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description="Screenshot an artkit report page.")
    parser.add_argument("page", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=None)
    parser.add_argument("--from", dest="start", default=None,
                        help="id of the element the picture starts at")
    parser.add_argument("--colours", type=int, default=0,
                        help="quantise the PNG to this many colours (0: keep them all)")
    args = parser.parse_args()
    reason = unavailable()
    if reason:
        raise SystemExit(reason)
    with headless(args.width, 900) as driver:
        open_page(driver, args.page)
        screenshot(driver, args.out, args.height, args.start, args.width)
        errors = console_errors(driver)
    if args.colours:
        from PIL import Image

        with Image.open(args.out) as image:
            image.convert("RGB").quantize(args.colours, method=Image.Quantize.FASTOCTREE,
                                          dither=Image.Dither.NONE).save(args.out,
                                                                         optimize=True)
    print(f"{args.out}: {args.out.stat().st_size / 1024:.0f} KB"
          + (f"; console errors: {errors}" if errors else ""))


if __name__ == "__main__":
    main()
