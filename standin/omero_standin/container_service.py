"""IContainer and IRoi: the container and ROI reads BlitzGateway and ezomero make.

As OMERO's ``PojosImpl`` and ``RoiI``: ``loadContainerHierarchy`` (projects with their datasets,
and with ``leaves`` their images; datasets, screens with plates, plates), ``getImages``
(the images in projects, datasets, screens, plates or wells, or images by id, with pixels and
pixel type loaded), ``getCollectionCount``, ``findContainerHierarchies`` (projects and datasets
holding images), ``IRoi.findByImage`` and ``findByRoi`` (ROIs with their shapes). Options are
``omero.sys.Parameters`` as ``ParametersI`` makes them: ``leaves``, ``orphan``, and the
``Filter``'s owner and group (``exp``, ``grp``), which IContainer honours (unlike HQL).
Everything is seen through the caller's group, as every read.
"""

from __future__ import annotations

from typing import Any

import Ice
import omero
import omero.api
from omero.rtypes import unwrap

from . import schema
from .amd import amd, servant
from .context import StandIn
from .datastore import Record
from .errors import BadUsage
from .marshal import Plan

_ROOTS = ("Project", "Dataset", "Screen", "Plate")
_CHILD = {"Project": ("datasetLinks", "Dataset"), "Dataset": ("imageLinks", "Image"),
          "Screen": ("plateLinks", "Plate")}
_DETAILS: Plan = {"details": {"owner": {}, "creationEvent": {}, "updateEvent": {}}}


def _kind(name: str) -> str:
    kind = name.rsplit(".", 1)[-1]
    kind = kind[:-1] if kind.endswith("I") and kind[:-1] in schema.ENTITIES else kind
    if kind not in schema.ENTITIES:
        raise BadUsage(f"{name} is not a container type the stand-in knows")
    return kind


class _Options:
    """What ``ParametersI`` puts in a Parameters for IContainer."""

    def __init__(self, options: Any) -> None:
        values = unwrap(options.map) if options is not None and options.map else {}
        flt = options.theFilter if options is not None else None
        self.leaves = bool(values.get("leaves", False))
        self.orphan = bool(values.get("orphan", False))
        self.owner = unwrap(flt.ownerId) if flt is not None else None
        self.group = unwrap(flt.groupId) if flt is not None else None
        self.offset = unwrap(flt.offset) if flt is not None else None
        self.limit = unwrap(flt.limit) if flt is not None else None

    def keep(self, rec: Record) -> bool:
        return ((self.owner is None or self.owner < 0 or rec.owner_id == self.owner)
                and (self.group is None or self.group < 0 or rec.group_id == self.group))

    def page(self, items: list[Any]) -> list[Any]:
        start = self.offset or 0
        return items[start: start + self.limit if self.limit is not None else None]


class _Reader:
    """The records one call may see."""

    def __init__(self, si: StandIn, current: Ice.Current) -> None:
        call = si.call(current)
        self.si = si
        self.store = si.store
        self.who = si.actor(call)
        self.builder = si.builder(call)

    def visible(self, rec: Record | None) -> bool:
        return rec is not None and self.builder.visible(rec)

    def get(self, kind: str, rid: int) -> Record | None:
        rec = self.store.get(kind, rid)
        return rec if self.visible(rec) else None

    def all(self, kind: str) -> list[Record]:
        return [r for r in self.store.rows(kind) if self.visible(r)]

    def children(self, rec: Record, kind: str) -> list[Record]:
        """The visible children of a container (through its links), or of a plate or well."""
        if rec.kind in _CHILD:
            field, _ = _CHILD[rec.kind]
            element, back = schema.collection(rec.kind, field)  # type: ignore[misc]
            links = [lk for lk in self.store.referrers(element, back, rec.id) if self.visible(lk)]
            found = [self.store.deref(lk.fields.get("child")) for lk in links]
            return [c for c in found if self.visible(c) and schema.is_a(c.kind, kind)]  # type: ignore[union-attr]
        if rec.kind == "Plate":
            wells = [w for w in self.store.referrers("Well", "plate", rec.id) if self.visible(w)]
            return [i for w in wells for i in self.children(w, kind)]
        if rec.kind == "Well":
            samples = [s for s in self.store.referrers("WellSample", "well", rec.id) if self.visible(s)]
            found = [self.store.deref(s.fields.get("image")) for s in samples]
            return [i for i in found if self.visible(i)]  # type: ignore[misc]
        return []

    def parents(self, rec: Record, link: str) -> list[Record]:
        links = [lk for lk in self.store.referrers(link, "child", rec.id) if self.visible(lk)]
        found = [self.store.deref(lk.fields.get("parent")) for lk in links]
        return [p for p in found if self.visible(p)]  # type: ignore[misc]


