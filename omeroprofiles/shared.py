"""``share_session = true``: many processes, one login.

The session lives in the OMERO CLI's session store (the one ``omero-profile login`` and
``omero login`` write), keyed by host, user and port. A process first tries to join the newest
stored session without any lock (so hundreds of processes join in parallel); only when none is
alive does it take a per-profile file lock, look again (another process may just have logged
in), and if there is still none, log in once, store the session (0600) and join it. A session
that has ended is removed from the store under the lock, so the next login replaces it.

The shared session is created without a login group, and every process applies its profile's
group per call (SERVICE_OPTS), so profiles that share a login but not a group cannot disturb
each other. Closing only detaches; ``omero-profile logout NAME`` ends it for everyone.
The store (and the lock, in the state directory) must be on a filesystem every process sees,
as ``$HOME`` is on most clusters.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Iterator

from filelock import FileLock, Timeout

from .classify import classify_call, no_answer, where
from .credentials.base import Credentials
from .credentials.omero_login import store_host
from .deadline import DeadlineExceeded, run_bounded
from .errors import AuthenticationFailed, ConfigError, ServerUnreachable
from .fetch import remembered_credentials
from .filesystem import reason
from .locations import user_state_dir
from .login import Session, detach, dispose, session_for
from .model import Profile
from .sessionstore import SessionStore, StoredSession
from .writing import ensure_directory

MIN_AFTER_WAIT = 1.0
"""Seconds a process that waited for the lock still gets to join or log in: a shared wait plus this
bounds the whole, not twice the profile timeout."""

Open = Callable[[Profile], Session]
"""Opens a fresh session for a profile (login or su, bounded): the connect layer's own path."""


def shared_user(profile: Profile) -> str | None:
    """Whose session is shared: the su target, else the login name, known without a secret if possible."""
    if profile.su:
        return profile.su
    registry = profile.registry
    info = registry.sources.get(profile.source) if registry is not None else None
    if info is not None:
        known = info.cls().known_username(profile.credentials)
        if known:
            return known
    credentials, _ = remembered_credentials(profile)  # e.g. a prompt without a username
    return credentials.username


def establish_shared(profile: Profile, open_new: Open) -> Session:
    """Join the profile's shared session, or log in once (under a lock) and store it for the others."""
    user = shared_user(profile)
    if user is None:  # the source hands out a session key itself: nothing to share through the store
        return open_new(profile)
    store = SessionStore()
    host = store_host(profile)
    joined = _join_stored(profile, store.sessions(host, user, profile.port), store=None)
    if joined is not None:
        return joined
    started = time.monotonic()
    with _lock(profile, host, user):
        # One deadline for the wait and what follows: after waiting most of it for another process's
        # login, a join needs little; a login of our own gets what is left (at least a second).
        left = max(MIN_AFTER_WAIT, profile.timeout - (time.monotonic() - started))
        bounded = profile.model_copy(update={"timeout": min(profile.timeout, left)})
        joined = _join_stored(bounded, store.sessions(host, user, profile.port), store=store)
        if joined is not None:
            return joined
        return _login_and_store(bounded, store, host, user, open_new)


def _join(profile: Profile, key: str, su_by: str | None) -> Session:
    credentials = Credentials(session_key=key)

    def join() -> Session:
        return session_for(profile, credentials, group=profile.group)

    try:
        session = run_bounded(profile.timeout, join, lambda late: dispose(late.client, kill=False))
    except DeadlineExceeded:
        raise no_answer(profile, user=None, timeout=profile.timeout) from None
    session.su_by = su_by
    return session


def _join_stored(profile: Profile, stored: list[StoredSession], store: SessionStore | None) -> Session | None:
    """Join the newest live one; with ``store``, remove the ones that have ended."""
    for candidate in stored:
        try:
            return _join(profile, candidate.key, candidate.props.get("omero.sudo"))
        except AuthenticationFailed:
            if store is not None:
                store.remove(candidate)
    return None


def _login_and_store(profile: Profile, store: SessionStore, host: str, user: str, open_new: Open) -> Session:
    """Log in once (no login group: groups are per call), store the session, then join it like the others."""
    created = open_new(profile.model_copy(update={"group": None, "share_session": False}))
    try:
        key = created.client.getSessionId()
        detach(created.client)  # it must outlive this process: it is everyone's now
        store.add(host, user, key, port=profile.port, sudo=created.su_by)
    except Exception as exc:  # not stored, so nobody could ever use it: end it (bounded), and say why
        dispose(created.client, kill=True)
        mapped = classify_call(exc, profile, user=user, timeout=profile.timeout)
        if mapped is None:
            raise
        raise mapped from None  # an Ice exception's text can quote the session key
    dispose(created.client, kill=False)  # the session stays, for everyone; this client only detaches
    return _join(profile, key, created.su_by)


@contextlib.contextmanager
def _lock(profile: Profile, host: str, user: str) -> Iterator[None]:
    """A lock per shared session (host, port, user) in our state directory; waiting is bounded by the timeout."""
    locks = user_state_dir() / "locks"
    ensure_directory(locks, purpose="the shared-session locks", mode=0o700)  # an odd path: exit 2, named
    digest = hashlib.sha256(f"{host}\0{profile.port}\0{user}".encode()).hexdigest()[:24]
    path = locks / f"share-{digest}.lock"
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
