"""Turn the files read into resolved profiles: site < user, [defaults], ``extends``, credentials.

Problems in one profile only fail that profile (and profiles that extend it); problems in a
file's shape (syntax, top level) fail every profile, because we cannot tell what was meant.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from . import files as files_mod
from .errors import ConfigError, Problem, ProfileError, ProfileNotFound
from .locations import Locations, locate
from .model import (
    BUILTIN_DEFAULTS,
    DEFAULTS_KEYS,
    NAME_PATTERN,
    URL_SCHEMES,
    Profile,
    ProfileTable,
    parse_host,
)
from .plugins import Registry, get_registry

BUILTIN = "built-in default"
OVERRIDE = "override"


@dataclass
class _Entry:
    name: str
    file: files_mod.ProfilesFile
    table: dict[str, Any]

    @property
    def where(self) -> str:
        return f"{self.file.label} [profiles.{self.name}]"


class Config:
    """All profiles visible to one invocation."""

    def __init__(self, locations: Locations, pfiles: list[files_mod.ProfilesFile],
                 registry: Registry | None = None) -> None:
        self.locations = locations
        self.files = pfiles
        self.registry = registry or get_registry()
        self.file_problems: list[Problem] = [p for f in pfiles for p in f.problems]
        self._entries: dict[str, _Entry] = {}
        self._defaults: dict[str, tuple[Any, str]] = {}
        self.default_name: str | None = None
        self.default_origin: str | None = None
        self._resolved: dict[str, Profile | list[Problem]] = {}
        for pf in pfiles:  # site first, so the user's same-named profile replaces it
            self._take(pf)

    # -- loading ------------------------------------------------------------------------------
    @classmethod
    def load(cls, config: str | None = None, *, registry: Registry | None = None,
             locations: Locations | None = None) -> Config:
        locations = locations or locate(config)
        pfiles = [files_mod.read(locations.site_file, "site"), files_mod.read(locations.user_file, "user")]
        if locations.explicit_user_file and not pfiles[1].exists:
            pfiles[1].problems.append(Problem(str(locations.user_file), "file not found (given with --config)"))
        return cls(locations, pfiles, registry)

    def _take(self, pf: files_mod.ProfilesFile) -> None:
        import re

        data = pf.data
        if isinstance(data.get("default"), str):
            self.default_name = data["default"]
            self.default_origin = f"{pf.label}: default"
        defaults = data.get("defaults")
        if isinstance(defaults, dict):
            for key, value in defaults.items():
                if key not in DEFAULTS_KEYS:
                    hint = " (not allowed in [defaults])" if key in ("extends", "description") else \
                        _did_you_mean(key, DEFAULTS_KEYS)
                    self.file_problems.append(Problem(pf.label, f"unknown key{hint}", key=f"defaults.{key}"))
                    continue
                problems = _table_problems({key: value}, pf.label, None, prefix="defaults.")
                self.file_problems.extend(problems)
                if not problems:  # a bad default is reported once, here, and never reaches a Profile
                    self._defaults[key] = (value, f"{pf.label} [defaults]")
        for name, table in pf.profiles.items():
            if not re.match(NAME_PATTERN, name):
                self.file_problems.append(Problem(
                    pf.label, "invalid profile name: use letters, digits, '.', '_' or '-' "
                    "(starting with a letter or digit, at most 64 characters)", profile=name))
                continue
            self._entries[name] = _Entry(name, pf, table)

    # -- queries ------------------------------------------------------------------------------
    def names(self) -> list[str]:
        return list(self._entries)

    def has(self, name: str) -> bool:
        return name in self._entries

    def file_of(self, name: str) -> files_mod.ProfilesFile | None:
        entry = self._entries.get(name)
        return entry.file if entry else None

    def raw_table(self, name: str) -> dict[str, Any] | None:
        entry = self._entries.get(name)
        return entry.table if entry else None

    def not_found(self, name: str, why: str = "") -> ProfileError:
        """The error for a name no file defines: ProfileNotFound, unless a broken file may be hiding it.

        A file that cannot be parsed has no profiles to offer, so 'not defined' (exit 3) would send
        the user looking for a typo; the file's own problems (exit 2) are the answer.
        """
        if self.file_problems:
            return ConfigError(_unique(self.file_problems))
        read = [str(f.path) for f in self.files if f.exists] or [str(self.locations.user_file) + " (missing)"]
        message = f"profile '{name}'{why} is not defined in {', '.join(read)}"
        close = difflib.get_close_matches(name, self.names(), n=1, cutoff=0.6)
        message += f"; did you mean '{close[0]}'?" if close else "."
        message += f" Available: {', '.join(self.names())}." if self.names() else \
            " No profiles are defined yet (omero-profile init, or omero-profile add NAME --host HOST)."
        return ProfileNotFound(message)

    def resolve(self, name: str, overrides: Mapping[str, Any] | None = None) -> Profile:
        """The validated profile ``name`` with ``overrides`` applied; raises on any problem."""
        if self.file_problems:
            raise ConfigError(_unique(self.file_problems))
        if name not in self._entries:
            raise self.not_found(name)
        if not overrides:
            cached = self._resolved.get(name)
            if cached is None:
                cached = self._build(name, None)
                self._resolved[name] = cached
        else:
            cached = self._build(name, overrides)
        if isinstance(cached, list):
            raise ConfigError(cached)
        return cached

    def problems(self) -> list[Problem]:
        """Every problem in every file and profile, each once, in file order."""
        found = list(self.file_problems)
        if self.default_name is not None and self.default_name not in self._entries:
            label = (self.default_origin or "").split(": ")[0]
            found.append(Problem(label, f"names profile '{self.default_name}', which is not defined"
                                 + _did_you_mean(self.default_name, self.names()), key="default"))
        for name in self._entries:
            result = self._resolved.get(name) or self._build(name, None)
            self._resolved[name] = result
            if isinstance(result, list):
                found.extend(result)
        return _unique(found)

    def valid_profiles(self) -> Iterable[Profile]:
        for name in self._entries:
            try:
                yield self.resolve(name)
            except ConfigError:
                continue

    # -- resolution ---------------------------------------------------------------------------
    def _chain(self, name: str) -> tuple[list[_Entry], list[Problem]]:
        """The profile and its ancestors, child first; problems for cycles / unknown parents."""
        chain: list[_Entry] = []
        seen: list[str] = []
        current: str | None = name
        while current is not None:
            if current in seen:
                cycle = " -> ".join([*seen[seen.index(current):], current])
                first = self._entries[name]
                return chain, [Problem(first.file.label, f"extends cycle: {cycle}", profile=name, key="extends")]
            entry = self._entries.get(current)
            if entry is None:
                child = chain[-1]
                msg = f"extends unknown profile '{current}'" + _did_you_mean(current, self.names())
                return chain, [Problem(child.file.label, msg, profile=child.name, key="extends")]
            seen.append(current)
            chain.append(entry)
            parent = entry.table.get("extends")
            current = parent if isinstance(parent, str) else None
        return chain, []

    def _build(self, name: str, overrides: Mapping[str, Any] | None) -> Profile | list[Problem]:
        chain, problems = self._chain(name)
        for entry in chain:
            problems.extend(_table_problems(entry.table, entry.file.label, entry.name))
        if overrides:
            problems.extend(_table_problems(dict(overrides), "override", name))
        if problems:
            return _unique(problems)

        values: dict[str, Any] = {}
        origin: dict[str, str] = {}
        for key, value in BUILTIN_DEFAULTS.items():
            values[key], origin[key] = value, BUILTIN
        for key, (value, where) in self._defaults.items():
            values[key], origin[key] = value, where
        own = chain[0]
        for entry in reversed(chain):
            via = "" if entry is own else " via extends"
            for key, value in entry.table.items():
                if key == "extends" or (key == "description" and entry is not own):
                    continue
                values[key], origin[key] = value, entry.where + via
        for key, value in (overrides or {}).items():
            if value is not None:
                values[key], origin[key] = value, OVERRIDE

        where = own.file.label
        if "host" not in values:
            return [Problem(where, "required key is missing (set it here, in a profile this one "
                                   "extends, or in [defaults])", profile=name, key="host")]
        address = parse_host(values["host"])
        if address.transport is not None:
            if address.port is not None:
                if origin["port"] != BUILTIN and values["port"] != address.port:
                    return [Problem(where, f"{values['port']} conflicts with port {address.port} in host "
                                           f"URL '{values['host']}'", profile=name, key="port")]
                values["port"], origin["port"] = address.port, origin["host"]
            elif origin["port"] == BUILTIN:
                values["port"] = URL_SCHEMES[address.transport]
                origin["port"] = f"{address.transport}:// default"

        credentials, cred_problems = self._credentials(values["credentials"], name, origin["credentials"])
        if cred_problems:
            return cred_problems
        values["credentials"] = credentials
        profile = Profile(name=name, **values)
        profile._origin = origin
        profile._file = where
        return profile

    def _credentials(self, table: dict[str, Any], name: str, where: str) -> tuple[Any, list[Problem]]:
        label = where.split(" [")[0]
        source = table.get("source")
        if not isinstance(source, str):
            return None, [Problem(label, "must be the name of a credential source (a string)",
                                  profile=name, key="credentials.source")]
        model = self.registry.config_model(source)
        if model is None:
            installed = ", ".join(sorted(self.registry.sources))
            msg = f"unknown credential source '{source}'{_did_you_mean(source, self.registry.sources)}; " \
                  f"installed: {installed}"
            reason = self.registry.disabled_reason(source)
            if reason:
                msg += f" ({reason})"
            return None, [Problem(label, msg, profile=name, key="credentials.source")]
        try:
            return model.model_validate(table), []
        except ValidationError as exc:
            return None, _pydantic_problems(exc, label, name, "credentials.", model.model_fields)


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
    problems = []
    seen: set[str] = set()
    for err in exc.errors(include_url=False):
        field = str(err["loc"][0]) if err["loc"] else ""
        key = prefix + field if field else prefix.rstrip(".")
        if key in seen:  # a union field reports once per member type; the first says enough
            continue
        seen.add(key)
        kind = err["type"]
        if kind == "extra_forbidden":
            message = "unknown key" + _did_you_mean(field, fields)
        elif kind == "missing":
            message = "required key is missing"
        else:
            message = err["msg"]
            if message.startswith("Value error, "):
                message = message[len("Value error, "):]
            message = message[0].lower() + message[1:]
            got = _TYPE_NAMES.get(type(err.get("input")))
            if kind.endswith("_type") and got:
                message += f" (got {got})"
        problems.append(Problem(label, message, profile=profile, key=key or None))
    return _unique(problems)


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _unique(problems: Iterable[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))
