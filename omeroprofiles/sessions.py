"""``omero-profile login`` / ``logout``: sessions kept in the OMERO CLI's store, shared with ``omero``.

``login`` connects as the profile says (credentials, group, su), optionally turns the session
into a long-lived one (``ISession.createUserSession``, as Glencoe's omero-user-token does for
headless pipelines), stores it where ``omero login`` would and detaches, so the session outlives
this process: ``omero sessions list`` shows it, every ``omero ...`` command and every profile
with ``source = "omero-login"`` joins it without a password. ``logout`` ends it on the server
and removes its file.
"""

from __future__ import annotations

import contextlib
import re
import time
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from .classify import no_answer
from .connection import ask, open_connection
from .credentials.base import Credentials
from .credentials.omero_login import store_host
from .deadline import DeadlineExceeded, run_bounded
from .errors import AuthenticationFailed, ConfigError, ProfileError, ServerUnreachable
from .login import detach, dispose, session_for
from .model import Profile
from .sessionstore import SessionStore, StoredSession, store_dir
from .text import printable

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


MAX_DURATION = 100 * 365 * 86400
"""Longest --idle/--ttl accepted (100 years): the server takes milliseconds as a 64-bit integer."""


def parse_duration(text: str) -> float:
    """Seconds in ``90``, ``90s``, ``30m``, ``2h``, ``7d`` or ``1w``; ConfigError otherwise."""
    found = _DURATION.match(text)
    if not found:
        raise ConfigError(f"'{printable(text)}' is not a duration (use e.g. 90s, 30m, 2h, 7d)")
    seconds = float(found.group(1)) * _UNIT[found.group(2)]
    if seconds > MAX_DURATION:
        raise ConfigError(f"'{printable(text)}' is too long a duration (at most 100 years)")
    return seconds


@dataclass(frozen=True)
class LoginResult:
    """What ``login`` did; ``key`` is secret (shown only on request)."""

    profile: str
    user: str
    group: str
    host: str
    port: int
    su_by: str | None
    key: SecretStr
    time_to_idle_s: float
    time_to_live_s: float
    store: str

    def as_json(self, *, show_key: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "profile": self.profile, "user": self.user, "group": self.group, "host": self.host,
            "port": self.port, "su_by": self.su_by, "time_to_idle_s": self.time_to_idle_s,
            "time_to_live_s": self.time_to_live_s,
            "expires": None if not self.time_to_live_s else
            time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(time.time() + self.time_to_live_s)),
            "store": self.store,
        }
        if show_key:
            data["session_key"] = self.key.get_secret_value()
        return data


def login(profile: Profile, *, idle: float | None = None, ttl: float | None = None,
          store: SessionStore | None = None) -> LoginResult:
    """Open a session as the profile says, store it for ``omero`` and ``omero-login``, and detach.

    A command's questions are short, so every call is bounded by the connect ``timeout`` (as
    ``connection.answer`` does) and a server that freezes or dies meanwhile is exit 5, not a
    wait of ``call_timeout`` or an Ice exception. If anything fails, nothing is left behind: the
    login session and a long-lived session made from it are ended, not merely detached.
    """
    store = store or SessionStore()
    conn = open_connection(profile.model_copy(update={"call_timeout": profile.timeout}))
    made: list[str] = []
    stored: list[StoredSession] = []
    try:
        result = ask(conn, lambda c: _store_session(c, profile, store, idle, ttl, made, stored))
    except BaseException as exc:
        conn.close(hard=True)
        for key in made if not isinstance(exc, ServerUnreachable) else ():  # a frozen server: not twice
            with contextlib.suppress(ProfileError):
                _end(profile, key)
        for session in stored:
            store.remove(session)
        raise
    conn.close(hard=result.key.get_secret_value() != conn.c.getSessionId())  # detach from the stored one
    return result


def _store_session(conn: Any, profile: Profile, store: SessionStore, idle: float | None, ttl: float | None,
                   made: list[str], stored: list[StoredSession]) -> LoginResult:
    """Make the session long-lived if asked, store it, and let it outlive this client.

    ``made`` and ``stored`` record what to undo if a later step fails."""
    ec = conn.getEventContext()
    key = conn.c.getSessionId()
    if idle is not None or ttl is not None:
        if conn.su_by:
            # A real server refuses createUserSession from a session an administrator made for
            # the target (no password login); the su-er creates it, as 'omero login --sudo' does.
            from .su import long_lived_key

            key = long_lived_key(profile.model_copy(update={"group": ec.groupName}),
                                 time_to_idle_ms=int((idle or 0) * 1000), time_to_live_ms=int((ttl or 0) * 1000))
        else:
            key = conn.getSessionService().createUserSession(
                int((ttl or 0) * 1000), int((idle or 0) * 1000), ec.groupName).getUuid().val
        made.append(key)
    record = conn.getSessionService().getSession(key)
    time_to_idle = (record.getTimeToIdle().val or 0) / 1000
    time_to_live = (record.getTimeToLive().val or 0) / 1000
    group = profile.group if isinstance(profile.group, str) else None
    host = store_host(profile)
    stored.append(store.add(host, ec.userName, key, port=profile.port, group=group, sudo=conn.su_by))
    if key == conn.c.getSessionId():
        detach(conn.c)  # the stored session must outlive this process
    return LoginResult(profile.name, ec.userName, ec.groupName, host, profile.port, conn.su_by,
                       SecretStr(key), time_to_idle, time_to_live, str(store.dir))


def stored_for(profile: Profile, store: SessionStore | None = None) -> list[StoredSession]:
    """Sessions in the store for the profile's host, port and user (the su target if any), newest first."""
    store = store or SessionStore()
    host = store_host(profile)
    user = profile.su or getattr(profile.credentials, "username", None) or store.last_user(host)
    return store.sessions(host, user, profile.port) if user else []


def logout(profile: Profile, store: SessionStore | None = None) -> int:
    """End every session stored for the profile on the server and remove its file; how many ended.

    A session the server no longer knows is simply removed. If the server cannot be reached the
    files are kept (the sessions may still be alive) and the failure is raised.
    """
    store = store or SessionStore()
    sessions = stored_for(profile, store)
    if not sessions:
        raise AuthenticationFailed(f"profile '{profile.name}': no stored session to end for "
                                   f"{store_host(profile)}:{profile.port} in {store_dir()}")
    for stored in sessions:
        _end(profile, stored.key)
        store.remove(stored)
    return len(sessions)


def _end(profile: Profile, key: str) -> None:
    """Join the session by key and close it for everyone; a dead session is already ended."""
    credentials = Credentials(session_key=key)

    def kill() -> None:
        dispose(session_for(profile, credentials, group=None).client, kill=True)

    try:
        run_bounded(profile.timeout, kill, lambda _: None)
    except DeadlineExceeded:
        raise no_answer(profile, user=None, timeout=profile.timeout) from None
    except AuthenticationFailed:
        return  # closed or expired already
