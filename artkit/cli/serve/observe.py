"""What the server tells its operator: Prometheus metrics and a structured access log.

One registry per app (two apps in one process do not share counters). The access log is
one JSON object per request on the ``artkit.cli.serve.access`` logger: time, client, method,
path, status, milliseconds.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

ACCESS = logging.getLogger("artkit.cli.serve.access")
#: Path labels kept as they are; every other path counts as "other" (bounded cardinality).
KNOWN_PATHS = ("/v1/predict", "/v1/detect", "/v1/similar", "/v1/identify", "/v1/models",
               "/healthz", "/readyz", "/metrics", "/")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("artkit_requests", "HTTP requests answered, by path and status",
                                ("path", "status"), registry=self.registry)
        self.latency = Histogram("artkit_request_seconds", "Seconds to answer a request",
                                 ("path",), registry=self.registry,
                                 buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
        self.batch = Histogram("artkit_batch_size", "Requests per onnxruntime batch",
                               ("model",), registry=self.registry,
                               buckets=(1, 2, 4, 8, 16, 32, 64))
        self.queue = Gauge("artkit_queue", "Requests admitted (decoding, waiting, running)",
                           ("model",), registry=self.registry)

    def watch(self, name: str, batcher: Any) -> None:
        self.queue.labels(name).set_function(lambda: batcher.admitted)


def path_label(path: str) -> str:
    if path.startswith("/v1/references/"):
        return "/v1/references"
    return path if path in KNOWN_PATHS else "other"


def enable_access_log() -> None:
    """Access lines to stderr, as they are (each is already one JSON object)."""
    if not ACCESS.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        ACCESS.addHandler(handler)
        ACCESS.setLevel(logging.INFO)
        ACCESS.propagate = False


class Observe:
    """ASGI middleware: time every request, count it, log it."""

    def __init__(self, app: Any, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500

        async def sending(event: dict[str, Any]) -> None:
            nonlocal status
            if event["type"] == "http.response.start":
                status = int(event["status"])
            await send(event)

        try:
            await self.app(scope, receive, sending)
        finally:
            seconds = time.perf_counter() - began
            label = path_label(scope["path"])
            self.metrics.requests.labels(label, str(status)).inc()
            self.metrics.latency.labels(label).observe(seconds)
            client = scope.get("client") or ("", 0)
            ACCESS.info(json.dumps({
                "ts": round(time.time(), 3), "client": client[0], "method": scope["method"],
                "path": scope["path"], "status": status, "ms": round(seconds * 1000, 1)}))
