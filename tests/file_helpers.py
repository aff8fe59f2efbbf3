"""Writing a test's profiles file, and a snapshot that proves a refused edit changed nothing."""

from __future__ import annotations

import os
import stat
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
