"""Turn the files read into resolved profiles: site < user, [defaults], ``extends``, credentials.

Problems in one profile only fail that profile (and profiles that extend it); problems in a
file's shape (syntax, top level) fail every profile, because we cannot tell what was meant.

Resolution is linear in the number of profiles, however deep ``extends`` chains are: each
table's merged values (it and its ancestors) are computed once and shared by its children.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import PrivateAttr, ValidationError

from . import files as files_mod
from .active import select
from .catalog import Catalog, Entry, collect, read_files, unique
from .credentials.base import SourceConfig
from .errors import ConfigError, Problem, ProfileError
from .locations import Locations, locate
from .model import (
    BUILTIN_DEFAULTS,
    DEFAULTS_KEYS,
    URL_SCHEMES,
    Profile,
    ProfileTable,
    parse_host,
)
from .origin import BUILTIN, OVERRIDE, Origin
from .plugins import Registry, get_registry
from .text import did_you_mean

_OVERRIDE_RANK = 1 << 30
"""Layers are ranked: built-ins 0, site [defaults] 1, user [defaults] 2, extends ancestors from 3
(the farthest lowest), the profile's own table above them, overrides above everything."""


@dataclass
class _Layer:
    """A table merged over its ancestors (not yet over [defaults]): values, origins and ranks."""

    values: dict[str, Any] = field(default_factory=dict)
    origin: dict[str, tuple[Entry, int]] = field(default_factory=dict)
    """key -> (the entry that set it, its rank)."""
    problems: list[Problem] = field(default_factory=list)
    """This table's own problems, and a cycle or unknown parent found from it."""
    parent: _Layer | None = None
    failed: bool = False
    """This table or an ancestor has a problem: the profile cannot be used."""

    def all_problems(self) -> list[Problem]:
        """This layer's problems and every ancestor's (a walk up the chain, not a copy per level)."""
        found, layer, seen = [], self, set()
        while layer is not None and id(layer) not in seen:
            seen.add(id(layer))
            found.extend(layer.problems)
            layer = layer.parent
        return unique(found)


class UnavailableSource(SourceConfig):
    """The credentials table of a profile whose source's plugin is not loaded (broken or excluded).

    The profile resolves (other profiles are unaffected), but connecting fails with exit 4
    naming the plugin. Which keys hold secrets is unknown, so every value but ``source`` is masked.
    """

    model_config = SourceConfig.model_config | {"extra": "allow", "strict": False}
    _reason: str = PrivateAttr(default="")

    @property
    def reason(self) -> str:
        """Why the source is not loaded. Not a field: ``show`` prints the fields as the table's keys."""
        return self._reason

    @classmethod
    def masked(cls, table: Mapping[str, Any], reason: str) -> UnavailableSource:
        masked = cls(source=table["source"], **{k: "**********" for k in table if k != "source"})
        masked._reason = reason
        return masked


