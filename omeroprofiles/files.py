"""Read profiles files: TOML parsing with located syntax errors, top-level shape checks."""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .errors import Problem
from .filesystem import Unusable, read_regular
from .text import did_you_mean

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

TOP_LEVEL_KEYS = ("default", "defaults", "profiles")

MAX_NESTING = 100
"""Deepest nesting of arrays and inline tables we parse: tomlkit (the editor) refuses deeper values,
and the stdlib parser recurses once per level (500 levels overflowed Python's stack)."""


class ProfilesFile:
    """One profiles file as read: its tables, and the problems found before any validation.

    A plain class, not a dataclass: ``dataclasses`` imports ``inspect``, which alone costs a
    quarter of the interpreter start, and ``current`` reads files too.
    """

    def __init__(self, path: Path, kind: str, exists: bool = False, data: dict[str, Any] | None = None,
                 problems: list[Problem] | None = None, unparsed: bool = False) -> None:
        self.path = path
        self.kind = kind
        """'user' or 'site'."""
        self.exists = exists
        self.data: dict[str, Any] = {} if data is None else data
        self.problems: list[Problem] = [] if problems is None else problems
        self.unparsed = unparsed
        """The file could not be read or parsed at all: its data says nothing, and it must not be edited."""

    def __repr__(self) -> str:
        return f"ProfilesFile({self.path!r}, {self.kind!r}, exists={self.exists}, problems={self.problems!r})"

    @property
    def label(self) -> str:
        return str(self.path)

    @property
    def profiles(self) -> dict[str, Any]:
        tables = self.data.get("profiles")
        return tables if isinstance(tables, dict) else {}


def _syntax_problem(path: Path, text: str, exc: tomllib.TOMLDecodeError) -> Problem:
    line = getattr(exc, "lineno", None)
    column = getattr(exc, "colno", None)
    message = getattr(exc, "msg", None) or str(exc)
    if line is None:  # older tomllib: "... (at line 3, column 5)"
        found = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        if found:
            line, column = int(found.group(1)), int(found.group(2))
            message = str(exc)[: found.start()].strip()
        elif "end of document" in str(exc):
            line = text.count("\n") + 1
    return Problem(str(path), f"TOML syntax error: {message}", line=line, column=column)


def _too_deep(text: str, limit: int = MAX_NESTING) -> tuple[int, int] | None:
    """Line and column where arrays/inline tables nest deeper than ``limit``, else None.

    A scan of brackets outside strings and comments, so a hostile file is refused with its place
    before any recursive parser sees it. Unterminated strings end the scan: the parser reports them.
    """
    if text.count("[") + text.count("{") <= limit:
        return None
    depth, pos = 0, 0
    while True:
        found = _TOKEN.search(text, pos)
        if found is None:
            return None
        token, pos = found.group(), found.end()
        if token in "[{":
            depth += 1
            if depth > limit:
                start = found.start()
                line_start = text.rfind("\n", 0, start) + 1
                return text.count("\n", 0, start) + 1, start - line_start + 1
        elif token in "]}":
            depth = max(depth - 1, 0)
        else:
            end = _STRING_END[token].match(text, pos)
            if end is None:
                return None
            pos = end.end()


_TOKEN = re.compile(r'"""|\'\'\'|["\'#\[\]{}]')
_STRING_END = {
    '"""': re.compile(r'(?:[^\\]|\\.)*?"""(?:"{1,2}(?!"))?', re.S),
    "'''": re.compile(r"(?:.)*?'''(?:'{1,2}(?!'))?", re.S),
    '"': re.compile(r'(?:[^"\\\n]|\\.)*"'),
    "'": re.compile(r"[^'\n]*'"),
    "#": re.compile(r"[^\n]*"),
}


