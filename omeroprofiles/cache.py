"""Keep the validated index between runs, so `list`, `show` and `validate` skip pydantic and the plugins.

Validating 1,000 profiles costs several times the interpreter start; reading back what it found
costs a few milliseconds. The index (``index``) is stored in the user cache dir, one file per
pair of profiles files, mode 0600, written atomically (temp file + rename), and used only if its
key still matches. The key is everything the index depends on:

- each profiles file's identity: (device, inode, size, mtime_ns, ctime_ns), or "missing". The
  content is never hashed: a digest of a file that holds a password is a way to test guesses;
- whether the user file was given with --config (a missing one is then an error);
- the plugins: ``$OMERO_PROFILES_PLUGINS`` and the (device, inode, mtime_ns) of every ``sys.path``
  directory, which changes when a distribution is installed, upgraded or removed there;
- omero-profiles itself (size and mtime of each of its modules) and the Python version.

What a (device, inode, size, mtime_ns) key alone misses, and how this covers it:

- a rewrite in place, same size, within one timestamp tick (a few ms on Linux, 2 s on FAT): an
  index is stored only if every input file last changed more than ``SETTLE_NS`` earlier, so any
  later change falls in a later tick and moves the ctime;
- a change with mtime put back (``touch -d``, ``cp -p``, ``rsync -t``, tar): ctime is in the key, and
  no program can set ctime;
- a file replaced by another (rename over it, delete and re-create): the inode or ctime differs.

Not covered, by design: a plugin's code edited in place without reinstalling it (an editable
install), since nothing is installed: set ``OMERO_PROFILES_NO_CACHE=1`` while developing one.
POSIX timestamps are assumed (every write moves mtime and ctime, from a clock close to ours): a
filesystem that keeps neither, or a network server whose clock lags ours by more than
``SETTLE_NS``, could let a same-size rewrite made just after a run go unseen.
Plugins registered in-process by code (tests, notebooks) bypass the cache. A damaged,
unreadable, foreign or odd cache file is ignored and replaced; the cache never causes an error.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import stat
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .filesystem import Unusable, read_regular
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

Key = dict[str, Any]


def load(locations: Locations) -> Index:
    """The index of the files ``locations`` names: from the cache if its key matches, else built (and stored)."""
    with _no_gc_pauses():
        key = cache_key(locations)
        path = _slot(locations)
        if key is not None:
            data = _read(path, key)
            if data is not None:
                try:
                    return Index(locations, data)
                except (LookupError, TypeError, ValueError):  # well-formed JSON of the wrong shape: rebuild
                    pass
        from .resolve import Config  # a miss: validate everything (pydantic, plugins)

        data = build(Config.load(locations=locations))  # read after the key: a change in between makes a miss
        if key is not None and _settled(key):
            _write(path, key, data)
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
    files: list[list[Any]] = []
    for path in (locations.site_file, locations.user_file):
        try:
            found = os.stat(path)
        except FileNotFoundError:
            files.append([str(path), "missing"])
            continue
        except OSError:
            return None  # an unusable path (too long, a loop, no access): its error is reported afresh each time
        if not stat.S_ISREG(found.st_mode):
            return None
        files.append([str(path), found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns])
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


def _settled(key: Key) -> bool:
    """True if no input file changed within ``SETTLE_NS``: a change after now cannot share its timestamps."""
    now = time.time_ns()
    return all(entry[1] == "missing" or now - entry[5] > SETTLE_NS for entry in key["files"])


def _slot(locations: Locations) -> Path:
    which = f"{locations.user_file}\0{locations.site_file}".encode("utf-8", "surrogateescape")
    return user_cache_dir() / "index" / f"{zlib.crc32(which):08x}.json"


def _read(path: Path, key: Key) -> dict[str, Any] | None:
    """The index stored at ``path`` under ``key``; None if absent, stale, damaged, foreign or odd."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(found.st_mode) or found.st_mode & 0o077 or \
            (hasattr(os, "getuid") and found.st_uid != os.getuid()):
        return None
    try:
        raw = read_regular(path, MAX_BYTES)
    except Unusable:
        return None
    if raw is None:
        return None
    head, _, body = raw.partition(b"\n")
    try:
        header = json.loads(head)
        if not isinstance(header, dict) or header.get("key") != key or header.get("crc32") != zlib.crc32(body):
            return None
        data = json.loads(body)
    except ValueError:  # not JSON, or not UTF-8
        return None
    return data if isinstance(data, dict) else None


def _write(path: Path, key: Key, data: dict[str, Any]) -> None:
    """Store ``data`` atomically, mode 0600 (mkstemp's); any failure just leaves the cache as it was."""
    import tempfile  # only a miss writes

    body = json.dumps(data, separators=(",", ":")).encode()
    header = json.dumps({"key": key, "crc32": zlib.crc32(body)}, separators=(",", ":")).encode()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".index-", suffix=".tmp", dir=path.parent)
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(header + b"\n" + body)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return
    _prune(path.parent)


def _prune(directory: Path) -> None:
    """Keep the ``SLOTS`` most recently written index files; drop temp files a killed writer left."""
    now = time.time()
    kept = []
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            with contextlib.suppress(OSError):
                modified = entry.stat(follow_symlinks=False).st_mtime
                if entry.name.endswith(".json"):
                    kept.append((modified, entry.path))
                elif entry.name.startswith(".index-") and entry.name.endswith(".tmp") and now - modified > 600:
                    os.unlink(entry.path)
    for _, stale in sorted(kept, reverse=True)[SLOTS:]:
        with contextlib.suppress(OSError):
            os.unlink(stale)
