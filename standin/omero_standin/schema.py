"""The data model the stand-in holds, as names: entities, their tables, Java classes and relations.

One place says which OMERO entities exist beside users and groups (containers, images and
their metadata, screens, annotations, ROIs, filesets), which table each is stored in (a
subclass shares its base's table and id sequence, as ``TagAnnotation`` shares ``Annotation``'s),
its Java class (what OMERO names in messages, event logs and ``Delete2`` responses), which
collection of an entity is the reverse of which reference of another (``Project.datasetLinks``
is every ``ProjectDatasetLink`` whose ``parent`` is that project), and which entities are
links between two others. Field names and types come from omero.model itself (``marshal``);
nothing here imports Ice. The relations are OMERO's mapping files' (ome/omero-model), reduced
to what the stand-in serves.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entity:
    name: str
    parent: str | None
    """The superclass entity, for polymorphic queries (``from Annotation`` finds tags too)."""
    package: str
    abstract: bool = False

    @property
    def java(self) -> str:
        return f"ome.model.{self.package}.{self.name}"


_ENTITIES: list[Entity] = []


def _add(package: str, *names: str, parent: str | None = None, abstract: bool = False) -> None:
    for name in names:
        _ENTITIES.append(Entity(name, parent, package, abstract))


_add("containers", "Project", "Dataset", "ProjectDatasetLink", "DatasetImageLink")
_add("core", "Image", "Pixels", "Channel", "LogicalChannel", "OriginalFile")
_add("screen", "Screen", "Plate", "Well", "WellSample", "PlateAcquisition", "ScreenPlateLink")
_add("fs", "Fileset", "FilesetEntry")
_add("roi", "Roi")
_add("roi", "Shape", abstract=True)
_add("roi", "Rectangle", "Ellipse", "Point", "Line", "Polygon", "Polyline", "Label", "Mask", parent="Shape")
_add("annotations", "Annotation", abstract=True)
_add("annotations", "TextAnnotation", "BasicAnnotation", "TypeAnnotation", parent="Annotation", abstract=True)
_add("annotations", "MapAnnotation", parent="Annotation")
_add("annotations", "TagAnnotation", "CommentAnnotation", "XmlAnnotation", parent="TextAnnotation")
_add("annotations", "NumericAnnotation", parent="BasicAnnotation", abstract=True)
_add("annotations", "BooleanAnnotation", "TermAnnotation", "TimestampAnnotation", parent="BasicAnnotation")
_add("annotations", "LongAnnotation", "DoubleAnnotation", parent="NumericAnnotation")
_add("annotations", "FileAnnotation", parent="TypeAnnotation")
_add("enums", "PixelsType", "DimensionOrder")
_add("meta", "ExternalInfo", "Namespace")

ANNOTATED = ("Project", "Dataset", "Image", "Screen", "Plate", "Well", "PlateAcquisition", "Roi", "Shape")
"""Entities that take annotations, each through its own ``<Entity>AnnotationLink``."""
_add("annotations", *(f"{name}AnnotationLink" for name in ANNOTATED))

ENTITIES: dict[str, Entity] = {e.name: e for e in _ENTITIES}


def base(name: str) -> str:
    """The table an entity's rows live in: its topmost ancestor (``TagAnnotation`` -> ``Annotation``)."""
    while (parent := ENTITIES[name].parent) is not None:
        name = parent
    return name


def is_a(name: str, ancestor: str) -> bool:
    """Is ``name`` the entity ``ancestor`` or one of its subclasses?"""
    current: str | None = name
    while current is not None:
        if current == ancestor:
            return True
        current = ENTITIES[current].parent
    return False


def concrete_kinds(name: str) -> list[str]:
    """``name`` and its subclasses that can have rows."""
    return [e.name for e in _ENTITIES if is_a(e.name, name) and not e.abstract]


LINKS: dict[str, tuple[str, str]] = {
    "ProjectDatasetLink": ("Project", "Dataset"),
    "DatasetImageLink": ("Dataset", "Image"),
    "ScreenPlateLink": ("Screen", "Plate"),
    **{f"{name}AnnotationLink": (name, "Annotation") for name in ANNOTATED},
}
"""Link entity -> (parent entity, child entity)."""


def is_annotation_link(name: str) -> bool:
    return name.endswith("AnnotationLink") and name in LINKS


COLLECTIONS: dict[tuple[str, str], tuple[str, str]] = {
    ("Project", "datasetLinks"): ("ProjectDatasetLink", "parent"),
    ("Dataset", "projectLinks"): ("ProjectDatasetLink", "child"),
    ("Dataset", "imageLinks"): ("DatasetImageLink", "parent"),
    ("Image", "datasetLinks"): ("DatasetImageLink", "child"),
    ("Screen", "plateLinks"): ("ScreenPlateLink", "parent"),
    ("Plate", "screenLinks"): ("ScreenPlateLink", "child"),
    ("Plate", "wells"): ("Well", "plate"),
    ("Plate", "plateAcquisitions"): ("PlateAcquisition", "plate"),
    ("Well", "wellSamples"): ("WellSample", "well"),
    ("PlateAcquisition", "wellSample"): ("WellSample", "plateAcquisition"),
    ("Image", "wellSamples"): ("WellSample", "image"),
    ("Image", "pixels"): ("Pixels", "image"),
    ("Pixels", "channels"): ("Channel", "pixels"),
    ("LogicalChannel", "channels"): ("Channel", "logicalChannel"),
    ("Image", "rois"): ("Roi", "image"),
    ("Roi", "shapes"): ("Shape", "roi"),
    ("Fileset", "usedFiles"): ("FilesetEntry", "fileset"),
    ("Fileset", "images"): ("Image", "fileset"),
    **{(name, "annotationLinks"): (f"{name}AnnotationLink", "parent") for name in ANNOTATED},
}
"""(entity, collection field) -> (element entity, the element's reference back to the owner)."""


def collection(kind: str, field: str) -> tuple[str, str] | None:
    """The (element entity, back reference) of ``kind.field`` if it is a collection, looking up
    the superclasses too (``Rectangle.annotationLinks`` is ``Shape``'s)."""
    current: str | None = kind
    while current is not None:
        found = COLLECTIONS.get((current, field))
        if found is not None:
            return found
        current = ENTITIES[current].parent
    return None


ENUMS: dict[str, tuple[str, ...]] = {
    "PixelsType": ("bit", "int8", "int16", "int32", "uint8", "uint16", "uint32", "float", "double", "complex",
                   "double-complex"),
    "DimensionOrder": ("XYZCT", "XYZTC", "XYCTZ", "XYCZT", "XYTCZ", "XYTZC"),
}
"""Enumerations the stand-in holds (ids from 1, in this order), as OMERO's enums table does."""

IMMUTABLE = ("ExternalInfo",)
"""Entities that are never updated once saved (ExternalInfo has no update event in OMERO)."""

NAMED_VALUE_FIELDS = {("MapAnnotation", "mapValue")}
"""Collections of components (name/value pairs) rather than entities."""

ALWAYS_ANNOTATE = ("Roi", "Image")
"""A Roi linking to an Image needs only the right to annotate it (``OmeroInterceptor.neededRight``)."""
