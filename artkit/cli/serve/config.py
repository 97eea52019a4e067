"""What one `artkit serve` runs with: the models, the address, the batching and the
limits. One frozen object, built by the CLI and read by the app, the server and the Ray
deployment alike."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Requests one model's batch holds at most, and the longest a request waits for others.
MAX_BATCH = 16
MAX_WAIT_MS = 5.0
#: Requests one model admits at once (decoding, waiting, running); more get 503.
MAX_QUEUE = 64
#: The largest request body, and the most pixels an image header may claim.
MAX_BODY_MB = 20.0
MAX_PIXELS = 50_000_000


@dataclass(frozen=True)
class ServeConfig:
    model: Path | None = None
    """A classification model for /v1/predict (none: the endpoint answers 404)."""
    index: Path | None = None
    """An embedding index (``artkit index build``) for /v1/similar."""
    detector: Path | None = None
    """The detection model (None: the bundled painting detector, as `artkit detect`)."""
    method: str | None = None
    """The detection method (None: the default `artkit detect` picks)."""
    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    device: str = "auto"
    max_batch: int = MAX_BATCH
    max_wait_ms: float = MAX_WAIT_MS
    max_queue: int = MAX_QUEUE
    max_body_mb: float = MAX_BODY_MB
    max_pixels: int = MAX_PIXELS
    decode_workers: int | None = None
    """Threads decoding uploads (None: one per core)."""
    top_k: int = 3
    cors_origins: tuple[str, ...] = ()
    """Origins allowed to call the API from a browser (none: CORS off)."""

    @property
    def max_body(self) -> int:
        return int(self.max_body_mb * 1024 * 1024)
