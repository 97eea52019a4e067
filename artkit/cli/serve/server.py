"""Run the app under uvicorn on one machine.

SIGTERM (or Ctrl-C) stops accepting connections, lets uvicorn answer every request it
accepted (within `GRACE` seconds), then stops the batchers and exits: a rolling restart
loses no request.
"""

from __future__ import annotations

from typing import Any

from artkit.cli.serve.auth import check_bind
from artkit.cli.serve.config import ServeConfig
from artkit.console import info

#: Seconds a stopping server gives the requests it accepted.
GRACE = 30


def build_server(config: ServeConfig) -> Any:
    """A uvicorn Server for `config`, its models loaded (one-line errors before binding)."""
    import uvicorn

    from artkit.cli.serve.app import create_app
    from artkit.cli.serve.observe import enable_access_log
    from artkit.cli.serve.services import load_services

    check_bind(config.host, config.token)
    app = create_app(config, load_services(config))
    enable_access_log()
    return uvicorn.Server(uvicorn.Config(
        app, host=config.host, port=config.port, log_level="warning", access_log=False,
        timeout_graceful_shutdown=GRACE, server_header=False, lifespan="on"))


def serve(config: ServeConfig) -> None:
    """Serve until SIGTERM or Ctrl-C."""
    server = build_server(config)
    models = ", ".join(sorted(server.config.app.state.artkit.services))
    info(f"artkit serve: http://{config.host}:{config.port}/ ({models}); "
         f"{'token required' if config.token else 'no token (loopback only)'}")
    server.run()
