"""``share_session = true``: many processes, one login per share key.

The share key is (host, port, user, group, su): profiles that differ in any of these never
share a session, so a session is always made in the group its profile asks for, as a private
login is, and calls that pass no context (omero-py services used directly, most libraries) run in
that group. The session lives in the OMERO CLI's session store (where ``omero-profile login`` and
``omero login`` write); ``sessionindex`` records which stored sessions were made for which share
key. A process first tries to join the newest live session made for its key, without any lock
(so hundreds of processes join in parallel); only when none is alive does it take a lock per
share key, look again (another process may just have logged in), and if there is still none,
log in once, store the session (0600) and join it. A session that has ended is removed from the
store under the lock, so the next login replaces it; one whose user is not the expected one
(a planted file) is removed at once and never used; one moved to another group is passed over.
Closing only detaches; ``omero-profile logout NAME`` ends it for everyone. The store, the index
and the lock (both in the state directory) must be on a filesystem every process sees, as
``$HOME`` is on most clusters.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from .classify import classify_call, no_answer, where
from .credentials.base import Credentials
from .deadline import DeadlineExceeded, run_bounded
from .errors import AuthenticationFailed, ConfigError, ServerUnreachable, SessionOfAnotherUser
from .fetch import remembered_credentials
from .filesystem import reason
from .locations import user_state_dir
from .login import GroupMoved, Session, detach, dispose, event_context_within, session_for
from .model import Profile
from .sessionindex import Made, SessionIndex, ShareKey, digest, made_now
from .sessionstore import SessionStore, StoredSession, store_host
from .writing import ensure_directory

log = logging.getLogger(__name__)

MIN_AFTER_WAIT = 1.0
"""Seconds a process that waited for the lock still gets to join or log in: a shared wait plus this
bounds the whole, not twice the profile timeout."""

Open = Callable[[Profile], Session]
"""Opens a fresh session for a profile (login or su, bounded): the connect layer's own path."""


def known_user(profile: Profile) -> str | None:
    """Whose sessions the profile makes, if known without fetching a secret: the su target, else the login name."""
    if profile.su:
        return profile.su
    registry = profile.registry
    info = registry.sources.get(profile.source) if registry is not None else None
    return info.cls().known_username(profile.credentials) if info is not None else None


def shared_user(profile: Profile) -> str | None:
    """Whose session is shared: ``known_user``, else the login name its source gives (e.g. a prompt)."""
    return known_user(profile) or remembered_credentials(profile)[0].username


def share_key(profile: Profile, user: str) -> ShareKey:
    return ShareKey(store_host(profile), profile.port, user, profile.group, profile.su is not None)


def establish_shared(profile: Profile, open_new: Open) -> Session:
    """Join the profile's shared session, or log in once (under a lock) and store it for the others."""
    user = shared_user(profile)
    if user is None:  # the source hands out a session key itself: nothing to share through the store
        return open_new(profile)
    key = share_key(profile, user)
    store, index = SessionStore(), SessionIndex()
    joined = _join_stored(profile, _candidates(store, index, key), store, index, tidy=False)
    if joined is not None:
        return joined
    started = time.monotonic()
    with _lock(profile, key):
        # One deadline for the wait and what follows: after waiting most of it for another process's
        # login, a join needs little; a login of our own gets what is left (at least a second).
        left = max(MIN_AFTER_WAIT, profile.timeout - (time.monotonic() - started))
        bounded = profile.model_copy(update={"timeout": min(profile.timeout, left)})
        joined = _join_stored(bounded, _candidates(store, index, key), store, index, tidy=True)
        if joined is not None:
            return joined
        return _login_and_store(bounded, store, index, key, open_new)


def _candidates(store: SessionStore, index: SessionIndex, key: ShareKey) -> list[tuple[StoredSession, Made]]:
    """Stored sessions made for this share key, newest first."""
    made = index.sharing(key)
    if not made:
        return []
    found = []
    for stored in store.sessions(key.host, key.user, key.port):
        entry = made.get(digest(stored.key))
        if entry is not None:
            found.append((stored, entry))
    return found


