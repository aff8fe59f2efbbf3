"""Safe writes: a lock against concurrent writers, temp file + rename, 0600 for new files."""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock

from .locations import user_state_dir

LOCK_TIMEOUT = 30.0


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Serialise writers of ``path``. The lock file lives in our state dir, not beside the file."""
    locks = user_state_dir() / "locks"
    locks.mkdir(parents=True, exist_ok=True, mode=0o700)
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24]
    with FileLock(str(locks / f"{digest}.lock"), timeout=LOCK_TIMEOUT):
        yield


def atomic_write(path: Path, text: str, *, new_mode: int = 0o600, private: bool = False) -> None:
    """Replace ``path`` with ``text`` in one rename; a crash leaves the old file or the new one.

    An existing file keeps its permission bits (``private``: minus every group/other bit, for
    text that holds a secret); a new file gets ``new_mode``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = new_mode
    if private:
        mode &= 0o700
    target = path.resolve() if path.is_symlink() else path  # edit the file a symlink points to
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
