"""In-place edits of the user's profiles file that keep comments, order and layout (tomlkit).

Every edit: take the lock, re-read the file, change the parsed document, validate the result
(site file + edited user file) and write atomically only if the edit adds no new problem.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import tomlkit
from tomlkit.items import InlineTable, Table

from . import files as files_mod
from .errors import ConfigError, Problem, ProfileNotFound
from .locations import Locations
from .plugins import Registry
from .resolve import Config
from .writing import atomic_write, locked

STRING_KEYS = {"host", "su", "description", "extends"}
"""Keys whose value is always text, so ``set prod su 1234`` stores the string '1234'."""


def _config_for(locations: Locations, user: files_mod.ProfilesFile, registry: Registry | None) -> Config:
    site = files_mod.read(locations.site_file, "site")
    return Config(locations, [site, user], registry)


def edit_user_file(locations: Locations, change: Callable[[tomlkit.TOMLDocument], None], *,
                   registry: Registry | None = None) -> str:
    """Apply ``change`` to the user's file; returns the new text. Raises ConfigError, writes nothing, on error."""
    path = locations.user_file
    with locked(path):
        try:
            old_text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            old_text = ""
        before = files_mod.parse_text(path, old_text)
        syntax = [p for p in before.problems if p.message.startswith("TOML syntax error")]
        if syntax:
            raise ConfigError(syntax, hint="fix the syntax error first; nothing was written")
        doc = tomlkit.parse(old_text)
        change(doc)
        new_text = doc.as_string()
        if new_text == old_text:
            return new_text
        old_problems = set(_config_for(locations, before, registry).problems())
        after = files_mod.parse_text(path, new_text)
        new_problems = [p for p in _config_for(locations, after, registry).problems() if p not in old_problems]
        if new_problems:
            raise ConfigError(new_problems, hint=f"nothing was written to {path}")
        atomic_write(path, new_text)
        return new_text


def _profiles_table(doc: tomlkit.TOMLDocument, create: bool) -> Table | None:
    if "profiles" not in doc:
        if not create:
            return None
        doc.add("profiles", tomlkit.table(is_super_table=True))
    return doc["profiles"]  # type: ignore[return-value]


def add_profile(name: str, values: Mapping[str, Any]) -> Callable[[tomlkit.TOMLDocument], None]:
    def change(doc: tomlkit.TOMLDocument) -> None:
        profiles = _profiles_table(doc, create=True)
        assert profiles is not None
        if name in profiles:
            raise ConfigError(f"profile '{name}' already exists in this file; change it with "
                              f"'omero-profile set {name} KEY VALUE'")
        table = tomlkit.table()
        for key, value in values.items():
            if key == "credentials":
                inline = tomlkit.inline_table()
                inline.update(value)
                table.add(key, inline)
            else:
                table.add(key, value)
        profiles.add(name, table)
    return change


def remove_profile(name: str) -> Callable[[tomlkit.TOMLDocument], None]:
    def change(doc: tomlkit.TOMLDocument) -> None:
        profiles = _profiles_table(doc, create=False)
        if profiles is None or name not in profiles:
            raise ProfileNotFound(f"profile '{name}' is not defined in this file")
        del profiles[name]
        if len(profiles) == 0 and getattr(profiles, "is_super_table", lambda: False)():
            del doc["profiles"]
    return change


def set_key(name: str, dotted: str, value: Any, *, unset: bool = False) -> Callable[[tomlkit.TOMLDocument], None]:
    """Set (or remove) ``key`` or ``credentials.key`` in profile ``name``; ``name`` 'defaults' edits [defaults]."""
    parts = dotted.split(".")
    if len(parts) > 2 or (len(parts) == 2 and parts[0] != "credentials") or not all(parts):
        raise ConfigError(f"cannot set '{dotted}': use a profile key (host, port, ...) or credentials.KEY")

    def change(doc: tomlkit.TOMLDocument) -> None:
        if name == "defaults":
            if "defaults" not in doc:
                if unset:
                    raise ConfigError("this file has no [defaults] table")
                doc.add("defaults", tomlkit.table())
            table = doc["defaults"]
        else:
            profiles = _profiles_table(doc, create=False)
            if profiles is None or name not in profiles:
                raise ProfileNotFound(f"profile '{name}' is not defined in this file")
            table = profiles[name]
        if len(parts) == 2:
            if "credentials" not in table:
                if unset:
                    raise ConfigError(f"'{dotted}' is not set")
                table.add("credentials", tomlkit.inline_table())
            container = table["credentials"]
            key = parts[1]
        else:
            container, key = table, parts[0]
        if unset:
            if key not in container:
                raise ConfigError(f"'{dotted}' is not set")
            del container[key]
        elif key in container:
            container[key] = value
        elif isinstance(container, InlineTable | Table):
            container.add(key, value) if isinstance(container, Table) else container.update({key: value})
    return change


def parse_value(key: str, raw: str) -> Any:
    """Interpret a CLI value: TOML literal (4064, true, -1, "text", [..]) or else plain text."""
    if key in STRING_KEYS:
        return raw
    try:
        return files_mod.tomllib.loads(f"v = {raw}")["v"]
    except files_mod.tomllib.TOMLDecodeError:
        return raw


__all__ = ["Problem", "add_profile", "edit_user_file", "parse_value", "remove_profile", "set_key"]