def _images_below(reader: _Reader, rec: Record) -> list[Record]:
    if rec.kind == "Image":
        return [rec]
    out: list[Record] = []
    for child in reader.children(rec, _child_kind(rec.kind)):
        out.extend(_images_below(reader, child))
    return out


def _child_kind(kind: str) -> str:
    return {"Project": "Dataset", "Dataset": "Image", "Screen": "Plate", "Plate": "Image", "Well": "Image"}[kind]


def _unique(records: list[Record]) -> list[Record]:
    seen: dict[tuple[str, int], Record] = {}
    for rec in records:
        seen.setdefault((rec.table, rec.id), rec)
    return sorted(seen.values(), key=lambda r: r.id)


@servant
class ContainerI(omero.api.IContainer):
    """IContainer (role ``user``)."""

    def __init__(self, si: StandIn) -> None:
        self.si = si

    @amd
    def loadContainerHierarchy(self, rootType: str, rootIds: Any, options: Any,
                               current: Ice.Current | None = None) -> Any:
        reader = _Reader(self.si, current)
        opts = _Options(options)
        kind = _kind(rootType)
        if kind not in _ROOTS:
            raise BadUsage(f"Class parameter for loadContainerIHierarchy() must be in "
                           f"{{Project,Dataset,Screen,Plate}}, not {rootType}")
        with self.si.store.lock:
            if rootIds:
                roots = [r for r in (reader.get(kind, i) for i in rootIds) if r is not None]
            else:
                roots = [r for r in reader.all(kind) if opts.keep(r)]
                if opts.orphan and kind in ("Project", "Screen"):
                    child = _CHILD[kind][1]
                    link = {"Project": "ProjectDatasetLink", "Screen": "ScreenPlateLink"}[kind]
                    roots += [r for r in reader.all(child) if opts.keep(r) and not reader.parents(r, link)]
            plans: dict[str, Plan] = {
                "Project": {**_DETAILS, "datasetLinks": {"child": {**_DETAILS, **(
                    {"imageLinks": {"child": _DETAILS}} if opts.leaves else {})}}},
                "Dataset": {**_DETAILS, **({"imageLinks": {"child": _DETAILS}} if opts.leaves else {})},
                "Screen": {**_DETAILS, "plateLinks": {"child": _DETAILS}},
                "Plate": {**_DETAILS},
            }
            return [reader.builder.build(r, plans[r.kind]) for r in opts.page(roots)]

    @amd
    def getImages(self, rootType: str, rootIds: Any, options: Any, current: Ice.Current | None = None) -> Any:
        reader = _Reader(self.si, current)
        opts = _Options(options)
        kind = _kind(rootType)
        with self.si.store.lock:
            roots = [r for r in (reader.get(kind, i) for i in (rootIds or [])) if r is not None]
            images = _unique([i for r in roots for i in _images_below(reader, r)])
            images = [i for i in images if opts.keep(i)]
            plan = {**_DETAILS, "pixels": {"pixelsType": {}, "dimensionOrder": {}}}
            return [reader.builder.build(i, plan) for i in opts.page(images)]

    @amd
    def getUserImages(self, options: Any, current: Ice.Current | None = None) -> Any:
        reader = _Reader(self.si, current)
        opts = _Options(options)
        with self.si.store.lock:
            images = [i for i in reader.all("Image") if i.owner_id == reader.who.user_id and opts.keep(i)]
            plan = {**_DETAILS, "pixels": {"pixelsType": {}, "dimensionOrder": {}}}
            return [reader.builder.build(i, plan) for i in opts.page(images)]

    @amd
    def getCollectionCount(self, type: str, property: str, ids: Any, options: Any,
                           current: Ice.Current | None = None) -> Any:
        reader = _Reader(self.si, current)
        kind = _kind(type)
        field = property.rsplit("_", 1)[-1]
        found = schema.collection(kind, field)
        if found is None:
            raise BadUsage(f"{kind} has no collection {property!r} the stand-in knows")
        element, back = found
        with self.si.store.lock:
            return {i: len([e for e in self.si.store.referrers(element, back, i) if reader.visible(e)])
                    for i in (ids or [])}

    @amd
    def findContainerHierarchies(self, rootType: str, imageIds: Any, options: Any,
                                 current: Ice.Current | None = None) -> Any:
        reader = _Reader(self.si, current)
        kind = _kind(rootType)
        if kind not in ("Project", "Dataset"):
            raise BadUsage(f"rootType for findContainerHierarchies must be Project or Dataset, not {rootType}")
        with self.si.store.lock:
            images = [i for i in (reader.get("Image", n) for n in (imageIds or [])) if i is not None]
            datasets = _unique([d for i in images for d in reader.parents(i, "DatasetImageLink")])
            if kind == "Dataset":
                return [reader.builder.build(d, {**_DETAILS, "imageLinks": {"child": _DETAILS}}) for d in datasets]
            projects = _unique([p for d in datasets for p in reader.parents(d, "ProjectDatasetLink")])
            wanted = {(i.table, i.id) for i in images} | {(d.table, d.id) for d in datasets}
            out = [reader.builder.build(p, {**_DETAILS, "datasetLinks": {"child": {
                **_DETAILS, "imageLinks": {"child": _DETAILS}}}}) for p in projects]
            for project in out:  # keep only the datasets and images asked about, as OMERO does
                project._datasetLinksSeq = [lk for lk in project._datasetLinksSeq
                                            if ("Dataset", lk.child.id.val) in wanted]
                for lk in project._datasetLinksSeq:
                    lk.child._imageLinksSeq = [il for il in lk.child._imageLinksSeq
                                               if ("Image", il.child.id.val) in wanted]
            orphans = [d for d in datasets if not reader.parents(d, "ProjectDatasetLink")]
            return out + [reader.builder.build(d, {**_DETAILS, "imageLinks": {"child": _DETAILS}}) for d in orphans]


