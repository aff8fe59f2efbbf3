"""The OMERO services the stand-in implements: IAdmin, ISession, IConfig, IQuery, ITypes.

Only what the omero-py client, BlitzGateway and the OMERO CLI use to log in, inspect the user
and groups, switch groups, sudo and manage sessions. Every other operation of these (and of
all other) services raises ``omero.ApiUsageException`` naming it (see ``amd.servant``).
"""

from __future__ import annotations

import time
import uuid as uuidlib
from typing import Any

import Ice
import omero
import omero.api
from omero.rtypes import rtime, unwrap

from . import faults, objects, query
from .amd import amd, servant
from .context import StandIn
from .state import LoginDenied, NoSuchGroup, SessionRecord
from .users import ALL_PRIVILEGES, GroupSpec, UserSpec

VERSION = "5.6.16-ice36-standin"


class _Service:
    def __init__(self, si: StandIn) -> None:
        self.si = si
        self.users = si.users


def _user(si: StandIn, uid: int) -> UserSpec:
    user = si.users.user_by_id(uid)
    if user is None:
        raise faults.api_usage(f"No such experimenter: {uid}")
    return user


def _group(si: StandIn, gid: int) -> GroupSpec:
    group = si.users.group_by_id(gid)
    if group is None:
        raise faults.api_usage(f"No such group: {gid}")
    return group


@servant
class AdminI(_Service, omero.api.IAdmin):
    """IAdmin: identity, groups, memberships and privileges, read-only."""

    @amd
    def getEventContext(self, current: Ice.Current | None = None) -> Any:
        rec, gid = self.si.checked(current)
        return objects.event_context(self.users, rec, gid)

    @amd
    def getSecurityRoles(self, current: Ice.Current | None = None) -> Any:
        self.si.checked(current)
        return objects.roles()

    @amd
    def getExperimenter(self, id: int, current: Ice.Current | None = None) -> Any:
        self.si.checked(current)
        return objects.experimenter_obj(self.users, _user(self.si, id))

    @amd
    def lookupExperimenter(self, name: str, current: Ice.Current | None = None) -> Any:
        self.si.checked(current)
        if name not in self.users:
            raise faults.api_usage(f"No such experimenter: {name}")
        return objects.experimenter_obj(self.users, self.users[name])

    @amd
    def lookupExperimenters(self, current: Ice.Current | None = None) -> Any:
        self.si.checked(current)
        return [objects.experimenter_obj(self.users, u) for u in self.users.values()]

    @amd
    def getGroup(self, id: int, current: Ice.Current | None = None) -> Any:
        self.si.checked(current)
        return objects.group_obj(self.users, _group(self.si, id))

    @amd
    def lookupGroup(self, name: str, current: Ice.Current | None = None) -> Any:
        self.si.checked(current)
        if name not in self.users.groups:
            raise faults.api_usage(f"No such group: {name}")
        return objects.group_obj(self.users, self.users.groups[name])

    @amd
    def lookupGroups(self, current: Ice.Current | None = None) -> Any:
        self.si.checked(current)
        return [objects.group_obj(self.users, g) for g in self.users.groups.values()]

    @amd
    def containedGroups(self, experimenterId: int, current: Ice.Current | None = None) -> Any:
        self.si.checked(current)
        user = _user(self.si, experimenterId)
        return [objects.group_obj(self.users, self.users.groups[g], members=False) for g in user.memberships]

    @amd
    def containedExperimenters(self, groupId: int, current: Ice.Current | None = None) -> Any:
        self.si.checked(current)
        group = _group(self.si, groupId)
        return [objects.experimenter_obj(self.users, u, groups=False) for u in self.users.members(group.name)]

    @amd
    def getDefaultGroup(self, experimenterId: int, current: Ice.Current | None = None) -> Any:
        self.si.checked(current)
        user = _user(self.si, experimenterId)
        return objects.group_obj(self.users, self.users.groups[user.default_group], members=False)

    @amd
    def getMemberOfGroupIds(self, exp: Any, current: Ice.Current | None = None) -> Any:
        rec, _ = self.si.checked(current)
        user = _user(self.si, exp.id.val) if exp is not None else rec.user
        return [self.users.groups[g].id for g in user.memberships]

    @amd
    def getLeaderOfGroupIds(self, exp: Any, current: Ice.Current | None = None) -> Any:
        rec, _ = self.si.checked(current)
        user = _user(self.si, exp.id.val) if exp is not None else rec.user
        return [self.users.groups[g].id for g in user.owner_of]

    @amd
    def getCurrentAdminPrivileges(self, current: Ice.Current | None = None) -> Any:
        rec, _ = self.si.checked(current)
        return objects.privilege_objs(rec.user.admin_privileges)

    @amd
    def getAdminPrivileges(self, user: Any, current: Ice.Current | None = None) -> Any:
        self.si.checked(current)
        return objects.privilege_objs(_user(self.si, user.id.val).admin_privileges)

    @amd
    def getAdminsWithPrivileges(self, privileges: Any, current: Ice.Current | None = None) -> Any:
        self.si.checked(current)
        wanted = {unwrap(p.value) for p in privileges or []}
        return [
            objects.experimenter_obj(self.users, u)
            for u in self.users.values()
            if u.admin and wanted <= set(u.admin_privileges)
        ]