class Config(Catalog):
    """All profiles visible to one invocation, validated and resolved on demand."""

    def __init__(self, locations: Locations, pfiles: list[files_mod.ProfilesFile],
                 registry: Registry | None = None) -> None:
        self.registry = registry or get_registry()
        self._defaults: dict[str, tuple[Any, Origin, int]] = {}
        self._layers: dict[str, _Layer] = {}
        self._own_problems: dict[str, list[Problem]] = {}
        self._resolved: dict[str, Profile | list[Problem]] = {}
        super().__init__(locations, pfiles, *collect(pfiles, self._take_defaults))

    # -- loading ------------------------------------------------------------------------------
    @classmethod
    def load(cls, config: str | None = None, *, registry: Registry | None = None,
             locations: Locations | None = None) -> Config:
        locations = locations or locate(config)
        return cls(locations, read_files(locations), registry)

    def _take_defaults(self, pf: files_mod.ProfilesFile, rank: int) -> list[Problem]:
        """Validate ``pf``'s [defaults]; keep the good values, return the problems."""
        found: list[Problem] = []
        defaults = pf.data.get("defaults")
        if isinstance(defaults, dict):
            for key, value in defaults.items():
                if key not in DEFAULTS_KEYS:
                    hint = " (not allowed in [defaults])" if key in ("extends", "description") else \
                        did_you_mean(key, DEFAULTS_KEYS)
                    found.append(Problem(pf.label, f"unknown key{hint}", key=f"defaults.{key}"))
                    continue
                problems = _table_problems({key: value}, pf.label, None, prefix="defaults.")
                found.extend(problems)
                if not problems:  # a bad default is reported once, here, and never reaches a Profile
                    self._defaults[key] = (value, Origin("file", pf.label, "defaults"), rank)
        return found

    # -- queries ------------------------------------------------------------------------------
    def resolve(self, name: str, overrides: Mapping[str, Any] | None = None) -> Profile:
        """The validated profile ``name`` with ``overrides`` applied; raises on any problem."""
        if self.file_problems:
            raise ConfigError(unique(self.file_problems))
        if name not in self._entries:
            raise self.not_found(name)
        if overrides:
            result = self._build(name, overrides)
        else:
            result = self._resolved.get(name)
            if result is None:
                result = self._resolved[name] = self._build(name, None)
        if isinstance(result, list):
            raise ConfigError(result)
        return result

    def resolve_selected(self, name: str | None = None, overrides: Mapping[str, Any] | None = None) -> Profile:
        """The profile ``name`` names, else the active one (``active.select``), resolved with ``overrides``."""
        return self.resolve(select(self, name).name, overrides)

    def credential_source(self, name: str) -> str | None:
        """The credential source profile ``name`` uses (``defaults``: the user file's [defaults] table), as far
        as the files say: the source its own table names, else the resolved profile's; None if neither tells."""
        table = (self.files[-1].data.get("defaults") if name == "defaults" else self.raw_table(name)) or {}
        credentials = table.get("credentials") if isinstance(table, dict) else None
        if isinstance(credentials, dict) and isinstance(credentials.get("source"), str):
            return credentials["source"]
        try:
            return self.resolve(name).source if name != "defaults" else None
        except ProfileError:
            return None

    def secrets_written(self, name: str, key: str, value: Any) -> list[str]:
        """The secret credential keys that setting ``key`` to ``value`` in ``name`` writes, sorted: checked
        against the source a whole new credentials table names, else the one the profile uses."""
        if key == "credentials" and isinstance(value, dict):
            source = value.get("source") if isinstance(value.get("source"), str) else None
            return sorted(self.registry.secret_keys(source, list(value)))
        if key.startswith("credentials."):
            return sorted(self.registry.secret_keys(self.credential_source(name), [key.split(".", 1)[1]]))
        return []

    def problems(self) -> list[Problem]:
        """Every problem in every file and profile, each once, in file order."""
        found = list(self.file_problems)
        default = self.default_problem()
        if default is not None:
            found.append(default)
        for name in self._entries:
            layer = self._layer(name)
            found.extend(self._own(name))  # each table's problems once, not once per descendant
            found.extend(layer.problems)
            if not layer.failed:
                result = self._resolved.get(name) or self._build(name, None)
                self._resolved[name] = result
                if isinstance(result, list):
                    found.extend(result)
        return unique(found)

    def unavailable(self) -> dict[str, str]:
        """Profiles whose credential source's plugin is not loaded: name -> why."""
        out = {}
        for name in self._entries:
            result = self._resolved.get(name) or self._build(name, None)
            self._resolved[name] = result
            if isinstance(result, Profile) and isinstance(result.credentials, UnavailableSource):
                out[name] = result.credentials.reason
        return out

    # -- resolution ---------------------------------------------------------------------------
    def _own(self, name: str) -> list[Problem]:
        found = self._own_problems.get(name)
        if found is None:
            entry = self._entries[name]
            found = self._own_problems[name] = _table_problems(entry.table, entry.file.label, name)
        return found

    def _layer(self, name: str) -> _Layer:
        """The merged layer of ``name``; walks up only to the first ancestor already merged."""
        if name in self._layers:
            return self._layers[name]
        path: list[str] = []
        on_path: dict[str, int] = {}
        current: str | None = name
        base: _Layer | None = None
        unknown_parent: list[Problem] = []
        while current is not None:
            if current in self._layers:
                base = self._layers[current]
                break
            if current in on_path:  # a cycle: every member fails, naming the cycle from itself
                cycle = path[on_path[current]:]
                for i, member in enumerate(cycle):
                    loop = " -> ".join([*cycle[i:], *cycle[:i], member])
                    entry = self._entries[member]
                    self._layers[member] = _Layer(problems=[*self._own(member), Problem(
                        entry.file.label, f"extends cycle: {loop}", profile=member, key="extends")], failed=True)
                path = path[:on_path[current]]
                base = self._layers[current]
                break
            entry = self._entries.get(current)
            if entry is None:
                child = self._entries[path[-1]]
                message = f"extends unknown profile '{current}'" + did_you_mean(current, self.names())
                unknown_parent.append(Problem(child.file.label, message, profile=child.name, key="extends"))
                break
            on_path[current] = len(path)
            path.append(current)
            parent = entry.table.get("extends")
            current = parent if isinstance(parent, str) else None
        if base is None:
            base = _Layer()
        for member in reversed(path):  # from the farthest ancestor down to ``name``
            extra = unknown_parent if member == path[-1] else []
            base = self._layers[member] = self._merge(member, base, extra)
        return self._layers[name]

    def _merge(self, name: str, parent: _Layer, extra: list[Problem]) -> _Layer:
        entry = self._entries[name]
        problems = [*self._own(name), *extra]
        if parent.failed or problems:
            return _Layer(problems=problems, parent=parent, failed=True)
        depth = 1 + max((rank for _, rank in parent.origin.values()), default=2)
        layer = _Layer(dict(parent.values), dict(parent.origin))
        for key, value in entry.table.items():
            if key != "extends":
                layer.values[key] = value
                layer.origin[key] = (entry, depth)
        return layer

    def _build(self, name: str, overrides: Mapping[str, Any] | None) -> Profile | list[Problem]:
        layer = self._layer(name)
        if layer.failed:
            return layer.all_problems()
        if overrides:
            problems = _table_problems(dict(overrides), "override", name)
            if problems:
                return problems
        own = self._entries[name]
        values: dict[str, Any] = dict(BUILTIN_DEFAULTS)
        origin: dict[str, Origin] = dict.fromkeys(BUILTIN_DEFAULTS, BUILTIN)
        rank: dict[str, int] = dict.fromkeys(BUILTIN_DEFAULTS, 0)
        for key, (value, where, level) in self._defaults.items():
            values[key], origin[key], rank[key] = value, where, level
        for key, value in layer.values.items():
            entry, level = layer.origin[key]
            if key == "description" and entry is not own:
                continue  # a description describes one profile; it is not inherited
            values[key], origin[key], rank[key] = value, _origin(entry, entry is not own), level
        for key, value in (overrides or {}).items():
            if value is not None:
                values[key], origin[key], rank[key] = value, OVERRIDE, _OVERRIDE_RANK

        label = own.file.label
        if "host" not in values:
            return [Problem(label, "required key is missing (set it here, in a profile this one "
                                   "extends, or in [defaults])", profile=name, key="host")]
        problem = _apply_url_port(values, origin, rank)
        if problem:
            return [Problem(label, problem, profile=name, key="port")]

        credentials, cred_problems = self._credentials(values["credentials"], name, origin["credentials"])
        if cred_problems:
            return cred_problems
        values["credentials"] = credentials
        origin["credentials"] = _credentials_origin(origin["credentials"], credentials)
        profile = Profile(name=name, **values)
        profile._origin = origin
        profile._file = label
        profile._registry = self.registry
        return profile

    def _credentials(self, table: dict[str, Any], name: str, where: Origin) -> tuple[Any, list[Problem]]:
        label = where.file or "override"
        source = table.get("source")
        if not isinstance(source, str):
            return None, [Problem(label, "must be the name of a credential source (a string)",
                                  profile=name, key="credentials.source")]
        model = self.registry.config_model(source)
        if model is None:
            reason = self.registry.unavailable_reason(source)
            if reason:  # may be provided by a plugin that did not load: connecting fails (exit 4), not this file
                return UnavailableSource.masked(table, reason), []
            installed = ", ".join(sorted(self.registry.sources))
            msg = f"unknown credential source '{source}'{did_you_mean(source, self.registry.sources)}; " \
                  f"installed: {installed}"
            return None, [Problem(label, msg, profile=name, key="credentials.source")]
        try:
            return model.model_validate(table), []
        except ValidationError as exc:
            return None, _pydantic_problems(exc, label, name, "credentials.", model.model_fields)


