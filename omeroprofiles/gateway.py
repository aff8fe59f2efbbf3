"""``ProfileGateway``: the BlitzGateway that ``get_conn`` returns.

It is a real ``omero.gateway.BlitzGateway`` (isinstance holds; every gateway method works) that
also remembers the profile it came from, closes the way its session needs (sessions we joined
are detached, not killed) and can re-open its session after expiry (``reconnect``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from omero.gateway import BlitzGateway

from .connect import Session
from .model import Profile

log = logging.getLogger(__name__)


class ProfileGateway(BlitzGateway):
    """A connected gateway opened from a profile."""

    def __init__(self, session: Session, *, profile: Profile, elapsed_ms: float,
                 reopen: Callable[[], Session] | None = None) -> None:
        super().__init__(client_obj=session.client)
        self.profile = profile
        self.su = profile.su
        self._take(session)
        self.connect_elapsed_ms = elapsed_ms
        self._reopen = reopen
        self.reconnects = 0
        self._apply_call_group()

    def __repr__(self) -> str:
        state = "connected" if self._connected else "closed"
        return f"<ProfileGateway profile={self.profile.name!r} host={self.profile.display_address()!r} {state}>"

    def _take(self, session: Session) -> None:
        self.joined = session.joined
        """True when we joined an existing session (session key): close() then only detaches."""
        self.call_group = session.call_group
        """Group id applied per call (SERVICE_OPTS): -1 for all groups, or the group of a joined session."""
        self.su_by = session.su_by

    def _apply_call_group(self) -> None:
        if self.call_group is not None:
            self.SERVICE_OPTS.setOmeroGroup(str(self.call_group))

    def close(self, hard: bool | None = None) -> None:
        """End the session: killed if we created it, detached if we joined someone's session."""
        if hard is None:
            hard = not self.joined
        try:
            if self.c is not None:
                self.c.stopKeepAlive()
        except Exception:  # noqa: BLE001 - closing must not fail on a dead connection
            log.debug("stopKeepAlive failed", exc_info=True)
        super().close(hard=hard)

    # -- re-opening after session expiry ------------------------------------------------------
    @property
    def can_reconnect(self) -> bool:
        return self._reopen is not None

    def reconnect(self) -> None:
        """Open a fresh session from the profile (credentials fetched again) and switch to it."""
        if self._reopen is None:
            raise RuntimeError("this connection was opened without reconnect=True")
        session = self._reopen()
        old = self.c
        self.c = session.client
        self._take(session)
        self._sessionUuid = session.client.getSessionId()
        self._session = None
        self._ctx = None
        self._user = None
        self._userid = None
        self._connected = True
        self._createProxies()
        self.SERVICE_OPTS = self.createServiceOptsDict()
        self._apply_call_group()
        self.reconnects += 1
        if old is not None:
            try:
                old.__del__()
            except Exception:  # noqa: BLE001 - the old session is gone already
                log.debug("disposing the expired client failed", exc_info=True)

    def connect(self, sUuid: str | None = None) -> bool:  # noqa: N803 - BlitzGateway's signature
        """Called by omero-py's service wrappers when the session is lost: re-open if allowed."""
        if self._reopen is None:
            return super().connect(sUuid=sUuid)
        log.info("session of profile '%s' lost; reconnecting", self.profile.name)
        self.reconnect()
        return True

    def ensure_alive(self) -> bool:
        """Keep the session alive; if it has expired, re-open it (needs reconnect=True).

        Returns True if the session was alive, False if it was re-opened.
        """
        try:
            if self.c is not None and self.c.sf is not None:
                self.c.sf.keepAlive(None)
                self.getEventContext() if self._ctx is None else None
                return True
        except Exception:  # noqa: BLE001 - any failure here means "not alive"
            log.debug("keep-alive failed", exc_info=True)
        self.reconnect()
        return False