@servant
class SessionServiceI(_Service, omero.api.ISession):
    """ISession: create (incl. sudo), inspect and close sessions."""

    def _new_session(
        self, caller: SessionRecord | None, principal: Any, ttl_ms: int, tti_ms: int | None, agent: str
    ) -> Any:
        name = principal.name
        if name not in self.users:
            raise faults.api_usage(f"No such experimenter: {name}")
        target = self.users[name]
        sudoer = None
        if caller is not None and target is not caller.user:
            me = caller.user
            if not me.admin:
                raise faults.security_violation(f"{me.name} is not an admin: no sessions for others")
            if me.restricted and "Sudo" not in me.privileges:
                raise faults.security_violation(
                    f"Admin restrictions prevent {me.name} from creating a session as {name}: "
                    "the Sudo privilege is required"
                )
            missing = set(target.admin_privileges) - set(me.admin_privileges)
            if missing:
                raise faults.security_violation(
                    f"Admin restrictions prevent {me.name} from becoming {name}, who has more "
                    f"privileges ({', '.join(sorted(missing))})"
                )
            sudoer = me
        group = principal.group or None
        try:
            gid = self.si.registry.group(group).id if group else self.users.groups[target.default_group].id
        except NoSuchGroup as exc:
            raise faults.api_usage(str(exc)) from None
        if not self.si.registry.may_use_group(target, gid):
            raise faults.security_violation(f"User {name} is not a member of group {group}")
        rec = self.si.registry.create_session(
            target, self.users.group_by_id(gid).name, agent=agent, tti_ms=tti_ms or None, ttl_ms=ttl_ms,
            sudoer=sudoer,
        )
        return objects.session_obj(rec)

    @amd
    def createSession(self, p: Any, credentials: str, current: Ice.Current | None = None) -> Any:
        try:
            self.si.registry.authenticate(p.name, credentials)
        except LoginDenied as exc:
            raise faults.security_violation(str(exc)) from None
        return self._new_session(None, p, 0, None, (current.ctx or {}).get("omero.agent", ""))

    @amd
    def createUserSession(
        self, timeToLiveMilliseconds: int, timeToIdleMilliseconds: int, defaultGroup: str,
        current: Ice.Current | None = None,
    ) -> Any:
        rec, _ = self.si.checked(current)
        principal = omero.sys.Principal(name=rec.user.name, group=defaultGroup, eventType="User")
        return self._new_session(rec, principal, timeToLiveMilliseconds, timeToIdleMilliseconds, rec.agent)

    @amd
    def createSessionWithTimeout(
        self, principal: Any, timeToLiveMilliseconds: int, current: Ice.Current | None = None
    ) -> Any:
        rec, _ = self.si.checked(current)
        return self._new_session(rec, principal, timeToLiveMilliseconds, None, rec.agent)

    @amd
    def createSessionWithTimeouts(
        self, principal: Any, timeToLiveMilliseconds: int, timeToIdleMilliseconds: int,
        current: Ice.Current | None = None,
    ) -> Any:
        rec, _ = self.si.checked(current)
        return self._new_session(rec, principal, timeToLiveMilliseconds, timeToIdleMilliseconds, rec.agent)

    def _visible(self, caller: SessionRecord, session_uuid: str) -> SessionRecord:
        target = self.si.registry.session(session_uuid)
        if target is None:
            raise faults.removed_session(session_uuid)
        me = caller.user
        if target.user is not me and not (me.admin and "ReadSession" in me.admin_privileges):
            raise faults.security_violation(f"{me.name} may not read session {session_uuid}")
        return target

    @amd
    def getSession(self, sessionUuid: str, current: Ice.Current | None = None) -> Any:
        _, rec = self.si.use(current)
        return objects.session_obj(self._visible(rec, sessionUuid))

    @amd
    def getReferenceCount(self, sessionUuid: str, current: Ice.Current | None = None) -> Any:
        _, rec = self.si.use(current)
        return self._visible(rec, sessionUuid).refcount

    @amd
    def closeSession(self, sess: Any, current: Ice.Current | None = None) -> Any:
        _, rec = self.si.use(current)
        if sess is None or sess.uuid is None:
            raise faults.api_usage("closeSession needs a session with a uuid")
        session_uuid = sess.uuid.val
        target = self.si.registry.session(session_uuid)
        if target is None:
            return -1
        me = rec.user
        if target.user is not me and not me.admin:
            raise faults.security_violation(f"{me.name} may not close session {session_uuid}")
        return self.si.registry.close_session(session_uuid)

    def _mine(self, current: Ice.Current | None, agent: str | None = None) -> list[Any]:
        _, rec = self.si.use(current)
        return [
            objects.session_obj(s)
            for s in self.si.registry.live_sessions()
            if s.user is rec.user and (agent is None or s.agent == agent)
        ]

    @amd
    def getMyOpenSessions(self, current: Ice.Current | None = None) -> Any:
        return self._mine(current)

    @amd
    def getMyOpenAgentSessions(self, agent: str, current: Ice.Current | None = None) -> Any:
        return self._mine(current, agent)

    @amd
    def getMyOpenClientSessions(self, current: Ice.Current | None = None) -> Any:
        return self._mine(current)


