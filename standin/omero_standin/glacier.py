"""The Glacier2 side of the stand-in: the router, the ServiceFactory, and identity dispatch.

One object adapter serves everything. The router returns a *null* client proxy, so the
omero-py client sends its routed calls to the router's own endpoint, and the servant locator
dispatches them by identity: category = the client's uuid (one Glacier2 session per client
connection), name = the session uuid (the ServiceFactory) or a service name.
When a client connection closes, its Glacier2 session is destroyed, as Glacier2 does.
"""

from __future__ import annotations

import sys
import time
import uuid as uuidlib
from typing import Any

import Glacier2
import Ice
import omero
import omero.api
import omero.grid

from . import faults, objects, submit
from .amd import amd, servant
from .context import StandIn
from .errors import BadUsage, Denied
from .services import servant_class
from .state import LoginDenied

ROUTER_ID = Ice.Identity(name="router", category="OMERO.Glacier2")

#: ServiceFactory operation -> the interface of the service it hands out.
SF_SERVICES = {
    "getAdminService": "omero.api.IAdmin",
    "getConfigService": "omero.api.IConfig",
    "getContainerService": "omero.api.IContainer",
    "getLdapService": "omero.api.ILdap",
    "getMetadataService": "omero.api.IMetadata",
    "getPixelsService": "omero.api.IPixels",
    "getProjectionService": "omero.api.IProjection",
    "getQueryService": "omero.api.IQuery",
    "getRenderingSettingsService": "omero.api.IRenderingSettings",
    "getRepositoryInfoService": "omero.api.IRepositoryInfo",
    "getRoiService": "omero.api.IRoi",
    "getScriptService": "omero.api.IScript",
    "getSessionService": "omero.api.ISession",
    "getShareService": "omero.api.IShare",
    "getTimelineService": "omero.api.ITimeline",
    "getTypesService": "omero.api.ITypes",
    "getUpdateService": "omero.api.IUpdate",
    "createExporter": "omero.api.Exporter",
    "createJobHandle": "omero.api.JobHandle",
    "createRawFileStore": "omero.api.RawFileStore",
    "createRawPixelsStore": "omero.api.RawPixelsStore",
    "createRenderingEngine": "omero.api.RenderingEngine",
    "createSearchService": "omero.api.Search",
    "createThumbnailStore": "omero.api.ThumbnailStore",
    "sharedResources": "omero.grid.SharedResources",
}
STATEFUL = {iface for op, iface in SF_SERVICES.items() if op.startswith("create")}


def _resolve(dotted: str) -> Any:
    module, _, name = dotted.rpartition(".")
    return getattr(sys.modules[module], name)


def conn_key(current: Ice.Current) -> str:
    """A name for the client connection of a call, stable while it is open."""
    return current.con.toString() if current.con is not None else "collocated"


def transport(current: Ice.Current) -> str:
    return current.con.type() if current.con is not None else "collocated"


class _ConnectionWatcher(Ice.ConnectionCallback):
    """Destroys the Glacier2 session of a connection when the connection closes."""

    def __init__(self, si: StandIn, key: str) -> None:
        self.si = si
        self.key = key

    def heartbeat(self, con: Any) -> None:
        pass

    def closed(self, con: Any) -> None:
        if self.si.registry.destroy_connection(self.key) and self.si.verbose:
            print(f"[standin] connection closed, Glacier2 session destroyed: {self.key!r}", file=sys.stderr)


