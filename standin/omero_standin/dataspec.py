"""The ``[data]`` section of a users file: the projects, images, screens... a server starts with.

Free of Ice, so the test process reads the same specification the server seeds from. Shape::

    [[data.projects]]
    name = "Lab project"
    owner = "alice"                  # a user of this file (required at the top level)
    group = "lab-shared"             # one of the owner's groups; default: their default group
    description = "..."
    tags = ["cells", "fixed"]        # TagAnnotations, one per text, owner and group (reused)
    map = { strain = "K12" }         # a MapAnnotation (OMERO's client namespace)
    comments = ["first look"]        # CommentAnnotations
    files = ["notes.txt"]            # FileAnnotations with OriginalFile metadata (no content)

      [[data.projects.datasets]]     # children take their parent's owner and group
      name = "Day 1"

        [[data.projects.datasets.images]]
        name = "cells.tif"
        size = [512, 256, 3, 2, 10]  # X Y Z C T (default [64, 64, 1, 1, 1])
        pixel_type = "uint16"        # default "uint8"
        file = "cells.tif"           # an imported file's name: a Fileset with this OriginalFile
        rois = [{ shape = "rectangle", x = 1.0, y = 2.0, width = 10.0, height = 5.0 }]

    [[data.screens]]                 # screens hold plates; plates hold wells and their fields
    name = "Screen 1"
    owner = "bob"
      [[data.screens.plates]]
      name = "Plate 1"
      rows = 2
      columns = 3
      fields = 1                     # images per well (0: wells without images)

Top-level lists: ``projects``, ``datasets``, ``images``, ``screens``, ``plates``. Shapes:
``rectangle`` (x, y, width, height), ``ellipse`` (x, y, radius_x, radius_y), ``point`` (x, y),
``line`` (x1, y1, x2, y2), ``label`` (x, y, text); each may have ``z``, ``c``, ``t``, ``text``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

KINDS = {"projects": "Project", "datasets": "Dataset", "images": "Image", "screens": "Screen", "plates": "Plate"}
CHILDREN = {"Project": ("datasets",), "Dataset": ("images",), "Screen": ("plates",), "Plate": (), "Image": ()}
PIXEL_TYPES = ("bit", "int8", "int16", "int32", "uint8", "uint16", "uint32", "float", "double")
SHAPES: dict[str, tuple[str, ...]] = {
    "rectangle": ("x", "y", "width", "height"),
    "ellipse": ("x", "y", "radius_x", "radius_y"),
    "point": ("x", "y"),
    "line": ("x1", "y1", "x2", "y2"),
    "label": ("x", "y", "text"),
}
_COMMON = {"name", "description", "owner", "group", "tags", "map", "comments", "files"}
_KEYS = {
    "Project": _COMMON | {"datasets"},
    "Dataset": _COMMON | {"images"},
    "Image": _COMMON | {"size", "pixel_type", "file", "rois"},
    "Screen": _COMMON | {"plates"},
    "Plate": _COMMON | {"rows", "columns", "fields"},
}


class DataSpecError(ValueError):
    """The ``[data]`` section is not valid; the message names the entry and the key."""


@dataclass(frozen=True)
class Node:
    """One object to create, with its annotations and children."""

    kind: str
    name: str
    owner: str
    group: str
    description: str | None = None
    tags: tuple[str, ...] = ()
    map: tuple[tuple[str, str], ...] = ()
    comments: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    size: tuple[int, int, int, int, int] = (64, 64, 1, 1, 1)
    pixel_type: str = "uint8"
    file: str | None = None
    rois: tuple[tuple[tuple[str, Any], ...], ...] = ()
    rows: int = 0
    columns: int = 0
    fields: int = 1
    children: tuple[Node, ...] = field(default=())


def parse(data: Mapping[str, Any], groups_of: Callable[[str], tuple[str, ...] | None],
          fail: Callable[[str, str], Exception]) -> tuple[Node, ...]:
    """Validate a ``[data]`` table. ``groups_of(user)`` gives a user's groups (default first) or
    None for an unknown user; ``fail(where, problem)`` makes the error to raise."""
    if not isinstance(data, Mapping):
        raise fail("data", "must be a table")
    unknown = set(data) - set(KINDS)
    if unknown:
        raise fail("data", f"unknown key(s) {sorted(unknown)}; expected {', '.join(KINDS)}")
    out: list[Node] = []
    for key, kind in KINDS.items():
        entries = data.get(key, [])
        if not isinstance(entries, list):
            raise fail(f"data.{key}", "must be an array of tables ([[data." + key + "]])")
        for i, entry in enumerate(entries):
            out.append(_node(kind, entry, f"data.{key}[{i}]", None, None, groups_of, fail))
    return tuple(out)


def _strings(entry: Mapping[str, Any], key: str, where: str, fail: Callable[[str, str], Exception]) -> tuple[str, ...]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(where, f"{key} must be a list of strings")
    return tuple(value)


def _node(kind: str, entry: Any, where: str, owner: str | None, group: str | None,
          groups_of: Callable[[str], tuple[str, ...] | None], fail: Callable[[str, str], Exception]) -> Node:
    if not isinstance(entry, Mapping):
        raise fail(where, "must be a table")
    unknown = set(entry) - _KEYS[kind]
    if unknown:
        raise fail(where, f"unknown key(s) {sorted(unknown)} for a {kind}")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise fail(where, "name must be a non-empty string")
    given_owner = entry.get("owner", owner)
    if not isinstance(given_owner, str):
        raise fail(where, "owner must name a user of this file")
    groups = groups_of(given_owner)
    if groups is None:
        raise fail(where, f"owner {given_owner!r} is not a user of this file")
    given_group = entry.get("group", group if given_owner == owner and group else groups[0])
    if not isinstance(given_group, str) or given_group not in groups:
        raise fail(where, f"group {given_group!r} is not one of {given_owner}'s groups ({', '.join(groups)})")
    kv = entry.get("map", {})
    if not isinstance(kv, Mapping) or not all(isinstance(v, str) for v in kv.values()):
        raise fail(where, "map must be a table of strings")
    values: dict[str, Any] = {
        "kind": kind, "name": name, "owner": given_owner, "group": given_group,
        "tags": _strings(entry, "tags", where, fail), "map": tuple((str(k), v) for k, v in kv.items()),
        "comments": _strings(entry, "comments", where, fail), "files": _strings(entry, "files", where, fail),
    }
    description = entry.get("description")
    if description is not None and not isinstance(description, str):
        raise fail(where, "description must be a string")
    values["description"] = description
    if kind == "Image":
        size = entry.get("size", [64, 64, 1, 1, 1])
        if not (isinstance(size, list) and len(size) == 5 and all(isinstance(n, int) and n > 0 for n in size)):
            raise fail(where, "size must be [X, Y, Z, C, T], five positive integers")
        values["size"] = tuple(size)
        pixel_type = entry.get("pixel_type", "uint8")
        if pixel_type not in PIXEL_TYPES:
            raise fail(where, f"pixel_type must be one of {', '.join(PIXEL_TYPES)}")
        values["pixel_type"] = pixel_type
        file = entry.get("file")
        if file is not None and not (isinstance(file, str) and file):
            raise fail(where, "file must be a file name")
        values["file"] = file
        values["rois"] = tuple(_roi(r, f"{where}.rois[{i}]", fail) for i, r in enumerate(entry.get("rois", [])))
    if kind == "Plate":
        for key, default, least in (("rows", 1, 1), ("columns", 1, 1), ("fields", 1, 0)):
            n = entry.get(key, default)
            if not isinstance(n, int) or isinstance(n, bool) or n < least:
                raise fail(where, f"{key} must be an integer >= {least}")
            values[key] = n
    children: list[Node] = []
    for key in CHILDREN[kind]:
        entries = entry.get(key, [])
        if not isinstance(entries, list):
            raise fail(f"{where}.{key}", "must be an array of tables")
        for i, child in enumerate(entries):
            children.append(_node(KINDS[key], child, f"{where}.{key}[{i}]", given_owner, given_group, groups_of, fail))
    values["children"] = tuple(children)
    return Node(**values)


def _roi(entry: Any, where: str, fail: Callable[[str, str], Exception]) -> tuple[tuple[str, Any], ...]:
    if not isinstance(entry, Mapping) or entry.get("shape") not in SHAPES:
        raise fail(where, f"shape must be one of {', '.join(SHAPES)}")
    needed = SHAPES[entry["shape"]]
    allowed = {"shape", "z", "c", "t", "text", *needed}
    if set(entry) - allowed:
        raise fail(where, f"unknown key(s) {sorted(set(entry) - allowed)} for a {entry['shape']}")
    for key in needed:
        if key not in entry:
            raise fail(where, f"a {entry['shape']} needs {', '.join(needed)}")
    for key, value in entry.items():
        if key in ("shape", "text"):
            if not isinstance(value, str):
                raise fail(where, f"{key} must be a string")
        elif key in ("z", "c", "t"):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise fail(where, f"{key} must be an integer >= 0")
        elif not isinstance(value, (int, float)) or isinstance(value, bool):
            raise fail(where, f"{key} must be a number")
    return tuple(sorted(entry.items()))
