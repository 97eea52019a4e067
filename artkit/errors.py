"""Errors that artkit reports to the user as one line instead of a traceback.

Raise :class:`ArtkitError` (or a subclass) for anything the user can fix: a missing file, a
bad option, an image that does not decode. The CLI prints ``str(error)`` in red and exits
non-zero; ``ARTKIT_DEBUG=1`` shows the traceback as well.
"""

from __future__ import annotations

from pathlib import Path


class ArtkitError(Exception):
    """A known failure: what went wrong, on which file, and what to do about it."""

    def __init__(self, message: str, path: str | Path | None = None, hint: str | None = None):
        self.message = message
        self.path = Path(path) if path is not None else None
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.path}: {self.message}" if self.path is not None else self.message
        return f"{text} ({self.hint})" if self.hint else text


class ImageDecodeError(ArtkitError):
    """An image file that cannot be turned into an RGB array (corrupt, empty, not an image...)."""


class DataError(ArtkitError):
    """A data set whose layout or contents are wrong (missing column, unknown id, ...)."""


class PluginError(ArtkitError):
    """A plugin that is unknown, or that breaks the plugin contract."""
