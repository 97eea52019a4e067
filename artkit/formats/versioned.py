"""What artkit's versioned JSON formats (model card, run config) share: the schema check on
read, and the split between known fields and keys kept as they are."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

from artkit import __version__
from artkit.errors import ArtkitError


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
                    f"schema {version}; this artkit ({__version__}) reads schema {schema} "
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
