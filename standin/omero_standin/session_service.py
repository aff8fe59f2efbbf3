"""ISession: create sessions (for yourself, and sudo for others), inspect and close them.

As ``ome.services.sessions.SessionBean`` and ``SessionManagerImpl`` (ome/omero-server):

- ``createUserSession`` needs the ``HasPassword`` role: a session joined by key, such as one an
  administrator made for a user (sudo), gets SecurityViolation. The new session keeps the
  caller's sudoer.
- ``createSessionWithTimeout(s)`` is open to every user: an administrator whose session holds
  the Sudo privilege may create a session for anyone in any group; anyone else only in a group
  they own (a group-owner sudo), else SecurityViolation "Group sudo is not permitted ...".
  The sudoer is the caller (or the caller's own sudoer). ``createSessionWithTimeout`` is
  ``createSessionWithTimeouts`` with time-to-idle 0 (no idle timeout).
- ``getSession``, ``getReferenceCount`` and ``closeSession`` take any session uuid (the uuid is
  the secret); ``getMyOpen*Sessions`` list the caller's own, only those with the same sudoer
  unless the session holds ReadSession, newest first.
"""

from __future__ import annotations

from typing import Any

import Ice
import omero
import omero.api

from . import faults, objects, security
from .amd import amd, servant
from .context import ANY_ROLES, Call, StandIn
from .errors import BadUsage
from .state import LoginDenied, SessionRecord

EVENT_TYPES = ("Import", "Internal", "Shoola", "User", "Task", "Test", "Processing", "FullText", "Sessions")
"""OMERO's EventType enumeration (a principal's eventType must be one of them)."""
CLIENT_AGENTS = ("OMERO.insight", "OMERO.web", "OMERO.importer")
"""The agents ``getMyOpenClientSessions`` lists."""


def _event_type(principal: Any) -> str:
    kind = principal.eventType or "User"
    if kind not in EVENT_TYPES:
        raise BadUsage(f"Unknown enumeration: EventType:{kind}")
    return kind


@servant
class SessionServiceI(omero.api.ISession):
    """ISession as OMERO's SessionBean."""

    def __init__(self, si: StandIn) -> None:
        self.si = si
        self.d = si.directory

    def _obj(self, rec: SessionRecord) -> Any:
        return objects.session_obj(self.d, rec)

    def _agent(self, current: Ice.Current | None, default: str) -> str:
        return (current.ctx or {}).get("omero.agent") or default if current is not None else default

    # -- creating ----------------------------------------------------------------------------

    @amd
    def createSession(self, p: Any, credentials: str, current: Ice.Current | None = None) -> Any:
        self.si.call(current, roles=ANY_ROLES, group=False)
        try:
            user = self.si.registry.authenticate(p.name or "", credentials)
        except LoginDenied as exc:
            raise faults.security_violation(str(exc)) from None
        rec = self.si.registry.create_session(user, p.group or None, agent=self._agent(current, "createSession"),
                                              event_type=_event_type(p))
        return self._obj(rec)

    @amd
    def createUserSession(self, timeToLiveMilliseconds: int, timeToIdleMilliseconds: int, defaultGroup: str,
                          current: Ice.Current | None = None) -> Any:
        call = self.si.call(current, password=True, group=False)
        rec = self.si.registry.create_session(
            call.session.user, defaultGroup or None, agent=self._agent(current, "createSession"),
            tti_ms=timeToIdleMilliseconds, ttl_ms=timeToLiveMilliseconds, sudoer=call.session.sudoer)
        return self._obj(rec)

    @amd
    def createSessionWithTimeout(self, principal: Any, timeToLiveMilliseconds: int,
                                 current: Ice.Current | None = None) -> Any:
        return self._sudo(self.si.call(current, group=False), principal, timeToLiveMilliseconds, 0, current)

    @amd
    def createSessionWithTimeouts(self, principal: Any, timeToLiveMilliseconds: int, timeToIdleMilliseconds: int,
                                  current: Ice.Current | None = None) -> Any:
        call = self.si.call(current, group=False)
        return self._sudo(call, principal, timeToLiveMilliseconds, timeToIdleMilliseconds, current)

    def _sudo(self, call: Call, principal: Any, ttl_ms: int, tti_ms: int, current: Ice.Current | None) -> Any:
        if principal is None or not principal.name:
            raise BadUsage("Null principal name.")
        groups_led = security.sudo_groups(call.ctx, call.ctx.privileges)
        target = self.d.user_named(principal.name)
        group = principal.group or None
        if target is None:
            if not group or group == "user":
                raise BadUsage(f"Can't find default group for {principal.name}")
            raise faults.removed_session_message(f"Cannot find a user with name {principal.name}")
        kind = _event_type(principal)
        sudoer = call.session.sudoer or call.session.user
        rec = self.si.registry.create_session(
            target, group, agent=self._agent(current, "OMERO.sudo"), tti_ms=tti_ms, ttl_ms=ttl_ms,
            sudoer=sudoer, groups_led=groups_led, event_type=kind)
        return self._obj(rec)

    # -- inspecting and closing ----------------------------------------------------------------

    def _find(self, session_uuid: str) -> SessionRecord:
        rec = self.si.registry.session(session_uuid)
        if rec is None:
            raise faults.removed_session(session_uuid)
        return rec

    @amd
    def getSession(self, sessionUuid: str, current: Ice.Current | None = None) -> Any:
        self.si.call(current, roles=ANY_ROLES, group=False)
        return self._obj(self._find(sessionUuid))

    @amd
    def getReferenceCount(self, sessionUuid: str, current: Ice.Current | None = None) -> Any:
        self.si.call(current, roles=ANY_ROLES, group=False)
        return self._find(sessionUuid).refcount

    @amd
    def closeSession(self, sess: Any, current: Ice.Current | None = None) -> Any:
        self.si.call(current, roles=ANY_ROLES, group=False)
        if sess is None or sess.uuid is None:
            raise BadUsage("closeSession needs a session with a uuid")
        return self.si.registry.close_session(sess.uuid.val)

    def _mine(self, call: Call, agents: tuple[str | None, ...] | None) -> list[Any]:
        me = call.session
        read_all = call.ctx.has("ReadSession")
        found = [
            rec for rec in self.si.registry.live_sessions()
            if rec.user is me.user
            and (read_all or rec.sudoer is me.sudoer)
            and (agents is None or rec.agent in agents)
        ]
        return [self._obj(rec) for rec in sorted(found, key=lambda r: (r.started_ms, r.id), reverse=True)]

    @amd
    def getMyOpenSessions(self, current: Ice.Current | None = None) -> Any:
        return self._mine(self.si.call(current, group=False), None)

    @amd
    def getMyOpenAgentSessions(self, agent: str, current: Ice.Current | None = None) -> Any:
        return self._mine(self.si.call(current, group=False), (agent or None,))

    @amd
    def getMyOpenClientSessions(self, current: Ice.Current | None = None) -> Any:
        return self._mine(self.si.call(current, group=False), CLIENT_AGENTS)
