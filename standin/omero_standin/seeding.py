"""Create the objects of a ``[data]`` specification (``dataspec``) the way a client would.

``Seeder`` builds omero.model graphs (a project, then each dataset with its link, each image
with its pixels, channels and fileset, then annotations and their links, then ROIs) and hands
each to a ``save(obj, owner, group)`` that returns the saved graph. Two saves exist:

- in the server at start (``seed_store``): the owner's own rules, through ``writes.Writer``,
  as if the owner had sent the object in a session in that group;
- from a test, over the wire (``seed_via_api``): the owner logs in and calls
  ``IUpdate.saveAndReturnObject`` with ``omero.group`` set, as any client would.

Both create the same objects in the same order, so the ids of a spec are the same either way
on a fresh server. Tags are shared: one TagAnnotation per text, owner and group.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import omero
import omero.model as m
from omero.rtypes import rdouble, rint, rlong, rstring

from .dataspec import Node

MAP_NS = "openmicroscopy.org/omero/client/mapAnnotation"
"""The namespace OMERO's clients give key-value pairs they let users edit."""
Save = Callable[[Any, str, str], Any]
Enum = Callable[[str, str], Any]


class Seeder:
    """Creates the objects of a spec through ``save``; ``created`` lists them (kind, id, name, owner, group)."""

    def __init__(self, save: Save, enum: Enum) -> None:
        self.save = save
        self.enum = enum
        self.tags: dict[tuple[str, str, str], int] = {}
        self.created: list[dict[str, Any]] = []

    def run(self, nodes: Iterable[Node]) -> list[dict[str, Any]]:
        for node in nodes:
            self._node(node, None)
        return self.created

    def _note(self, kind: str, oid: int, name: str, node: Node) -> None:
        self.created.append({"kind": kind, "id": oid, "name": name, "owner": node.owner, "group": node.group})

    def _save(self, obj: Any, node: Node) -> Any:
        return self.save(obj, node.owner, node.group)

    def _node(self, node: Node, parent: tuple[str, int] | None) -> int:
        obj = self._object(node)
        if parent is None:
            saved = self._save(obj, node)
        else:
            link = getattr(m, f"{parent[0]}{node.kind}LinkI")()
            link.parent = getattr(m, f"{parent[0]}I")(parent[1], False)
            link.child = obj
            saved = self._save(link, node).child
        oid = saved.id.val
        self._note(node.kind, oid, node.name, node)
        self._annotate(node, oid)
        if node.kind == "Image":
            self._rois(node, oid)
        if node.kind == "Plate":
            self._wells(node, oid)
        for child in node.children:
            self._node(child, (node.kind, oid))
        return oid

    def _object(self, node: Node) -> Any:
        obj = getattr(m, f"{node.kind}I")()
        obj.name = rstring(node.name)
        if node.description is not None:
            obj.description = rstring(node.description)
        if node.kind == "Image":
            self._pixels(obj, node)
        if node.kind == "Plate":
            obj.rows = rint(node.rows)
            obj.columns = rint(node.columns)
        return obj

    def _pixels(self, image: Any, node: Node) -> None:
        x, y, z, c, t = node.size
        pixels = m.PixelsI()
        pixels.sizeX, pixels.sizeY, pixels.sizeZ, pixels.sizeC, pixels.sizeT = (rint(v) for v in (x, y, z, c, t))
        pixels.sha1 = rstring("")
        pixels.pixelsType = self.enum("PixelsType", node.pixel_type)
        pixels.dimensionOrder = self.enum("DimensionOrder", "XYZCT")
        for _ in range(c):
            channel = m.ChannelI()
            channel.logicalChannel = m.LogicalChannelI()
            pixels.addChannel(channel)
        image.addPixels(pixels)
        if node.file is not None:
            fileset = m.FilesetI()
            fileset.templatePrefix = rstring(f"{node.owner}/")
            entry = m.FilesetEntryI()
            entry.clientPath = rstring(f"data/{node.file}")
            entry.originalFile = _original_file(node.file, f"{node.owner}/data/")
            fileset.addFilesetEntry(entry)
            image.fileset = fileset

    def _link(self, kind: str, oid: int, annotation: Any, node: Node) -> Any:
        link = getattr(m, f"{kind}AnnotationLinkI")()
        link.parent = getattr(m, f"{kind}I")(oid, False)
        link.child = annotation
        return self._save(link, node).child

    def _annotate(self, node: Node, oid: int) -> None:
        for text in node.tags:
            key = (node.owner, node.group, text)
            if key in self.tags:
                self._link(node.kind, oid, m.TagAnnotationI(self.tags[key], False), node)
                continue
            tag = m.TagAnnotationI()
            tag.textValue = rstring(text)
            saved = self._link(node.kind, oid, tag, node)
            self.tags[key] = saved.id.val
            self._note("TagAnnotation", saved.id.val, text, node)
        if node.map:
            ann = m.MapAnnotationI()
            ann.ns = rstring(MAP_NS)
            ann.setMapValue([m.NamedValue(k, v) for k, v in node.map])
            saved = self._link(node.kind, oid, ann, node)
            self._note("MapAnnotation", saved.id.val, ", ".join(f"{k}={v}" for k, v in node.map), node)
        for text in node.comments:
            ann = m.CommentAnnotationI()
            ann.textValue = rstring(text)
            saved = self._link(node.kind, oid, ann, node)
            self._note("CommentAnnotation", saved.id.val, text, node)
        for name in node.files:
            ann = m.FileAnnotationI()
            ann.file = _original_file(name, f"{node.owner}/files/")
            saved = self._link(node.kind, oid, ann, node)
            self._note("FileAnnotation", saved.id.val, name, node)

    def _rois(self, node: Node, image_id: int) -> None:
        for spec in node.rois:
            values = dict(spec)
            roi = m.RoiI()
            roi.image = m.ImageI(image_id, False)
            roi.addShape(_shape(values))
            saved = self._save(roi, node)
            self._note("Roi", saved.id.val, values["shape"], node)

    def _wells(self, node: Node, plate_id: int) -> None:
        for row in range(node.rows):
            for column in range(node.columns):
                well = m.WellI()
                well.row, well.column = rint(row), rint(column)
                well.plate = m.PlateI(plate_id, False)
                for field in range(node.fields):
                    image = m.ImageI()
                    image.name = rstring(f"{node.name} {chr(ord('A') + row)}{column + 1} field {field + 1}")
                    self._pixels(image, node)
                    sample = m.WellSampleI()
                    sample.image = image
                    well.addWellSample(sample)
                saved = self._save(well, node)
                self._note("Well", saved.id.val, f"{chr(ord('A') + row)}{column + 1}", node)
                for sample in saved.copyWellSamples():
                    self._note("Image", sample.image.id.val, sample.image.name.val, node)