def _join(profile: Profile, stored: StoredSession, made: Made) -> Session:
    credentials = Credentials(session_key=stored.key, expected_user=made.user)

    def join() -> Session:
        # -1 stays per call; any other group is the session's own (it was made in it, and is checked to be)
        return session_for(profile, credentials, group=-1 if profile.group == -1 else None,
                           made_in_group=made.group_id)

    try:
        session = run_bounded(profile.timeout, join, lambda late: dispose(late.client, kill=False))
    except DeadlineExceeded:
        raise no_answer(profile, user=None, timeout=profile.timeout) from None
    session.su_by = made.su_by
    session.user = made.user
    session.shared = True
    return session


def _join_stored(profile: Profile, candidates: list[tuple[StoredSession, Made]], store: SessionStore,
                 index: SessionIndex, *, tidy: bool) -> Session | None:
    """Join the newest live one. A foreign one is removed at once; with ``tidy``, ended ones too."""
    for stored, made in candidates:
        try:
            return _join(profile, stored, made)
        except SessionOfAnotherUser as exc:
            log.warning("%s: removed a stored session that belongs to '%s', not '%s'", where(profile),
                        exc.found, exc.expected)
            store.remove(stored)
            index.forget([made.digest])
        except GroupMoved:
            log.debug("%s: a shared session was moved to another group; not joined", where(profile))
        except AuthenticationFailed:
            if tidy:
                store.remove(stored)
                index.forget([made.digest])
    return None


def _login_and_store(profile: Profile, store: SessionStore, index: SessionIndex, key: ShareKey,
                     open_new: Open) -> Session:
    """Log in once, in the profile's group, store the session and record it, then join it like the others."""
    created = open_new(profile.model_copy(update={"share_session": False}))
    try:
        session_key = created.client.getSessionId()
        ec = event_context_within(created.client, profile.timeout)
        detach(created.client)  # it must outlive this process: it is everyone's now
        stored = store.add(key.host, ec.userName, session_key, port=key.port,
                           group=profile.group if isinstance(profile.group, str) else None, sudo=created.su_by)
        made = made_now(digest=digest(session_key), kind="shared", profile=profile.name, host=key.host,
                        port=key.port, user=ec.userName, group=profile.group, group_id=ec.groupId,
                        su_by=created.su_by, store=str(store.dir))
        index.add(made)
    except Exception as exc:  # not stored, so nobody could ever use it: end it (bounded), and say why
        dispose(created.client, kill=True)
        with contextlib.suppress(Exception):
            store.remove_key(key.host, key.user, session_key)
        mapped = classify_call(exc, profile, user=key.user, timeout=profile.timeout)
        if mapped is None:
            raise
        raise mapped from None  # an Ice exception's text can quote the session key
    dispose(created.client, kill=False)  # the session stays, for everyone; this client only detaches
    return _join(profile, stored, made)


def lock_path(key: ShareKey) -> Path:
    """The lock file of one share key, in our state directory."""
    text = "\0".join(map(str, (key.host, key.port, key.user, type(key.group).__name__, key.group, key.su)))
    return user_state_dir() / "locks" / f"share-{hashlib.sha256(text.encode()).hexdigest()[:24]}.lock"


@contextlib.contextmanager
def _lock(profile: Profile, key: ShareKey) -> Iterator[None]:
    """A lock per share key; waiting is bounded by the timeout."""
    path = lock_path(key)
    ensure_directory(path.parent, purpose="the shared-session locks", mode=0o700)  # an odd path: exit 2, named
    lock = FileLock(str(path), timeout=profile.timeout)
    try:
        lock.acquire()
    except Timeout:
        raise ServerUnreachable(f"{where(profile)}: another process has been logging in for the shared session "
                                f"for more than {profile.timeout:g} s (profile timeout)") from None
    except OSError as exc:  # a directory, an unwritable file or a full disk where the lock goes
        raise ConfigError(f"{path}: cannot take the lock for the shared session of profile '{profile.name}': "
                          f"{reason(exc)}", hint=f"remove it: rm -r '{path}'") from None
    try:
        yield
    finally:
        lock.release()
