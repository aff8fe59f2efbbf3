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

Names in the store come from places we do not control (the user name and session key the server
reports, ``._LASTUSER_``, whoever else can write there), so every one is checked to be a single
file name before it becomes part of a path, and nothing below the store's root is followed if it
is a symbolic link or read if it is not a regular file of a sane size. Otherwise ``logout`` could
delete, and ``login`` overwrite, files anywhere (``user = "../../.ssh"``, a planted symlink), and a
FIFO would block every connect.

Whom to trust is ``ownership``'s rule: a directory another user owns or anyone may write is
neither read nor written; one the group may write (the OMERO CLI's under ``umask 002``) is read,
but a file in it that another user owns is not. A file we read can still name someone else's
session (whoever can write as us can write anything), so the connect layer checks the user of
every session it joins; this module only keeps the obviously foreign out.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .constants import DEFAULT_PORT
from .errors import ConfigError
from .filesystem import Unusable, read_regular, reason
from .ownership import judge_directory, our_regular_file
from .text import printable
from .writing import atomic_write, locked

MAX_FILE_BYTES = 64 * 1024
"""Largest store file read: a session file is about a hundred bytes."""


def usable_name(name: str) -> bool:
    """Whether ``name`` can be one path component of the store: a plain file name, not ``..``, not hidden."""
    separators = {"/", "\0", os.sep, os.altsep or "/"}
    return bool(name) and not name.startswith(".") and not any(c in name for c in separators)


log = logging.getLogger(__name__)


def store_host(profile: Any) -> str:
    """The host name the OMERO CLI files a profile's sessions under (a URL host stays a URL)."""
    return profile.host if profile.address.transport else profile.hostname


def _readable_dir(path: Path, *, follow: bool = False) -> bool:
    """May sessions be read from ``path``? Says why not (and when the group may write it) under --debug."""
    verdict = judge_directory(Path(os.path.realpath(path)) if follow else path)
    if verdict.refusal is not None:
        if verdict.refusal != "does not exist":
            log.debug("session store: %s %s: nothing in it is read", printable(str(path)), verdict.refusal)
        return False
    if verdict.group_writable:
        log.debug("session store: %s is group-writable: files in it that another user owns are ignored, "
                  "and every session joined from it is checked to be the profile's user", printable(str(path)))
    return True


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


def _props(path: Path) -> dict[str, str] | None:
    text = _read_small(path)
    if text is None:
        return None
    props: dict[str, str] = {}
    for line in text.split("\n"):
        if line:
            key, _, value = line.partition("=")
            props[key] = value
    return props


def _consistent(path: Path, host: str, user: str, props: dict[str, str]) -> bool:
    """The file says what its place says: its own key, user and host (a copied or planted file may not)."""
    said = {"omero.sess": path.name, "omero.user": user, "omero.host": host}
    wrong = [key for key, value in said.items() if props.get(key, value) != value]
    if wrong:
        log.debug("session store: %s ignored: its %s do not match where it is", printable(str(path.parent)),
                  " and ".join(wrong))
    return not wrong


def _read_small(path: Path) -> str | None:
    """The text of a small regular file of ours (never a symlink, FIFO, device or another user's file)."""
    try:
        if not our_regular_file(path):
            if stat.S_ISREG(os.lstat(path).st_mode):
                log.debug("session store: a file in %s ignored: another user owns it", printable(str(path.parent)))
            return None
        raw = read_regular(path, MAX_FILE_BYTES)
        text = raw.decode("utf-8").strip() if raw is not None else ""
    except (OSError, Unusable, UnicodeDecodeError):
        return None
    return text or None


class SessionStore:
    """The store at ``directory`` (default: where the OMERO CLI looks)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.dir = directory if directory is not None else store_dir()

    def _host_dir(self, host: str) -> Path | None:
        name = quote(host, safe="")
        return self.dir / name if usable_name(name) else None

    def _user_dir(self, host: str, user: str) -> Path | None:
        host_dir = self._host_dir(host)
        return host_dir / user if host_dir is not None and usable_name(user) else None

    def _trusted_user_dir(self, host: str, user: str) -> Path | None:
        directory = self._user_dir(host, user)
        if directory is None or not (_readable_dir(self.dir, follow=True) and _readable_dir(directory.parent)
                                     and _readable_dir(directory)):
            return None
        return directory

    # -- reading --------------------------------------------------------------------------------
    def last_user(self, host: str) -> str | None:
        host_dir = self._host_dir(host)
        if host_dir is None or not (_readable_dir(self.dir, follow=True) and _readable_dir(host_dir)):
            return None
        user = _read_small(host_dir / "._LASTUSER_")
        return user if user is not None and usable_name(user) else None

    def sessions(self, host: str, user: str, port: int | None = None) -> list[StoredSession]:
        """Stored sessions of ``user`` on ``host`` (and ``port``), newest first."""
        directory = self._trusted_user_dir(host, user)
        if directory is None:
            return []
        try:
            names = [p for p in directory.iterdir() if not p.name.startswith(".")]
        except OSError:
            return []
        found = []
        for path in names:
            props = _props(path)
            if props is not None and _consistent(path, host, user, props):
                found.append(StoredSession(path, host, user, props))
        found = [s for s in found if port is None or s.port == port]
        return sorted(found, key=lambda s: s.mtime, reverse=True)

    # -- writing (what `omero login` writes, but private) ----------------------------------------
    def add(self, host: str, user: str, key: str, *, port: int, group: str | None = None,
            sudo: str | None = None) -> StoredSession:
        """Store a session and make it the current one, as ``omero login`` does."""
        directory = self._user_dir(host, user)
        lines = (host, user, key, group or "", sudo or "")
        if directory is None or not usable_name(key) or any("\n" in v for v in lines):
            raise ConfigError(f"{self.dir}: a session of user '{printable(user)}' on {printable(host)} cannot be "
                              "stored: its user name or session key is not a plain file name (it would "
                              "make a path outside the session store)")
        props = {"omero.group": group} if group is not None else {}  # the key order `omero login` writes
        props.update({"omero.host": host, "omero.user": user, "omero.port": str(port), "omero.sess": key})
        if sudo is not None:
            props["omero.sudo"] = sudo
        path = directory / key
        with locked(self.dir):  # logins share ._LASTHOST_: one writer must not clean up the temp file of another
            self._mkdirs(directory)
            self._write(path, "".join(f"{k}={v}\n" for k, v in props.items()))
            self._write(self.dir / "._LASTHOST_", host)
            self._write(self.dir / "._LASTPORT_", str(port))
            self._write(directory.parent / "._LASTUSER_", user)
            self._write(directory / "._LASTSESS_", key)
        return StoredSession(path, host, user, props)

    def remove(self, session: StoredSession) -> None:
        """Delete a session file of ours, and the 'last session' pointer if it named it (never through a link)."""
        if self._trusted_user_dir(session.host, session.user) != session.path.parent:
            return
        for path in (session.path, session.path.parent / "._LASTSESS_"):
            if path == session.path or _read_small(path) == session.key:
                with contextlib.suppress(OSError):
                    if our_regular_file(path):
                        path.unlink()

    def remove_key(self, host: str, user: str, key: str) -> bool:
        """Delete the file of ``user`` on ``host`` that holds session ``key`` (any port); whether there was one."""
        matches = [s for s in self.sessions(host, user) if s.key == key]
        for stored in matches:
            self.remove(stored)
        return bool(matches)

    def _mkdirs(self, directory: Path) -> None:
        """Create what is missing 0700; refuse (exit 2) a directory another user owns or anyone may write."""
        try:
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise ConfigError(f"{self.dir}: the session store cannot be created: {reason(exc)}; nothing was "
                              "written") from None
        for d in (self.dir, directory.parent, directory):
            if d != self.dir:
                try:
                    d.mkdir(mode=0o700)
                except FileExistsError:
                    pass
                except OSError as exc:
                    raise ConfigError(f"{d}: cannot be created in the session store: {reason(exc)}; nothing was "
                                      "written") from None
            verdict = judge_directory(Path(os.path.realpath(d)) if d == self.dir else d)
            if verdict.refusal is not None:
                fix = f"remove it: rm '{d}'" if "not a directory" in verdict.refusal else \
                    f"use a session store of your own (OMERO_SESSIONDIR), or: chmod 0700 '{d}' as its owner"
                raise ConfigError(f"{d}: {verdict.refusal}, so no session is written there (another user could "
                                  "read or replace it); nothing was written", hint=fix)
            with contextlib.suppress(OSError):
                d.chmod(0o700)  # ours: a session key is about to be written below it

    @staticmethod
    def _write(path: Path, text: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISLNK(os.lstat(path).st_mode):
                raise ConfigError(f"{path}: is a symbolic link in the session store; nothing in the store is "
                                  "written through a link, so nothing was written", hint=f"remove it: rm '{path}'")
        atomic_write(path, text, new_mode=0o600, private=True)