def parse_text(path: Path, text: str, kind: str = "user") -> ProfilesFile:
    """Parse TOML text as a profiles file; problems are recorded, never raised."""
    result = ProfilesFile(path=path, kind=kind, exists=True)
    deep = _too_deep(text)
    if deep is not None:
        result.unparsed = True
        result.problems.append(Problem(str(path), f"TOML value nested more than {MAX_NESTING} levels deep "
                                       "(arrays or inline tables)", line=deep[0], column=deep[1]))
        return result
    try:
        result.data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        problem = _syntax_problem(path, text, exc)
        if text.startswith("\ufeff"):  # Notepad's BOM: TOML forbids it, and "Invalid statement" hides why
            problem = Problem(str(path), "TOML syntax error: the file starts with a byte-order mark (BOM); "
                              "save it as UTF-8 without BOM", line=1, column=1)
        result.problems.append(problem)
        result.unparsed = True
        return result
    except RecursionError:  # the scan above should make this unreachable; never let it become exit 1
        result.problems.append(Problem(str(path), "TOML value nested too deeply to read"))
        result.unparsed = True
        return result
    _check_top_level(result)
    return result


def read_text(path: Path) -> tuple[str | None, Problem | None]:
    """The file's text (None when it does not exist), or the problem that stops it being read.

    Shared by reading and editing, so an unreadable file is a located problem everywhere, never a
    crash or a hang: only regular files (or symlinks to one) are read, never FIFOs or devices, and
    at most ``filesystem.MAX_BYTES``.
    """
    try:
        raw = read_regular(path)
    except Unusable as exc:
        return None, Problem(str(path), str(exc))
    if raw is None:
        return None, None
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, Problem(str(path), "is not UTF-8 text", line=line)


def read(path: Path, kind: str) -> ProfilesFile:
    """Read one file; a missing file is simply empty (``exists`` False)."""
    text, problem = read_text(path)
    if problem is not None:
        return ProfilesFile(path, kind, True, problems=[problem], unparsed=True)
    if text is None:
        return ProfilesFile(path=path, kind=kind)
    return parse_text(path, text, kind)


def _check_top_level(pf: ProfilesFile) -> None:
    label = pf.label
    data = pf.data
    for key in list(data):
        if key not in TOP_LEVEL_KEYS:
            from .model import PROFILE_KEYS  # only for this message: reading a file needs no pydantic

            hint = did_you_mean(key, TOP_LEVEL_KEYS)
            if key in PROFILE_KEYS:
                hint = " (profile settings belong in a [profiles.NAME] table)"
            pf.problems.append(Problem(label, f"unknown top-level key{hint}", key=key))
            del data[key]
    if "default" in data and not isinstance(data["default"], str):
        pf.problems.append(Problem(label, "must be a profile name (a string)", key="default"))
        del data["default"]
    if "defaults" in data and not isinstance(data["defaults"], dict):
        pf.problems.append(Problem(label, "must be a table: [defaults]", key="defaults"))
        del data["defaults"]
    if "profiles" in data:
        if not isinstance(data["profiles"], dict):
            pf.problems.append(Problem(label, "must be a table of profiles: [profiles.NAME]", key="profiles"))
            del data["profiles"]
            return
        for name, table in list(data["profiles"].items()):
            if not isinstance(table, dict):
                pf.problems.append(Problem(label, "must be a table: [profiles.NAME]", profile=name))
                del data["profiles"][name]


SecretKeys = Callable[[str | None, Iterable[str]], frozenset[str]]
"""``secret_keys(source, keys)``: which of a credentials table's keys hold a secret (the registry knows)."""


def secret_holders(pf: ProfilesFile, secret_keys: SecretKeys) -> list[str]:
    """Tables of ``pf`` whose credentials hold a secret."""
    tables = dict(pf.profiles)
    if isinstance(pf.data.get("defaults"), dict):
        tables = {"[defaults]": pf.data["defaults"], **tables}
    holders = []
    for name, table in tables.items():
        credentials = table.get("credentials")
        if isinstance(credentials, dict):
            source = credentials.get("source")
            if secret_keys(source if isinstance(source, str) else None, credentials):
                holders.append(name)
    return holders


def exposed_warning(path: Path, holders: list[str]) -> str | None:
    """The warning for file ``path``, whose tables ``holders`` hold a secret, if others can read it.

    The mode is looked at every time (the validated-index cache keeps ``holders``, never the mode).
    """
    if not holders or os.name != "posix":
        return None
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
    if mode & 0o077 == 0:
        return None
    return (f"{path}: readable by other users (mode {mode:04o}) and holds a secret in profile(s) "
            f"{', '.join(holders)}; run: chmod 600 '{path}'")
