"""Glencoe Software's omero-user-token file: where it is, its format, read and written by its rules.

``omero_user_token set`` keeps one long-lived session per user in ``$OMERO_USER_TOKEN_DIR/token``
(default ``~/.omero_user_token/token``) as ``<session key>@<host>:<port>``, in a directory it
makes 0700. Tools such as omero2pandas look there. We read it (``source = "user-token"``) and
write it (``omero-profile login --user-token``) the same way, with ``ownership``'s rules: a
directory another user owns or anyone may write is neither read nor written, and a token file
another user owns is never read. No omero import here.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import NamedTuple

from .errors import ConfigError
from .filesystem import Unusable, read_regular, reason
from .ownership import judge_directory, our_regular_file, owned_by_us
from .writing import atomic_write, locked

MAX_TOKEN_BYTES = 64 * 1024
"""A token is one short line; anything much bigger is not one."""


class Token(NamedTuple):
    """One token. ``key`` is a secret: never print it."""

    key: str
    host: str
    port: int

    def text(self) -> str:
        return f"{self.key}@{self.host}:{self.port}"

    def __repr__(self) -> str:
        return f"Token(host={self.host!r}, port={self.port})"


def token_dir() -> Path:
    """omero-user-token's directory: ``$OMERO_USER_TOKEN_DIR``, else ``~/.omero_user_token``."""
    return Path(os.environ.get("OMERO_USER_TOKEN_DIR") or os.path.expanduser("~/.omero_user_token"))


def token_path() -> Path:
    return token_dir() / "token"


def parse(text: str) -> Token | None:
    """``KEY@HOST:PORT`` (the key has no ``@``; a host may); None if it is not one."""
    key, at, where = text.strip().partition("@")
    host, colon, port = where.rpartition(":")
    if not (key and at and host and colon and port.isdigit()) or any(c.isspace() for c in key):
        return None
    return Token(key, host, int(port))


class Unreadable(Exception):
    """The token file cannot be used; ``str()`` says why, without the path."""


def read(path: Path) -> Token | None:
    """The token in ``path`` (None if there is no file). Raises Unreadable with the reason otherwise."""
    verdict = judge_directory(Path(os.path.realpath(path.parent)))
    if verdict.refusal == "does not exist":
        return None
    if verdict.refusal is not None:
        raise Unreadable(f"its directory {verdict.refusal}, so it is not trusted")
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise Unreadable(reason(exc)) from None
    if not owned_by_us(found):
        raise Unreadable(f"another user (uid {found.st_uid}) owns it, so it is not trusted")
    try:  # never blocks on a FIFO, never reads a device or a huge file whole
        raw = read_regular(path, MAX_TOKEN_BYTES)
    except Unusable as exc:
        raise Unreadable(str(exc)) from None
    if raw is None:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Unreadable("it is not text") from None
    token = parse(text)
    if token is None:
        raise Unreadable("it is not a user token (expected KEY@HOST:PORT)")
    return token


def write(token: Token, path: Path | None = None) -> Path:
    """Write ``token`` as omero-user-token does: its directory 0700 (made if missing), the file 0600."""
    path = path or token_path()
    directory = path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ConfigError(f"{directory}: the user-token directory cannot be created: {reason(exc)}; nothing was "
                          "written") from None
    verdict = judge_directory(Path(os.path.realpath(directory)))
    if verdict.refusal is not None:
        raise ConfigError(f"{directory}: {verdict.refusal}, so no user token is written there (another user could "
                          "read or replace it); nothing was written",
                          hint="point OMERO_USER_TOKEN_DIR at a directory of your own")
    with contextlib.suppress(OSError):
        directory.chmod(0o700)  # what omero_user_token does every time
    with locked(path):
        if path.is_symlink():
            raise ConfigError(f"{path}: is a symbolic link; a user token is never written through a link, so "
                              "nothing was written", hint=f"remove it: rm '{path}'")
        atomic_write(path, token.text(), new_mode=0o600, private=True)
    return path


def remove_if_holds(key: str, path: Path | None = None) -> bool:
    """Delete the token file if it is ours and holds session ``key`` (logout of that session); whether it did."""
    path = path or token_path()
    try:
        token = read(path)
    except Unreadable:
        return False
    if token is None or token.key != key or not our_regular_file(path):
        return False
    with contextlib.suppress(OSError):
        path.unlink()
        return True
    return False