def _credentials_origin(where: Origin, config: SourceConfig) -> Origin:
    """Where the credentials table came from, saying which shown keys no file set (the source's own
    defaults) or why the source is not loaded: ``show`` must not pass either off as the file's."""
    if isinstance(config, UnavailableSource):
        return replace(where, detail=f"source '{config.source}' is not loaded: {config.reason}")
    defaulted = [key for key in type(config).model_fields
                 if key not in config.model_fields_set and getattr(config, key) is not None]
    if not defaulted:
        return where
    return replace(where, detail=f"{', '.join(defaulted)}: default{'s' if len(defaulted) > 1 else ''} "
                                 f"of source '{config.source}'")


def _origin(entry: Entry, via_extends: bool) -> Origin:
    return Origin("file", entry.file.label, f"profiles.{entry.name}", via_extends)


def _apply_url_port(values: dict[str, Any], origin: dict[str, Origin], rank: dict[str, int]) -> str | None:
    """Make ``port`` agree with a URL host; a problem message if the two conflict.

    ``host`` and ``port`` layer together: a port from a less specific layer than the URL host
    (built-in, [defaults], the site file, an ancestor) never overrides the URL's port (or its
    scheme's default); a port from a more specific layer does; one set beside the URL, in the
    same table, must agree with it.
    """
    address = parse_host(values["host"])
    if address.transport is None:
        return None
    host_rank, port_rank = rank["host"], rank["port"]
    if port_rank > host_rank:
        return None
    if address.port is not None:
        if port_rank == host_rank and values["port"] != address.port:
            return f"{values['port']} conflicts with port {address.port} in host URL '{values['host']}'"
        values["port"] = address.port
        origin["port"] = replace(origin["host"], detail="the port in the host URL")
    elif port_rank < host_rank:
        values["port"] = URL_SCHEMES[address.transport]
        origin["port"] = replace(BUILTIN, detail=f"the {address.transport}:// default port")
    return None


