"""artkit's public API: what the CLI calls, and what scripts, notebooks and services call.

Layering: ``artkit.cli`` (presentation) -> ``artkit.api`` (this package) -> the core
(``artkit.*``) -> plugins. The API prints nothing: long calls take ``progress=`` (a
callback of :class:`artkit.console.Event`, or True for rich bars) and raise
:class:`artkit.errors.ArtkitError` subclasses, the errors the CLI shows as one line.
The names users need are re-exported from :mod:`artkit`.
"""