@servant
class RouterI(Glacier2.Router):
    """``OMERO.Glacier2/router``: logins, joins and Glacier2 session life."""

    def __init__(self, si: StandIn) -> None:
        self.si = si

    def getClientProxy(self, current: Ice.Current | None = None) -> Any:
        return None  # routed calls come to the router's own endpoints

    def getServerProxy(self, current: Ice.Current | None = None) -> Any:
        return self.si.adapter.createProxy(ROUTER_ID)

    def addProxies(self, proxies: Any, current: Ice.Current | None = None) -> Any:
        return []

    def getCategoryForClient(self, current: Ice.Current | None = None) -> Any:
        client = self.si.registry.client_for_connection(conn_key(current))
        if client is not None:
            return client.uuid
        return (current.ctx or {}).get(omero.constants.CLIENTUUID, "")

    def getSessionTimeout(self, current: Ice.Current | None = None) -> Any:
        return self.si.registry.default_tti_ms // 1000

    def getACMTimeout(self, current: Ice.Current | None = None) -> Any:
        return 0

    @amd
    def createSession(self, userId: str, password: str, current: Ice.Current | None = None) -> Any:
        registry = self.si.registry
        ctx = current.ctx or {}
        rec = None
        joining = bool(userId) and userId == password  # joinSession(uuid): the key as name and password
        if joining:
            try:
                rec = registry.find_live(userId)
                registry.count("joins")
            except LoginDenied:
                rec = None
        if rec is None:
            try:
                user = registry.authenticate(userId, password)
            except LoginDenied as exc:
                registry.count("failed_joins" if joining else "failed_logins")
                raise faults.permission_denied(str(exc)) from None
            registry.count("logins")
            try:
                rec = registry.create_session(user, ctx.get(omero.constants.GROUP) or None,
                                              agent=ctx.get(omero.constants.AGENT) or None,
                                              ip=ctx.get(omero.constants.IP) or None,
                                              event_type=ctx.get(omero.constants.EVENT) or "User")
            except BadUsage as exc:
                raise faults.cannot_create_session(str(exc)) from None
            joining = False
        client_uuid = ctx.get(omero.constants.CLIENTUUID) or str(uuidlib.uuid4())
        key = conn_key(current)
        try:
            # A session found by its key was joined: no password, so no HasPassword role.
            client = registry.attach(rec, client_uuid, key, transport(current), has_password=not joining,
                                     connection=current.con)
        except Denied as exc:
            raise Glacier2.CannotCreateSessionException(reason=str(exc)) from None
        if current.con is not None:
            current.con.setCallback(_ConnectionWatcher(self.si, key))
        return Glacier2.SessionPrx.uncheckedCast(self.si.proxy(client.uuid, rec.uuid))

    @amd
    def createSessionFromSecureConnection(self, current: Ice.Current | None = None) -> Any:
        raise faults.permission_denied("Certificate-based login is not supported by the stand-in")

    @amd(void=True)
    def refreshSession(self, current: Ice.Current | None = None) -> None:
        if not self.si.registry.refresh_connection(conn_key(current)):
            raise Glacier2.SessionNotExistException()

    def destroySession(self, current: Ice.Current | None = None) -> None:
        """Glacier2's answer: done, if the connection has a Glacier2 session (even one whose OMERO
        session was killed: Glacier2 still holds it), else SessionNotExistException."""
        if not self.si.registry.destroy_connection(conn_key(current)):
            raise Glacier2.SessionNotExistException()


def _getter(op: str, interface: str) -> Any:
    prx = _resolve(interface + "Prx")
    stateful = interface in STATEFUL

    def get(self: ServiceFactoryI, current: Ice.Current | None = None) -> Any:
        client, _ = self.si.use(current)
        name = f"{interface}-{uuidlib.uuid4()}" if stateful else interface
        if stateful:
            client.stateful.add(name)
        return prx.uncheckedCast(self.si.proxy(client.uuid, name))

    get.__name__ = op
    return get


