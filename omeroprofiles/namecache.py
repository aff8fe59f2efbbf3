"""Keep the profile names of each pair of profiles files between runs, for ``current`` and TAB.

Both run at every shell prompt or key press and need names only; parsing the TOML is most of
their cost once a file is large (a 1,000-profile file: about as long as starting Python). What
is kept is what ``catalog`` finds: the names, which file defines each, and the top-level
``default``; never a table, so never a secret. The rules are ``cache``'s: keyed by each file's
(device, inode, size, mtime_ns, ctime_ns) and by the code that reads them (ours, and the Python
whose tomllib parses), stored only when every file last changed more than ``SETTLE_NS`` ago,
0600, atomic, ignored when odd. A catalog with problems is never stored: its messages need the
full command anyway. A catalog read back from here has names but no tables (``raw_table`` is
empty): only ``quick`` uses it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from . import cachefile, catalog
from .catalog import Catalog, Entry, FileRef
from .locations import NO_CACHE_ENV, Locations, user_cache_dir

FORMAT = 1
"""Bump when the stored data changes shape."""

SETTLE_NS = 3_000_000_000
"""Stored only if every input file last changed longer ago than this (nanoseconds)."""

SLOTS = 8
MAX_BYTES = 64 * 1024 * 1024

_PACKAGE = Path(__file__).resolve().parent
_READERS = ("catalog.py", "files.py", "filesystem.py", "names.py", "namecache.py")
"""The modules whose code decides what a catalog holds: an upgrade or edit of one changes the key."""


def load(locations: Locations) -> Catalog:
    """The catalog of the files ``locations`` names: from the cache if its key matches, else parsed (and stored)."""
    key = cache_key(locations)
    if key is None:
        return catalog.load(locations)
    path = cachefile.slot(user_cache_dir() / "names", locations.user_file, locations.site_file)
    data = cachefile.read(path, key, MAX_BYTES)
    if data is not None:
        try:
            return _catalog(locations, data)
        except (LookupError, TypeError, ValueError):  # well-formed JSON of the wrong shape: parse again
            pass
    found = catalog.load(locations)  # read after the key: a change in between makes a miss next time
    if not found.file_problems and cachefile.settled(key["files"], SETTLE_NS):
        cachefile.write(path, key, _data(found), prefix=".names-", slots=SLOTS)
    return found


def cache_key(locations: Locations) -> dict[str, Any] | None:
    """Everything a catalog of ``locations`` depends on; None when it must not be cached."""
    if os.environ.get(NO_CACHE_ENV):
        return None
    files = [cachefile.file_identity(path) for path in (locations.site_file, locations.user_file)]
    if None in files:
        return None
    code = []
    for name in _READERS:
        try:
            info = os.stat(_PACKAGE / name)
        except OSError:
            return None
        code.append([name, info.st_size, info.st_mtime_ns])
    return {"format": FORMAT, "files": files, "explicit": locations.explicit_user_file, "code": code,
            "python": sys.version}  # its tomllib parses the files


def _data(found: Catalog) -> dict[str, Any]:
    files = [[str(f.path), f.kind, f.exists] for f in found.files]
    where = {str(f.path): i for i, f in enumerate(found.files)}
    return {
        "files": files,
        "names": [[name, where[str(found.file_of(name).path)]] for name in found.names()],  # type: ignore[union-attr]
        "default": [found.default_name, found.default_file],
    }


def _catalog(locations: Locations, data: dict[str, Any]) -> Catalog:
    files = [FileRef(Path(path), str(kind), bool(exists)) for path, kind, exists in data["files"]]
    entries = {}
    for name, at in data["names"]:
        if not isinstance(name, str) or isinstance(at, bool) or not isinstance(at, int) or at < 0:
            raise TypeError("damaged name cache")
        entries[name] = Entry(name, files[at], {})
    default_name, default_file = data["default"]
    if not isinstance(default_name, str | None) or not isinstance(default_file, str | None):
        raise TypeError("damaged name cache")
    return Catalog(locations, files, entries, default_name, default_file, [])
