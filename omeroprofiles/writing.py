"""Safe writes: a lock against concurrent writers, temp file + rename, 0600 for new files.

Every refusal is a ConfigError (exit 2) naming the path and the reason, and leaves the old file as
it was: a write never replaces anything but a regular file, never a file whose write bits are
all off (checked from the mode, so root, whom the kernel lets write anywhere, is refused too),
and never goes into a directory without write bits.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from .errors import ConfigError
from .filesystem import Unusable, not_regular, real_path, reason
from .locations import user_state_dir

LOCK_TIMEOUT = 30.0
"""Seconds a writer waits for another one before saying the file is busy."""

_TEMP_CHARS = "[a-z0-9_]{8}"
"""What ``tempfile.mkstemp`` puts between our prefix and suffix."""

_held = threading.local()


def _refused(path: Path | str, why: str, hint: str | None = None) -> ConfigError:
    return ConfigError(f"{path}: {why}; nothing was written", hint=hint)


def _lock_file(path: Path) -> Path:
    digest = hashlib.sha256(os.path.realpath(path).encode()).hexdigest()[:24]
    return user_state_dir() / "locks" / f"{digest}.lock"


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Serialise writers of ``path``. The lock file lives in our state dir, not beside the file.

    Re-entrant within a thread, so an edit can also update the state file under the same lock
    (``remove`` clearing the active choice). A writer that waits ``LOCK_TIMEOUT`` seconds gives up
    with a message naming the process that holds the lock.
    """
    lock_path = _lock_file(path)
    held: set[str] = _held.__dict__.setdefault("keys", set())
    if str(lock_path) in held:
        yield
        return
    ensure_directory(lock_path.parent, purpose=f"the lock for {path}", mode=0o700)
    lock = FileLock(str(lock_path), timeout=LOCK_TIMEOUT)
    try:
        lock.acquire()
    except Timeout:
        raise ConfigError(f"{path} is busy: {_holder(lock_path)} is changing it (waited {LOCK_TIMEOUT:g} s "
                          "for it to finish); nothing was written",
                          hint=f"try again when it has finished (lock file: {lock_path})") from None
    except OSError as exc:
        raise _refused(lock_path, f"cannot take the lock for {path}: {reason(exc)}") from None
    held.add(str(lock_path))
    owner = lock_path.with_suffix(".owner")
    try:
        with contextlib.suppress(OSError):
            owner.write_text(f"{os.getpid()} {time.time():.0f} {_program()}\n", encoding="utf-8")
        yield
    finally:
        held.discard(str(lock_path))
        with contextlib.suppress(OSError):
            owner.unlink()
        lock.release()


def _program() -> str:
    """The holder's program name, never its arguments (they may hold a value being set)."""
    program = os.path.basename(sys.argv[0]) if sys.argv else ""
    return program if program not in ("", "-c", "-m") else "python"


def _holder(lock_path: Path) -> str:
    """Who holds the lock, from the note its holder left beside it ('another process' if none)."""
    try:
        pid_text, since, program = lock_path.with_suffix(".owner").read_text(encoding="utf-8").split(" ", 2)
        pid = int(pid_text)
        started = time.strftime("%H:%M:%S", time.localtime(float(since)))
    except (OSError, ValueError):
        return "another process"
    if os.name == "posix":  # (signal 0 on Windows would end the process)
        try:
            os.kill(pid, 0)  # the note of a killed holder must not name a stranger
        except PermissionError:
            pass  # alive, another user's
        except OSError:
            return "another process"
    return f"process {pid} ({program.strip()}, since {started})"


