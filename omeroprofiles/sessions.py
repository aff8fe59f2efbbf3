"""Sessions a profile makes for others: ``login``, ``logout`` and the child sessions of ``env --session``.

``login`` connects as the profile says (credentials, group, su), optionally turns the session
into a long-lived one (``ISession.createUserSession``, as Glencoe's omero-user-token does for
headless pipelines), stores it where ``omero login`` would (and, asked, in omero-user-token's
file) and detaches, so the session outlives this process: ``omero sessions list`` shows it,
every ``omero ...`` command and every profile with ``source = "omero-login"`` joins it without
a password. ``child_session`` makes a session of the profile's user that a program may end
without ending anyone else's (ezomero's ``conn.close()`` kills). Every session made here is
recorded in ``sessionindex``; ``logout NAME`` ends exactly those, ``logout NAME --all`` every
stored session of the profile's user on that server.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from pydantic import SecretStr

from . import usertoken
from .classify import classify_call, no_answer
from .connection import ask, open_connection
from .credentials.base import Credentials
from .deadline import DeadlineExceeded, run_bounded
from .durations import expires_at
from .errors import (
    AccessDenied,
    AuthenticationFailed,
    ConfigError,
    ProfileError,
    ServerUnreachable,
    SessionOfAnotherUser,
)
from .exports import export_line
from .login import Session, detach, dispose, session_for
from .model import Profile
from .sessionindex import Made, SessionIndex, digest, made_now
from .sessionstore import SessionStore, StoredSession, store_host
from .su import become

T = TypeVar("T")

@dataclass(frozen=True)
class MadeSession:
    """A session made for others to use (a stored login, a child); ``key`` is secret: never in ``repr``."""

    profile: str
    user: str
    group: str
    group_id: int | None
    host: str
    port: int
    su_by: str | None
    key: SecretStr
    time_to_idle_s: float
    time_to_live_s: float

    def __repr__(self) -> str:
        return f"{type(self).__name__}(profile={self.profile!r}, user={self.user!r}, group={self.group!r})"


@dataclass(frozen=True, repr=False)
class LoginResult(MadeSession):
    """What ``login`` did: the session, where it was stored, and the user token written, if any."""

    store: str = ""
    token: str | None = None

    def as_json(self, *, show_key: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "profile": self.profile, "user": self.user, "group": self.group, "host": self.host,
            "port": self.port, "su_by": self.su_by, "time_to_idle_s": self.time_to_idle_s,
            "time_to_live_s": self.time_to_live_s, "expires": expires_at(self.time_to_live_s),
            "store": self.store, "user_token": self.token,
        }
        if show_key:
            data["session_key"] = self.key.get_secret_value()
        return data


def login(profile: Profile, *, idle: float | None = None, ttl: float | None = None, user_token: bool = False,
          store: SessionStore | None = None, index: SessionIndex | None = None) -> LoginResult:
    """Open a session as the profile says, store it for ``omero`` and ``omero-login``, record it, and detach.

    A command's questions are short, so every call is bounded by the connect ``timeout`` (as
    ``connection.answer`` does) and a server that freezes or dies meanwhile is exit 5, not a
    wait of ``call_timeout`` or an Ice exception. If anything fails, nothing is left behind: the
    login session and a long-lived session made from it are ended, not merely detached.
    ``user_token``: also write omero-user-token's file (``$OMERO_USER_TOKEN_DIR/token``).
    """
    store = store or SessionStore()
    index = index or SessionIndex()
    if user_token and profile.transport in ("ws", "wss"):
        raise ConfigError(f"profile '{profile.name}': omero-user-token's KEY@HOST:PORT cannot name a websocket "
                          f"server ({profile.url}); the programs that read it would connect over SSL")
    # a login of its own, even for a share_session profile: `login` means it (and a server makes a
    # long-lived session only from a session opened with a password)
    conn = open_connection(profile.model_copy(update={"call_timeout": profile.timeout, "share_session": False}))
    made: list[str] = []
    stored: list[StoredSession] = []
    try:
        result = ask(conn, lambda c: _store_session(c, profile, store, idle, ttl, made, stored))
        if user_token:
            token = usertoken.write(usertoken.Token(result.key.get_secret_value(), profile.hostname, profile.port))
            result = replace(result, token=str(token))
        _record(result, profile, index, kind="login", store=store)
    except BaseException as exc:
        conn.close(hard=True)
        for key in made if not isinstance(exc, ServerUnreachable) else ():  # a frozen server: not twice
            with contextlib.suppress(ProfileError):
                _end(profile, key, user=None)
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
    host = store_host(profile)
    group = profile.group if isinstance(profile.group, str) else None  # as `omero login -g` writes it
    stored.append(store.add(host, ec.userName, key, port=profile.port, group=group, sudo=conn.su_by))
    if key == conn.c.getSessionId():
        detach(conn.c)  # the stored session must outlive this process
    return LoginResult(profile.name, ec.userName, ec.groupName, ec.groupId, host, profile.port, conn.su_by,
                       SecretStr(key), time_to_idle, time_to_live, store=str(store.dir))


def _record(result: MadeSession, profile: Profile, index: SessionIndex, *, kind: str,
            store: SessionStore | None = None) -> None:
    index.add(made_now(
        digest=digest(result.key.get_secret_value()), kind=kind, profile=profile.name, host=result.host,
        port=result.port, user=result.user, group=profile.group, group_id=result.group_id, su_by=result.su_by,
        store=str(store.dir) if store is not None else None, token=getattr(result, "token", None),
        expires=time.time() + result.time_to_live_s if result.time_to_live_s else None))


# -- child sessions (env --session) -----------------------------------------------------------------

DEFAULT_CHILD_IDLE = 3600.0
"""A child session ends after an hour without a call (a server may cap it: OMERO allows users 10x its default)."""
DEFAULT_CHILD_TTL = 86400.0
"""... and a day after it was made (a server whose sessions have no lifetime may lift this)."""


@dataclass(frozen=True, repr=False)
class ChildSession(MadeSession):
    """A session of the profile's user made to be handed to another program."""


