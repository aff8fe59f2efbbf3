"""The pluggy plugin manager: builtins first, then entry points, loaded one at a time.

Every plugin keeps a list of problems. A plugin that fails to import, or whose hook raises, is
``disabled``; one whose hook returns some valid and some invalid classes (not a
``CredentialSource``, abstract, no ``name``, a name another plugin already provides) is
``partly loaded``: its valid sources work, its problems are listed. Only profiles that use a
missing source fail (exit 4, naming the plugin). ``$OMERO_PROFILES_PLUGINS`` limits which
entry-point plugins load (comma-separated entry-point names; empty = builtins only); a name in
it that is not installed is reported, not ignored.
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy
from pydantic import BaseModel

from . import hookspecs
from .credentials import builtin
from .credentials.base import CredentialSource, SourceConfig
from .locations import PLUGINS_ENV

ENTRY_POINT_GROUP = hookspecs.PROJECT

OK, PARTLY_LOADED, DISABLED = "ok", "partly loaded", "disabled"


LOOKS_SECRET = re.compile(r"(pass(word|phrase)?|secret|token|(^|_)key|credentials?)\s*\Z", re.IGNORECASE)
"""Key names that look like they hold a secret: used only for sources whose model cannot be asked.
Trailing blanks (a quoted ``"token\n"`` key) still count, on purpose: here erring means masking."""


@dataclass
class PluginInfo:
    """What ``omero-profile plugins`` shows for one plugin."""

    name: str
    distribution: str
    version: str
    sources: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    loaded: bool = True
    """False when the plugin could not be imported or registered at all."""

    @property
    def status(self) -> str:
        if not self.problems:
            return OK
        return PARTLY_LOADED if self.loaded and self.sources else DISABLED

    def as_json(self, registry: Registry) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "status": self.status,
            "problems": list(self.problems),
            "sources": [{"name": s, "summary": registry.sources[s].cls.summary} for s in self.sources],
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
        self.excluded: list[str] = []
        """Installed entry-point plugins that ``$OMERO_PROFILES_PLUGINS`` left out."""
        self.warnings: list[str] = []
        """Problems of the registry itself (e.g. an unknown name in ``$OMERO_PROFILES_PLUGINS``)."""
        self.register(builtin, name="builtin", distribution="omero-profiles", version=_own_version())
        if load_entry_points:
            self._load_entry_points()
        self.changed = False
        """A plugin was registered or unregistered by code after the installed ones were loaded: the
        validated-index cache (keyed by what is installed) does not describe this registry."""

    # -- registration -------------------------------------------------------------------------
    def register(self, plugin: object, name: str, *, distribution: str = "(in-process)",
                 version: str = "") -> PluginInfo:
        """Register a plugin object (module or class with hookimpls), as third parties do.

        Raises ValueError if ``name`` or the same plugin object is registered already (unregister
        it first); nothing registered before is changed.
        """
        if name in self.plugins:
            raise ValueError(f"a plugin named '{name}' is registered already "
                             f"({self.plugins[name].distribution}); unregister('{name}') first")
        existing = self.pm.get_name(plugin)
        if existing is not None:
            raise ValueError(f"this plugin object is registered already as '{existing}' "
                             f"({self.plugins[existing].distribution}); unregister('{existing}') first")
        self.changed = True
        info = PluginInfo(name=name, distribution=distribution, version=version)
        self.plugins[name] = info
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:  # pluggy validation errors (bad hook signature, ...)
            info.loaded = False
            info.problems.append(f"cannot be registered: {_describe_error(exc)}")
            return info
        self._collect(name)
        return info

    def unregister(self, name: str) -> None:
        self.changed = True
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin, name=name)
        self.plugins.pop(name, None)
        self.sources = {k: v for k, v in self.sources.items() if v.plugin != name}

    def _load_entry_points(self) -> None:
        wanted = os.environ.get(PLUGINS_ENV)
        allow = None if wanted is None else {w.strip() for w in wanted.split(",") if w.strip()}
        found = list(metadata.entry_points(group=ENTRY_POINT_GROUP))
        if allow is not None:
            unknown = sorted(allow - {ep.name for ep in found})
            if unknown:
                installed = ", ".join(sorted({ep.name for ep in found})) or "none"
                self.warnings.append(f"${PLUGINS_ENV} names {', '.join(repr(u) for u in unknown)}, which "
                                     f"{'is' if len(unknown) == 1 else 'are'} not installed (installed: {installed})")
        for ep in found:
            if allow is not None and ep.name not in allow:
                self.excluded.append(ep.name)
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
                self.plugins[ep.name] = PluginInfo(ep.name, dist_name, version, loaded=False,
                                                   problems=[f"import failed: {_describe_error(exc)}"])
                continue
            try:
                self.register(plugin, name=ep.name, distribution=dist_name, version=version)
            except ValueError as exc:  # the same module under two entry-point names
                self.plugins[ep.name] = PluginInfo(ep.name, dist_name, version, loaded=False, problems=[str(exc)])

    def _collect(self, plugin_name: str) -> None:
        info = self.plugins[plugin_name]
        for impl in self.pm.hook.omeroprofiles_credential_sources.get_hookimpls():
            if impl.plugin_name != plugin_name:
                continue
            try:
                result = impl.function()
            except Exception as exc:
                info.loaded = False
                info.problems.append(f"hook omeroprofiles_credential_sources failed: {_describe_error(exc)}")
                return
            if not isinstance(result, list | tuple):
                info.problems.append(f"hook omeroprofiles_credential_sources returned {type(result).__name__}, "
                                     "not a list of CredentialSource classes")
                return
            for cls in result:
                problem = source_class_problem(cls)
                if problem:
                    info.problems.append(problem)
                    continue
                if cls.name in self.sources:
                    other = self.sources[cls.name].plugin
                    info.problems.append(f"source '{cls.name}' is already provided by plugin '{other}'; ignored")
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

    def secret_keys(self, source_name: str | None, keys: Iterable[str]) -> frozenset[str]:
        """Which of ``keys`` (of a ``source_name`` credentials table) hold a secret.

        A loaded source says so itself (its config model's ``SecretStr`` fields). A key its model
        does not know, or any key of a source that is not loaded, counts when its name looks like
        a secret (it is an error anyway, but must not be echoed or written from a command line).
        """
        model = self.config_model(source_name) if source_name else None
        known = model.model_fields if model is not None else {}
        declared = model.secret_keys() if model is not None else frozenset()
        return frozenset(k for k in keys if k in declared or (k not in known and LOOKS_SECRET.search(k)))

    def unavailable_reason(self, source_name: str) -> str | None:
        """Why ``source_name`` may exist but is not loaded: a broken or excluded plugin; None if none.

        An import failure hides which sources a plugin would provide, so every plugin that did
        not load completely is named.
        """
        reasons = [f"plugin '{i.name}' ({i.distribution}) is {i.status}: {'; '.join(i.problems)}"
                   for i in self.plugins.values() if i.status != OK]
        if self.excluded:
            reasons.append(f"${PLUGINS_ENV}={os.environ.get(PLUGINS_ENV, '')!r} leaves out the installed "
                           f"plugin(s) {', '.join(self.excluded)}")
        return "; ".join(reasons) or None


def source_class_problem(cls: Any) -> str | None:
    """Why ``cls`` cannot be a credential source, or None if it can."""
    if not isinstance(cls, type) or not issubclass(cls, CredentialSource):
        return f"{cls!r} is not a subclass of omeroprofiles.credentials.CredentialSource"
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        return f"{cls.__name__} has no 'name' (the TOML source value)"
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(cls.__abstractmethods__))
        return f"{cls.__name__} (source '{name}') does not implement {missing}"
    model = getattr(cls, "config_model", None)
    if not (isinstance(model, type) and issubclass(model, BaseModel) and issubclass(model, SourceConfig)):
        return f"{cls.__name__}.config_model must subclass omeroprofiles.credentials.SourceConfig"
    return None


_registry: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, built on first use."""
    global _registry
    if _registry is None:
        _registry = Registry()
    return _registry


def changed_in_process() -> bool:
    """True if the process-wide registry exists and code registered or unregistered a plugin in it."""
    return _registry is not None and _registry.changed


def reset_registry() -> None:
    """Forget the process-wide registry (tests, or after installing a plugin at run time)."""
    global _registry
    _registry = None
