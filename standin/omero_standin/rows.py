"""The stand-in's data as HQL rows: OMERO entities over the directory, the registry and the store.

A ``Row`` is one entity instance (Experimenter, ExperimenterGroup, GroupExperimenterMap,
Session, EventLog, Event, and every data entity of ``schema``: Project, Image, TagAnnotation...);
``Row.get(field)`` gives a plain value, another ``Row`` or a list of rows (a collection), with
OMERO's field names. ``details`` is a pseudo-row with ``owner``, ``group``, ``permissions``,
``creationEvent``, ``updateEvent`` and ``externalInfo``. What a caller may see follows OMERO:
sessions and event logs are private to their owner (administrators see all); users and groups
are visible to everyone; data follows the group permissions (``acl.can_read``), including
the elements of a collection and the target of a reference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import acl, schema
from .datastore import Record, Ref, Store
from .directory import Directory, EventLogRow, EventRow, Group, Link, User
from .errors import IllegalQuery
from .state import Registry, SessionRecord

EMPTY_ENTITIES = {
    "Instrument", "Job", "Share", "Node", "Folder", "Experiment", "Thumbnail", "RenderingDef", "StatsInfo",
    "PlaneInfo", "Reagent", "AnnotationAnnotationLink", "FolderImageLink",
}
"""Entities that exist on a real server and of which the stand-in holds no rows."""
TIME_FIELDS = {"started", "closed", "time"}
"""Fields OMERO returns as timestamps (``RTime``) in projections."""


@dataclass(frozen=True)
class Details:
    owner: Row | None
    group: Row | None
    permissions: str | None
    creationEvent: Row | None = None  # noqa: N815 - OMERO's field names
    updateEvent: Row | None = None  # noqa: N815
    externalInfo: Row | None = None  # noqa: N815

    def get(self, name: str) -> Any:
        if name not in ("owner", "group", "permissions", "creationEvent", "updateEvent", "externalInfo"):
            raise IllegalQuery(f"could not resolve property: details.{name}")
        return getattr(self, name)


@dataclass(frozen=True)
class Component:
    """A value with parts of its own: a map annotation's name/value pair, a length's value and unit."""

    entity: str
    values: dict[str, Any]

    def get(self, name: str) -> Any:
        if name not in self.values:
            raise IllegalQuery(f"could not resolve property: {name} of: {self.entity}")
        return self.values[name]


class Row:
    """One entity instance; equal to another row of the same entity and id (for DISTINCT)."""

    __slots__ = ("entity", "id", "record", "data")

    def __init__(self, entity: str, id: int, record: Any, data: Data) -> None:
        self.entity = entity
        self.id = id
        self.record = record
        self.data = data

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Row) and (other.entity, other.id) == (self.entity, self.id)

    def __hash__(self) -> int:
        return hash((self.entity, self.id))

    def __repr__(self) -> str:
        return f"{self.entity}:{self.id}"

    def get(self, name: str) -> Any:
        return self.data.field(self, name)


class Data:
    """Every row the caller may see, and the fields of each."""

    def __init__(self, directory: Directory, registry: Registry, caller: User, admin: bool,
                 store: Store | None = None, who: acl.Actor | None = None,
                 known_fields: Callable[[str], frozenset[str] | None] | None = None) -> None:
        self.d = directory
        self.registry = registry
        self.caller = caller
        self.admin = admin
        self.store = store if store is not None else Store()
        self.who = who if who is not None else acl.Actor(caller.id, -1, frozenset(directory.member_of(caller.id)),
                                                         frozenset(directory.leader_of(caller.id)), admin,
                                                         frozenset())
        self.known_fields = known_fields
        """Entity -> its field names (from omero.model in the server), to refuse unknown ones."""

    def perms_of(self, gid: int) -> str:
        group = self.d.group(gid)
        return group.permissions if group is not None else "rw----"

    def visible(self, rec: Record) -> bool:
        return rec.kind in schema.ENUMS or acl.can_read(self.who, rec.owner_id, rec.group_id, self.perms_of)

    def record(self, rec: Record) -> Row:
        return Row(rec.kind, rec.id, rec, self)

    # -- rows of an entity -----------------------------------------------------------------

    def rows(self, entity: str) -> list[Row]:
        if entity == "Experimenter":
            return [self.user(u) for u in self.d.users()]
        if entity == "ExperimenterGroup":
            return [self.group(g) for g in self.d.groups()]
        if entity == "GroupExperimenterMap":
            return [self.link(lk) for lk in self.d.all_links()]
        if entity == "Session":
            visible = [r for r in self.registry.live_sessions() if self.admin or r.user is self.caller]
            return [self.session(r) for r in sorted(visible, key=lambda r: r.id)]
        if entity == "EventLog":
            return [self.event_log(e) for e in self.d.event_log if self.admin or e.experimenter_id == self.caller.id]
        if entity == "Event":
            events = sorted(self.d.events.values(), key=lambda e: e.id)
            return [self.event(e) for e in events if self.admin or e.experimenter_id == self.caller.id]
        if entity in schema.ENTITIES:
            return [self.record(r) for r in self.store.rows(entity) if self.visible(r)]
        if entity in EMPTY_ENTITIES:
            return []
        raise IllegalQuery(f"{entity} is not mapped (the stand-in knows Experimenter, ExperimenterGroup, "
                           f"GroupExperimenterMap, Session, EventLog, Event and {', '.join(sorted(schema.ENTITIES))})")

    def user(self, user: User) -> Row:
        return Row("Experimenter", user.id, user, self)

    def group(self, group: Group) -> Row:
        return Row("ExperimenterGroup", group.id, group, self)

    def link(self, link: Link) -> Row:
        return Row("GroupExperimenterMap", link.id, link, self)

    def session(self, rec: SessionRecord) -> Row:
        return Row("Session", rec.id, rec, self)

    def event_log(self, row: EventLogRow) -> Row:
        return Row("EventLog", row.id, row, self)

    def event(self, row: EventRow) -> Row:
        return Row("Event", row.id, row, self)

    def _user_id(self, uid: int | None) -> Row | None:
        user = self.d.user(uid) if uid is not None else None
        return self.user(user) if user is not None else None

    def _group_id(self, gid: int | None) -> Row | None:
        group = self.d.group(gid) if gid is not None else None
        return self.group(group) if group is not None else None

    # -- fields -------------------------------------------------------------------------------

    def field(self, row: Row, name: str) -> Any:
        if isinstance(row.record, Record):
            value = self._data(row.record, name)
        else:
            getter = getattr(self, f"_{row.entity}", None)
            value = getter(row.record, name) if getter else _MISSING
        if value is _MISSING:
            raise IllegalQuery(f"could not resolve property: {name} of: {row.entity}")
        return value

    def _Experimenter(self, u: User, name: str) -> Any:  # noqa: N802 - entity names
        simple = {"id": u.id, "omeName": u.name, "firstName": u.first_name, "middleName": u.middle_name,
                  "lastName": u.last_name, "email": u.email, "institution": u.institution, "ldap": u.ldap,
                  "version": 0}
        if name in simple:
            return simple[name]
        if name == "groupExperimenterMap":
            return [self.link(lk) for lk in self.d.links_of_user(u.id)]
        if name == "details":
            return Details(self.user(u), self._group_id(1), "rwr-r-")
        return _MISSING

    def _ExperimenterGroup(self, g: Group, name: str) -> Any:  # noqa: N802
        simple = {"id": g.id, "name": g.name, "description": g.description, "ldap": g.ldap, "version": 0}
        if name in simple:
            return simple[name]
        if name == "groupExperimenterMap":
            return [self.link(lk) for lk in self.d.links_of_group(g.id)]
        if name == "details":
            return Details(self._user_id(0), self.group(g), g.permissions)
        return _MISSING

    def _GroupExperimenterMap(self, lk: Link, name: str) -> Any:  # noqa: N802
        if name == "id":
            return lk.id
        if name == "owner":
            return lk.owner
        if name == "parent":
            return self._group_id(lk.group_id)
        if name == "child":
            return self._user_id(lk.user_id)
        if name == "details":
            return Details(self._user_id(0), self._group_id(lk.group_id), "rwr-r-")
        return _MISSING

    def _Session(self, s: SessionRecord, name: str) -> Any:  # noqa: N802
        simple = {"id": s.id, "uuid": s.uuid, "timeToIdle": s.tti_ms, "timeToLive": s.ttl_ms,
                  "started": s.started_ms, "closed": s.closed_ms, "userAgent": s.agent, "userIP": s.ip,
                  "defaultEventType": s.event_type, "message": "Initial message.", "version": 0}
        if name in simple:
            return simple[name]
        if name == "owner":
            return self.user(s.user)
        if name == "sudoer":
            return self.user(s.sudoer) if s.sudoer is not None else None
        if name == "details":
            return Details(self.user(s.user), self._group_id(s.group_id), "rw----")
        return _MISSING

    def _EventLog(self, e: EventLogRow, name: str) -> Any:  # noqa: N802
        simple = {"id": e.id, "action": e.action, "entityType": e.entity_type, "entityId": e.entity_id}
        if name in simple:
            return simple[name]
        if name == "event":
            return self.event(e.event)
        return _MISSING

    def _Event(self, e: EventRow, name: str) -> Any:  # noqa: N802
        if name == "id":
            return e.id
        if name == "time":
            return e.time_ms
        if name == "experimenter":
            return self._user_id(e.experimenter_id)
        if name == "experimenterGroup":
            return self._group_id(e.group_id)
        if name == "session":
            rec = next((r for r in self.registry.live_sessions() if r.id == e.session_id), None)
            return self.session(rec) if rec is not None else None
        return _MISSING


    def _event_id(self, eid: int | None) -> Row | None:
        event = self.d.events.get(eid) if eid is not None else None
        return self.event(event) if event is not None else None

    def _data(self, rec: Record, name: str) -> Any:
        """A field of a data record: plain value, the Row it refers to (if visible) or a collection."""
        if name == "id":
            return rec.id
        if name == "version":
            return rec.version
        if name == "details":
            info = self.store.deref(rec.external_info)
            return Details(self._user_id(rec.owner_id), self._group_id(rec.group_id), self.perms_of(rec.group_id),
                           self._event_id(rec.creation_event), self._event_id(rec.update_event),
                           self.record(info) if info is not None else None)
        found = schema.collection(rec.kind, name)
        if found is not None:
            element_kind, back = found
            return [self.record(e) for e in self.store.referrers(element_kind, back, rec.id) if self.visible(e)]
        if name in rec.fields:
            value = rec.fields[name]
        else:
            known = self.known_fields(rec.kind) if self.known_fields is not None else None
            if known is not None and name not in known:
                return _MISSING
            value = None
        if isinstance(value, Ref):
            target = self.store.deref(value)
            return self.record(target) if target is not None and self.visible(target) else None
        if isinstance(value, list) and (rec.kind, name) in schema.NAMED_VALUE_FIELDS:
            return [Component("NamedValue", {"name": n, "value": v}) for n, v in value]
        if isinstance(value, list):
            return list(value)
        if hasattr(value, "getUnit"):
            return Component(type(value).__name__, {"value": value.getValue(), "unit": str(value.getUnit())})
        return value


_MISSING = object()