def _original_file(name: str, path: str) -> Any:
    f = m.OriginalFileI()
    f.name = rstring(name)
    f.path = rstring(path)
    f.size = rlong(0)
    f.mimetype = rstring("application/octet-stream")
    return f


def _shape(values: dict[str, Any]) -> Any:
    kind = values["shape"]
    if kind == "rectangle":
        shape = m.RectangleI()
        shape.x, shape.y = rdouble(values["x"]), rdouble(values["y"])
        shape.width, shape.height = rdouble(values["width"]), rdouble(values["height"])
    elif kind == "ellipse":
        shape = m.EllipseI()
        shape.x, shape.y = rdouble(values["x"]), rdouble(values["y"])
        shape.radiusX, shape.radiusY = rdouble(values["radius_x"]), rdouble(values["radius_y"])
    elif kind == "point":
        shape = m.PointI()
        shape.x, shape.y = rdouble(values["x"]), rdouble(values["y"])
    elif kind == "line":
        shape = m.LineI()
        shape.x1, shape.y1 = rdouble(values["x1"]), rdouble(values["y1"])
        shape.x2, shape.y2 = rdouble(values["x2"]), rdouble(values["y2"])
    else:
        shape = m.LabelI()
        shape.x, shape.y = rdouble(values["x"]), rdouble(values["y"])
    if "text" in values:
        shape.textValue = rstring(values["text"])
    for key, attr in (("z", "theZ"), ("c", "theC"), ("t", "theT")):
        if key in values:
            setattr(shape, attr, rint(values[key]))
    return shape


# -- the two ways to save --------------------------------------------------------------------------


def seed_store(si: Any, nodes: Iterable[Node]) -> list[dict[str, Any]]:
    """Create ``nodes`` in a starting server (``context.StandIn``), each as its owner in its group."""
    from . import acl, security
    from .marshal import Builder, shape_plan
    from .writes import Writer

    directory, store = si.directory, si.store

    def save(obj: Any, owner: str, group: str) -> Any:
        user = directory.user_named(owner)
        gid = directory.group_named(group).id
        who = acl.actor(security.context(directory, user, None, None), gid)
        ref = Writer(store, directory, who, 0).save(obj)
        return Builder(store, directory, who).build(store.deref(ref), shape_plan(obj))

    def enum(kind: str, value: str) -> Any:
        rec = store.find_enum(kind, value)
        return getattr(m, f"{kind}I")(rec.id, False)

    with store.lock:
        return Seeder(save, enum).run(nodes)


def seed_via_api(server: Any, nodes: Iterable[Node] | dict[str, Any]) -> list[dict[str, Any]]:
    """Create ``nodes`` (or a ``[data]`` table) on a running stand-in through the real client: each
    owner logs in with the password of ``server.users`` and saves with ``omero.group`` set."""
    from omero.gateway import BlitzGateway

    from . import dataspec

    if isinstance(nodes, dict):
        users = server.users

        def groups_of(name: str) -> tuple[str, ...] | None:
            user = users.users.get(name)
            return None if user is None else tuple(g for g in user.memberships if g != "user")

        nodes = dataspec.parse(nodes, groups_of, lambda where, problem: dataspec.DataSpecError(f"{where}: {problem}"))
    conns: dict[str, Any] = {}
    groups: dict[str, int] = {}

    def conn_for(owner: str) -> Any:
        if owner not in conns:
            conn = BlitzGateway(**server.gateway_args(owner))
            if not conn.connect():
                raise RuntimeError(f"cannot log in to the stand-in as {owner}")
            conns[owner] = conn
            for g in conn.getGroupsMemberOf():
                groups[g.getName()] = g.getId()
        return conns[owner]

    def save(obj: Any, owner: str, group: str) -> Any:
        conn = conn_for(owner)
        return conn.getUpdateService().saveAndReturnObject(obj, {"omero.group": str(groups[group])})

    def enum(kind: str, value: str) -> Any:
        conn = next(iter(conns.values()))
        params = omero.sys.ParametersI()
        params.add("value", rstring(value))
        found = conn.getQueryService().findByQuery(f"from {kind} e where e.value = :value", params,
                                                   {"omero.group": "-1"})
        return getattr(m, f"{kind}I")(found.id.val, False)

    def owners(items: Iterable[Node]) -> Iterable[str]:
        for node in items:
            yield node.owner
            yield from owners(node.children)

    try:
        for owner in owners(nodes):
            conn_for(owner)
        return Seeder(save, enum).run(nodes)
    finally:
        for conn in conns.values():
            conn.close()