def child_session(profile: Profile, *, idle: float = DEFAULT_CHILD_IDLE, ttl: float = DEFAULT_CHILD_TTL,
                  index: SessionIndex | None = None) -> ChildSession:
    """A new session of the profile's user, in the profile's group, that only its holder ends.

    Made with ``ISession.createUserSession``, which a real server allows only from a session
    opened with a password (its ``HasPassword`` role): from the profile's shared session after
    ``setSecurityPassword`` (one password check, no new login), else from a login of its own. For
    ``su`` profiles the administrator makes it (``createSessionWithTimeouts``), as a server refuses
    ``createUserSession`` from a session made for someone else; profiles that join a session by
    key have no password to show, and are refused with that reason. Recorded for ``logout NAME``.
    """
    from .connection import establish
    from .fetch import remembered_credentials

    bounded = profile.model_copy(update={"call_timeout": profile.timeout})
    if profile.su:
        child = _su_child(bounded, idle, ttl)
    else:
        credentials, _ = remembered_credentials(profile)
        if credentials.password is None:
            raise AccessDenied(f"profile '{profile.name}' joins a session by key ({profile.source}): an OMERO "
                               "server makes child sessions only for a session opened with a password",
                               hint="use a profile that logs in with a password (or su) for env --session")
        parent = establish(bounded)
        try:
            child = _ask(bounded, parent, lambda client: _child_from(client, profile, idle, ttl,
                                                                     credentials if parent.joined else None))
        finally:
            dispose(parent.client, kill=not parent.joined)
    _record(child, profile, index or SessionIndex(), kind="child")
    return child


def _child_from(client: Any, profile: Profile, idle: float, ttl: float,
                prove: Credentials | None) -> ChildSession:
    """``prove``: a joined session first shows the password (``setSecurityPassword``), as a login would have."""
    ms = max(1, int(profile.timeout * 1000))
    sf = client.getSession().ice_invocationTimeout(ms)
    if prove is not None and prove.password is not None:
        sf.setSecurityPassword(prove.password.get_secret_value())
    ec = sf.getAdminService().ice_invocationTimeout(ms).getEventContext()
    made = sf.getSessionService().ice_invocationTimeout(ms).createUserSession(
        int(ttl * 1000), int(idle * 1000), ec.groupName)
    return _child(profile, ec.userName, ec.groupName, ec.groupId, None, made)


