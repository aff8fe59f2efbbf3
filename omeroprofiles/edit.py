"""In-place edits of the user's profiles file that keep comments, order and layout (tomlkit).

Every edit: take the lock, re-read the file, change the parsed document, validate the result
(site file + edited user file) and write atomically only if the edit adds no new problem.

tomlkit decides *what* the edited document means. Where it files things is not always where a
person would: a comment written above ``[profiles.b]`` belongs, to tomlkit, to the end of the
table before it, so deleting that table deleted b's comment and kept the deleted table's own; a
new key landed below such a comment; a new table ate the file's blank-line layout. So adding and
removing a table, and adding a key, also build the text a person would write, and use it when it
parses to exactly what tomlkit produced (otherwise tomlkit's own rendering stands). That makes
``add`` followed by ``remove`` give back the file byte for byte.

Whatever text is chosen is then checked against what the edit means: read back with the stdlib
parser, it must equal the old file's data with exactly this change applied. tomlkit represents a
valid file whose ``[profiles.*]`` tables are split by another table, or written as dotted keys,
with a proxy that cannot add a table and, given one, files later keys under it; the check turns
any such surprise into a refusal (exit 2, nothing written) instead of a silently different file.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import InlineTable, Table

from . import files as files_mod
from .constants import PROG
from .errors import ConfigError, ProfileNotFound
from .filesystem import Unusable, mode_of, read_regular
from .locations import Locations
from .names import name_problem
from .plugins import Registry
from .resolve import Config
from .text import has_control, printable
from .writing import atomic_write, locked, writable_target

STRING_KEYS = {"host", "su", "description", "extends"}
"""Keys whose value is always text, so ``set prod su 1234`` stores the string '1234'."""

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
"""Every key a profile or a credential source can have is a TOML bare key (no quotes, no control characters)."""

Change = Callable[[tomlkit.TOMLDocument], str]
"""An edit: changes the parsed document and returns the file's new text."""


def _config_for(locations: Locations, user: files_mod.ProfilesFile, registry: Registry | None) -> Config:
    site = files_mod.read(locations.site_file, "site")
    return Config(locations, [site, user], registry)


def edit_user_file(locations: Locations, change: Change, *,
                   registry: Registry | None = None, private: bool = False) -> str:
    """Apply ``change`` to the user's file; returns the new text. Raises ConfigError, writes nothing, on error.

    ``private``: the change writes a secret, so the file loses every group/other permission bit.
    """
    path = locations.user_file
    with locked(path):
        old_text, unreadable = files_mod.read_text(path)
        if unreadable is not None:
            raise ConfigError([unreadable], hint="nothing was written")
        if old_text is not None:
            writable_target(path)  # a read-only file is refused before any other complaint
        old_text = old_text or ""
        before = files_mod.parse_text(path, old_text)
        if before.unparsed:
            raise ConfigError(before.problems, hint="fix the syntax error first; nothing was written")
        try:
            doc = tomlkit.parse(old_text)
        except (TOMLKitError, RecursionError) as exc:  # the stdlib parser read it; tomlkit may still refuse
            raise ConfigError(f"{path}: cannot be edited: {exc}", hint="nothing was written") from None
        try:
            new_text = change(doc)
        except TOMLKitError as exc:  # tomlkit refused the change in this layout
            raise ConfigError(f"{path}: this change cannot be made to this file's layout: {exc}",
                              hint="nothing was written") from None
        except LayoutError as exc:
            raise ConfigError(f"{path}: {exc.message}", hint=exc.hint or "nothing was written") from None
        if new_text == old_text:
            return new_text
        old_problems = set(_config_for(locations, before, registry).problems())
        after = files_mod.parse_text(path, new_text)
        new_problems = [p for p in _config_for(locations, after, registry).problems() if p not in old_problems]
        if new_problems:
            raise ConfigError(new_problems, hint=f"nothing was written to {path}")
        atomic_write(path, new_text, private=private)
        return new_text


