"""What the filesystem says about a path, in words: file kinds, bounded reads that never block, OS errors.

Reading and writing share it so that a FIFO, a device, a symlink loop or a too-long name is
refused the same way everywhere, with the path and the reason, instead of hanging, reading
without end, or surfacing as an internal error. Nothing here knows about TOML or profiles.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

MAX_BYTES = 4 * 1024 * 1024
"""Largest file we read (4 MiB). A profiles file is a few KiB; anything this big is not one."""

_REASONS = {
    errno.ENOENT: "no such file or directory",
    errno.ENOTDIR: "a part of the path is not a directory",
    errno.ELOOP: "too many levels of symbolic links (a symlink loop?)",
    errno.ENAMETOOLONG: "the file name is too long",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted (is the file or directory immutable?)",
    errno.EROFS: "read-only file system",
    errno.ENOSPC: "no space left on the device",
    errno.EISDIR: "is a directory",
    errno.EEXIST: "already exists",
    errno.EXDEV: "on another file system",
}
if hasattr(errno, "EDQUOT"):
    _REASONS[errno.EDQUOT] = "disk quota exceeded"


class Unusable(Exception):
    """The path cannot be used; ``str()`` is the reason, without the path (callers name it)."""


def reason(exc: OSError) -> str:
    """Why an OS call failed, in words (no path: the caller names the one it was using)."""
    return _REASONS.get(exc.errno or 0) or (exc.strerror or type(exc).__name__).lower()


def presence(path: Path) -> str:
    """``exists``, ``missing``, or ``unusable: WHY`` (e.g. a name too long for the filesystem)."""
    try:
        return "exists" if path.exists() else "missing"
    except OSError as exc:
        return f"unusable: {reason(exc)}"


def mode_of(path: Path) -> int | None:
    """``path``'s permission bits; None if it cannot be stat'ed (missing, unreadable directory...)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None


def kind(mode: int) -> str | None:
    """None for a regular file; otherwise what the path is, for a message ('a FIFO (named pipe)', ...)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def not_regular(mode: int) -> str | None:
    """The refusal for anything but a regular file (symlinks are followed before this), else None."""
    what = kind(mode)
    if what is None:
        return None
    if what == "a directory":
        return "is a directory, not a file"
    return f"is {what}, not a regular file"


def size_text(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MiB" if n >= 1024 * 1024 else f"{n} bytes"


def _too_big(size: int, limit: int) -> Unusable:
    return Unusable(f"is too large to be a profiles file ({size_text(size)}; the limit is {size_text(limit)})")


def read_regular(path: Path, limit: int = MAX_BYTES) -> bytes | None:
    """The bytes of regular file ``path`` (None if it does not exist); raises Unusable otherwise.

    The kind is checked before opening (opening a FIFO blocks, some devices act when opened), and
    again on the open descriptor (opened non-blocking) in case the path was swapped in between.
    At most ``limit`` bytes are ever read, so /dev/zero or a huge file cannot exhaust memory.
    """
    try:
        before = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise Unusable(reason(exc)) from None
    refusal = not_regular(before.st_mode)
    if refusal:
        raise Unusable(refusal)
    if before.st_size > limit:
        raise _too_big(before.st_size, limit)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise Unusable(reason(exc)) from None
    try:
        refusal = not_regular(os.fstat(fd).st_mode)
        if refusal:
            raise Unusable(refusal)
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise Unusable(reason(exc)) from None
    finally:
        os.close(fd)
    if total > limit:
        raise _too_big(total, limit)
    return b"".join(chunks)


def real_path(path: Path) -> Path:
    """``path`` with every symlink followed (a dangling link gives the file it would create).

    Raises Unusable for a symlink loop or another path the OS refuses to resolve; never
    RuntimeError (``Path.resolve`` on Python 3.11 raises that for loops).
    """
    try:
        return Path(os.path.realpath(path, strict=True))
    except FileNotFoundError:
        return Path(os.path.realpath(path))
    except OSError as exc:
        raise Unusable(reason(exc)) from None
