"""Between omero.model objects and the store's records: field lists, what a client sent, what it gets.

Field names and types come from omero.model itself (each class's ``_field_info``; a field with a
``_<name>Seq`` attribute is a collection), so every entity of ``schema`` gets all its fields.
A record keeps plain values (``unwrap``-ed rtypes), a ``Ref`` for a reference, pairs for
``mapValue``, and unit objects (``LengthI``...) as they came.

``Builder`` makes the objects a query returns as Hibernate would: scalar fields loaded, a
reference loaded only if the query fetched it (else an unloaded proxy with its id, or the
loaded instance if the same object was loaded elsewhere in the answer), collections loaded
only if fetched (then holding the elements the caller may see), ``details.owner``/``group``
loaded only if fetched, and ``details.permissions`` carrying the caller's rights on the object
(``canEdit``, ``canAnnotate``... read them), as ``BasicACLVoter.postProcess`` does.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import omero
import omero.model
from omero.rtypes import rint, unwrap

from . import acl, objects, schema
from .datastore import Record, Ref, Store
from .directory import Directory
from .errors import BadUsage

Plan = dict[str, Any]
"""What to load below an object: field name -> the plan for the loaded object(s) there."""


def model_class(kind: str) -> type:
    cls = getattr(omero.model, kind + "I", None)
    if cls is None:
        raise BadUsage(f"{kind} is not an OMERO model class")
    return cls


def kind_of(obj: Any) -> str:
    """``omero.model.ProjectI`` -> ``Project``; BadUsage for entities the stand-in does not hold."""
    name = type(obj).__name__
    kind = name[:-1] if name.endswith("I") else name
    if kind not in schema.ENTITIES:
        raise BadUsage(f"{kind} objects are not held by the omero-profiles stand-in server "
                       f"(it holds {', '.join(sorted(k for k, e in schema.ENTITIES.items() if not e.abstract))})")
    return kind


@dataclass(frozen=True)
class Fields:
    scalars: dict[str, Any]
    """Field -> its rtype wrapper (``rstring``, ``rint``...)."""
    objects: tuple[str, ...]
    """Fields holding an object: a reference to another entity, or a unit (``LengthI``)."""
    collections: tuple[str, ...]
    nullable: frozenset[str]


@functools.cache
def fields(kind: str) -> Fields:
    cls = model_class(kind)
    sample = cls()
    info = cls._field_info
    scalars: dict[str, Any] = {}
    objs, colls, nullable = [], [], set()
    for name in info._fields:
        if name == "details":
            continue
        data = getattr(info, name)
        if data.nullable:
            nullable.add(name)
        if hasattr(sample, f"_{name}Seq"):
            colls.append(name)
        elif data.wrapper is None:  # raw bytes (a mask's)
            scalars[name] = _raw
        elif data.wrapper.__name__ == "proxy_to_instance":
            objs.append(name)
        else:
            scalars[name] = data.wrapper
    return Fields(scalars, tuple(objs), tuple(colls), frozenset(nullable))


def _raw(value: Any) -> Any:
    return value


def read_value(value: Any) -> Any:
    """A client's field value as the store keeps it (not for references)."""
    if value is None:
        return None
    if isinstance(value, list):  # a map's name/value pairs, or a list of strings (Namespace.keywords)
        return [(unwrap(nv.name), unwrap(nv.value)) if isinstance(nv, omero.model.NamedValue) else nv
                for nv in value]
    if isinstance(value, omero.RType):
        return unwrap(value)
    return value  # a unit (LengthI, TimeI...): kept as it came


def same(a: Any, b: Any) -> bool:
    """Are two stored values equal (units by value and unit)?"""
    if hasattr(a, "getUnit") and hasattr(b, "getUnit"):
        return (a.getValue(), str(a.getUnit())) == (b.getValue(), str(b.getUnit()))
    return bool(a == b)


def java_name(kind: str, rid: int | None) -> str:
    """How OMERO prints an object in messages: ``ome.model.containers.Project:Id_5``."""
    return f"{schema.ENTITIES[kind].java}:Id_{rid}" if rid is not None else f"{schema.ENTITIES[kind].java}:Id_null"


def shape_plan(obj: Any, seen: set[int] | None = None) -> Plan:
    """The plan that returns an object graph shaped like ``obj`` (what a save returns)."""
    seen = set() if seen is None else seen
    if obj is None or id(obj) in seen or not obj.isLoaded():
        return {}
    seen.add(id(obj))
    plan: Plan = {}
    try:
        info = fields(kind_of(obj))
    except BadUsage:
        return {}
    for name in info.objects:
        value = getattr(obj, f"_{name}", None)
        if isinstance(value, omero.model.IObject) and value.isLoaded():
            plan[name] = shape_plan(value, seen)
    details = obj.getDetails()
    ext = details.externalInfo if details is not None else None
    if isinstance(ext, omero.model.IObject) and ext.isLoaded():
        plan["details"] = {"externalInfo": {}}
    for name in info.collections:
        if getattr(obj, f"_{name}Loaded", False):
            merged: Plan = {}
            for element in getattr(obj, f"_{name}Seq", None) or []:
                merged.update(shape_plan(element, seen))
            plan[name] = merged
    return plan