def edit_with_notice(locations: Locations, change: Change, *, private: bool = False) -> str | None:
    """``edit_user_file``; with ``private``, the note to print when the file was readable by others until now."""
    before = mode_of(locations.user_file)
    edit_user_file(locations, change, private=private)
    if not private or before is None or not before & 0o077:
        return None
    return (f"note: {locations.user_file} was readable by other users (mode {before:04o}); it now has mode "
            f"{before & 0o700:04o} because it holds a secret")


def check_editable(config: Config, name: str, *, defaults: bool = False) -> None:
    """Refuse to edit profile ``name`` unless the user's file defines it (``defaults``: or it is [defaults]).

    A name holding a control character is never a profile's: not found, and never echoed raw."""
    if has_control(name):
        raise config.not_found(printable(name))
    if defaults and name == "defaults":
        return
    where = config.file_of(name)
    if where is None:
        raise config.not_found(name)
    if where.kind == "site":
        raise ConfigError(f"profile '{name}' is defined in the site-wide file {where.path}, not in your "
                          f"file {config.locations.user_file}",
                          hint=f"to change it for yourself, add your own '{name}' profile to your file")


def write_starter(locations: Locations) -> Path:
    """``init``: the user's file from profiles.example.toml; ConfigError, nothing written, if one exists."""
    from importlib import resources  # only `init` needs it

    target = locations.user_file
    with locked(target):
        try:
            existing = read_regular(target)
        except Unusable as exc:
            raise ConfigError(f"{target}: {exc}; nothing was written") from None
        if existing is not None:
            raise ConfigError(f"{target} already exists; nothing was written",
                              hint=f"edit it, or use '{PROG} add' / '{PROG} set'")
        example = resources.files("omeroprofiles").joinpath("profiles.example.toml").read_text(encoding="utf-8")
        atomic_write(target, example)
    return target


# -- the text a person would write ------------------------------------------------------------------
@dataclass(frozen=True)
class _Header:
    line: int
    """Index of the ``[table]`` line."""
    start: int
    """Index of the first comment line directly above it (no blank line between): they belong to it."""
    path: tuple[str, ...] | None
    """The table's key path; None for ``[[array]]`` headers (boundaries only)."""


def _scan(text: str) -> tuple[list[str], list[_Header]]:
    """The lines of ``text`` and its table headers. A heuristic: callers verify what they build from it."""
    lines = text.splitlines(keepends=True)
    headers: list[_Header] = []
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped.startswith("["):
            continue
        path: tuple[str, ...] | None = None
        if not stripped.startswith("[["):
            try:
                table: Any = files_mod.tomllib.loads(stripped)
            except files_mod.tomllib.TOMLDecodeError:
                continue  # e.g. a line of a multi-line array
            keys: list[str] = []
            while isinstance(table, dict) and len(table) == 1:
                key = next(iter(table))
                keys.append(key)
                table = table[key]
            path = tuple(keys)
        start = index
        while start > 0 and lines[start - 1].lstrip().startswith("#"):
            start -= 1
        headers.append(_Header(index, start, path))
    return lines, headers


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


_TRAILING_BLANK = re.compile(r"(?:\r?\n[ \t]*)+\Z")


def _profile_span(headers: list[_Header], name: str, n_lines: int) -> tuple[int, int] | None:
    """Lines [first, end) of profile ``name``: its comments, header and sub-tables; None if scattered."""
    own = [i for i, h in enumerate(headers) if h.path is not None and h.path[:2] == ("profiles", name)]
    if not own or own != list(range(own[0], own[-1] + 1)):
        return None
    end = headers[own[-1] + 1].start if own[-1] + 1 < len(headers) else n_lines
    return headers[own[0]].start, end


def _text_without_profile(text: str, name: str) -> str | None:
    lines, headers = _scan(text)
    span = _profile_span(headers, name, len(lines))
    if span is None:
        return None
    first, end = span
    if end < len(lines):
        return "".join(lines[:first] + lines[end:])
    # The last table: also drop the blank lines that separated it, and keep the file's ending.
    head = _TRAILING_BLANK.sub("", "".join(lines[:first]))
    if not head.strip():
        return ""
    tail = "".join(lines[first:])
    return head + tail[len(tail.rstrip("\r\n")):]


