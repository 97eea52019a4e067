"""Finds and holds every plugin: built-in ones and those of installed packages.

Plugins are modules found through the ``artkit`` entry-point group, the built-in
`plugins/` folder (installed as `artkit_plugins`) included, so a third-party package adds a
model by declaring::

    [project.entry-points.artkit]
    my_model = "my_package.artkit_plugin"

``ARTKIT_PLUGINS`` (comma-separated entry-point names) restricts which *external* plugins
load; ``ARTKIT_PLUGINS=`` (empty) loads built-ins only. A plugin that fails to import is
reported with a warning naming it, and the rest still works.
"""

from __future__ import annotations

import importlib.metadata
import os
from dataclasses import dataclass
from enum import Enum
from types import ModuleType
from typing import Any

import pluggy

from artkit import hookspecs
from artkit.errors import PluginError

GROUP = "artkit"
BUILTIN_DIST = "artkit"


class Kind(str, Enum):
    """The five plugin kinds. A str: ``Kind.MODEL == "model"``, it prints and serialises to
    json as ``model``, and ``get("model", ...)`` works as well as ``get(Kind.MODEL, ...)``."""

    MODEL = "model"
    FEATURE_EXTRACTOR = "feature-extractor"
    EVALUATOR = "evaluator"
    DATASET_READER = "dataset-reader"
    DETECTION_METHOD = "detection-method"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


KIND_HOOKS: dict[Kind, str] = {
    Kind.MODEL: "register_models",
    Kind.FEATURE_EXTRACTOR: "register_feature_extractors",
    Kind.EVALUATOR: "register_evaluators",
    Kind.DATASET_READER: "register_dataset_readers",
    Kind.DETECTION_METHOD: "register_detection_methods",
}
HOOKS = tuple(name for name in vars(hookspecs) if name.startswith("register_"))
"""Every hook a plugin may implement: one per kind, and `register_commands`."""


@dataclass(frozen=True)
class PluginInfo:
    """One registered object and where it came from."""

    kind: Kind
    name: str
    obj: Any
    source: str  # the plugin module
    package: str  # the distribution that installed it
    version: str

    @property
    def description(self) -> str:
        return getattr(self.obj, "description", "") or ""


class Registry:
    """The plugin manager plus an index of what each plugin registered, by kind and name."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.failed: dict[str, str] = {}
        self._origins: dict[str, tuple[str, str]] = {}
        self._index: dict[str, dict[str, PluginInfo]] | None = None

    # -- loading ------------------------------------------------------------------------
    def load_entry_points(self) -> None:
        allowed = os.environ.get("ARTKIT_PLUGINS")
        allow = None if allowed is None else {n.strip() for n in allowed.split(",") if n.strip()}
        for ep in importlib.metadata.entry_points(group=GROUP):
            dist = ep.dist.name if ep.dist is not None else "?"
            version = ep.dist.version if ep.dist is not None else "?"
            is_builtin = dist == BUILTIN_DIST
            if not is_builtin and allow is not None and ep.name not in allow:
                continue
            if self.pm.has_plugin(ep.name) or ep.value in self._origins:
                continue
            try:
                module = ep.load()
                self.add(module, name=ep.name, package=dist, version=version)
            except Exception as exc:  # a broken plugin must not take artkit down
                if self.pm.has_plugin(ep.name):
                    self.pm.unregister(name=ep.name)
                self.failed[ep.name] = f"{type(exc).__name__}: {exc}"
                from artkit.console import warn

                warn(f"plugin '{ep.name}' ({ep.value}, from {dist}) failed to load: {exc}")

    def add(self, module: ModuleType | object, name: str | None = None,
            package: str = "?", version: str = "?") -> None:
        """Register a plugin module or object directly (used by tests and embedding apps)."""
        name = name or getattr(module, "__name__", repr(module))
        self.pm.register(module, name=name)
        try:
            self.pm.check_pending()  # a misspelt hook implementation fails loudly
        except pluggy.PluginValidationError as exc:
            self.pm.unregister(name=name)
            raise PluginError(f"plugin '{name}' implements a hook artkit does not have: {exc}",
                              hint="hooks: " + ", ".join(HOOKS)) from None
        self._origins[name] = (package, version)
        self._index = None

    # -- querying -----------------------------------------------------------------------
    def _build_index(self) -> dict[str, dict[str, PluginInfo]]:
        index: dict[str, dict[str, PluginInfo]] = {kind: {} for kind in KIND_HOOKS}
        for plugin_name, plugin in self.pm.list_name_plugin():
            package, version = self._origins.get(plugin_name, ("?", "?"))
            source = getattr(plugin, "__name__", plugin_name)
            for kind, hook_name in KIND_HOOKS.items():
                impl = getattr(plugin, hook_name, None)
                if impl is None:
                    continue
                found: list[Any] = []
                impl(register=found.append)
                for obj in found:
                    obj_name = getattr(obj, "name", None)
                    if not obj_name:
                        raise PluginError(f"plugin '{plugin_name}' registered a {kind} "
                                          "without a name")
                    if obj_name in index[kind]:
                        other = index[kind][obj_name].source
                        raise PluginError(f"{kind} '{obj_name}' is registered twice "
                                          f"({other} and {source})")
                    index[kind][obj_name] = PluginInfo(kind, obj_name, obj, source, package,
                                                       version)
        return index

    def all(self) -> list[PluginInfo]:
        if self._index is None:
            self._index = self._build_index()
        return [info for kind in self._index.values() for info in kind.values()]

    def of_kind(self, kind: str) -> dict[str, PluginInfo]:
        if self._index is None:
            self._index = self._build_index()
        return self._index[kind]

    def get(self, kind: str, name: str) -> Any:
        found = self.of_kind(kind)
        if name not in found:
            known = ", ".join(sorted(found)) or "none installed"
            raise PluginError(f"unknown {kind} '{name}'", hint=f"available: {known}")
        return found[name].obj


_registry: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, loaded on first use."""
    global _registry
    if _registry is None:
        _registry = Registry()
        _registry.load_entry_points()
    return _registry


def reset_registry() -> None:
    """Forget the loaded plugins (tests use this after changing ARTKIT_PLUGINS)."""
    global _registry
    _registry = None


def get(kind: str, name: str) -> Any:
    return get_registry().get(kind, name)


def of_kind(kind: str) -> dict[str, PluginInfo]:
    return get_registry().of_kind(kind)
