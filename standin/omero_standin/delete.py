"""``Delete2``: delete objects with what depends on them, by OMERO's graph rules, free of Ice.

From omero-blitz's ``blitz-delete-rules.xml``, reduced to the entities the stand-in holds:

- the targets must exist, be visible and be deletable by the caller ("graph-fail" otherwise);
- links go with either end, whatever the permissions; so do an image's pixels and channels, a
  ROI's shapes, a plate's wells and runs, a well's fields, a fileset's entries and images;
- a container's contents are *considered*: datasets of a deleted project, images of a deleted
  dataset, plates of a deleted screen, the image of a deleted field, the ROIs and the fileset of
  a deleted image; a considered object the caller may delete goes if nothing else holds it
  (another project, dataset, screen, field or image that stays);
- annotations of a deleted object or a deleted link are considered: comments and basic
  annotations (numbers, booleans, terms, timestamps) whatever the permissions; maps and XML if
  the caller may delete them; tags and files only when their object is deleted, and only if
  they have that object's owner and the caller may delete them; each goes if no link remains;
- an original file no longer used by a file annotation or fileset entry goes;
- errors as OMERO's: a tag on data the caller may not delete ("may not delete ... while ...
  remains"), an image of a fileset whose other images stay, an image that is a field of a well,
  an original file still in a fileset.

``ChildOption`` ``excludeType`` keeps the named kinds (BlitzGateway's ``deleteObjects`` keeps
datasets, images, tags, terms and files unless asked); ``includeType`` deletes them even if held
elsewhere. ``dryRun`` reports without deleting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from . import acl, schema
from .datastore import Record, Store

_CONTAINED: dict[str, tuple[tuple[str, str], ...]] = {
    "Image": (("Pixels", "image"),),
    "Pixels": (("Channel", "pixels"),),
    "Roi": (("Shape", "roi"),),
    "Plate": (("Well", "plate"), ("PlateAcquisition", "plate")),
    "Well": (("WellSample", "well"),),
    "PlateAcquisition": (("WellSample", "plateAcquisition"),),
    "Fileset": (("FilesetEntry", "fileset"), ("Image", "fileset")),
}
"""Deleted with their holder: (element kind, its reference to the holder)."""
_HOLDERS: dict[str, tuple[tuple[str, str], ...]] = {
    "Dataset": (("ProjectDatasetLink", "child"),),
    "Image": (("DatasetImageLink", "child"), ("WellSample", "image")),
    "Plate": (("ScreenPlateLink", "child"),),
    "Roi": (("Roi", "image"),),
    "OriginalFile": (("FileAnnotation", "file"), ("FilesetEntry", "originalFile")),
    "LogicalChannel": (("Channel", "logicalChannel"),),
    "Annotation": tuple((link, "child") for link in schema.LINKS if schema.is_annotation_link(link)),
}
"""What keeps a considered object: (kind, reference) of records that hold it while they stay."""
_ALWAYS = ("BasicAnnotation", "CommentAnnotation")
_IF_DELETABLE = ("MapAnnotation", "XmlAnnotation")
_SAME_OWNER = ("TagAnnotation", "FileAnnotation")


class GraphError(Exception):
    """The request fails: ``name`` as OMERO's (``graph-fail``), ``message`` saying why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Plan:
    store: Store
    who: acl.Actor
    perms_of: Callable[[int], str]
    include: frozenset[str] = frozenset()
    exclude: frozenset[str] = frozenset()
    doomed: dict[tuple[str, int], Record] = field(default_factory=dict)
    considered: dict[tuple[str, int], Record] = field(default_factory=dict)

    def name(self, rec: Record) -> str:
        return f"{schema.ENTITIES[rec.kind].java}:Id_{rec.id}"

    def visible(self, rec: Record) -> bool:
        return acl.can_read(self.who, rec.owner_id, rec.group_id, self.perms_of)

    def may_delete(self, rec: Record) -> bool:
        return "delete" in acl.rights(self.who, rec.owner_id, rec.group_id, self.perms_of,
                                      schema.is_a(rec.kind, "OriginalFile"))

    def _matches(self, rec: Record, kinds: Iterable[str]) -> bool:
        return any(k in schema.ENTITIES and schema.is_a(rec.kind, k) for k in kinds)

    # -- growing the set ---------------------------------------------------------------------

    def doom(self, rec: Record) -> None:
        key = (rec.table, rec.id)
        if key in self.doomed:
            return
        self.doomed[key] = rec
        self.considered.pop(key, None)
        info = self.store.deref(rec.external_info)
        if info is not None:  # "[D].details.externalInfo = EI:[E]" -> EI:[D], whatever the permissions
            self.doom(info)
        self._links_of(rec)
        for kind, back in _CONTAINED.get(rec.table, ()) + _CONTAINED.get(rec.kind, ()):
            for element in self.store.referrers(kind, back, rec.id):
                self.doom(element)
        if rec.kind == "Image":
            for roi in self.store.referrers("Roi", "image", rec.id):
                self.consider(roi, needs_delete=True)
            fileset = self.store.deref(rec.fields.get("fileset"))
            if fileset is not None:
                self.consider(fileset, needs_delete=False)
        if rec.kind == "WellSample":
            image = self.store.deref(rec.fields.get("image"))
            if image is not None:
                self.consider(image, needs_delete=True)
        if rec.kind == "Channel":
            logical = self.store.deref(rec.fields.get("logicalChannel"))
            if logical is not None:
                self.consider(logical, needs_delete=False)
        if rec.kind in ("FileAnnotation", "FilesetEntry"):
            file = self.store.deref(rec.fields.get("file" if rec.kind == "FileAnnotation" else "originalFile"))
            if file is not None:
                self.consider(file, needs_delete=False)
        if rec.kind == "OriginalFile":
            for ann in self.store.referrers("FileAnnotation", "file", rec.id):
                self.doom(ann)

    def _links_of(self, rec: Record) -> None:
        for link, (parent_kind, child_kind) in schema.LINKS.items():
            for end, other_end in (("parent", "child"), ("child", "parent")):
                if not schema.is_a(rec.kind, parent_kind if end == "parent" else child_kind):
                    continue
                for lk in self.store.referrers(link, end, rec.id):
                    if (lk.table, lk.id) in self.doomed:
                        continue
                    other = self.store.deref(lk.fields.get(other_end))
                    if end == "child" and schema.is_a(rec.kind, "TagAnnotation") and other is not None \
                            and (other.table, other.id) not in self.doomed and not self.may_delete(other):
                        raise GraphError(f"may not delete {self.name(rec)} while {self.name(other)} remains")
                    self.doom(lk)
                    if end == "parent" and other is not None:
                        self._consider_child(rec, lk, other)

    def _consider_child(self, parent: Record, link: Record, child: Record) -> None:
        if schema.is_annotation_link(link.kind):
            if self._matches(child, _ALWAYS):
                self.consider(child, needs_delete=False)
            elif self._matches(child, _IF_DELETABLE):
                self.consider(child, needs_delete=True)
            elif self._matches(child, _SAME_OWNER) and child.owner_id == parent.owner_id:
                self.consider(child, needs_delete=True)
            elif self._matches(child, _SAME_OWNER) and self._matches(child, self.include):
                self.consider(child, needs_delete=True)
        else:
            self.consider(child, needs_delete=True)

    def consider(self, rec: Record, needs_delete: bool) -> None:
        key = (rec.table, rec.id)
        if key in self.doomed or self._matches(rec, self.exclude):
            return
        if needs_delete and not self.may_delete(rec):
            return
        self.considered[key] = rec

    def link_doomed(self, rec: Record) -> None:
        """A link deleted as a target: its annotation is considered as when it is unlinked."""
        child = self.store.deref(rec.fields.get("child"))
        if child is None or not schema.is_annotation_link(rec.kind):
            return
        if self._matches(child, _ALWAYS):
            self.consider(child, needs_delete=False)
        elif self._matches(child, _IF_DELETABLE):
            self.consider(child, needs_delete=True)

    # -- settling ------------------------------------------------------------------------------

    def held(self, rec: Record) -> bool:
        """Is ``rec`` still held by something that stays?"""
        if self._matches(rec, self.include):
            return False
        for kind, back in _HOLDERS.get(rec.table, ()) + _HOLDERS.get(rec.kind, ()):
            if kind == "Roi":  # a ROI is held by its image while the image stays
                image = self.store.deref(rec.fields.get("image"))
                if image is not None and (image.table, image.id) not in self.doomed:
                    return True
                continue
            for holder in self.store.referrers(kind, back, rec.id):
                if (holder.table, holder.id) not in self.doomed:
                    return True
        return False

    def settle(self) -> None:
        changed = True
        while changed:
            changed = False
            for key, rec in list(self.considered.items()):
                if key in self.doomed or key not in self.considered:
                    continue
                if rec.kind == "Fileset":
                    images = self.store.referrers("Image", "fileset", rec.id)
                    if any((i.table, i.id) not in self.doomed for i in images):
                        continue
                elif self.held(rec):
                    continue
                self.doom(rec)
                changed = True
        self._check()

    def _check(self) -> None:
        for rec in list(self.doomed.values()):
            if rec.kind == "Image":
                fileset = self.store.deref(rec.fields.get("fileset"))
                if fileset is not None:
                    for other in self.store.referrers("Image", "fileset", fileset.id):
                        if (other.table, other.id) not in self.doomed:
                            raise GraphError(f"within {self.name(fileset)} may not delete {self.name(rec)} while "
                                             f"{self.name(other)} remains")
                for sample in self.store.referrers("WellSample", "image", rec.id):
                    if (sample.table, sample.id) not in self.doomed:
                        raise GraphError(f"may not delete {self.name(rec)} while {self.name(sample)} remains")
            if rec.kind == "OriginalFile":
                for entry in self.store.referrers("FilesetEntry", "originalFile", rec.id):
                    if (entry.table, entry.id) not in self.doomed:
                        raise GraphError(f"may not delete {self.name(rec)} while {self.name(entry)} remains")


