"""The bearer token: where it comes from, when it is required, and the constant-time check.

A server on loopback may run open (a curator's laptop); one that binds any other address
refuses to start without a token, since anyone on the network could then use it.
"""

from __future__ import annotations

import hmac
import ipaddress
import os

from artkit.errors import ArtkitError

TOKEN_ENV = "ARTKIT_SERVE_TOKEN"
#: Paths open without the token: the page and its assets (the page asks for the token
#: itself), liveness and readiness probes, the OpenAPI document.
OPEN_PATHS = frozenset({"/", "/healthz", "/readyz", "/openapi.json"})
OPEN_PREFIXES = ("/page/",)


def resolve_token(token: str | None) -> str | None:
    """`token`, else the environment's ``ARTKIT_SERVE_TOKEN``, else None (no token)."""
    token = token if token is not None else os.environ.get(TOKEN_ENV)
    return token or None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to bind a non-loopback `host` without a token."""
    if token is None and not is_loopback(host):
        raise ArtkitError(f"refusing to bind {host} without a token: anyone who can reach "
                          "it could use the server",
                          hint=f"pass --token or set {TOKEN_ENV}, or bind 127.0.0.1")


def needs_token(path: str) -> bool:
    return path not in OPEN_PATHS and not path.startswith(OPEN_PREFIXES)


def authorised(header: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries `token` (compared in constant time)."""
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())
