"""Saving and deleting a client's object graph with OMERO's rules: ``IUpdate`` behind the servant.

A save walks the graph it is given as Hibernate's merge does: an object without an id is
created, an unloaded one (``ProjectI(5, False)``) is a reference to what is stored, a loaded
one with an id is merged (changed only if a field differs). Rules and messages are
OMERO.server's (``OmeroInterceptor.newTransientDetails``, ``evaluateLinkages``,
``checkManagedDetails``; ``BasicACLVoter`` via ``acl``):

- a new object's group is the call's group (``omero.group`` in the call context, else the
  session's); one naming another group is refused unless the call's group is -1 and the caller
  is a member; with -1 and no group named, the group of the first object it links to, else
  OMERO's error for a save without context;
- a new object's owner is the caller; naming someone else needs an administrator with
  WriteOwned;
- every object linked to must be in the same group ("MIXED GROUP"), and the caller needs the
  right to link (``w``) or, for an annotation link or a Roi on an image, to annotate (``a``)
  it, unless they own it, lead its group or are a privileged administrator; in a private
  group an administrator or group owner may not link to others' data;
- changing an object needs the call to be in the object's group ("Currently logged into
  group...") and the right to edit it; changing its owner needs Chown;
- ``deleteObject`` needs the right to delete, and nothing else may refer to the object.

Every call is one Event; each insert, update and delete is logged (``INSERT``, ``UPDATE``,
``DELETE``) in OMERO's EventLog.
"""

from __future__ import annotations

from typing import Any

import omero
import omero.model
from omero.rtypes import unwrap

from . import acl, schema
from .datastore import Record, Ref, Store
from .directory import USER, Directory, EventRow
from .errors import BadUsage, Denied, Invalid
from .marshal import fields, java_name, kind_of, read_value, same


class GroupViolation(Denied):
    """OMERO's GroupSecurityViolation (a SecurityViolation)."""


class ReadOnlyGroupViolation(Denied):
    """OMERO's ReadOnlyGroupSecurityViolation (a SecurityViolation)."""


class NoContext(BadUsage):
    """A save with omero.group = -1 that gives no group: an ApiUsageException, as OMERO's
    ``test_permissions.py`` (testSaveWithNegOneNotExplicit) expects."""