def _text_with_table(text: str, block: str, *, first: bool = False) -> str:
    """Insert a rendered table: after the last profile (or before the first, with ``first``), else at the end."""
    nl = _newline(text)
    block = block.replace("\n", nl) if nl != "\n" else block
    lines, headers = _scan(text)
    profiles = [i for i, h in enumerate(headers) if h.path is not None and h.path[:1] == ("profiles",)]
    at: int | None = None
    if profiles and first:
        at = headers[profiles[0]].start
    elif profiles and profiles[-1] + 1 < len(headers):
        at = headers[profiles[-1] + 1].start
    if at is not None:
        before, after = "".join(lines[:at]), "".join(lines[at:])
        gap = "" if not before.strip() or before.endswith(nl + nl) else nl
        return before + gap + block + nl + after
    body = _TRAILING_BLANK.sub("", text)
    if not body.strip():
        return block
    ending = text[len(body):]
    return body + nl + nl + block.rstrip("\r\n") + (ending if ending.strip("\r\n") == "" else nl)


def _text_with_key(text: str, path: tuple[str, ...], key: str, value: Any) -> str | None:
    """Add ``key = value`` below the last value of the table at ``path``, indented like its first one."""
    lines, headers = _scan(text)
    at = [i for i, h in enumerate(headers) if h.path == path]
    if len(at) != 1:
        return None
    header = headers[at[0]]
    end = headers[at[0] + 1].start if at[0] + 1 < len(headers) else len(lines)
    content = [i for i in range(header.line + 1, end)
               if lines[i].strip() and not lines[i].lstrip().startswith("#")]
    indent = re.match(r"[ \t]*", lines[content[0]]).group(0) if content else ""  # type: ignore[union-attr]
    after = content[-1] if content else header.line
    nl = _newline(text)
    if not lines[after].endswith("\n"):
        lines[after] += nl
    shown = _inline(value) if isinstance(value, Mapping) else value
    lines.insert(after + 1, f"{indent}{tomlkit.key(key).as_string()} = {_value(shown)}{nl}")
    return "".join(lines)


def _preferred(doc: tomlkit.TOMLDocument, text: str | None) -> str:
    """``text`` if it means exactly what the edited ``doc`` means, else tomlkit's own rendering."""
    rendered = doc.as_string()
    if text is None:
        return rendered
    try:
        same = tomlkit.parse(text).unwrap() == doc.unwrap()
    except Exception:  # the layout heuristic built something tomlkit rejects
        return rendered
    return text if same else rendered


def _inline(values: Mapping[str, Any]) -> InlineTable:
    """An inline table written the way the docs write them: ``{ source = "env", username = "bob" }``."""
    if not values:
        return tomlkit.inline_table()
    items = ", ".join(f"{tomlkit.key(k).as_string()} = {_value(v)}" for k, v in values.items())
    return tomlkit.parse(f"x = {{ {items} }}\n")["x"]  # type: ignore[return-value]


def _value(value: Any) -> str:
    return value.as_string() if hasattr(value, "as_string") else tomlkit.item(value).as_string()


# -- what an edit means ------------------------------------------------------------------------------
class LayoutError(ConfigError):
    """The file's layout does not allow this edit (``edit_user_file`` adds the file's path)."""


