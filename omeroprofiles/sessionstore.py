"""The OMERO CLI's session store: where ``omero login`` keeps sessions, read and written by us too.

Layout (omero-py's ``omero.util.sessions.SessionsStore``, which we match byte for byte)::

    $OMERO_SESSIONDIR, else $OMERO_USERDIR/sessions, else ~/omero/sessions
        ._LASTHOST_                    the last host logged in to
        ._LASTPORT_                    its port
        <host>/._LASTUSER_             the last user on that host
        <host>/<user>/._LASTSESS_      that user's last session key
        <host>/<user>/<session key>    key=value lines: omero.host, omero.port, omero.user,
                                       omero.sess, sometimes omero.group / omero.sudo

``<host>`` is URL-quoted (``wss://h/x`` becomes ``wss%3A%2F%2Fh%2Fx``). The OMERO CLI writes these
files world-readable; we write ours 0600 in 0700 directories. No omero import here: reading the
store is offline.
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from .writing import atomic_write

DEFAULT_PORT = 4064
"""omero.constants.GLACIER2PORT: a stored session without ``omero.port`` is on this port."""


def store_dir() -> Path:
    """Where the OMERO CLI keeps sessions, by its own rules."""
    if os.environ.get("OMERO_SESSIONDIR"):
        return Path(os.environ["OMERO_SESSIONDIR"])
    userdir = os.environ.get("OMERO_USERDIR")
    if userdir:
        return Path(userdir) / "sessions"
    if userdir == "":  # omero-py: an empty OMERO_USERDIR selects the platform's user data dir
        import platformdirs

        return Path(platformdirs.user_data_dir("omero", "OME")) / "sessions"
    return Path.home() / "omero" / "sessions"


@dataclass(frozen=True)
class StoredSession:
    """One session file."""

    path: Path
    host: str
    user: str
    props: dict[str, str]

    @property
    def key(self) -> str:
        """The session key (the file's name). A secret: never print it."""
        return self.path.name

    @property
    def port(self) -> int:
        try:
            return int(self.props.get("omero.port") or DEFAULT_PORT)
        except ValueError:
            return -1

    @property
    def mtime(self) -> float:
        try:
            return self.path.stat().st_mtime
        except OSError:
            return 0.0

    def __repr__(self) -> str:
        return f"StoredSession(host={self.host!r}, user={self.user!r}, port={self.port})"


def _props(path: Path) -> dict[str, str]:
    props: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").split("\n"):
        if line:
            key, _, value = line.partition("=")
            props[key] = value
    return props


def _read_small(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


class SessionStore:
    """The store at ``directory`` (default: where the OMERO CLI looks)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.dir = directory if directory is not None else store_dir()

    def _user_dir(self, host: str, user: str) -> Path:
        return self.dir / quote(host, safe="") / user

    # -- reading --------------------------------------------------------------------------------
    def last_user(self, host: str) -> str | None:
        return _read_small(self.dir / quote(host, safe="") / "._LASTUSER_")

    def sessions(self, host: str, user: str, port: int | None = None) -> list[StoredSession]:
        """Stored sessions of ``user`` on ``host`` (and ``port``), newest first."""
        directory = self._user_dir(host, user)
        try:
            names = [p for p in directory.iterdir() if not p.name.startswith(".")]
        except OSError:
            return []
        found = []
        for path in names:
            try:
                if not stat.S_ISREG(path.lstat().st_mode):
                    continue
                found.append(StoredSession(path, host, user, _props(path)))
            except OSError:
                continue
        found = [s for s in found if port is None or s.port == port]
        return sorted(found, key=lambda s: s.mtime, reverse=True)

    # -- writing (what `omero login` writes, but private) ----------------------------------------
    def add(self, host: str, user: str, key: str, *, port: int, group: str | None = None,
            sudo: str | None = None) -> StoredSession:
        """Store a session and make it the current one, as ``omero login`` does."""
        props = {"omero.group": group} if group is not None else {}  # the key order `omero login` writes
        props.update({"omero.host": host, "omero.user": user, "omero.port": str(port), "omero.sess": key})
        if sudo is not None:
            props["omero.sudo"] = sudo
        directory = self._user_dir(host, user)
        self._mkdirs(directory)
        path = directory / key
        atomic_write(path, "".join(f"{k}={v}\n" for k, v in props.items()), new_mode=0o600, private=True)
        self._write(self.dir / "._LASTHOST_", host)
        self._write(self.dir / "._LASTPORT_", str(port))
        self._write(directory.parent / "._LASTUSER_", user)
        self._write(directory / "._LASTSESS_", key)
        return StoredSession(path, host, user, props)

    def remove(self, session: StoredSession) -> None:
        """Delete a session file, and the 'last session' pointer if it named it."""
        with contextlib.suppress(FileNotFoundError):
            session.path.unlink()
        last = session.path.parent / "._LASTSESS_"
        if _read_small(last) == session.key:
            with contextlib.suppress(FileNotFoundError):
                last.unlink()

    def _mkdirs(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        for d in (self.dir, directory.parent, directory):
            with contextlib.suppress(OSError):
                d.chmod(0o700)

    @staticmethod
    def _write(path: Path, text: str) -> None:
        atomic_write(path, text, new_mode=0o600, private=True)
