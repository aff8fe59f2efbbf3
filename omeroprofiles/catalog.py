"""Which profiles the files define, where, and which one is the default: names only, nothing validated.

Choosing the active profile (``current``) and completing a name on TAB need no more than this,
so it is kept free of pydantic and the plugins: those commands start in a few tens of
milliseconds. ``resolve.Config`` (everything validated) and ``index.Index`` (the cached
results) are catalogs too, so the active profile and a "not defined" message are worked out by
the same code whichever one a command has.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from . import files as files_mod
from .errors import ConfigError, Problem, ProfileError, ProfileNotFound
from .locations import Locations
from .names import name_problem
from .text import closest, did_you_mean


class FileLike(Protocol):
    """What a catalog needs to know of a file it read: a ``ProfilesFile``, or a cached ``FileRef``."""

    path: Path
    kind: str
    exists: bool

    @property
    def label(self) -> str: ...


class FileRef:
    """A file as a cache remembers it (``index``, ``namecache``): path, 'user' or 'site', and whether it existed."""

    __slots__ = ("path", "kind", "exists")

    def __init__(self, path: Path, kind: str, exists: bool) -> None:
        self.path, self.kind, self.exists = path, kind, exists

    @property
    def label(self) -> str:
        return str(self.path)


class Entry(NamedTuple):
    """One profile as a file defines it: its name, the file, and (when parsed) its table as written."""

    name: str
    file: FileLike
    table: dict[str, Any]


def read_files(locations: Locations) -> list[files_mod.ProfilesFile]:
    """The site file, then the user file (a missing user file given with --config is a problem)."""
    pfiles = [files_mod.read(locations.site_file, "site"), files_mod.read(locations.user_file, "user")]
    if locations.explicit_user_file and not pfiles[1].exists and not pfiles[1].problems:
        pfiles[1].problems.append(Problem(str(locations.user_file), "file not found (given with --config)"))
    return pfiles


def collect(pfiles: list[files_mod.ProfilesFile],
            take_defaults: Callable[[files_mod.ProfilesFile, int], list[Problem]] | None = None,
            ) -> tuple[dict[str, Entry], str | None, str | None, list[Problem]]:
    """Profiles (site first, so the user's same-named profile replaces it), the default and its file,
    and the problems found: each file's own, then per file ``take_defaults``'s and invalid names."""
    problems = [p for f in pfiles for p in f.problems]
    entries: dict[str, Entry] = {}
    default_name = default_file = None
    for rank, pf in enumerate(pfiles, start=1):
        if isinstance(pf.data.get("default"), str):
            default_name, default_file = pf.data["default"], pf.label
        if take_defaults is not None:
            problems.extend(take_defaults(pf, rank))
        for name, table in pf.profiles.items():
            problem = name_problem(name)
            if problem:
                problems.append(Problem(pf.label, problem, profile=name))
                continue
            entries[name] = Entry(name, pf, table)
    return entries, default_name, default_file, problems


class Catalog:
    """The profile names visible to one invocation (site < user), with the files that define them."""

    def __init__(self, locations: Locations, files: Sequence[FileLike], entries: dict[str, Entry],
                 default_name: str | None, default_file: str | None, file_problems: list[Problem]) -> None:
        self.locations = locations
        self.files = list(files)
        self._entries = entries
        self.default_name = default_name
        self.default_file = default_file
        """The file whose top-level ``default`` chose ``default_name``."""
        self.file_problems = file_problems
        """Problems that make every profile unusable (syntax, top level, [defaults], names)."""

    # -- queries ------------------------------------------------------------------------------
    def names(self) -> list[str]:
        return list(self._entries)

    def has(self, name: str) -> bool:
        return name in self._entries

    def file_of(self, name: str) -> FileLike | None:
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
            return ConfigError(unique(self.file_problems))
        read = [str(f.path) for f in self.files if f.exists] or [str(self.locations.user_file) + " (missing)"]
        message = f"profile '{name}'{why} is not defined in {', '.join(read)}"
        close = closest(name, self.names())
        message += f"; did you mean '{close}'?" if close else "."
        message += f" Available: {', '.join(self.names())}." if self.names() else \
            " No profiles are defined yet (omero-profile init, or omero-profile add NAME --host HOST)."
        return ProfileNotFound(message)

    def default_problem(self) -> Problem | None:
        """A problem if the top-level ``default`` names a profile that is not defined."""
        if self.default_name is None or self.default_name in self._entries:
            return None
        return Problem(self.default_file or "", f"names profile '{self.default_name}', which is not defined"
                       + did_you_mean(self.default_name, self.names()), key="default")


def load(locations: Locations) -> Catalog:
    """The catalog of the files ``locations`` names: TOML parsed, nothing validated."""
    pfiles = read_files(locations)
    return Catalog(locations, pfiles, *collect(pfiles))


def unique(problems: Iterable[Problem]) -> list[Problem]:
    """Each problem once, first occurrence first."""
    return list(dict.fromkeys(problems))