def _same(a: Any, b: Any) -> bool:
    """Equal as TOML data: same types (``1`` is not ``true`` nor ``1.0``), and nan equals nan."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def _normal(data: dict[str, Any]) -> dict[str, Any]:
    """An empty ``profiles`` or ``defaults`` table means none (tomlkit drops an implicit one with its last key)."""
    return {k: v for k, v in data.items() if not (k in ("profiles", "defaults") and v == {})}


def _meaning_checked(before: str, candidates: list[str | None], expect: Callable[[dict[str, Any]], None]) -> str:
    """The first candidate text that reads back as the old data with ``expect`` applied; else refuse."""
    wanted = files_mod.tomllib.loads(before)
    expect(wanted)
    for text in candidates:
        if text is None:
            continue
        try:
            got = files_mod.tomllib.loads(text)
        except (files_mod.tomllib.TOMLDecodeError, RecursionError):
            continue
        if _same(_normal(got), _normal(wanted)):
            return text
    raise LayoutError("this change cannot be made to this file's layout without changing something else "
                      "(e.g. profiles written as dotted keys or split by other tables)",
                      hint="nothing was written; edit the file by hand, or write each profile as a "
                           "[profiles.NAME] table")


def _table_name(name: str) -> str:
    return "[defaults]" if name == "defaults" else f"profile '{name}'"


def _refuse_non_finite(where: str, value: Any) -> None:
    """``nan`` and ``inf`` parse as TOML floats; say what is wrong rather than 'should be <= 3600'."""
    if isinstance(value, float) and not math.isfinite(value):
        what = "not a number" if math.isnan(value) else "not a finite number"
        raise ConfigError(f"{where}: {what} ({value})", hint="give a number, e.g. 30; nothing was written")
    if isinstance(value, Mapping):
        for key, item in value.items():
            _refuse_non_finite(f"{where}.{key}", item)
    elif isinstance(value, list):
        for item in value:
            _refuse_non_finite(where, item)


# -- the edits ----------------------------------------------------------------------------------------
def _profiles_table(doc: tomlkit.TOMLDocument, create: bool) -> Table | None:
    if "profiles" not in doc:
        if not create:
            return None
        doc.add("profiles", tomlkit.table(is_super_table=True))
    return doc["profiles"]  # type: ignore[return-value]


def _new_table(values: Mapping[str, Any]) -> Table:
    table = tomlkit.table()
    for key, value in values.items():
        table.add(key, _inline(value) if isinstance(value, Mapping) else value)
    return table


def _render_profile(name: str, values: Mapping[str, Any]) -> str:
    doc = tomlkit.document()
    profiles = tomlkit.table(is_super_table=True)
    profiles.add(name, _new_table(values))
    doc.add("profiles", profiles)
    return doc.as_string()


def _with_default(text: str | None, name: str) -> str | None:
    if text is None:
        return None
    try:
        doc = tomlkit.parse(text)
        doc["default"] = name
        return doc.as_string()
    except (TOMLKitError, RecursionError):
        return None


def add_profile(name: str, values: Mapping[str, Any], *, make_default: bool = False) -> Change:
    """Add ``[profiles.NAME]`` with ``values`` (and, with ``make_default``, ``default = NAME``)."""
    problem = name_problem(name)
    if problem:
        raise ConfigError(f"cannot add profile '{printable(name)}': {problem}")
    for key, value in values.items():
        _refuse_non_finite(f"profile '{name}': {key}", value)

    def expect(data: dict[str, Any]) -> None:
        data.setdefault("profiles", {})[name] = copy.deepcopy(dict(values))
        if make_default:
            data["default"] = name

    def change(doc: tomlkit.TOMLDocument) -> str:
        before = doc.as_string()
        profiles = _profiles_table(doc, create=True)
        assert profiles is not None
        if name in profiles:
            raise ConfigError(f"profile '{name}' already exists in this file; change it with "
                              f"'omero-profile set {name} KEY VALUE'")
        if isinstance(profiles, InlineTable):  # TOML cannot put a [table] inside one
            raise ConfigError("this file writes 'profiles' as an inline table; rewrite it as [profiles.NAME] "
                              "tables to add profiles with this command")
        candidates = [_text_with_table(before, _render_profile(name, values))]
        if isinstance(profiles, Table):  # not tomlkit's proxy for split or dotted tables: it misfiles keys
            profiles.add(name, _new_table(values))
            candidates.append(doc.as_string())
        if make_default:
            candidates = [_with_default(text, name) for text in candidates]
        return _meaning_checked(before, candidates, expect)
    return change


def remove_profile(name: str) -> Change:
    def change(doc: tomlkit.TOMLDocument) -> str:
        before = doc.as_string()
        profiles = _profiles_table(doc, create=False)
        if profiles is None or name not in profiles:
            raise ProfileNotFound(f"profile '{name}' is not defined in this file")
        del profiles[name]
        if len(profiles) == 0 and getattr(profiles, "is_super_table", lambda: False)():
            del doc["profiles"]
        return _meaning_checked(before, [_preferred(doc, _text_without_profile(before, name)), doc.as_string()],
                                lambda data: data["profiles"].pop(name))
    return change


def set_key(name: str, dotted: str, value: Any, *, unset: bool = False) -> Change:
    """Set (or remove) ``key`` or ``credentials.key`` in profile ``name``; ``name`` 'defaults' edits [defaults]."""
    parts = dotted.split(".")
    if len(parts) > 2 or (len(parts) == 2 and parts[0] != "credentials") or not all(map(_BARE_KEY.fullmatch, parts)):
        raise ConfigError(f"cannot set '{printable(dotted)}': use a profile key (host, port, ...) or credentials.KEY")
    if not unset:
        _refuse_non_finite(f"{_table_name(name)}: {dotted}", value)
    plain = copy.deepcopy(value)
    if isinstance(value, Mapping):
        value = _inline(value)  # a table value stays on its line, written like the docs write it

    def expect(data: dict[str, Any]) -> None:
        table = data.setdefault("defaults", {}) if name == "defaults" else data["profiles"][name]
        container, key = (table.setdefault("credentials", {}), parts[1]) if len(parts) == 2 else (table, parts[0])
        if unset:
            del container[key]
        else:
            container[key] = plain

    def change(doc: tomlkit.TOMLDocument) -> str:
        before = doc.as_string()
        text = _set(doc)
        return _meaning_checked(before, [text, doc.as_string()], expect)

    def _set(doc: tomlkit.TOMLDocument) -> str:
        before = doc.as_string()
        path: tuple[str, ...] = ("defaults",) if name == "defaults" else ("profiles", name)
        if name == "defaults":
            if "defaults" not in doc:
                if unset:
                    raise ConfigError("this file has no [defaults] table")
                values = {parts[0]: {parts[1]: value} if len(parts) == 2 else value}
                doc.add("defaults", _new_table(values))
                block = tomlkit.document()
                block.add("defaults", _new_table(values))
                return _preferred(doc, _text_with_table(before, block.as_string(), first=True))  # above profiles
            table = doc["defaults"]
        else:
            profiles = _profiles_table(doc, create=False)
            if profiles is None or name not in profiles:
                raise ProfileNotFound(f"profile '{name}' is not defined in this file")
            table = profiles[name]
        if not isinstance(table, dict):  # e.g. 'defaults = 5': the file already says this is wrong
            raise LayoutError(f"{_table_name(name)} is not a table; "
                              f"cannot set '{dotted}'")
        if len(parts) == 2:
            if "credentials" not in table:
                if unset:
                    raise ConfigError(f"'{dotted}' is not set")
                if isinstance(table, Table):
                    table.add("credentials", _inline({parts[1]: value}))
                else:  # tomlkit's proxy for a table split by others or written as dotted keys
                    table["credentials"] = _inline({parts[1]: value})
                return _preferred(doc, _text_with_key(before, path, "credentials", {parts[1]: value}))
            container = table["credentials"]
            if not isinstance(container, dict):  # tomlkit tables are dicts; a string here is a broken file
                raise LayoutError(f"'credentials' of '{name}' is not a table; cannot set '{dotted}'")
            key = parts[1]
        else:
            container, key = table, parts[0]
        if unset:
            if key not in container:
                raise ConfigError(f"'{dotted}' is not set")
            del container[key]
        elif key in container:
            container[key] = value
        elif isinstance(container, Table):
            container.add(key, value)
            return _preferred(doc, _text_with_key(before, path + tuple(parts[:-1]), key, value))
        else:
            container.update({key: value})
        if len(parts) == 2 and isinstance(container, InlineTable):  # tomlkit leaves '{ a = 1, b = 2}'
            items = {k.key: v for k, v in container.value.body if k is not None}
            table[parts[0]] = _inline(items)
        return doc.as_string()
    return change


def parse_value(key: str, raw: str) -> Any:
    """Interpret a CLI value: TOML literal (4064, true, -1, "text", [..]) or else plain text."""
    if key in STRING_KEYS:
        return raw
    try:
        return files_mod.tomllib.loads(f"v = {raw}")["v"]
    except files_mod.tomllib.TOMLDecodeError:
        return raw


__all__ = ["add_profile", "edit_user_file", "parse_value", "remove_profile", "set_key"]