def ensure_directory(directory: Path, *, purpose: str, mode: int = 0o777) -> None:
    """Create ``directory`` (and missing parents), refusing a parent without write permission."""
    try:
        found = os.stat(directory)
    except FileNotFoundError:
        if directory.parent != directory:
            ensure_directory(directory.parent, purpose=purpose)
        check_directory(directory.parent, purpose)
        try:
            os.mkdir(directory, mode)
        except FileExistsError:
            pass
        except OSError as exc:
            raise _refused(directory, f"cannot create the directory for {purpose}: {reason(exc)}") from None
        return
    except OSError as exc:
        raise _refused(directory, f"cannot use the directory for {purpose}: {reason(exc)}") from None
    if not stat.S_ISDIR(found.st_mode):
        raise _refused(directory, f"is not a directory (needed for {purpose})")


def check_directory(directory: Path, purpose: str) -> None:
    """Refuse to create files in a directory without any write bit (root included).

    Anything else the OS refuses (permissions, an immutable directory, a read-only mount) is left
    to the OS to say when the file is created, and classified there with its real reason.
    """
    try:
        mode = stat.S_IMODE(os.stat(directory).st_mode)
    except OSError as exc:
        raise _refused(directory, f"cannot use the directory for {purpose}: {reason(exc)}") from None
    if mode & 0o222 == 0:
        raise _refused(directory, f"the directory is read-only (mode {mode:04o}), so {purpose} cannot be written",
                       hint=f"to allow it: chmod u+w '{directory}'")


def writable_target(path: Path) -> Path:
    """The file a write to ``path`` replaces (symlinks followed), after checking it may be replaced.

    Raises ConfigError if it exists and is not a regular file, or is read-only: no write bit at
    all (a 0444 file is refused even for root), or not writable by this user.
    """
    try:
        target = real_path(path)
    except Unusable as exc:
        raise _refused(path, str(exc)) from None
    try:
        found = os.stat(target)
    except FileNotFoundError:
        return target
    except OSError as exc:
        raise _refused(target, reason(exc)) from None
    refusal = not_regular(found.st_mode)
    if refusal:
        raise _refused(target, refusal)
    mode = stat.S_IMODE(found.st_mode)
    if mode & 0o222 == 0:
        raise _refused(target, f"the file is read-only (mode {mode:04o})",
                       hint=f"if you mean to change it: chmod u+w '{target}'")
    if not os.access(target, os.W_OK):  # the rename would replace it even so: the directory decides that
        raise _refused(target, f"the file is not writable (mode {mode:04o}; access denied to this user)")
    return target


def remove_stale_temps(target: Path) -> list[Path]:
    """Delete temp files that writers of ``target`` left when they were killed mid-write.

    Only call under ``locked(target)``: then no live writer has a temp file of this target.
    Only regular files named exactly like ours (``.NAME.XXXXXXXX.tmp``) are removed.
    """
    pattern = re.compile(rf"\.{re.escape(target.name)}\.{_TEMP_CHARS}\.tmp")
    removed = []
    try:
        names = os.listdir(target.parent)
    except OSError:
        return removed
    for name in names:
        if pattern.fullmatch(name):
            leftover = target.parent / name
            with contextlib.suppress(OSError):
                if stat.S_ISREG(os.lstat(leftover).st_mode):
                    os.unlink(leftover)
                    removed.append(leftover)
    return removed


def atomic_write(path: Path, text: str, *, new_mode: int = 0o600, private: bool = False) -> None:
    """Replace ``path`` with ``text`` in one rename; a crash leaves the old file or the new one.

    Call it under ``locked(path)``. An existing file keeps its permission bits (``private``: minus
    every group/other bit, for text that holds a secret); a new file gets ``new_mode``. A symlink
    stays a symlink: the file it points to is replaced.
    """
    target = writable_target(path)
    ensure_directory(target.parent, purpose=str(target))
    check_directory(target.parent, str(target))
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = new_mode
    except OSError as exc:
        raise _refused(target, reason(exc)) from None
    if private:
        mode &= 0o700
    remove_stale_temps(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise _refused(target, f"cannot create a temporary file in {target.parent}: {reason(exc)}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _refused(target, f"cannot be written: {reason(exc)}") from None
        raise
