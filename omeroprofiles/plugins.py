"""The pluggy plugin manager: builtins first, then entry points, loaded one at a time.

A plugin that fails to import, or whose hook raises or returns something that is not a valid
source class, is recorded as disabled with its error; only profiles that use its sources fail.
``$OMERO_PROFILES_PLUGINS`` limits which entry-point plugins load (comma-separated entry-point
names; empty = builtins only).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy
from pydantic import BaseModel

from . import hookspecs
from .credentials import builtin
from .credentials.base import CredentialSource, SourceConfig

ENTRY_POINT_GROUP = hookspecs.PROJECT
PLUGINS_ENV = "OMERO_PROFILES_PLUGINS"


@dataclass
class PluginInfo:
    """What ``omero-profile plugins`` shows for one plugin."""

    name: str
    distribution: str
    version: str
    status: str = "ok"
    error: str | None = None
    sources: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "status": self.status,
            "error": self.error,
            "sources": list(self.sources),
        }


@dataclass
class SourceInfo:
    name: str
    cls: type[CredentialSource]
    plugin: str


def _own_version() -> str:
    try:
        return metadata.version("omero-profiles")
    except metadata.PackageNotFoundError:
        return "unknown"


def _describe_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


class Registry:
    """Credential sources by name, and the plugins that provided them."""

    def __init__(self, *, load_entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.sources: dict[str, SourceInfo] = {}
        self.register(builtin, name="builtin", distribution="omero-profiles", version=_own_version())
        if load_entry_points:
            self._load_entry_points()

    # -- registration -------------------------------------------------------------------------
    def register(self, plugin: object, name: str, *, distribution: str = "(in-process)",
                 version: str = "") -> PluginInfo:
        """Register a plugin object (module or class with hookimpls), as third parties do."""
        info = PluginInfo(name=name, distribution=distribution, version=version)
        self.plugins[name] = info
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:  # pluggy validation errors (bad hook signature, ...)
            info.status, info.error = "disabled", _describe_error(exc)
            return info
        self._collect(name)
        return info

    def unregister(self, name: str) -> None:
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin, name=name)
        self.plugins.pop(name, None)
        self.sources = {k: v for k, v in self.sources.items() if v.plugin != name}

    def _load_entry_points(self) -> None:
        wanted = os.environ.get(PLUGINS_ENV)
        allow = None if wanted is None else {w.strip() for w in wanted.split(",") if w.strip()}
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            if allow is not None and ep.name not in allow:
                continue
            if ep.name in self.plugins:
                continue
            dist = getattr(ep, "dist", None)
            dist_name = dist.metadata["Name"] if dist is not None else "unknown"
            version = dist.version if dist is not None else ""
            try:
                plugin = ep.load()
            except BaseException as exc:  # noqa: BLE001 - a broken plugin must not break the tool
                if isinstance(exc, KeyboardInterrupt):
                    raise
                self.plugins[ep.name] = PluginInfo(ep.name, dist_name, version, "disabled",
                                                   f"import failed: {_describe_error(exc)}")
                continue
            self.register(plugin, name=ep.name, distribution=dist_name, version=version)

    def _collect(self, plugin_name: str) -> None:
        info = self.plugins[plugin_name]
        for impl in self.pm.hook.omeroprofiles_credential_sources.get_hookimpls():
            if impl.plugin_name != plugin_name:
                continue
            try:
                result = impl.function()
            except Exception as exc:
                info.status, info.error = "disabled", f"hook failed: {_describe_error(exc)}"
                return
            for cls in result or []:
                problem = _check_source_class(cls)
                if problem:
                    info.status, info.error = "disabled", problem
                    continue
                if cls.name in self.sources:
                    other = self.sources[cls.name].plugin
                    info.error = f"source '{cls.name}' is already provided by plugin '{other}'; ignored"
                    continue
                self.sources[cls.name] = SourceInfo(cls.name, cls, plugin_name)
                info.sources.append(cls.name)

    # -- lookup -------------------------------------------------------------------------------
    def source(self, name: str) -> CredentialSource | None:
        info = self.sources.get(name)
        return info.cls() if info else None

    def config_model(self, name: str) -> type[SourceConfig] | None:
        info = self.sources.get(name)
        return info.cls.config_model if info else None

    def disabled_reason(self, source_name: str) -> str | None:
        """If a disabled plugin would probably have provided ``source_name``, say which and why."""
        for info in self.plugins.values():
            if info.status != "ok" and source_name.lower() in info.name.lower():
                return f"plugin '{info.name}' is disabled: {info.error}"
        return None


def _check_source_class(cls: Any) -> str | None:
    if not isinstance(cls, type) or not issubclass(cls, CredentialSource):
        return f"{cls!r} is not a CredentialSource subclass"
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        return f"{cls.__name__} has no 'name'"
    model = getattr(cls, "config_model", None)
    if not (isinstance(model, type) and issubclass(model, BaseModel) and "source" in model.model_fields):
        return f"{cls.__name__}.config_model must subclass omeroprofiles.credentials.SourceConfig"
    return None


_registry: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, built on first use."""
    global _registry
    if _registry is None:
        _registry = Registry()
    return _registry


def reset_registry() -> None:
    """Forget the process-wide registry (tests, or after installing a plugin at run time)."""
    global _registry
    _registry = None
