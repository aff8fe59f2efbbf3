"""Profile -> connected, correctly grouped BlitzGateway (``ProfileGateway``): the orchestration.

Fetch the credentials (outside the clock: a person may be typing), then open the session the
profile describes (login, join or su) within ``profile.timeout``, then wrap it in a gateway.
``ask`` puts a question to an open connection with the server's failures classified.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from .classify import classify_call, no_answer
from .credentials.base import Credentials
from .deadline import DeadlineExceeded, run_bounded
from .errors import SessionOfAnotherUser
from .fetch import credential_seconds, fetch_credentials, with_credentials
from .gateway import ProfileGateway
from .login import Session, dispose, session_for
from .model import Profile
from .sessionstore import SessionStore, store_host
from .shared import establish_shared
from .su import become

__all__ = ["answer", "ask", "establish", "establish_new", "establish_with", "fetch_credentials", "open_connection"]
A = TypeVar("A")


def open_connection(profile: Profile, *, reconnect: bool = False) -> ProfileGateway:
    """Connect as the profile says. Raises a ProfileError subclass.

    Times the connect without the credential fetch (``connect_elapsed_ms``) and the fetch apart
    (``credentials_elapsed_ms``): a password typed at a prompt is not the server's time."""
    started, fetching = time.monotonic(), credential_seconds()
    session = establish(profile)
    credentials_ms = (credential_seconds() - fetching) * 1000
    elapsed_ms = (time.monotonic() - started) * 1000 - credentials_ms
    try:
        return ProfileGateway(session, profile=profile, elapsed_ms=elapsed_ms, credentials_ms=credentials_ms,
                              reopen=(lambda: establish(profile)) if reconnect else None,
                              private=lambda group_id: establish_new(
                                  profile.model_copy(update={"group": group_id, "share_session": False})))
    except BaseException as exc:
        dispose(session.client, kill=not session.joined)
        mapped = classify_call(exc, profile, user=session.user, timeout=profile.call_timeout) \
            if isinstance(exc, Exception) else None
        if mapped is None:
            raise
        raise mapped from None


def establish(profile: Profile) -> Session:
    """The session the profile describes: its shared session (``share_session``), or a new one."""
    if profile.share_session:
        return establish_shared(profile, open_new=establish_new)
    return establish_new(profile)


def establish_new(profile: Profile) -> Session:
    """Fetch credentials, then open the session the profile describes (login, join or su)."""
    def open_session(credentials: Credentials) -> Session:
        if profile.su:
            return become(profile, credentials)
        return session_for(profile, credentials, group=profile.group)

    return establish_with(profile, open_session)


def establish_with(profile: Profile, open_session: Callable[[Credentials], Session]) -> Session:
    """Fetch credentials, then ``open_session(credentials)`` within the profile ``timeout``.

    Credentials come first, outside the clock (a person may be typing a password), and at most
    once per process (``fetch``); the network part is bounded by ``profile.timeout`` as a whole.
    """
    def attempt(credentials: Credentials) -> Session:
        try:
            return run_bounded(profile.timeout, lambda: open_session(credentials), discard)
        except DeadlineExceeded:
            raise no_answer(profile, user=credentials.username, timeout=profile.timeout) from None
        except SessionOfAnotherUser as exc:
            if credentials.session_key is not None and \
                    SessionStore().remove_key(store_host(profile), exc.expected,
                                              credentials.session_key.get_secret_value()):
                exc.hint = "the stored session file that named it was removed; check who can write to the store"
            raise

    def discard(late: Session) -> None:
        dispose(late.client, kill=not late.joined)

    return with_credentials(profile, attempt)


def answer(profile: Profile, question: Callable[[ProfileGateway], A]) -> A:
    """Connect, ``ask``, close: what a command does. Its questions are short, so every call is
    bounded by the connect ``timeout`` rather than the (longer) ``call_timeout`` scripts get."""
    conn = open_connection(profile.model_copy(update={"call_timeout": profile.timeout}))
    try:
        return ask(conn, question)
    finally:
        conn.close()


def ask(conn: ProfileGateway, question: Callable[[ProfileGateway], A]) -> A:
    """``question(conn)``; a server that stops answering or dies meanwhile is a ProfileError.

    Each call is bounded by the profile's ``call_timeout`` (the client's invocation timeout); what it
    raises when the server is gone (an Ice timeout, a lost or refused connection) becomes
    ServerUnreachable (exit 5) instead of escaping as an Ice exception. Not chained: an Ice
    exception's text can quote the session key.
    """
    try:
        return question(conn)
    except Exception as exc:
        mapped = classify_call(exc, conn.profile, user=conn.login_user, timeout=conn.profile.call_timeout)
        if mapped is None:
            raise
        raise mapped from None