class Builder:
    """Builds omero.model objects from records for one caller (``acl.Actor``), one answer at a time."""

    def __init__(self, store: Store, directory: Directory, who: acl.Actor,
                 call_context: dict[str, str] | None = None, event: Any = None) -> None:
        self.store = store
        self.d = directory
        self.who = who
        self.call_context = call_context
        self.event = event
        """Set on every object's details, as OMERO's ``applyContext`` does (``getCallContext``...)."""
        self.cache: dict[tuple[str, int], Any] = {}
        self.loaded: set[tuple[str, int, str]] = set()

    def perms_of(self, gid: int) -> str:
        group = self.d.group(gid)
        return group.permissions if group is not None else "rw----"

    def visible(self, rec: Record) -> bool:
        return rec.kind in schema.ENUMS or acl.can_read(self.who, rec.owner_id, rec.group_id, self.perms_of)

    def build(self, rec: Record, plan: Plan | None = None) -> Any:
        plan = plan or {}
        key = (rec.table, rec.id)
        obj = self.cache.get(key)
        if obj is None:
            obj = self._scalars(rec)
            self.cache[key] = obj
            self._details(obj, rec, plan.get("details", {}))
        self._relations(obj, rec, plan)
        return obj

    def _scalars(self, rec: Record) -> Any:
        obj = model_class(rec.kind)(rec.id, True)
        info = fields(rec.kind)
        if hasattr(obj, "_version"):
            obj._version = rint(rec.version)
        for name, wrapper in info.scalars.items():
            value = rec.fields.get(name)
            if value is None:
                setattr(obj, f"_{name}", None)
            elif (rec.kind, name) in schema.NAMED_VALUE_FIELDS:
                setattr(obj, f"_{name}", [omero.model.NamedValue(n, v) for n, v in value])
            elif isinstance(value, list):
                setattr(obj, f"_{name}", list(value))
            else:
                setattr(obj, f"_{name}", wrapper(value))
        for name in info.objects:
            value = rec.fields.get(name)
            if value is not None and not isinstance(value, Ref):
                setattr(obj, f"_{name}", value)  # a unit
        return obj

    def _relations(self, obj: Any, rec: Record, plan: Plan) -> None:
        info = fields(rec.kind)
        for name in info.objects:
            ref = rec.fields.get(name)
            if not isinstance(ref, Ref):
                if ref is None:
                    setattr(obj, f"_{name}", None)
                continue
            target = self.store.deref(ref)
            key = (ref.table, ref.id)
            if name in plan and target is not None and self.visible(target):
                setattr(obj, f"_{name}", self.build(target, plan[name]))
            elif key in self.cache:
                setattr(obj, f"_{name}", self.cache[key])
            else:
                current = getattr(obj, f"_{name}", None)
                if not (isinstance(current, omero.model.IObject) and current.isLoaded()):
                    setattr(obj, f"_{name}", model_class(ref.kind)(ref.id, False))
        for name in info.collections:
            found = schema.collection(rec.kind, name)
            if name in plan and found is not None:
                element_kind, back = found
                elements = [e for e in self.store.referrers(element_kind, back, rec.id) if self.visible(e)]
                self.loaded.add((rec.table, rec.id, name))
                setattr(obj, f"_{name}Seq", [self.build(e, plan[name]) for e in elements])
                setattr(obj, f"_{name}Loaded", True)
            elif (rec.table, rec.id, name) not in self.loaded:  # not loaded by another plan in this answer
                setattr(obj, f"_{name}Seq", [])
                setattr(obj, f"_{name}Loaded", False)

    def _details(self, obj: Any, rec: Record, plan: Plan) -> None:
        details = obj.details
        if rec.kind in schema.ENUMS:
            details.permissions = omero.model.PermissionsI("rwr-r-")
            return
        user = self.d.user(rec.owner_id)
        group = self.d.group(rec.group_id)
        if "owner" in plan and user is not None:
            details.owner = objects.experimenter_obj(self.d, user, groups=False)
        else:
            details.owner = omero.model.ExperimenterI(rec.owner_id, False)
        if "group" in plan and group is not None:
            details.group = objects.group_obj(self.d, group, members=False)
        else:
            details.group = omero.model.ExperimenterGroupI(rec.group_id, False)
        for field, event_id in (("creationEvent", rec.creation_event), ("updateEvent", rec.update_event)):
            event = self.d.events.get(event_id) if event_id is not None else None
            if event is None:
                continue
            setattr(details, f"_{field}", objects.event_obj(event) if field in plan
                    else omero.model.EventI(event.id, False))
        info = self.store.deref(rec.external_info)
        if info is not None:
            details.externalInfo = (self.build(info) if "externalInfo" in plan
                                    else omero.model.ExternalInfoI(info.id, False))
        details.permissions = self.permissions(rec)
        if self.call_context is not None:
            details._call = self.call_context
        if self.event is not None:
            details._event = self.event

    def permissions(self, rec: Record) -> Any:
        """The group's permissions with the caller's restrictions (``BasicACLVoter.postProcess``)."""
        perms = omero.model.PermissionsI(self.perms_of(rec.group_id))
        is_file = schema.is_a(rec.kind, "OriginalFile")
        allowed = acl.rights(self.who, rec.owner_id, rec.group_id, self.perms_of, is_file)
        chgrp = self.who.privileged("Chgrp") or rec.owner_id == self.who.user_id
        chown = self.who.privileged("Chown") or rec.group_id in self.who.leader_of
        perms._restrictions = [scope not in allowed for scope in acl.SCOPES] + [not chgrp, not chown]
        perms._extendedRestrictions = []
        return perms