@servant
class ConfigI(_Service, omero.api.IConfig):
    """IConfig: the few configuration values clients read, above all ``omero.router.insecure``."""

    def __init__(self, si: StandIn) -> None:
        super().__init__(si)
        self.db_uuid = str(uuidlib.uuid4())

    def values(self) -> dict[str, str]:
        return {
            "omero.router.insecure": self.si.insecure_router(),
            "omero.version": VERSION,
            "omero.db.uuid": self.db_uuid,
            "omero.sessions.timeout": str(self.si.registry.default_tti_ms),
            "omero.client.ui.menu.dropdown.everyone.enabled": "true",
        }

    @amd
    def getVersion(self, current: Ice.Current | None = None) -> Any:
        self.si.checked(current)
        return VERSION

    @amd
    def getConfigValue(self, key: str, current: Ice.Current | None = None) -> Any:
        self.si.checked(current)
        return self.values().get(key, "")

    @amd
    def getConfigValues(self, keyRegex: str, current: Ice.Current | None = None) -> Any:
        import re

        self.si.checked(current)
        pattern = re.compile(keyRegex)
        return {k: v for k, v in self.values().items() if pattern.search(k)}

    @amd
    def getConfigDefaults(self, current: Ice.Current | None = None) -> Any:
        self.si.checked(current)
        return self.values()

    @amd
    def getClientConfigValues(self, current: Ice.Current | None = None) -> Any:
        self.si.checked(current)
        return {k: v for k, v in self.values().items() if k.startswith("omero.client.")}

    @amd
    def getClientConfigDefaults(self, current: Ice.Current | None = None) -> Any:
        self.si.checked(current)
        return {k: v for k, v in self.values().items() if k.startswith("omero.client.")}

    @amd
    def getDatabaseUuid(self, current: Ice.Current | None = None) -> Any:
        self.si.checked(current)
        return self.db_uuid

    @amd
    def getServerTime(self, current: Ice.Current | None = None) -> Any:
        self.si.checked(current)
        return rtime(int(time.time() * 1000))

    @amd
    def getDatabaseTime(self, current: Ice.Current | None = None) -> Any:
        self.si.checked(current)
        return rtime(int(time.time() * 1000))


def _klass(name: str) -> str:
    name = name.rsplit(".", 1)[-1]
    return name[:-1] if name.endswith("I") and name[:-1] in query.ENTITIES else name


