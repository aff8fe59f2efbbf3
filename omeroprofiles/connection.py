"""Profile -> connected, correctly grouped BlitzGateway (``ProfileGateway``): the orchestration.

Fetch the credentials (outside the clock: a person may be typing), then open the session the
profile describes (login, join or su) within ``profile.timeout``, then wrap it in a gateway.
``ask`` puts a question to an open connection with the server's failures classified.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from .classify import classify_call, no_answer
from .credentials.base import Credentials
from .deadline import DeadlineExceeded, run_bounded
from .errors import CredentialError, ProfileError
from .gateway import ProfileGateway
from .login import Session, dispose, session_for
from .model import Profile
from .plugins import get_registry
from .resolve import UnavailableSource
from .su import become

PROG = "omero-profile"
A = TypeVar("A")


def fetch_credentials(profile: Profile) -> Credentials:
    """Ask the profile's credential source; every failure becomes CredentialError (exit 4).

    The source comes from the registry that validated the profile, not from whatever registry
    is global now. A plugin's own exception is reported by type only and not chained: its text
    (and so a traceback shown with --debug) could hold a secret.
    """
    registry = profile.registry or get_registry()
    source = registry.source(profile.source)
    if source is None or isinstance(profile.credentials, UnavailableSource):
        reason = getattr(profile.credentials, "reason", "") or registry.unavailable_reason(profile.source)
        raise CredentialError(f"profile '{profile.name}': credential source '{profile.source}' is not available"
                              + (f" ({reason})" if reason else ""),
                              hint=f"run '{PROG} plugins' to see which plugins loaded and why not")
    try:
        credentials = source.fetch(profile, profile.credentials)
    except ProfileError:
        raise
    except Exception as exc:  # a plugin's own failure: name it, without its text (could hold secrets)
        raise CredentialError(f"profile '{profile.name}': credential source '{profile.source}' failed "
                              f"({type(exc).__name__})") from None
    if not isinstance(credentials, Credentials):
        raise CredentialError(f"profile '{profile.name}': credential source '{profile.source}' returned "
                              f"{type(credentials).__name__}, not Credentials")
    return credentials


def open_connection(profile: Profile, *, reconnect: bool = False) -> Any:
    """Connect as the profile says; returns a ``ProfileGateway``. Raises a ProfileError subclass."""
    started = time.monotonic()
    session = establish(profile)
    elapsed_ms = (time.monotonic() - started) * 1000
    try:
        return ProfileGateway(session, profile=profile, elapsed_ms=elapsed_ms,
                              reopen=(lambda: establish(profile)) if reconnect else None)
    except BaseException as exc:
        dispose(session.client, kill=not session.joined)
        mapped = classify_call(exc, profile, user=session.user, timeout=profile.timeout) \
            if isinstance(exc, Exception) else None
        if mapped is None:
            raise
        raise mapped from None


def establish(profile: Profile) -> Session:
    """Fetch credentials, then open the session the profile describes (login, join or su).

    Credentials come first, outside the clock (a person may be typing a password); the network
    part is bounded by ``profile.timeout`` as a whole.
    """
    credentials = fetch_credentials(profile)

    def open_session() -> Session:
        if profile.su:
            return become(profile, credentials)
        return session_for(profile, credentials, group=profile.group)

    def discard(late: Session) -> None:
        dispose(late.client, kill=not late.joined)

    try:
        return run_bounded(profile.timeout, open_session, discard)
    except DeadlineExceeded:
        raise no_answer(profile, user=credentials.username, timeout=profile.timeout) from None


def ask(conn: Any, question: Callable[[Any], A]) -> A:
    """``question(conn)``; a server that stops answering or dies meanwhile is a ProfileError.

    Each call is bounded by the profile timeout (the client's invocation timeout); what it
    raises when the server is gone (an Ice timeout, a lost or refused connection) becomes
    ServerUnreachable (exit 5) instead of escaping as an Ice exception. Not chained: an Ice
    exception's text can quote the session key.
    """
    try:
        return question(conn)
    except Exception as exc:
        mapped = classify_call(exc, conn.profile, user=conn.login_user, timeout=conn.profile.timeout)
        if mapped is None:
            raise
        raise mapped from None