def target_kind(name: str) -> str:
    """``Project``, ``omero.model.ProjectI`` or ``ome.model.containers.Project`` -> ``Project``."""
    kind = name.rsplit(".", 1)[-1]
    kind = kind[:-1] if kind.endswith("I") and kind[:-1] in schema.ENTITIES else kind
    if kind not in schema.ENTITIES:
        raise GraphError(f"unknown target type {name} (the stand-in holds {', '.join(sorted(schema.ENTITIES))})")
    return kind


def plan_delete(store: Store, who: acl.Actor, perms_of: Callable[[int], str], targets: dict[str, list[int]],
                include: Iterable[str] = (), exclude: Iterable[str] = ()) -> Plan:
    """Everything a Delete2 of ``targets`` deletes, or GraphError."""
    plan = Plan(store, who, perms_of, frozenset(include), frozenset(exclude))
    for name, ids in targets.items():
        kind = target_kind(name)
        for rid in ids:
            rec = store.get(kind, rid)
            if rec is None or not plan.visible(rec):
                raise GraphError(f"no {schema.ENTITIES[kind].java}:Id_{rid} that the user may see")
            if not plan.may_delete(rec):
                raise GraphError(f"user may not delete {plan.name(rec)}")
            plan.doom(rec)
            plan.link_doomed(rec)
    plan.settle()
    return plan


def deleted_objects(plan: Plan) -> dict[str, list[int]]:
    """``Delete2Response.deletedObjects``: Java class name -> ids."""
    out: dict[str, list[int]] = {}
    for rec in sorted(plan.doomed.values(), key=lambda r: (r.kind, r.id)):
        out.setdefault(schema.ENTITIES[rec.kind].java, []).append(rec.id)
    return out

