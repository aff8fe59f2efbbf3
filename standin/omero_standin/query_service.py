"""IQuery: HQL queries (``hql`` parses, ``hql_eval`` runs) and lookups by class and id.

The entities are those ``rows.py`` maps: Experimenter, ExperimenterGroup, GroupExperimenterMap,
Session, EventLog and Event, plus the container and image entities with no rows. Results
come back loaded, as OMERO's; ``Filter`` offset and limit apply after ordering, and
``findByQuery`` refuses more than one result with OMERO's message.
"""

from __future__ import annotations

from typing import Any

import Ice
import omero
import omero.api
from omero.rtypes import rbool, rdouble, rlong, robject, rstring, rtime, unwrap

from . import hql, hql_eval, objects
from .amd import amd, servant
from .context import Call, StandIn
from .errors import BadUsage, IllegalQuery
from .rows import TIME_FIELDS, Data, Row


def _entity(klass: str) -> str:
    """``omero.model.ExperimenterI``, ``ExperimenterI`` or ``Experimenter`` -> ``Experimenter``."""
    name = klass.rsplit(".", 1)[-1]
    return name[:-1] if name.endswith("I") and len(name) > 1 and name[-2].islower() else name


@servant
class QueryI(omero.api.IQuery):
    """IQuery as OMERO's QueryImpl (role ``user``)."""

    def __init__(self, si: StandIn) -> None:
        self.si = si
        self.d = si.directory

    def _data(self, call: Call) -> Data:
        return Data(self.d, self.si.registry, call.session.user, call.ctx.is_admin)

    def _obj(self, row: Row) -> Any:
        rec = row.record
        if row.entity == "Experimenter":
            return objects.experimenter_obj(self.d, rec)
        if row.entity == "ExperimenterGroup":
            return objects.group_obj(self.d, rec)
        if row.entity == "GroupExperimenterMap":
            return objects.link_obj(self.d, rec)
        if row.entity == "Session":
            return objects.session_obj(self.d, rec)
        if row.entity == "EventLog":
            return objects.event_log_obj(rec)
        if row.entity == "Event":
            return objects.event_log_obj(rec).event
        raise BadUsage(f"cannot return {row.entity} objects")

    def _rtype(self, value: Any, item: hql.SelectItem) -> Any:
        if value is None:
            return None
        if isinstance(value, Row):
            return robject(self._obj(value))
        if isinstance(value, bool):
            return rbool(value)
        if isinstance(value, int):
            expr = item.expr
            last = expr.parts[-1] if isinstance(expr, hql.Path) else ""
            return rtime(value) if last in TIME_FIELDS else rlong(value)
        if isinstance(value, float):
            return rdouble(value)
        return rstring(str(value))

    def _run(self, call: Call, text: str, params: Any) -> tuple[hql.Query, list[tuple[Any, ...]]]:
        try:
            query = hql.parse(text)
        except hql.HqlError as exc:
            raise IllegalQuery(f"Illegal query:{text}\n{exc}") from None
        values = unwrap(params.map) if params is not None and params.map else {}
        results = hql_eval.run(query, self._data(call), values or {})
        flt = params.theFilter if params is not None else None
        if flt is not None:
            offset = unwrap(flt.offset) or 0
            limit = unwrap(flt.limit)
            results = results[offset: offset + limit if limit is not None else None]
        return query, results

    def _objects(self, call: Call, text: str, params: Any) -> list[Any]:
        _, results = self._run(call, text, params)
        out = []
        for r in results:
            if len(r) != 1 or not isinstance(r[0], Row):
                raise BadUsage(f"Queries must return IObjects when using findByQuery/findAllByQuery: {text!r}")
            out.append(self._obj(r[0]))
        return out

    @amd
    def findByQuery(self, query: str, params: Any, current: Ice.Current | None = None) -> Any:
        found = self._objects(self.si.call(current), query, params)
        if len(found) > 1:
            raise BadUsage(f"Query named:\n\n\t{query}\n\nhas returned more than one Object\n"
                           "findBy methods must return a single value.\n"
                           "Please try findAllBy methods for queries which return Lists.")
        return found[0] if found else None

    @amd
    def findAllByQuery(self, query: str, params: Any, current: Ice.Current | None = None) -> Any:
        return self._objects(self.si.call(current), query, params)

    @amd
    def projection(self, query: str, params: Any, current: Ice.Current | None = None) -> Any:
        parsed, results = self._run(self.si.call(current), query, params)
        items = parsed.select or (hql.SelectItem(hql.Path((parsed.root.alias,))),)
        return [[self._rtype(v, item) for v, item in zip(r, items, strict=True)] for r in results]

    def _by_id(self, call: Call, klass: str, id: int) -> Row | None:
        entity = _entity(klass)
        return next((r for r in self._data(call).rows(entity) if r.id == id), None)

    @amd
    def find(self, klass: str, id: int, current: Ice.Current | None = None) -> Any:
        row = self._by_id(self.si.call(current), klass, id)
        return self._obj(row) if row is not None else None

    @amd
    def get(self, klass: str, id: int, current: Ice.Current | None = None) -> Any:
        row = self._by_id(self.si.call(current), klass, id)
        if row is None:
            from . import faults

            raise faults.validation(f"No row with the given identifier exists: [{_entity(klass)}#{id}]")
        return self._obj(row)

    @amd
    def findAll(self, klass: str, filter: Any, current: Ice.Current | None = None) -> Any:
        rows = self._data(self.si.call(current)).rows(_entity(klass))
        if filter is not None:
            offset = unwrap(filter.offset) or 0
            limit = unwrap(filter.limit)
            rows = rows[offset: offset + limit if limit is not None else None]
        return [self._obj(r) for r in rows]

    def _by_string(self, call: Call, klass: str, field: str, value: str, case_sensitive: bool = True) -> list[Row]:
        out = []
        for row in self._data(call).rows(_entity(klass)):
            v = row.get(field)
            if v is None:
                continue
            if (str(v) == value) if case_sensitive else (str(v).lower() == value.lower()):
                out.append(row)
        return out

    @amd
    def findByString(self, klass: str, field: str, value: str, current: Ice.Current | None = None) -> Any:
        found = self._by_string(self.si.call(current), klass, field, value)
        if len(found) > 1:
            raise BadUsage("findByString has returned more than one Object")
        return self._obj(found[0]) if found else None

    @amd
    def findAllByString(self, klass: str, field: str, value: str, caseSensitive: bool, filter: Any,
                        current: Ice.Current | None = None) -> Any:
        found = self._by_string(self.si.call(current), klass, field, value, caseSensitive)
        return [self._obj(r) for r in found]
