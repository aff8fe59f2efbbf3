"""Which servant serves which OMERO service, and the small ones: IConfig, ITypes, stateful stubs.

IAdmin (``admin.py``), ISession (``session_service.py``), IQuery (``query_service.py``), IUpdate
(``update_service.py``), IContainer and IRoi (``container_service.py``), Search and
SharedResources (``search_service.py``) have modules of their own. Every operation the
stand-in does not implement, of these and of all other services, raises
``omero.ApiUsageException`` naming it (see ``amd.servant``).
"""

from __future__ import annotations

import time
import uuid as uuidlib
from typing import Any

import Ice
import omero
import omero.api
from omero.rtypes import rstring, rtime

from . import faults, objects, schema
from .admin import AdminI
from .amd import amd, servant
from .container_service import ContainerI, RoiI
from .context import StandIn
from .query_service import QueryI
from .search_service import SearchI, SharedResourcesI
from .session_service import SessionServiceI
from .update_service import UpdateI
from .users import ALL_PRIVILEGES

VERSION = "5.6.16-ice36-standin"


class _Service:
    def __init__(self, si: StandIn) -> None:
        self.si = si


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


@servant
class TypesI(_Service, omero.api.ITypes):
    """ITypes: the AdminPrivilege enumeration (``BlitzGateway.isFullAdmin`` counts it) and the
    enumerations the data uses (PixelsType, DimensionOrder)."""

    def _check(self, type: str) -> str:
        name = type.rsplit(".", 1)[-1]
        name = name[:-1] if name.endswith("I") and name[:-1] in (*schema.ENUMS, "AdminPrivilege") else name
        if name != "AdminPrivilege" and name not in schema.ENUMS:
            raise faults.api_usage(f"stand-in ITypes knows only the AdminPrivilege, "
                                   f"{', '.join(schema.ENUMS)} enumerations, not {type}")
        return name

    def _enums(self, name: str) -> list[Any]:
        out = []
        for rec in self.si.store.rows(name):
            obj = getattr(omero.model, f"{name}I")(rec.id, True)
            obj.value = rstring(rec.fields["value"])
            out.append(obj)
        return out

    @amd
    def allEnumerations(self, type: str, current: Ice.Current | None = None) -> Any:
        self.si.checked(current)
        name = self._check(type)
        if name != "AdminPrivilege":
            return self._enums(name)
        return objects.privilege_objs(ALL_PRIVILEGES)

    @amd
    def getEnumeration(self, type: str, value: str, current: Ice.Current | None = None) -> Any:
        self.si.checked(current)
        name = self._check(type)
        if name != "AdminPrivilege":
            found = [e for e in self._enums(name) if e.value.val == value]
            if not found:
                raise faults.api_usage(f"No such {name}: {value}")
            return found[0]
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
    call = self.si.call(current, roles=None)
    return objects.event_context(self.si.directory, call.session, call.ctx, call.group_id)


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
    "omero.api.IUpdate": UpdateI,
    "omero.api.IContainer": ContainerI,
    "omero.api.IRoi": RoiI,
    "omero.api.Search": SearchI,
    "omero.grid.SharedResources": SharedResourcesI,
}


def servant_class(interface: str) -> type:
    """The servant class for a service interface ("omero.api.IAdmin"); stubs for the rest."""
    if interface in IMPLEMENTED:
        return IMPLEMENTED[interface]
    module, _, name = interface.rpartition(".")
    base = getattr(__import__(module, fromlist=[name]), name)
    return _stub(base)