@servant
class QueryI(_Service, omero.api.IQuery):
    """IQuery over Experimenter and ExperimenterGroup (see ``query`` for the HQL subset)."""

    def _obj(self, row: UserSpec | GroupSpec) -> Any:
        if isinstance(row, UserSpec):
            return objects.experimenter_obj(self.users, row)
        return objects.group_obj(self.users, row)

    def _run(self, text: str, params: Any) -> list[Any]:
        try:
            parsed = query.parse(text)
            values = unwrap(params.map) if params is not None and params.map else {}
            rows = query.select(self.users, parsed, values or {})
        except query.UnsupportedQuery as exc:
            raise faults.api_usage(str(exc)) from None
        flt = params.theFilter if params is not None else None
        if flt is not None:
            offset = unwrap(flt.offset) or 0
            limit = unwrap(flt.limit)
            rows = rows[offset : offset + limit if limit is not None else None]
        return [self._obj(r) for r in rows]

    def _rows(self, klass: str) -> list[UserSpec | GroupSpec]:
        name = _klass(klass)
        if name == "Experimenter":
            return list(self.users.values())
        if name == "ExperimenterGroup":
            return list(self.users.groups.values())
        raise faults.api_usage(f"stand-in IQuery knows only Experimenter and ExperimenterGroup, not {klass}")

    @amd
    def findByQuery(self, query: str, params: Any, current: Ice.Current | None = None) -> Any:
        self.si.checked(current)
        found = self._run(query, params)
        if len(found) > 1:
            raise faults.api_usage(f"Query returned {len(found)} results, expected at most one: {query}")
        return found[0] if found else None

    @amd
    def findAllByQuery(self, query: str, params: Any, current: Ice.Current | None = None) -> Any:
        self.si.checked(current)
        return self._run(query, params)

    @amd
    def find(self, klass: str, id: int, current: Ice.Current | None = None) -> Any:
        self.si.checked(current)
        row = next((r for r in self._rows(klass) if r.id == id), None)
        return self._obj(row) if row is not None else None

    @amd
    def get(self, klass: str, id: int, current: Ice.Current | None = None) -> Any:
        self.si.checked(current)
        row = next((r for r in self._rows(klass) if r.id == id), None)
        if row is None:
            raise faults.validation(f"No row with the given identifier exists: [{_klass(klass)}#{id}]")
        return self._obj(row)

    @amd
    def findAll(self, klass: str, filter: Any, current: Ice.Current | None = None) -> Any:
        self.si.checked(current)
        return [self._obj(r) for r in self._rows(klass)]

    @amd
    def findByString(self, klass: str, field: str, value: str, current: Ice.Current | None = None) -> Any:
        self.si.checked(current)
        attr = query.FIELDS.get(_klass(klass), {}).get(field)
        if attr is None:
            raise faults.api_usage(f"stand-in IQuery cannot search {klass}.{field}")
        row = next((r for r in self._rows(klass) if getattr(r, attr) == value), None)
        return self._obj(row) if row is not None else None


@servant
class TypesI(_Service, omero.api.ITypes):
    """ITypes: just the AdminPrivilege enumeration (``BlitzGateway.isFullAdmin`` counts it)."""

    def _check(self, type: str) -> None:
        if type.rsplit(".", 1)[-1] != "AdminPrivilege":
            raise faults.api_usage(f"stand-in ITypes knows only the AdminPrivilege enumeration, not {type}")

    @amd
    def allEnumerations(self, type: str, current: Ice.Current | None = None) -> Any:
        self.si.checked(current)
        self._check(type)
        return objects.privilege_objs(ALL_PRIVILEGES)

    @amd
    def getEnumeration(self, type: str, value: str, current: Ice.Current | None = None) -> Any:
        self.si.checked(current)
        self._check(type)
        if value not in ALL_PRIVILEGES:
            raise faults.api_usage(f"No such AdminPrivilege: {value}")
        return objects.privilege_objs([value])[0]


# -- stateful services: only the StatefulServiceInterface part works ------------------------


@amd(void=True)
def close(self: Any, current: Ice.Current | None = None) -> None:
    client = self.si.registry.client(current.id.category)
    if client is not None:
        client.stateful.discard(current.id.name)


@amd(void=True)
def activate(self: Any, current: Ice.Current | None = None) -> None:
    self.si.use(current)


@amd(void=True)
def passivate(self: Any, current: Ice.Current | None = None) -> None:
    self.si.use(current)


@amd
def getCurrentEventContext(self: Any, current: Ice.Current | None = None) -> Any:
    rec, gid = self.si.checked(current)
    return objects.event_context(self.users, rec, gid)


def _stub(base: type) -> type:
    body: dict[str, Any] = {"__module__": __name__, "__init__": _Service.__init__}
    if issubclass(base, omero.api.StatefulServiceInterface):
        body.update(close=close, activate=activate, passivate=passivate,
                    getCurrentEventContext=getCurrentEventContext)
    return servant(type(f"StandIn{base.__name__}", (base,), body))


IMPLEMENTED: dict[str, type] = {
    "omero.api.IAdmin": AdminI,
    "omero.api.ISession": SessionServiceI,
    "omero.api.IConfig": ConfigI,
    "omero.api.IQuery": QueryI,
    "omero.api.ITypes": TypesI,
}


def servant_class(interface: str) -> type:
    """The servant class for a service interface ("omero.api.IAdmin"); stubs for the rest."""
    if interface in IMPLEMENTED:
        return IMPLEMENTED[interface]
    module, _, name = interface.rpartition(".")
    base = getattr(__import__(module, fromlist=[name]), name)
    return _stub(base)

