"""Whose a path is and who else may write it: the trust rules for directories we share with other programs.

The OMERO CLI's session store and omero-user-token's directory hold session keys: anyone who can
put a file there can make us join *their* choice of session, and anyone who can replace a file
there can read or redirect what we write. The rules, for every directory on the way down:

- another user owns it, or anyone may write to it (the ``o+w`` bit): never read, never written;
- the group may write to it (the OMERO CLI makes its directories under ``umask 002`` so): read,
  because the user's own ``omero login`` sessions live there, but only files the user owns, and
  only with every joined session checked to be the expected user's (the connect layer does that);
- a file another user owns is never read.

No omero import here; nothing is changed on disk.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import NamedTuple


class Verdict(NamedTuple):
    """What a directory is to us. ``refusal`` is None when it may be used; ``group_writable`` says how openly."""

    refusal: str | None
    group_writable: bool = False


def _uid() -> int | None:
    return os.getuid() if hasattr(os, "getuid") else None


def owned_by_us(found: os.stat_result) -> bool:
    """The file or directory belongs to the user running this process (always true where uids do not exist)."""
    uid = _uid()
    return uid is None or found.st_uid == uid


def judge_directory(path: Path) -> Verdict:
    """May ``path`` hold sessions we read or write? Never follows a symbolic link."""
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        return Verdict("does not exist")
    except OSError as exc:
        return Verdict(f"cannot be inspected ({exc.strerror or type(exc).__name__})")
    if stat.S_ISLNK(found.st_mode):
        return Verdict("is a symbolic link, not a directory")
    if not stat.S_ISDIR(found.st_mode):
        return Verdict("is not a directory")
    if not owned_by_us(found):
        return Verdict(f"belongs to another user (uid {found.st_uid})")
    mode = stat.S_IMODE(found.st_mode)
    if mode & 0o002:
        return Verdict(f"anyone may write to it (mode {mode:04o})")
    return Verdict(None, group_writable=bool(mode & 0o020))


def our_regular_file(path: Path) -> bool:
    """A regular file (not a link, FIFO or device) that the user running this process owns."""
    try:
        found = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(found.st_mode) and owned_by_us(found)
