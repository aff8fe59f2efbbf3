"""The small subset of HQL the stand-in's IQuery understands: what BlitzGateway sends for
Experimenter and ExperimenterGroup (``getObject``/``getObjects``, ``getUser``, ``suConn``,
``getGroupsMemberOf``, ``getAdministrators``, ...).

Accepted shape::

    select obj from Experimenter|ExperimenterGroup [as] obj [joins...]
        [where COND [and COND ...]] [order by ...]

with COND one of ``obj.FIELD = :param`` or ``obj.id in (:param)``. Anything else is refused
with a message naming the query, so a test that needs more fails loudly instead of getting
silently wrong data. Results are fully loaded (memberships included) whatever the joins say.

The server holds users and groups but no image data: any ``select`` from a container or image
entity (Project, Dataset, Image, Screen, Plate, ...) is answered truthfully with no rows, so
``conn.getObjects("Project")`` works as on a new, empty server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .users import GroupSpec, UserDirectory, UserSpec

ENTITIES = {"Experimenter", "ExperimenterGroup"}
EMPTY_ENTITIES = {"Project", "Dataset", "Image", "Screen", "Plate", "PlateAcquisition", "Well", "Fileset",
                  "Roi", "OriginalFile", "TagAnnotation", "MapAnnotation", "FileAnnotation", "CommentAnnotation"}
"""Entities the stand-in has no rows of: queries on them return an empty list."""
# HQL field name -> attribute of UserSpec / GroupSpec
FIELDS = {
    "Experimenter": {"id": "id", "omeName": "name", "firstName": "first_name", "lastName": "last_name",
                     "email": "email"},
    "ExperimenterGroup": {"id": "id", "name": "name", "description": "description"},
}

_QUERY = re.compile(
    r"^\s*select\s+(?P<alias>\w+)\s+from\s+(?P<entity>\w+)\s+(?:as\s+)?(?P=alias)\b(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_JOIN = re.compile(
    r"^(?:\s*(?:left\s+outer\s+|left\s+|inner\s+)?join\s+(?:fetch\s+)?[\w.]+(?:\s+(?:as\s+)?\w+)?)*",
    re.IGNORECASE,
)
_EQ = re.compile(r"^(\w+)\.(\w+)\s*=\s*:(\w+)$")
_IN = re.compile(r"^(\w+)\.(\w+)\s+in\s*\(\s*:(\w+)\s*\)$", re.IGNORECASE)


class UnsupportedQuery(ValueError):
    """The query is outside the subset; the message names it."""


@dataclass(frozen=True)
class Condition:
    field: str  # attribute name on the spec
    param: str
    many: bool  # "in (:param)"


@dataclass(frozen=True)
class Query:
    entity: str
    conditions: tuple[Condition, ...]


def parse(text: str) -> Query:
    m = _QUERY.match(text)
    if m and m["entity"] in EMPTY_ENTITIES:
        return Query(m["entity"], ())
    if not m or m["entity"] not in ENTITIES:
        raise UnsupportedQuery(f"stand-in IQuery cannot run: {text!r}")
    alias, entity, rest = m["alias"], m["entity"], m["rest"]
    rest = rest[_JOIN.match(rest).end():].strip()  # type: ignore[union-attr]
    rest = re.split(r"\border\s+by\b", rest, flags=re.IGNORECASE)[0].strip()
    conditions: list[Condition] = []
    if rest:
        where = re.match(r"^where\s+(.*)$", rest, re.IGNORECASE | re.DOTALL)
        if not where:
            raise UnsupportedQuery(f"stand-in IQuery cannot run: {text!r}")
        for part in re.split(r"\s+and\s+", where[1].strip(), flags=re.IGNORECASE):
            cm = _EQ.match(part.strip()) or _IN.match(part.strip())
            if not cm or cm[1] != alias or cm[2] not in FIELDS[entity]:
                raise UnsupportedQuery(f"stand-in IQuery cannot run condition {part!r} of {text!r}")
            conditions.append(Condition(FIELDS[entity][cm[2]], cm[3], cm.re is _IN))
    return Query(entity, tuple(conditions))


def select(users: UserDirectory, query: Query, params: dict[str, Any]) -> list[UserSpec | GroupSpec]:
    """Run ``query`` with unwrapped ``params`` (plain Python values, lists for ``in``)."""
    if query.entity in EMPTY_ENTITIES:
        return []
    rows: list[UserSpec | GroupSpec] = list(
        users.users.values() if query.entity == "Experimenter" else users.groups.values()
    )
    for cond in query.conditions:
        if cond.param not in params:
            raise UnsupportedQuery(f"missing query parameter :{cond.param}")
        value = params[cond.param]
        wanted = set(value) if cond.many else {value}
        rows = [r for r in rows if getattr(r, cond.field) in wanted]
    return sorted(rows, key=lambda r: r.id)
