"""Writing a test's profiles file, a snapshot that proves a refused edit changed nothing, and the
in-place edit a cache key must still notice."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

OLD_MTIME_NS = 1_500_000_000 * 10**9
"""An mtime long past, so a rewrite that keeps the bytes still shows as a change."""


def write_file(path: Path, content: str | bytes, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    path.chmod(mode)
    os.utime(path, ns=(OLD_MTIME_NS, OLD_MTIME_NS))
    return path


def snapshot(path: Path) -> tuple[bytes, int, int, list[str]]:
    """Bytes, mtime, mode and the directory listing: all must be unchanged after a refused edit."""
    st = path.stat()
    return path.read_bytes(), st.st_mtime_ns, stat.S_IMODE(st.st_mode), sorted(os.listdir(path.parent))


def rewrite_keeping_size_and_mtime(path: Path, old: str, new: str) -> None:
    """Change the content in place, same size, and put the mtime back: what (size, mtime_ns) cannot see."""
    assert len(old) == len(new)
    before = path.stat()
    time.sleep(0.02)  # a later clock tick, as any real edit after a run is
    text = path.read_text()
    assert old in text
    with open(path, "r+", encoding="utf-8") as handle:  # in place: same inode
        handle.write(text.replace(old, new))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_dev, after.st_ino, after.st_size, after.st_mtime_ns) == \
        (before.st_dev, before.st_ino, before.st_size, before.st_mtime_ns)


def cache_files(directory: Path) -> list[Path]:
    """The cache files (``*.json``) a cache keeps in ``directory``; none if it was never made."""
    return sorted(directory.glob("*.json")) if directory.is_dir() else []
