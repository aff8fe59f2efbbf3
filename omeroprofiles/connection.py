"""Profile -> connected, correctly grouped BlitzGateway (``ProfileGateway``): the orchestration.

Fetch the credentials (outside the clock: a person may be typing), then open the session the
profile describes (login, join or su) within ``profile.timeout``, then wrap it in a gateway.
"""

from __future__ import annotations

import time
from typing import Any

from .classify import no_answer
from .credentials.base import Credentials
from .deadline import DeadlineExceeded, run_bounded
from .fetch import fetch_credentials, with_credentials
from .gateway import ProfileGateway
from .login import Session, dispose, session_for
from .model import Profile
from .shared import establish_shared
from .su import become

__all__ = ["establish", "establish_new", "fetch_credentials", "open_connection"]


def open_connection(profile: Profile, *, reconnect: bool = False) -> Any:
    """Connect as the profile says; returns a ``ProfileGateway``. Raises a ProfileError subclass."""
    started = time.monotonic()
    session = establish(profile)
    elapsed_ms = (time.monotonic() - started) * 1000
    try:
        return ProfileGateway(session, profile=profile, elapsed_ms=elapsed_ms,
                              reopen=(lambda: establish(profile)) if reconnect else None)
    except BaseException:
        dispose(session.client, kill=not session.joined)
        raise


def establish(profile: Profile) -> Session:
    """The session the profile describes: its shared session (``share_session``), or a new one."""
    if profile.share_session:
        return establish_shared(profile, open_new=establish_new)
    return establish_new(profile)


def establish_new(profile: Profile) -> Session:
    """Fetch credentials, then open the session the profile describes (login, join or su).

    Credentials come first, outside the clock (a person may be typing a password), and at most
    once per process (``fetch``); the network part is bounded by ``profile.timeout`` as a whole.
    """
    def attempt(credentials: Credentials) -> Session:
        def open_session() -> Session:
            if profile.su:
                return become(profile, credentials)
            return session_for(profile, credentials, group=profile.group)

        try:
            return run_bounded(profile.timeout, open_session, discard)
        except DeadlineExceeded:
            raise no_answer(profile, user=credentials.username, timeout=profile.timeout) from None

    def discard(late: Session) -> None:
        dispose(late.client, kill=not late.joined)

    return with_credentials(profile, attempt)