def _table_problems(table: dict[str, Any], label: str, profile: str | None, prefix: str = "") -> list[Problem]:
    try:
        ProfileTable.model_validate(table)
    except ValidationError as exc:
        return _pydantic_problems(exc, label, profile, prefix, ProfileTable.model_fields)
    return []


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "a boolean", dict: "a table",
               list: "an array"}


def _pydantic_problems(exc: ValidationError, label: str, profile: str | None, prefix: str,
                       fields: Iterable[str]) -> list[Problem]:
    """One problem per key, in words; never the input value (it may be a secret)."""
    problems = []
    seen: set[str] = set()
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        field_name = str(err["loc"][0]) if err["loc"] else ""
        key = prefix + field_name if field_name else prefix.rstrip(".")
        if key in seen:  # a union field reports once per member type; the first says enough
            continue
        seen.add(key)
        kind = err["type"]
        if kind == "extra_forbidden":
            message = "unknown key" + did_you_mean(field_name, fields)
        elif kind == "missing":
            message = "required key is missing"
        else:
            message = err["msg"]
            if message.startswith("Value error, "):
                message = message[len("Value error, "):]
            message = message[0].lower() + message[1:]
            if kind.endswith("_type"):
                got = _input_type(exc, err["loc"])
                if got:
                    message += f" (got {got})"
        problems.append(Problem(label, message, profile=profile, key=key or None))
    return unique(problems)


def _input_type(exc: ValidationError, loc: tuple[Any, ...]) -> str | None:
    for err in exc.errors(include_url=False):
        if err["loc"] == loc:
            return _TYPE_NAMES.get(type(err.get("input")))
    return None