@servant
class RoiI(omero.api.IRoi):
    """IRoi: the ROIs of an image, with their shapes (``RoiI.findByImage`` in omero-blitz)."""

    def __init__(self, si: StandIn) -> None:
        self.si = si

    def _result(self, reader: _Reader, rois: list[Record], opts: Any) -> Any:
        user = unwrap(opts.userId) if opts is not None else None
        if user is not None:
            rois = [r for r in rois if r.owner_id == user]
        offset = (unwrap(opts.offset) if opts is not None else None) or 0
        limit = unwrap(opts.limit) if opts is not None else None
        rois = rois[offset: offset + limit if limit is not None else None]
        plan = {"details": {"owner": {}}, "shapes": {"details": {"owner": {}}}, "image": {}}
        return omero.api.RoiResult(opts=opts, rois=[reader.builder.build(r, plan) for r in rois], byZ={}, byT={})

    @amd
    def findByImage(self, imageId: int, opts: Any, current: Ice.Current | None = None) -> Any:
        reader = _Reader(self.si, current)
        with self.si.store.lock:
            rois = [r for r in self.si.store.referrers("Roi", "image", imageId) if reader.visible(r)]
            return self._result(reader, rois, opts)

    @amd
    def findByRoi(self, roiId: int, opts: Any, current: Ice.Current | None = None) -> Any:
        reader = _Reader(self.si, current)
        with self.si.store.lock:
            roi = reader.get("Roi", roiId)
            return self._result(reader, [roi] if roi is not None else [], opts)

