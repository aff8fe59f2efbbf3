"""``ProfileGateway``: the BlitzGateway that ``get_conn`` returns.

It is a real ``omero.gateway.BlitzGateway`` (isinstance holds; every gateway method works) that
also remembers the profile it came from, closes the way its session needs (sessions we joined
are detached, not killed) and can re-open its session after expiry (``reconnect``).
Closing is bounded: BlitzGateway's ``close()`` would wait for a frozen server as long as any
call; ours ends the session with ``login.dispose`` (about a second at most).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import Ice
import omero
import omero.api
import omero.gateway
from omero.gateway import BlitzGateway, NoProxies, ProxyObjectWrapper

from .login import Session, dispose
from .model import Profile

log = logging.getLogger(__name__)

SESSION_GONE = (omero.SessionTimeoutException, omero.RemovedSessionException, Ice.ObjectNotExistException)
"""The server refused a call because its session is gone: the call did not run, so it may be repeated."""

SESSION_LOST = (*SESSION_GONE, Ice.ConnectionLostException)
"""What a liveness probe takes as "re-open the session". A user's call that lost its connection
is not repeated: the request may have run before its reply was lost (Ice itself retries the
operations declared idempotent)."""


class _ReconnectingProxy(ProxyObjectWrapper):
    """A service wrapper that, when the session is gone, re-opens it once and repeats the call once.

    omero-py's call wrapper (``SafeCallWrapper``) logs every failed call as a WARNING with its
    traceback before re-raising it. A session we re-open is not a failure, so with omero-py's own
    wrapper the first attempt goes to the service directly and any other failure goes through
    the wrapper's logging and handler, exactly as without us: a pipeline whose shared session
    expires overnight does not fill its logs with tracebacks of calls that then succeeded. A
    custom ``omero.gateway.SafeCallWrapper`` (omero-py's extension point) sees every call, as
    without us. The repeat goes through omero-py's plain path: a second failure is final.
    """

    def __getattr__(self, attr: str) -> Any:
        try:
            value = super().__getattr__(attr)  # may create the service: a call of its own
        except SESSION_GONE as exc:
            log.debug("%s creating the service for %s: re-opening the session", type(exc).__name__, attr)
            self._conn.reconnect()
            return self._plain(attr)
        if not callable(value):
            return value
        default = type(value) is omero.gateway.OmeroGatewaySafeCallWrapper

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return value.f(*args, **kwargs) if default else value(*args, **kwargs)
            except SESSION_GONE as exc:
                log.debug("%s on %s: re-opening the session", type(exc).__name__, attr)
                self._conn.reconnect()
            except Exception as exc:
                if not default:
                    raise
                value.debug(type(exc).__name__, args, kwargs)  # what SafeCallWrapper.__call__ does
                return value.handle_exception(exc, *args, **kwargs)
            return self._plain(attr)(*args, **kwargs)
        return call

    def _plain(self, attr: str) -> Any:
        """``attr`` of this service on the current session, through omero-py's wrapper only."""
        self._obj = None  # a service of the old session: gone with it
        self._resyncConn(self._conn)
        return ProxyObjectWrapper.__getattr__(self, attr)


class ProfileGateway(BlitzGateway):
    """A connected gateway opened from a profile.

    Beyond BlitzGateway: ``profile`` (the resolved Profile), ``joined`` (True when an existing
    session was joined by key: ``close()`` then only detaches), ``call_group`` (group id applied
    per call through SERVICE_OPTS: -1 for all groups, or the group of a joined session), ``su``
    and ``su_by`` (the target and the administrator who opened the session for it),
    ``connect_elapsed_ms`` (the connect, credentials excluded), ``credentials_elapsed_ms`` (asking
    the credential source) and ``reconnects``.
    """

    def __init__(self, session: Session, *, profile: Profile, elapsed_ms: float, credentials_ms: float = 0.0,
                 reopen: Callable[[], Session] | None = None,
                 private: Callable[[int], Session] | None = None) -> None:
        self._reopen = reopen
        self._private = private
        super().__init__(client_obj=session.client)
        self.profile = profile
        self.su = profile.su
        self._take(session)
        self.connect_elapsed_ms = elapsed_ms
        self.credentials_elapsed_ms = credentials_ms
        self.reconnects = 0
        self._apply_call_group()

    def __repr__(self) -> str:
        state = "connected" if self._connected else "closed"
        return f"<ProfileGateway profile={self.profile.name!r} host={self.profile.display_address()!r} {state}>"

    def _createProxies(self) -> None:  # noqa: N802 - BlitzGateway's name
        super()._createProxies()
        if getattr(self, "_reopen", None) is None:
            return
        for key, proxy in list(self._proxies.items()):
            if not isinstance(proxy, _ReconnectingProxy):
                self._proxies[key] = _ReconnectingProxy(self, proxy._func_str, proxy._cast_to,
                                                        proxy._service_name)

    def _take(self, session: Session) -> None:
        self.joined = session.joined
        self.shared = session.shared
        self.call_group = session.call_group
        self.su_by = session.su_by
        self.login_user = session.user

    def _apply_call_group(self) -> None:
        if self.call_group is not None:
            self.SERVICE_OPTS.setOmeroGroup(str(self.call_group))

    def close(self, hard: bool | None = None) -> None:
        """End the session: killed if we created it, detached if we joined someone's session.

        What BlitzGateway.close does (close stateful services, kill or detach, drop the client),
        with every call bounded (``login.dispose``): a dead or frozen server costs about a
        second, never a hang. Never raises.
        """
        if hard is None:
            hard = not self.joined
        self._connected = False
        client = self.c
        stateful = []
        for proxy in list(self._proxies.values()):
            service = getattr(proxy, "_obj", None)
            if isinstance(service, omero.api.StatefulServiceInterfacePrx):
                self._unregister_service(str(service))
                stateful.append(service)
            proxy._obj = None
        if client is not None:
            if hard and self._session_cb:
                try:
                    self._session_cb.close(self)
                except Exception:  # noqa: BLE001 - a web framework's hook must not stop the close
                    log.debug("session callback failed", exc_info=True)
            dispose(client, kill=hard, stateful=stateful)
        self.c = None
        self._session = None
        self._sessionUuid = None
        self._proxies = NoProxies()

    # -- groups: never the shared session's ---------------------------------------------------
    def setGroupForSession(self, groupid: int) -> bool | None:  # noqa: N802, N803 - BlitzGateway's names
        """Switch this connection's group. On a shared session (``share_session``) that would switch
        every process sharing it, so this connection moves to a private session in that group
        instead (one login, as the profile logs in without sharing); the others are untouched."""
        if not self.shared or self._private is None:
            return super().setGroupForSession(groupid)
        ec = self.getEventContext()
        if ec.groupId == groupid:
            return None
        if groupid not in ec.memberOfGroups and 0 not in ec.memberOfGroups:
            return False
        private = self._private
        self._switch_to(private(groupid))
        if self._reopen is not None:
            self._reopen = lambda: private(groupid)
        self._lastGroupId = ec.groupId
        return True

    # -- re-opening after session expiry ------------------------------------------------------
    def reconnect(self) -> None:
        """Open a fresh session from the profile (credentials fetched again) and switch to it."""
        if self._reopen is None:
            raise RuntimeError("this connection was opened without reconnect=True")
        self._switch_to(self._reopen())
        self.reconnects += 1

    def _switch_to(self, session: Session) -> None:
        """Make ``session`` this connection's; services held keep working, the old client is dropped."""
        old = self.c
        self.c = session.client
        self._take(session)
        self._sessionUuid = session.client.getSessionId()
        self._session = None
        self._ctx = None
        self._user = None
        self._userid = None
        self._connected = True
        for proxy in self._proxies.values():  # keep the wrappers (callers hold them), drop their services
            proxy._obj = None
        self._createProxies()  # omero-py re-syncs existing wrappers to the new session
        self.SERVICE_OPTS = self.createServiceOptsDict()
        self._apply_call_group()
        if old is not None:
            dispose(old, kill=False)  # gone already, or shared with others: only drop the client

    def connect(self, sUuid: str | None = None) -> bool:  # noqa: N803 - BlitzGateway's signature
        """Called by omero-py's service wrappers when the session is lost: re-open if allowed."""
        if self._reopen is None:
            return super().connect(sUuid=sUuid)
        log.info("session of profile '%s' lost; reconnecting", self.profile.name)
        self.reconnect()
        return True

    def probe(self) -> None:
        """One round trip that needs a live session, bounded by the connect ``timeout`` (not the
        longer ``call_timeout``): a liveness check must not wait minutes on a frozen server."""
        ms = max(1, int(self.profile.timeout * 1000))
        self.c.sf.ice_invocationTimeout(ms).getAdminService().ice_invocationTimeout(ms).getEventContext()

    def ensure_alive(self) -> bool:
        """Keep the session alive; if it has expired, re-open it (needs reconnect=True).

        Returns True if the session was alive, False if it was re-opened.
        """
        try:
            if self.c is not None and self.c.sf is not None:
                self.probe()
                return True
        except SESSION_LOST:
            log.debug("session lost", exc_info=True)
        self.reconnect()
        return False
