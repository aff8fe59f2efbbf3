"""Keyed cache files: read back only while their key matches, written atomically, mode 0600.

Shared by ``cache`` (the validated index) and ``namecache`` (profile names for ``current`` and
TAB), so it stays free of heavy imports. Inputs are identified by (device, inode, size, mtime_ns,
ctime_ns), never by a digest of their content: a digest of a file that holds a password is a way
to test guesses. A damaged, unreadable, foreign or odd cache file is ignored and replaced; a
cache never causes an error.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import time
import zlib
from pathlib import Path
from typing import Any

from .filesystem import Unusable, read_regular

Key = dict[str, Any]

STALE_TEMP_SECONDS = 600
"""A temp file older than this was left by a killed writer and is removed."""


def file_identity(path: Path) -> list[Any] | None:
    """``[path, dev, ino, size, mtime_ns, ctime_ns]``, ``[path, "missing"]``, or None when ``path``
    must not be cached (not a regular file, or a path the OS refuses: its error is reported afresh)."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return [str(path), "missing"]
    except OSError:
        return None
    if not stat.S_ISREG(found.st_mode):
        return None
    return [str(path), found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns]


def settled(files: list[list[Any]], settle_ns: int) -> bool:
    """True if no file changed within ``settle_ns``: a change after now cannot share its timestamps,
    so a rewrite in place of the same size within one timestamp tick still changes the key."""
    now = time.time_ns()
    return all(entry[1] == "missing" or now - entry[5] > settle_ns for entry in files)


def slot(directory: Path, *parts: Path) -> Path:
    """The cache file in ``directory`` for this combination of input paths."""
    which = "\0".join(str(p) for p in parts).encode("utf-8", "surrogateescape")
    return directory / f"{zlib.crc32(which):08x}.json"


def read(path: Path, key: Key, max_bytes: int) -> dict[str, Any] | None:
    """The data stored at ``path`` under ``key``; None if absent, stale, damaged, foreign or odd."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(found.st_mode) or found.st_mode & 0o077 or \
            (hasattr(os, "getuid") and found.st_uid != os.getuid()):
        return None
    try:
        raw = read_regular(path, max_bytes)
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


def write(path: Path, key: Key, data: dict[str, Any], *, prefix: str, slots: int) -> None:
    """Store ``data`` atomically, mode 0600 (mkstemp's); keep the ``slots`` newest files of the
    directory. Any failure just leaves the cache as it was."""
    import tempfile  # only a miss writes

    body = json.dumps(data, separators=(",", ":")).encode()
    header = json.dumps({"key": key, "crc32": zlib.crc32(body)}, separators=(",", ":")).encode()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
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
    _prune(path.parent, prefix, slots)


def _prune(directory: Path, prefix: str, slots: int) -> None:
    """Keep the ``slots`` most recently written cache files; drop temp files a killed writer left."""
    now = time.time()
    kept = []
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            with contextlib.suppress(OSError):
                modified = entry.stat(follow_symlinks=False).st_mtime
                if entry.name.endswith(".json"):
                    kept.append((modified, entry.path))
                elif entry.name.startswith(prefix) and entry.name.endswith(".tmp") \
                        and now - modified > STALE_TEMP_SECONDS:
                    os.unlink(entry.path)
    for _, stale in sorted(kept, reverse=True)[slots:]:
        with contextlib.suppress(OSError):
            os.unlink(stale)
