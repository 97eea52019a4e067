"""What artkit's versioned JSON formats (model card, run config) share: the version of
artkit that writes them, the schema check on read, and the split between known fields and
keys kept as they are.

The version is read here, once, from the installed package's metadata: every file artkit
writes records it, and the package root re-exports it as ``artkit.__version__`` (the core
never imports the root)."""

from __future__ import annotations

from dataclasses import fields
from importlib import metadata
from pathlib import Path
from typing import Any

from artkit.errors import ArtkitError

try:
    ARTKIT_VERSION = metadata.version("artkit")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    ARTKIT_VERSION = "0.0.0+src"


def open_versioned(stored: Any, path: str | Path | None, *, what: str, schema: int,
                   required: tuple[str, ...], error: type[ArtkitError] = ArtkitError,
                   hint: str | None = None) -> tuple[dict[str, Any], int]:
    """(a copy of `stored` without ``schema_version``, that version; 1 when absent, as
    artkit 0.1 wrote). One-line errors for a non-object, a newer schema, missing keys."""
    if not isinstance(stored, dict):
        raise error(f"damaged {what} (not a JSON object)", path)
    stored = dict(stored)
    version = stored.pop("schema_version", 1)
    if not isinstance(version, int) or version > schema:
        raise error(f"written by artkit {stored.get('artkit_version', '?')} with {what} "
                    f"schema {version}; this artkit ({ARTKIT_VERSION}) reads schema {schema} "
                    "and older", path, hint="upgrade artkit: pip install -U artkit")
    missing = [k for k in required if k not in stored]
    if missing:
        raise error(f"{what} lacks {', '.join(missing)}", path, hint=hint)
    return stored, version


def split_known(cls: type, stored: dict[str, Any], *, skip: tuple[str, ...] = ()
                ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(values of `cls`'s dataclass fields, the other keys), leaving out `skip`."""
    known = {f.name for f in fields(cls)} - {"extra", "schema_version", *skip}
    values = {k: v for k, v in stored.items() if k in known}
    return values, {k: v for k, v in stored.items() if k not in known and k not in skip}
