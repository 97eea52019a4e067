"""The FastAPI application: endpoints, errors, limits, auth, metrics and the page.

Every error leaves as one line of JSON, ``{"error": "..."}``, with its status; no
traceback leaves the server (an unexpected one is logged on the server's side and answered
500). The middlewares, outermost first: access log and metrics, body limit, token, CORS
(only when origins are given).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException

from artkit.cli.serve.auth import authorised, needs_token
from artkit.cli.serve.batching import Overloaded
from artkit.cli.serve.config import ServeConfig
from artkit.cli.serve.endpoints import router
from artkit.cli.serve.limits import BodyLimit, ClientError
from artkit.cli.serve.observe import Metrics, Observe
from artkit.cli.serve.services import Service
from artkit.errors import ArtkitError

LOG = logging.getLogger("artkit.cli.serve")
#: The page's files (artkit/cli/serve/page/, package data), by the name the page asks for.
PAGE_FILES = {"page.js": "text/javascript", "page.css": "text/css"}
NEEDS = {"predict": "--model CLASSIFIER.onnx", "similar": "--index COLLECTION.npz",
         "identify": "--index COLLECTION.npz built with --local-features"}


@dataclass
class State:
    config: ServeConfig
    services: dict[str, Service]
    metrics: Metrics = field(default_factory=Metrics)
    decode_pool: ThreadPoolExecutor | None = None
    ready: bool = False
    needs: dict[str, str] = field(default_factory=lambda: dict(NEEDS))


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": " ".join(str(message).split())}, status, headers=headers)


async def reply(scope: Any, receive: Any, send: Any, status: int, message: str) -> None:
    """An error answered straight from an ASGI middleware."""
    await error(status, message)(scope, receive, send)


def create_app(config: ServeConfig, services: dict[str, Service]) -> FastAPI:
    """The app serving `services` (loaded by :func:`artkit.cli.serve.services.load_services`)."""
    from artkit import __version__
    from artkit.runtime.session import cpu_count

    state = State(config, services)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.decode_pool = ThreadPoolExecutor(config.decode_workers or cpu_count(),
                                               thread_name_prefix="artkit-decode")
        for name, service in services.items():
            service.attach(config, state.metrics.batch.labels(name).observe)
            service.batcher.start()
            state.metrics.watch(name, service.batcher)
        state.ready = True
        try:
            yield
        finally:  # uvicorn has answered every accepted request by now
            state.ready = False
            for service in services.values():
                await service.batcher.close()
            state.decode_pool.shutdown(wait=True)

    app = FastAPI(title="artkit serve", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None,
                  description="artkit's models over HTTP: predict, detect, similar.")
    app.state.artkit = state
    app.include_router(router)
    _errors(app)
    _routes(app, state)
    _middlewares(app, config)
    return app


def _errors(app: FastAPI) -> None:
    @app.exception_handler(ClientError)
    async def client_error(_: Request, exc: ClientError) -> JSONResponse:
        return error(exc.status, exc.message, exc.headers)

    @app.exception_handler(Overloaded)
    async def overloaded(_: Request, exc: Overloaded) -> JSONResponse:
        return error(503, str(exc), {"Retry-After": str(exc.retry_after)})

    @app.exception_handler(ArtkitError)
    async def unreadable(_: Request, exc: ArtkitError) -> JSONResponse:
        return error(422, exc.message)  # an image that does not decode: the reason only

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg', '')}"
                    for e in exc.errors()[:3]]
        return error(400, "bad request: " + "; ".join(problems))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        LOG.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return error(500, "internal error (see the server's log)")


def _routes(app: FastAPI, state: State) -> None:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    @app.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="Readiness: models loaded and batchers running")
    async def readyz() -> JSONResponse:
        if not state.ready:
            return error(503, "not ready")
        return JSONResponse({"status": "ready", "models": sorted(state.services)})

    @app.get("/metrics", summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models", summary="The model cards of the loaded services")
    async def models() -> dict[str, Any]:
        config = state.config
        return {"models": {name: s.card for name, s in state.services.items()},
                "endpoints": [f"/v1/{name}" for name in state.services],
                "limits": {"max_body_bytes": config.max_body, "max_pixels": config.max_pixels,
                           "max_batch": config.max_batch, "max_queue": config.max_queue}}

    @app.get("/v1/references/{position}", summary="A thumbnail of an indexed photo")
    async def reference(position: int) -> Response:
        service = state.services.get("similar") or state.services.get("identify")
        if service is None:
            raise ClientError(404, "no index is loaded (start with --index)")
        data = await asyncio.get_running_loop().run_in_executor(
            state.decode_pool, service.reference, position)  # type: ignore[attr-defined]
        return Response(data, media_type="image/jpeg",
                        headers={"Cache-Control": "max-age=3600"})

    @app.get("/", include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(_page_file("index.html"))

    @app.get("/page/{name}", include_in_schema=False)
    async def page_file(name: str) -> Response:
        if name not in PAGE_FILES:
            raise ClientError(404, "not found")
        return Response(_page_file(name), media_type=PAGE_FILES[name])


def _page_file(name: str) -> str:
    return resources.files("artkit.cli.serve").joinpath("page", name).read_text("utf-8")


def _middlewares(app: FastAPI, config: ServeConfig) -> None:
    """Added innermost first (Starlette wraps each new one around the last)."""
    if config.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(config.cors_origins),
                           allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(Admission, state=app.state.artkit)
    if config.token is not None:
        app.add_middleware(TokenCheck, token=config.token)
    app.add_middleware(BodyLimit, limit=config.max_body, reply=reply)
    app.add_middleware(Observe, metrics=app.state.artkit.metrics)


class TokenCheck:
    """ASGI middleware: 401 without ``Authorization: Bearer <token>`` (constant-time)."""

    def __init__(self, app: Any, token: str):
        self.app, self.token = app, token

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] != "OPTIONS" \
                and needs_token(scope["path"]):
            header = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not authorised(header.decode("latin-1"), self.token):
                response = error(401, "missing or wrong bearer token",
                                 {"WWW-Authenticate": "Bearer"})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class Admission:
    """ASGI middleware: a POST to a service's endpoint takes a slot in its queue before its
    body is read, or is answered 503 + Retry-After at once. So a full queue costs an
    overloaded server no memory for the bodies it refuses: at most ``max_queue`` uploads
    per model are held, however many clients send."""

    def __init__(self, app: Any, state: State):
        self.app, self.state = app, state

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        service = self.state.services.get(path[4:]) if scope["type"] == "http" \
            and scope["method"] == "POST" and path.startswith("/v1/") else None
        if service is None or not hasattr(service, "batcher"):
            await self.app(scope, receive, send)
            return
        try:
            service.batcher.admit()
        except Overloaded as exc:
            await error(503, str(exc), {"Retry-After": str(exc.retry_after)})(
                scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            service.batcher.release()
