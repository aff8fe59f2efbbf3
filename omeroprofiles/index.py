"""The validated index: what `list`, `show` and `validate` print about the files, as plain data.

``build`` makes it from a ``resolve.Config`` (pydantic and the plugins: the slow part of those
commands); ``cache`` keeps it on disk between runs. ``Index`` answers from it without pydantic:
it is a ``Catalog`` (names, files, default), so the active profile is chosen by the same code.

The data is JSON: values as ``show --json`` prints them (every secret already masked), origins,
problems (which never quote a value) and ``describe()`` texts (never a secret, by contract).
No credential value is ever in it, so the cache file never holds a secret.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import files as files_mod
from .active import select
from .catalog import Catalog, Entry, FileRef, unique
from .constants import PROG
from .errors import ConfigError, Problem, ProfileError
from .locations import Locations
from .origin import Origin

if TYPE_CHECKING:
    from .resolve import Config

Data = dict[str, Any]


def _problem_row(p: Problem) -> list[Any]:
    return [p.file, p.message, p.profile, p.key, p.line, p.column]


def _problems(rows: list[list[Any]]) -> list[Problem]:
    return [Problem(*row) for row in rows]


def build(config: Config) -> Data:
    """Resolve every profile of ``config`` and keep what the read-only commands print."""
    from .model import parse_host  # pydantic is loaded already (``config`` is built); index.py must not need it

    labels = {f.label: i for i, f in enumerate(config.files)}
    registry = config.registry
    secret: dict[tuple[str | None, tuple[str, ...]], frozenset[str]] = {}

    def secret_keys(source: str | None, keys: Iterable[str]) -> frozenset[str]:
        """``registry.secret_keys``, asked once per kind of credentials table (not once per profile)."""
        asked = (source, tuple(keys))
        if asked not in secret:
            secret[asked] = registry.secret_keys(*asked)
        return secret[asked]

    profiles = []
    for name in config.names():
        file = config.file_of(name)
        assert file is not None
        try:
            profile = config.resolve(name)
        except ConfigError as exc:
            host = (config.raw_table(name) or {}).get("host")
            try:  # an invalid profile's host is shown only if it parses (it may even hold a password)
                shown = host if isinstance(host, str) and parse_host(host) else None
            except ValueError:
                shown = None
            entry: Data = {"problems": [_problem_row(p) for p in exc.problems], "host": shown}
        else:
            source = registry.source(profile.source)
            entry = {
                "data": profile.redacted(),
                "origin": {key: [o.kind, labels.get(o.file, o.file), o.table,
                                 o.via_extends, o.detail] for key, o in profile.origin.items()},
                "address": profile.url if profile.address.transport else profile.display_address(),
                "user": source.describe(profile.credentials) if source else "",
            }
        profiles.append([name, labels[file.label], entry])
    return {
        "files": [[str(f.path), f.kind, f.exists] for f in config.files],
        "default": [config.default_name, config.default_file] if config.default_name is not None else None,
        "file_problems": [_problem_row(p) for p in config.file_problems],
        "profiles": profiles,
        "problems": [_problem_row(p) for p in config.problems()],
        "unavailable": list(config.unavailable().items()),
        "warnings": list(registry.warnings),
        "secret_holders": [files_mod.secret_holders(f, secret_keys) if isinstance(f, files_mod.ProfilesFile)
                           else [] for f in config.files],
    }


class Index(Catalog):
    """The read-only commands' view of the files, from ``build``'s data (fresh or cached)."""

    def __init__(self, locations: Locations, data: Data) -> None:
        refs = [FileRef(Path(path), kind, bool(exists)) for path, kind, exists in data["files"]]
        self._profiles: dict[str, Data] = {}
        entries = {}
        for name, file_index, entry in data["profiles"]:
            entries[name] = Entry(name, refs[file_index], {})
            self._profiles[name] = entry
        default_name, default_file = data["default"] or (None, None)
        super().__init__(locations, refs, entries, default_name, default_file, _problems(data["file_problems"]))
        self._all_problems = _problems(data["problems"])
        self._unavailable: dict[str, str] = dict(data["unavailable"])
        self.warnings: list[str] = list(data["warnings"])
        """The plugin registry's own warnings (e.g. an unknown name in $OMERO_PROFILES_PLUGINS)."""
        self.secret_holders: list[list[str]] = [list(h) for h in data["secret_holders"]]
        """Per file: the tables that hold a secret (for the readable-file warning)."""

    def resolved(self, name: str) -> Data:
        """``name``'s entry (``data``, ``origin``, ``address``, ``user``); raises as ``Config.resolve`` does."""
        if self.file_problems:
            raise ConfigError(unique(self.file_problems))
        if name not in self._profiles:
            raise self.not_found(name)
        entry = self._profiles[name]
        if "problems" in entry:
            raise ConfigError(_problems(entry["problems"]))
        return entry

    def origin(self, name: str) -> dict[str, Origin]:
        """Where each of ``name``'s values came from (``name`` must resolve)."""
        return {key: Origin(kind, self.files[file].label if isinstance(file, int) else file, table, via, detail)
                for key, (kind, file, table, via, detail) in self.resolved(name)["origin"].items()}

    def invalid_host(self, name: str) -> str | None:
        """The host an invalid profile's own table names, if it parses (for ``list``)."""
        return self._profiles[name].get("host")

    def problems(self) -> list[Problem]:
        """Every problem in every file and profile, each once, in file order (``Config.problems``)."""
        return list(self._all_problems)

    def unavailable(self) -> dict[str, str]:
        """Profiles whose credential source's plugin is not loaded: name -> why."""
        return dict(self._unavailable)

    # -- what the read-only commands print ------------------------------------------------------
    def rows(self) -> list[Data]:
        """``list``: one row per profile, the active one marked; an invalid one with ``valid`` false and its
        error. ConfigError if a file cannot be read as profiles at all."""
        if self.file_problems:
            raise ConfigError(self.file_problems)
        try:
            active: str | None = select(self).name
        except ProfileError:
            active = None
        rows = []
        for name in self.names():
            file = self.file_of(name)
            row: Data = {"name": name, "active": name == active, "valid": True, "error": None, "address": None,
                         "host": None, "port": None, "secure": None, "group": None, "su": None, "user": None,
                         "source": None, "description": None, "file": str(file.path) if file else None}
            try:
                entry = self.resolved(name)
            except ConfigError as exc:
                row.update(valid=False, error=str(exc), host=self.invalid_host(name))
            else:
                data = entry["data"]
                row.update(address=entry["address"], host=data["host"], port=data["port"], secure=data["secure"],
                           group=data["group"], su=data["su"], user=entry["user"],
                           source=data["credentials"]["source"], description=data["description"])
            rows.append(row)
        return rows

    def list_problem(self, rows: list[Data]) -> ConfigError | None:
        """What ``list`` exits 2 with after printing ``rows``: invalid profiles, a default naming none."""
        broken = [row["name"] for row in rows if not row["valid"]]
        problems = [f"{len(broken)} profile(s) are invalid: {', '.join(broken)}"] if broken else []
        default = self.default_problem()
        if default is not None:
            problems.append(str(default))
        if not problems:
            return None
        return ConfigError("\n".join(problems), hint=f"run '{PROG} validate' to see every problem")

    def shown(self, name: str) -> Data:
        """``show --json``: ``name``'s values, then where each came from and the file that defines it."""
        data = self.resolved(name)["data"]
        origin = self.origin(name)
        file = self.file_of(name)
        return {**data, "origin": {k: origin[k].as_json() for k in data if k in origin},
                "file": file.label if file else None}

    def validation(self) -> Data:
        """``validate --json``: the files read, how many profiles, every warning and every problem."""
        problems = self.problems()
        return {
            "valid": not problems,
            "files": [str(f.path) for f in self.files if f.exists],
            "profiles": len(self.names()),
            "warnings": self.validation_warnings(),
            "problems": [{"file": p.file, "line": p.line, "column": p.column, "profile": p.profile,
                          "key": p.key, "message": p.message} for p in problems],
        }

    def validation_warnings(self) -> list[str]:
        """Files others may read that hold a secret, profiles whose source's plugin is not loaded, plugin warnings."""
        warnings = [w for w in (files_mod.exposed_warning(f.path, holders)
                                for f, holders in zip(self.files, self.secret_holders, strict=True) if f.exists) if w]
        warnings += [f"profile '{name}': credentials source unavailable: {why}"
                     for name, why in self.unavailable().items()]
        return warnings + self.warnings
