"""`artkit serve --engine ray --replicas N`: the same app on Ray Serve.

Each replica is a Ray actor that loads the models and builds the very app
:func:`artkit.cli.serve.app.create_app` makes for uvicorn (FastAPI ingress: the same
endpoints, limits, token, micro-batching, metrics); Ray Serve's HTTP proxy binds the
address and spreads requests over the replicas. On a local instance the replicas share
this machine; on a cluster (``--ray-address auto``) Ray places them on its nodes, which
must see the model and index files at the same paths (docs/scaling.md).
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from artkit.cli.serve.config import ServeConfig
from artkit.console import info
from artkit.errors import ArtkitError

APP_NAME = "artkit"


class Replica:
    """One Ray Serve replica: its models, and the app around them."""

    def __init__(self, config: ServeConfig):
        self.config = config

    def __serve_build_asgi_app__(self) -> Any:
        from artkit.cli.serve.app import create_app
        from artkit.cli.serve.services import load_services

        return create_app(self.config, load_services(self.config))


def import_serve() -> Any:
    try:
        from ray import serve
    except ImportError as exc:
        raise ArtkitError(f"--engine ray needs Ray Serve ({exc.name} is missing)",
                          hint='pip install -e ".[ray,serve]"') from None
    return serve


def start(config: ServeConfig, replicas: int, cpus_per_replica: float = 1.0) -> Any:
    """Deploy `replicas` replicas on the Ray instance this process is connected to, with
    Ray Serve's proxy on `config.host`:`config.port`; returns once they are ready."""
    serve = import_serve()
    if replicas < 1:
        raise ArtkitError("--replicas must be at least 1")
    serve.start(http_options={"host": config.host, "port": config.port})
    deployment = serve.deployment(
        serve.ingress()(Replica), name="artkit", num_replicas=replicas,
        ray_actor_options={"num_cpus": cpus_per_replica},
        max_ongoing_requests=config.max_queue, max_queued_requests=config.max_queue)
    return serve.run(deployment.bind(config), name=APP_NAME, route_prefix="/")


def serve_on_ray(config: ServeConfig, replicas: int, address: str | None) -> None:
    """Serve on Ray until SIGTERM or Ctrl-C, then shut Ray Serve down (it drains the
    replicas' requests first)."""
    from artkit.runtime.ray_engine import ray_cluster

    import_serve()
    stop = threading.Event()
    with ray_cluster(address):
        from ray import serve

        # after Ray's own handlers (ray.init), before the proxy answers anyone
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        start(config, replicas)
        info(f"artkit serve on Ray: http://{config.host}:{config.port}/ ({replicas} "
             f"replica{'s' if replicas > 1 else ''})")
        stop.wait()
        serve.shutdown()
