"""What an upload must pass before a pixel is decoded: body size, content sniffing and a
pixel budget read from the image header.

Each check is cheap and runs on the event loop, so a hostile request (an oversize body, a
text file named ``.jpg``, a 30,000 x 30,000 PNG bomb of a few kilobytes) gets its 4xx in
milliseconds and never reaches the decode pool.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from PIL import Image
from starlette.exceptions import HTTPException

#: Leading bytes of the formats the decoder reads (artkit.data.decode), by format name.
MAGIC: tuple[tuple[str, bytes, int], ...] = (
    ("jpeg", b"\xff\xd8\xff", 0), ("png", b"\x89PNG\r\n\x1a\n", 0), ("bmp", b"BM", 0),
    ("tiff", b"II*\x00", 0), ("tiff", b"MM\x00*", 0), ("webp", b"WEBP", 8))
#: Longest upload name echoed back in a result (the name is a label, never a path).
MAX_NAME = 120


class ClientError(Exception):
    """A request the server refuses: the HTTP status and the one-line reason."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


@dataclass(frozen=True)
class Upload:
    """One uploaded image that passed the checks: its bytes, a safe display name, its
    sniffed format and header size (width, height)."""

    data: bytes
    name: str
    format: str
    size: tuple[int, int]


def sniff(data: bytes) -> str:
    """The image format from the bytes themselves (the file name and the declared content
    type are ignored); 415 for anything else."""
    if not data:
        raise ClientError(422, "empty upload")
    for name, magic, offset in MAGIC:
        if data[offset:offset + len(magic)] == magic and (name != "webp"
                                                          or data[:4] == b"RIFF"):
            return name
    raise ClientError(415, "not a supported image (JPEG, PNG, WebP, BMP or TIFF), judged "
                           "by its content")


def header_size(data: bytes, max_pixels: int) -> tuple[int, int]:
    """(width, height) from the header alone; 413 above `max_pixels`, 422 for a header
    that does not parse. Nothing is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
    except Image.DecompressionBombError:
        raise ClientError(413, f"image refused before decoding: over {max_pixels:,} "
                               "pixels (a decompression bomb?)") from None
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for bad headers
        raise ClientError(422, f"cannot read the image header: {exc}") from None
    if width <= 0 or height <= 0:
        raise ClientError(422, f"image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise ClientError(413, f"image refused before decoding: {width}x{height} is over "
                               f"the {max_pixels:,} pixel limit")
    return width, height


def display_name(filename: str | None) -> str:
    """The last part of an upload's file name (either slash), printable, short: what a
    result calls the image. Never used to open anything."""
    name = PureWindowsPath(PurePosixPath(filename or "").name).name
    name = "".join(c for c in name if c.isprintable())[:MAX_NAME]
    return name or "upload"


def check_upload(data: bytes, filename: str | None, max_pixels: int) -> Upload:
    kind = sniff(data)
    return Upload(data, display_name(filename), kind, header_size(data, max_pixels))


ASGIApp = Callable[[dict[str, Any], Callable[[], Awaitable[dict[str, Any]]],
                    Callable[[dict[str, Any]], Awaitable[None]]], Awaitable[None]]


class BodyTooLarge(HTTPException):
    """Raised by the counting `receive`: an HTTPException, so that FastAPI's body parsing
    passes it on as it is (413) instead of turning it into 400."""


class BodyLimit:
    """ASGI middleware: 413 for a body over `limit` bytes, from Content-Length before any
    byte is read, or while a body without one (chunked) streams in."""

    def __init__(self, app: ASGIApp, limit: int, reply: Callable[..., Awaitable[None]]):
        self.app, self.limit, self.reply = app, limit, reply

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        message = f"request body over the {self.limit:,} byte limit"
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self.reply(scope, receive, send, 413, message)
            return
        seen = 0
        started = False

        async def counted() -> dict[str, Any]:
            nonlocal seen
            event = await receive()
            seen += len(event.get("body", b""))
            if seen > self.limit:
                raise BodyTooLarge(413, message)
            return event

        async def sending(event: dict[str, Any]) -> None:
            nonlocal started
            started = started or event["type"] == "http.response.start"
            await send(event)

        try:
            await self.app(scope, counted, sending)
        except BodyTooLarge:
            if not started:
                await self.reply(scope, receive, send, 413, message)