def _su_child(profile: Profile, idle: float, ttl: float) -> ChildSession:
    from .connection import establish_with

    def make(credentials: Credentials) -> Session:
        return become(profile, credentials, time_to_idle_ms=int(idle * 1000), time_to_live_ms=int(ttl * 1000))

    session = establish_with(profile, make)
    try:
        def describe(client: Any) -> ChildSession:
            ms = max(1, int(profile.timeout * 1000))
            sf = client.getSession().ice_invocationTimeout(ms)
            ec = sf.getAdminService().ice_invocationTimeout(ms).getEventContext()
            record = sf.getSessionService().ice_invocationTimeout(ms).getSession(client.getSessionId())
            detach(client)  # the child must outlive this process
            return _child(profile, ec.userName, ec.groupName, ec.groupId, session.su_by, record)

        child = _ask(profile, session, describe)
    except BaseException:
        dispose(session.client, kill=True)
        raise
    dispose(session.client, kill=False)
    return child


def end_child(profile: Profile, child: ChildSession, index: SessionIndex | None = None) -> None:
    """End a child that could not be handed over, and forget it."""
    with contextlib.suppress(ProfileError):
        _end(profile, child.key.get_secret_value(), user=child.user)
    (index or SessionIndex()).forget([digest(child.key.get_secret_value())])


def child_exports(profile: Profile, *, idle: float | None = None, ttl: float | None = None,
                  shell: str | None = None) -> tuple[ChildSession, list[str]]:
    """A child session (``child_session``; default limits when None) and the lines that export it for
    ``shell`` (``OMERO_SESSION_KEY``, and ``OMERO_USER``/``OMERO_PASS`` for ezomero, which takes a key there).

    Every line is made before any is printed: if a value cannot be quoted for the shell, the child is
    ended and forgotten, so a refused ``env --session`` leaves no session behind."""
    child = child_session(profile, idle=DEFAULT_CHILD_IDLE if idle is None else idle,
                          ttl=DEFAULT_CHILD_TTL if ttl is None else ttl)
    key = child.key.get_secret_value()
    exports = dict(OMERO_HOST=profile.client_host, OMERO_PORT=str(child.port), OMERO_SESSION_KEY=key,
                   OMERO_USER=key, OMERO_PASS=key, OMERO_SECURE=str(profile.secure),
                   OMERO_GROUP="" if profile.group in (None, -1) else child.group)
    try:
        return child, [export_line(variable, value, shell) for variable, value in exports.items()]
    except BaseException:
        end_child(profile, child)
        raise


def _child(profile: Profile, user: str, group: str, group_id: int, su_by: str | None, record: Any) -> ChildSession:
    return ChildSession(profile.name, user, group, group_id, store_host(profile), profile.port, su_by,
                        SecretStr(record.getUuid().val), (record.getTimeToIdle().val or 0) / 1000,
                        (record.getTimeToLive().val or 0) / 1000)


def _ask(profile: Profile, session: Session, question: Callable[[Any], T]) -> T:
    """``question(client)`` on an open session, its failures classified (never an Ice exception, never a key)."""
    try:
        return question(session.client)
    except Exception as exc:
        mapped = classify_call(exc, profile, user=session.user, timeout=profile.timeout)
        if mapped is None:
            raise
        raise mapped from None


# -- logout -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ended:
    """One session ``logout`` dealt with."""

    kind: str
    """``login``, ``shared``, ``child``, or ``stored`` (in the store, not made by us: ``omero login``...)."""
    made_by: str
    outcome: str
    """``ended``; ``gone`` (the server had ended it: expired, or closed by its holder); ``foreign`` (its
    key named another user's session: left alone, and the file that named it removed)."""

    @property
    def ended(self) -> bool:
        return self.outcome == "ended"

    def describe(self) -> str:
        said = {"ended": "ended", "gone": "had already ended",
                "foreign": "named another user's session: left alone, its file removed"}[self.outcome]
        return f"{self.kind} session ({self.made_by}): {said}"

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "made_by": self.made_by, "ended": self.ended, "outcome": self.outcome}


def logout_user(profile: Profile) -> str | None:
    """Whose sessions ``logout --all`` ends: the su target, else the profile's user (asking its source if
    the file does not say), else whose session the source would join; None if it has none to join."""
    from .fetch import remembered_credentials
    from .shared import known_user

    known = known_user(profile)
    if known:
        return known
    try:
        credentials, _ = remembered_credentials(profile)
    except AuthenticationFailed:  # e.g. omero-login with nothing stored: nothing to end either
        return None
    return credentials.username or credentials.expected_user


