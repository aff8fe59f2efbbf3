"""Helpers shared by the Vault plugin's tests (imported by name: this folder is on sys.path)."""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
from pathlib import Path


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The installed ``omero-profile`` script as a subprocess, with this test's environment."""
    script = Path(sys.executable).parent / "omero-profile"
    return subprocess.run([str(script), *args], capture_output=True, text=True, timeout=timeout,
                          env=env if env is not None else dict(os.environ), stdin=subprocess.DEVNULL, check=False)


def exception_texts(exc: BaseException) -> str:
    """Everything an exception chain can show: each link's str, repr and formatted traceback."""
    texts = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts += [str(current), repr(current), "".join(traceback.format_exception(current))]
        texts += [repr(vars(current))]
        current = current.__cause__ or current.__context__
    return "\n".join(texts)