class _ServiceFactoryBase(omero.api.ServiceFactory):
    """ServiceFactory: hands out services and controls the session's life and group."""

    def __init__(self, si: StandIn) -> None:
        self.si = si

    def _by_name(self, name: str, current: Ice.Current | None, stateful: bool) -> Any:
        op = next((op for op, iface in SF_SERVICES.items() if iface == name), None)
        if op is None or (name in STATEFUL) != stateful:
            raise faults.api_usage(f"Unknown {'stateful' if stateful else 'stateless'} service: {name}")
        return getattr(self, op)(current)

    def getByName(self, name: str, current: Ice.Current | None = None) -> Any:
        client, _ = self.si.use(current)
        if name in client.stateful:  # a value from activeServices, as OMERO allows
            return omero.api.ServiceInterfacePrx.uncheckedCast(self.si.proxy(client.uuid, name))
        return omero.api.ServiceInterfacePrx.uncheckedCast(self._by_name(name, current, False))

    def createByName(self, name: str, current: Ice.Current | None = None) -> Any:
        return omero.api.StatefulServiceInterfacePrx.uncheckedCast(self._by_name(name, current, True))

    def setCallback(self, callback: Any, current: Ice.Current | None = None) -> None:
        self.si.use(current)

    def closeOnDestroy(self, current: Ice.Current | None = None) -> None:
        client, _ = self.si.use(current)
        client.close_on_destroy = True

    def detachOnDestroy(self, current: Ice.Current | None = None) -> None:
        client, _ = self.si.use(current)
        client.close_on_destroy = False

    def activeServices(self, current: Ice.Current | None = None) -> Any:
        """The open stateful services, by the names ``getByName`` takes back."""
        client, _ = self.si.use(current)
        return sorted(client.stateful)

    def setSecurityPassword(self, password: str, current: Ice.Current | None = None) -> None:
        """Authenticate a joined session late, giving it the HasPassword role (OMERO 4.3+)."""
        client, rec = self.si.use(current)
        if not self.si.directory.check_password(rec.user.name, password):
            raise faults.security_violation(f"Bad password for {rec.user.name}")
        client.has_password = True

    @amd
    def submit(self, req: Any, current: Ice.Current | None = None) -> Any:
        return submit.submit(self.si, current, req)

    def _alive(self, client: Any, proxy: Any) -> bool:
        if proxy is None:
            return False
        ident = proxy.ice_getIdentity()
        if ident.category != client.uuid:
            return False
        return ident.name in SF_SERVICES.values() or ident.name in client.stateful

    def keepAlive(self, proxy: Any, current: Ice.Current | None = None) -> bool:
        client, _ = self.si.use(current)
        return self._alive(client, proxy)

    def keepAllAlive(self, proxies: Any, current: Ice.Current | None = None) -> int:
        client, _ = self.si.use(current)
        dead = 0
        for i, proxy in enumerate(proxies or []):
            if not self._alive(client, proxy):
                dead |= 1 << i
        return dead

    def getSecurityContexts(self, current: Ice.Current | None = None) -> Any:
        _, rec = self.si.use(current)
        directory = self.si.directory
        groups = [directory.group(g) for g in self.si.context(rec).member_of]
        return [objects.group_obj(directory, g, members=False) for g in groups if g is not None]

    def setSecurityContext(self, obj: Any, current: Ice.Current | None = None) -> Any:
        """OMERO's SessionManagerImpl.setSecurityContext: refused for a group-owner sudo session and
        while any client of the session holds a stateful service; a non-admin must be a member."""
        client, rec = self.si.use(current)
        if obj is None or obj.id is None:
            raise faults.api_usage("Security context must be managed!")
        if not isinstance(obj, omero.model.ExperimenterGroup):
            raise faults.api_usage(f"Unknown security context:{type(obj).__name__}")
        if rec.groups_led is not None:
            raise faults.security_violation("Group-sudo session cannot change context!")
        registry = self.si.registry
        open_services = sorted(name for cu in rec.clients if (c := registry.client(cu)) for name in c.stateful)
        if open_services:
            raise faults.security_violation(
                "SecurityContext change cancelled:\n"
                f"{rec.uuid} has active stateful services:\n{', '.join(open_services)}\n")
        gid = obj.id.val
        if self.si.directory.group(gid) is None:
            raise faults.api_usage(f"No such group: {gid}")
        ctx = self.si.context(rec)
        if not ctx.is_admin and gid >= 0 and gid not in ctx.member_of:
            raise faults.security_violation(f"User {rec.user.id} is not a member of group {gid}")
        previous = registry.set_group(rec, gid)
        return omero.model.ExperimenterGroupI(previous, False)

    def destroy(self, current: Ice.Current | None = None) -> None:
        self.si.registry.destroy_client(current.id.category)


ServiceFactoryI = servant(
    type(
        "ServiceFactoryI",
        (_ServiceFactoryBase,),
        {"__module__": __name__, **{op: _getter(op, iface) for op, iface in SF_SERVICES.items()}},
    )
)


class Locator(Ice.ServantLocator):
    """Finds the servant for every incoming call; logs calls when verbose."""

    def __init__(self, si: StandIn) -> None:
        self.si = si
        self.router = RouterI(si)
        self.factory = ServiceFactoryI(si)
        self.services = {iface: servant_class(iface)(si) for iface in SF_SERVICES.values()}
        self.handles = submit.HandleI(si)

    def _find(self, ident: Ice.Identity) -> Any:
        if ident.category == ROUTER_ID.category:
            return self.router if ident.name == ROUTER_ID.name else None
        client = self.si.registry.client(ident.category)
        if client is None:
            return None
        if ident.name == client.session.uuid:
            return self.factory
        if ident.name in self.services:
            return self.services[ident.name]
        if ident.name in client.stateful:
            return self.services[ident.name.split("-", 1)[0]]
        if ident.name in client.handles:
            return self.handles
        return None

    def locate(self, current: Ice.Current) -> tuple[Any, Any]:
        found = self._find(current.id)
        if self.si.verbose:
            print(
                f"[standin] {time.strftime('%H:%M:%S')} {transport(current)} "
                f"{current.id.category}/{current.id.name} {current.operation}"
                f"{'' if found is not None else ' -> ObjectNotExist'}",
                file=sys.stderr,
                flush=True,
            )
        return found, None

    def finished(self, current: Ice.Current, servant: Any, cookie: Any) -> None:
        pass

    def deactivate(self, category: str) -> None:
        pass
