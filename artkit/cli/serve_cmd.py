"""`artkit serve`: the models behind an HTTP service and a web page (artkit/cli/serve/,
docs/deployment.md). Needs the ``serve`` extra: ``pip install -e ".[serve]"``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from artkit.api.engine import Engine
from artkit.cli.options import DeviceOption, RayAddressOption, WorkersOption
from artkit.errors import ArtkitError


def serve_command(
    model: Annotated[Path | None, typer.Option(
        "--model", "-m", help="An exported classification model for /v1/predict "
        "(without one, /v1/predict answers 404).")] = None,
    index: Annotated[Path | None, typer.Option(
        "--index", help="A collection index (`artkit index build`) for /v1/similar, and for "
        "/v1/identify when built with --local-features; its embedding model is the one "
        "that built it.")] = None,
    detector: Annotated[Path | None, typer.Option(
        "--detector", help="The model /v1/detect uses (default: the bundled painting "
        "detector, as `artkit detect`).")] = None,
    method: Annotated[str | None, typer.Option(
        "--method", help="The detection method (default: the one `artkit detect` picks).")
    ] = None,
    host: Annotated[str, typer.Option(
        "--host", help="Address to bind; anything but loopback needs a token.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to bind.")] = 8000,
    token: Annotated[str | None, typer.Option(
        "--token", envvar="ARTKIT_SERVE_TOKEN", show_envvar=True,
        help="Bearer token every /v1 and /metrics request must carry (also read from "
        "ARTKIT_SERVE_TOKEN).")] = None,
    max_batch: Annotated[int, typer.Option(
        "--max-batch", min=1, help="Requests gathered into one onnxruntime batch, at most.")
    ] = 16,
    max_wait_ms: Annotated[float, typer.Option(
        "--max-wait-ms", min=0.0, help="How long a request waits for others to join its "
        "batch, at most.")] = 5.0,
    max_queue: Annotated[int, typer.Option(
        "--max-queue", min=1, help="Requests one model holds at once (decoding, waiting, "
        "running); more are answered 503 with Retry-After.")] = 64,
    max_body_mb: Annotated[float, typer.Option(
        "--max-body-mb", min=0.001, help="Largest request body (413 above).")] = 20.0,
    max_pixels: Annotated[int, typer.Option(
        "--max-pixels", min=1, help="Most pixels an image header may claim (413 above, "
        "before decoding).")] = 50_000_000,
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="Labels per prediction and "
                                       "neighbours per similar query.")] = 3,
    cors_origin: Annotated[list[str] | None, typer.Option(
        "--cors-origin", help="An origin allowed to call the API from a browser "
        "(repeatable; default: CORS off).")] = None,
    workers: WorkersOption = None,
    device: DeviceOption = "auto",
    engine: Annotated[Engine, typer.Option(
        "--engine",
        help="local: uvicorn in this process; ray: Ray Serve replicas behind its proxy "
        "(the ray and serve extras).")] = "local",
    replicas: Annotated[int, typer.Option(
        "--replicas", min=1, help="With --engine ray: how many copies of the app (each "
        "with its own models) serve requests.")] = 1,
    ray_address: RayAddressOption = None,
) -> None:
    """Serve predict, detect, identify and similar over HTTP, with a web page at /.

    Micro-batched onnxruntime inference, body and pixel limits, a bearer token, Prometheus
    metrics at /metrics, OpenAPI at /openapi.json. SIGTERM answers the accepted requests,
    then exits."""
    try:
        from artkit.cli.serve.config import ServeConfig
        from artkit.cli.serve.server import serve
    except ImportError as exc:
        raise ArtkitError(f"artkit serve needs the serve extra ({exc.name} is missing)",
                          hint='pip install -e ".[serve]"') from None
    config = ServeConfig(model=model, index=index, detector=detector, method=method,
                         host=host, port=port, token=token or None, device=device,
                         max_batch=max_batch, max_wait_ms=max_wait_ms, max_queue=max_queue,
                         max_body_mb=max_body_mb, max_pixels=max_pixels,
                         decode_workers=workers, top_k=top_k,
                         cors_origins=tuple(cors_origin or ()))
    if engine == "ray":
        from artkit.cli.serve.auth import check_bind
        from artkit.cli.serve.ray_serve import serve_on_ray

        check_bind(config.host, config.token)
        serve_on_ray(config, replicas, ray_address)
    else:
        serve(config)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