def logout(profile: Profile, *, everything: bool = False, store: SessionStore | None = None,
           index: SessionIndex | None = None) -> list[Ended]:
    """End the sessions this profile made (``everything``: every stored session of its user on that server).

    Children first (they are found through a session of the same user), then the stored ones,
    each joined by its key, checked to be the expected user's, and closed for everyone; files and
    index entries go with them, and a user token that held one. A session the server no longer
    knows is simply forgotten. If the server cannot be reached nothing is forgotten (the
    sessions may still be alive) and the failure is raised. Never touches another user's session.
    """
    store = store or SessionStore()
    index = index or SessionIndex()
    host = store_host(profile)
    if everything:
        user = logout_user(profile)
        if user is None:
            return []
        recorded = {m.digest: m for m in index.entries()
                    if m.host == host and m.port == profile.port and m.user == user}
        stored = [(s, recorded.get(digest(s.key))) for s in store.sessions(host, user, profile.port)]
        children = [m for m in recorded.values() if m.kind == "child"]
    else:
        mine = index.of_profile(profile.name, host, profile.port)
        by_digest = {m.digest: m for m in mine if m.kind != "child"}
        stored = []
        for user in sorted({m.user for m in by_digest.values()}):
            stored += [(s, by_digest[d]) for s in store.sessions(host, user, profile.port)
                       if (d := digest(s.key)) in by_digest]
        found = {m.digest for _, m in stored if m is not None}
        index.forget(d for d in by_digest if d not in found)  # removed from the store by someone else
        children = [m for m in mine if m.kind == "child"]
    report = _end_children(profile, children, stored, index) if children else []
    for session, made in stored:
        user = made.user if made is not None else session.user
        report.append(Ended(made.kind if made else "stored", made.describe() if made else _foreign(session),
                            _end(profile, session.key, user=user)))
        store.remove(session)
        if made is not None:
            if made.token:
                usertoken.remove_if_holds(session.key, Path(made.token))
            index.forget([made.digest])
    return report


def _foreign(session: StoredSession) -> str:
    return "not made by omero-profiles (omero login, or an older omero-profiles)"


def _end_children(profile: Profile, children: list[Made], stored: list[tuple[StoredSession, Made | None]],
                  index: SessionIndex) -> list[Ended]:
    """End recorded children: list the user's open sessions from one of theirs, end those whose digest is recorded."""
    from .connection import establish_new

    wanted = {m.digest: m for m in children}
    opener = None
    for session, made in stored:  # a stored session of the same user and kind: no password needed
        if made is not None and made.su_by is None and not profile.su:
            with contextlib.suppress(AuthenticationFailed):
                opener = _join_key(profile, session.key, made.user)
                break
    if opener is None:
        opener = establish_new(profile.model_copy(update={"share_session": False, "call_timeout": profile.timeout}))
    try:
        open_now = _ask(profile, opener, lambda client: _open_session_keys(client, profile.timeout))
    finally:
        dispose(opener.client, kill=not opener.joined)
    report = []
    for key in open_now:
        made = wanted.pop(digest(key), None)
        if made is not None:
            report.append(Ended("child", made.describe(), _end(profile, key, user=made.user)))
            index.forget([made.digest])
    for made in wanted.values():  # expired, or ended by the program that held it
        report.append(Ended("child", made.describe(), "gone"))
        index.forget([made.digest])
    return report


def _open_session_keys(client: Any, seconds: float) -> list[str]:
    ms = max(1, int(seconds * 1000))
    service = client.getSession().ice_invocationTimeout(ms).getSessionService().ice_invocationTimeout(ms)
    return [s.getUuid().val for s in service.getMyOpenSessions() if s.getUuid() is not None]


def _join_key(profile: Profile, key: str, user: str | None) -> Session:
    credentials = Credentials(session_key=key, expected_user=user)
    try:
        return run_bounded(profile.timeout, lambda: session_for(profile, credentials, group=None),
                           lambda late: dispose(late.client, kill=False))
    except DeadlineExceeded:
        raise no_answer(profile, user=None, timeout=profile.timeout) from None


def _end(profile: Profile, key: str, *, user: str | None) -> str:
    """Join the session by key (checked to be ``user``'s) and close it for everyone; an ``Ended.outcome``."""
    try:
        session = _join_key(profile, key, user)
    except SessionOfAnotherUser:
        return "foreign"  # never end someone else's session; the caller forgets the file that named it
    except AuthenticationFailed:
        return "gone"  # closed or expired already
    dispose(session.client, kill=True)
    return "ended"
