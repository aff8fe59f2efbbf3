"""Keep the validated index between runs, so `list`, `show` and `validate` skip pydantic and the plugins.

Validating 1,000 profiles costs several times the interpreter start; reading back what it found
costs a few milliseconds. The index is stored in the user cache dir, one file per pair of profiles
files, and used only while its key (``cache_key``) still matches. What the key holds, what it
misses and why it never hashes a file's content: docs/design.md, "The index cache".
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import cachefile
from .cachefile import Key
from .index import Index, build
from .locations import NO_CACHE_ENV, PLUGINS_ENV, Locations, user_cache_dir

FORMAT = 1
"""Bump when the index's data changes shape."""

SETTLE_NS = 3_000_000_000
"""An index is stored only if every input file last changed longer ago than this (nanoseconds)."""

SLOTS = 8
"""Index files kept (one per pair of profiles files); the least recently written go first."""

MAX_BYTES = 256 * 1024 * 1024
"""Largest cache file read back (a 10,000-profile index is a few MiB)."""

_PACKAGE = Path(__file__).resolve().parent


def load(locations: Locations) -> Index:
    """The index of the files ``locations`` names: from the cache if its key matches, else built (and stored)."""
    with _no_gc_pauses():
        key = cache_key(locations)
        path = cachefile.slot(user_cache_dir() / "index", locations.user_file, locations.site_file)
        if key is not None:
            data = cachefile.read(path, key, MAX_BYTES)
            if data is not None:
                try:
                    return Index(locations, data)
                except (LookupError, TypeError, ValueError):  # well-formed JSON of the wrong shape: rebuild
                    pass
        from .resolve import Config  # a miss: validate everything (pydantic, plugins)

        data = build(Config.load(locations=locations))  # read after the key: a change in between makes a miss
        if key is not None and cachefile.settled(key["files"], SETTLE_NS):
            cachefile.write(path, key, data, prefix=".index-", slots=SLOTS)
        return Index(locations, data)


@contextlib.contextmanager
def _no_gc_pauses() -> Iterator[None]:
    """Reading or building the index allocates ~100 objects per profile and no garbage: the cyclic
    collector's repeated full passes over the growing heap would cost a third of the time (measured
    at 10,000 profiles). It runs again afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def cache_key(locations: Locations) -> Key | None:
    """Everything the index of ``locations`` depends on (JSON-ready); None when it must not be cached."""
    if os.environ.get(NO_CACHE_ENV) or _registry_changed_in_process():
        return None
    files = [cachefile.file_identity(path) for path in (locations.site_file, locations.user_file)]
    if None in files:
        return None  # not a regular file, or an unusable path: its error is reported afresh each time
    return {
        "format": FORMAT,
        "files": files,
        "explicit": locations.explicit_user_file,
        "plugins": os.environ.get(PLUGINS_ENV),
        "sys_path": [_dir_id(entry) for entry in sys.path],
        "code": _code_id(),
        "python": sys.version,
    }


def _registry_changed_in_process() -> bool:
    plugins = sys.modules.get("omeroprofiles.plugins")  # not imported yet: no registry exists in this process
    return plugins is not None and plugins.changed_in_process()


def _dir_id(entry: str) -> list[Any]:
    try:
        found = os.stat(entry or ".")
    except OSError:
        return [entry, None]
    return [entry, found.st_dev, found.st_ino, found.st_mtime_ns]


def _code_id() -> int:
    """A checksum of the size and mtime of every module of this package (changes with any upgrade or edit)."""
    found = []
    for directory in (_PACKAGE, _PACKAGE / "credentials"):
        with contextlib.suppress(OSError), os.scandir(directory) as entries:
            for entry in entries:
                if entry.name.endswith(".py"):
                    with contextlib.suppress(OSError):
                        info = entry.stat()
                        found.append(f"{directory.name}/{entry.name}:{info.st_size}:{info.st_mtime_ns}")
    return zlib.crc32("\n".join(sorted(found)).encode())