class Writer:
    """One IUpdate call (or one seeding step) by one caller, in one session."""

    def __init__(self, store: Store, directory: Directory, who: acl.Actor, session_id: int) -> None:
        self.store = store
        self.d = directory
        self.who = who
        self.session_id = session_id
        self.memo: dict[int, Ref] = {}
        self.new: set[Ref] = set()
        self.event: EventRow | None = None

    # -- helpers --------------------------------------------------------------------------

    def perms_of(self, gid: int) -> str:
        group = self.d.group(gid)
        return group.permissions if group is not None else "rw----"

    def _event(self) -> EventRow:
        """The call's Event, in the call's group; with -1, in the caller's first group other than
        ``user`` (``BasicSecuritySystem.loadEventContext``), whatever the objects' group."""
        if self.event is None:
            self.event = self.d.new_event(self.who.user_id, self.session_id,
                                          self.who.group_id if self.who.group_id >= 0 else None)
        return self.event

    def _log(self, action: str, rec: Record) -> None:
        self.d.log_event(action, schema.ENTITIES[rec.kind].java, rec.id, self.who.user_id, self.session_id,
                         event=self._event())

    def _group_name(self, gid: int) -> str:
        return f"ome.model.meta.ExperimenterGroup:Id_{gid}"

    # -- saving -----------------------------------------------------------------------------

    def save(self, obj: Any) -> Ref | None:
        """Save ``obj`` and everything it holds; the reference to the stored object."""
        if obj is None:
            return None
        if id(obj) in self.memo:
            return self.memo[id(obj)]
        if not isinstance(obj, omero.model.IObject):
            raise BadUsage(f"cannot save {type(obj).__name__}: not an OMERO model object")
        kind = kind_of(obj)
        oid = unwrap(obj.getId())
        if kind in schema.ENUMS:
            return self._enum(obj, kind, oid)
        if not obj.isLoaded():
            if oid is None:
                raise BadUsage(f"unloaded {kind} without an id")
            rec = self.store.get(kind, oid)
            if rec is None:
                raise Invalid(f"No row with the given identifier exists: [{schema.ENTITIES[kind].java}#{oid}]")
            self.memo[id(obj)] = rec.ref
            return rec.ref
        if oid is None:
            return self._insert(obj, kind)
        return self._merge(obj, kind, oid)

    def _enum(self, obj: Any, kind: str, oid: int | None) -> Ref:
        rec = self.store.get(kind, oid) if oid is not None else None
        if rec is None and obj.isLoaded():
            rec = self.store.find_enum(kind, unwrap(getattr(obj, "_value", None)) or "")
        if rec is None:
            raise BadUsage(f"no {kind} {oid if oid is not None else unwrap(getattr(obj, '_value', None))!r}")
        self.memo[id(obj)] = rec.ref
        return rec.ref

    def _values(self, obj: Any, kind: str) -> dict[str, Any]:
        """The object's field values as the store keeps them, saving the objects it refers to."""
        info = fields(kind)
        values: dict[str, Any] = {}
        for name in info.scalars:
            values[name] = read_value(getattr(obj, f"_{name}", None))
        for name in info.objects:
            value = getattr(obj, f"_{name}", None)
            values[name] = self.save(value) if isinstance(value, omero.model.IObject) else read_value(value)
        for name, value in values.items():
            if value is None and name not in info.nullable:
                raise Invalid(f"not-null property references a null or transient value: "
                              f"{schema.ENTITIES[kind].java}.{name}")
        return values

    def _collections(self, obj: Any, kind: str, ref: Ref) -> None:
        """Save the elements of the object's loaded collections (new links, pixels, shapes...)."""
        for name in fields(kind).collections:
            if not getattr(obj, f"_{name}Loaded", False):
                continue
            elements = getattr(obj, f"_{name}Seq", None) or []
            if not elements:
                continue
            found = schema.collection(kind, name)
            if found is None:
                raise BadUsage(f"{kind}.{name} is not held by the omero-profiles stand-in server")
            _, back = found
            for element in elements:
                if element is not None and element.isLoaded() and getattr(element, f"_{back}", None) is None:
                    setattr(element, f"_{back}", obj)
                self.save(element)

    def _requested(self, obj: Any) -> tuple[int | None, int | None, Any]:
        details = obj.getDetails()
        if details is None:
            return None, None, None
        owner = unwrap(details.owner.getId()) if details.owner is not None else None
        group = unwrap(details.group.getId()) if details.group is not None else None
        return owner, group, details.permissions

    def _insert(self, obj: Any, kind: str) -> Ref:
        if schema.ENTITIES[kind].abstract:
            raise BadUsage(f"cannot create an abstract {kind}")
        is_file = schema.is_a(kind, "OriginalFile")
        privileged = acl.privileged_creator(self.who, is_file)
        name = java_name(kind, None)
        if self.who.guest:
            raise Denied(f"not permitted to create {name}")
        ref = Ref(kind, self.store.next_id(kind))
        self.memo[id(obj)] = ref
        self.new.add(ref)
        values = self._values(obj, kind)
        linked = [r for r in (self.store.deref(v) for v in values.values() if isinstance(v, Ref))
                  if r is not None and r.kind not in schema.ENUMS]
        owner, group, perms = self._requested(obj)
        gid = self._new_group(obj, kind, group, privileged, linked)
        if owner is not None and owner != self.who.user_id:
            if not privileged:
                raise Denied(f"You are not authorized to set the Experimenter for {name} to "
                             f"ome.model.meta.Experimenter:Id_{owner}")
        else:
            owner = self.who.user_id
        if perms is not None and omero.model.PermissionsI(self.perms_of(gid)).getPerm1() != perms.getPerm1():
            if gid != USER:
                raise Denied("Manually setting permissions currently disallowed")
        rec = Record(kind, ref.id, owner, gid, values)
        rec.external_info = self._external_info(obj)
        self._check_links(rec, linked)
        event = self._event()
        rec.creation_event = rec.update_event = event.id
        self.store.put(rec)
        self._log("INSERT", rec)
        self._collections(obj, kind, ref)
        return ref

    def _external_info(self, obj: Any) -> Ref | None:
        """``details.externalInfo``: saved with the object (a user concern since OMERO 5.2)."""
        details = obj.getDetails()
        info = details.externalInfo if details is not None else None
        return self.save(info) if info is not None else None

    def _new_group(self, obj: Any, kind: str, group: int | None, privileged: bool, linked: list[Record]) -> int:
        """``newTransientDetails`` and ``evaluateLinkages``: the group a new object goes to."""
        name = java_name(kind, None)
        who = self.who
        if group is not None:
            if not (group == who.group_id or (privileged and group == USER)
                    or (who.group_id < 0 and (privileged or group in who.member_of))):
                raise Denied(f"You are not authorized to set the ExperimenterGroup for {name} to "
                             f"{self._group_name(group)}")
            gid = group
        elif who.group_id >= 0:
            gid = who.group_id
        elif linked:
            gid = linked[0].group_id
        else:
            raise NoContext("No valid permissions available! DUMMY permissions are not intended for copying. "
                            "Make sure that you have not passed omero.group=-1 for a save without context")
        if not (privileged or gid in who.member_of):
            right = "annotate" if schema.is_annotation_link(kind) else "write"
            if not acl.granted(self.perms_of(gid), "world", right):
                raise Denied(f"You are not authorized to create {name}")
        return gid

    def _check_links(self, rec: Record, linked: list[Record]) -> None:
        """``OmeroInterceptor.evaluateLinkages`` for every object ``rec`` refers to."""
        name = java_name(rec.kind, rec.id)
        for target in linked:
            target_name = java_name(target.kind, target.id)
            if target.group_id != rec.group_id:
                raise GroupViolation(f"MIXED GROUP: {name}(group={self._group_name(rec.group_id)}) and "
                                     f"{target_name}(group={self._group_name(target.group_id)}) cannot be linked.")
            if target.ref in self.new:
                continue  # made by this call: the caller's own
            is_owner = target.owner_id == self.who.user_id
            perms = self.perms_of(target.group_id)
            if not is_owner and acl.graph_critical(self.who, rec.group_id, self.perms_of):
                if rec.owner_id != target.owner_id:
                    user = self.d.user(self.who.user_id)
                    group = self.d.group(rec.group_id)
                    raise ReadOnlyGroupViolation(
                        f"Cannot link to {target_name}\nCurrent user ({user.name if user else self.who.user_id}) "
                        f"is an admin or the owner of\nthe private group "
                        f"({group.name if group else rec.group_id}={perms}). It is not allowed to\n"
                        "link to users' data.")
            is_file = schema.is_a(target.kind, "OriginalFile")
            if acl.supervisor(self.who, target.owner_id, target.group_id, is_file):
                continue
            right = acl.link_right(rec.kind, target.kind, schema.is_annotation_link(rec.kind))
            role = "user" if is_owner else "group" if target.group_id in self.who.member_of else "world"
            if not acl.granted(perms, role, right):
                raise Denied(f"Group is {perms}. Cannot link to object: {target_name}")

    def _merge(self, obj: Any, kind: str, oid: int) -> Ref:
        rec = self.store.get(kind, oid)
        if rec is None:
            raise Invalid("object no longer exists in database")
        self.memo[id(obj)] = rec.ref
        if kind in schema.IMMUTABLE:
            return rec.ref
        values = self._values(obj, kind)
        owner, group, _ = self._requested(obj)
        changed = {k: v for k, v in values.items() if not same(v, rec.fields.get(k))}
        moved = group is not None and group != rec.group_id
        given = owner is not None and owner != rec.owner_id
        info = self._external_info(obj)
        if changed or moved or given or info != rec.external_info:
            self._update(rec, changed, owner if given else None, group if moved else None, info)
        self._collections(obj, kind, rec.ref)
        return rec.ref

    def _update(self, rec: Record, changed: dict[str, Any], owner: int | None, group: int | None,
                info: Ref | None) -> None:
        """``checkManagedDetails`` and ``allowUpdate`` for a change to a stored object."""
        name = java_name(rec.kind, rec.id)
        who = self.who
        if rec.group_id != who.group_id and rec.group_id != USER:
            raise Denied(f"Currently logged into group {who.group_id}. Cannot alter object in group {rec.group_id}")
        if owner is not None and not (who.privileged("Chown")):
            raise Denied(f"You are not authorized to change the owner for {name} from "
                         f"ome.model.meta.Experimenter:Id_{rec.owner_id} to ome.model.meta.Experimenter:Id_{owner}")
        if group is not None and not ((group != USER and group in who.member_of) or who.privileged("Chgrp")):
            raise Denied(f"You are not authorized to change the group for {name} from "
                         f"{self._group_name(rec.group_id)} to {self._group_name(group)}")
        is_file = schema.is_a(rec.kind, "OriginalFile")
        if "edit" not in acl.rights(who, rec.owner_id, rec.group_id, self.perms_of, is_file):
            raise Denied(f"Updating {name} not allowed.")
        updated = rec.copy()
        updated.fields.update(changed)
        updated.owner_id = owner if owner is not None else rec.owner_id
        updated.group_id = group if group is not None else rec.group_id
        updated.external_info = info
        linked = [r for r in (self.store.deref(v) for k, v in changed.items() if isinstance(v, Ref))
                  if r is not None and r.kind not in schema.ENUMS]
        self._check_links(updated, linked)
        updated.version = rec.version + 1
        updated.update_event = self._event().id
        self.store.put(updated)
        self._log("UPDATE", updated)

    # -- deleting --------------------------------------------------------------------------------

    def delete_object(self, obj: Any) -> None:
        """``IUpdate.deleteObject``: one object the caller may delete, to which nothing refers."""
        kind = kind_of(obj)
        oid = unwrap(obj.getId())
        if oid is None:
            raise BadUsage("Non-managed IObject entity cannot be deleted. Must have an id.")
        rec = self.store.get(kind, oid)
        name = java_name(kind, oid)
        if rec is None:
            raise BadUsage(f"Cannot delete {name}\nOriginal message: no such object\nConsider using IDelete instead.")
        is_file = schema.is_a(rec.kind, "OriginalFile")
        if "delete" not in acl.rights(self.who, rec.owner_id, rec.group_id, self.perms_of, is_file):
            raise Denied(f"Deleting {name} not allowed.")
        holders = self.referrers(rec)
        if holders:
            raise Invalid(f"Cannot delete {name}: still referenced by {java_name(holders[0].kind, holders[0].id)} "
                          "(use Delete2 to delete an object with what depends on it)")
        self.remove(rec)

    def referrers(self, rec: Record) -> list[Record]:
        """Every stored record with a reference to ``rec``."""
        out = []
        for other in self.store.all_records():
            if any(isinstance(v, Ref) and v.table == rec.table and v.id == rec.id for v in other.fields.values()):
                out.append(other)
        return out

    def remove(self, rec: Record) -> None:
        self.store.remove(rec.ref)
        self._log("DELETE", rec)
