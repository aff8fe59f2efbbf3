"""IQuery: HQL queries (``hql`` parses, ``hql_eval`` runs) and lookups by class and id.

The entities are those ``rows.py`` maps: Experimenter, ExperimenterGroup, GroupExperimenterMap,
Session, EventLog, Event and the data entities of ``schema``. Users, groups and sessions come
back loaded, as OMERO's; data objects as Hibernate returns them (``marshal.Builder``: what the
query fetch-joins is loaded, the rest are unloaded proxies). ``Filter`` offset and limit apply
after ordering; its owner and group do not apply to HQL (OMERO's ``QueryImpl`` and
``StringQuery`` only page), and ``findByQuery`` refuses more than one result with OMERO's
message. A projected field gets its model type (``rint`` for ``sizeX``, ``rtime`` for
``acquisitionDate``).
"""

from __future__ import annotations

from typing import Any

import Ice
import omero
import omero.api
from omero.rtypes import rbool, rdouble, rlong, robject, rstring, rtime, unwrap

from . import hql, hql_eval, marshal, objects, schema
from .amd import amd, servant
from .context import Call, StandIn
from .datastore import Record
from .errors import BadUsage, Denied, IllegalQuery
from .hql_eval import EntityName
from .marshal import Builder, Plan
from .rows import TIME_FIELDS, Component, Data, Row


def known_fields(kind: str) -> frozenset[str] | None:
    """The field names a data entity's rows answer (from omero.model), for ``rows.Data``: its own
    and, as Hibernate allows through a superclass alias (``a.file`` for any Annotation), those of
    the other entities of its table (null for this one)."""
    if kind not in schema.ENTITIES:
        return None
    names: set[str] = set()
    for other in schema.concrete_kinds(schema.base(kind)):
        info = marshal.fields(other)
        names |= set(info.scalars) | set(info.objects) | set(info.collections)
    return frozenset(names)


def fetch_plan(query: hql.Query, alias: str) -> Plan:
    """What the query fetch-joins below ``alias``: the plan the objects it selects are built with."""
    plans: dict[str, Plan] = {alias: {}}
    for source in query.sources:
        for join in source.joins:
            head, *rest = join.path.parts
            if not join.fetch or head not in plans or not rest:
                continue
            node = plans[head]
            for part in rest[:-1]:
                node = node.setdefault(part, {})
            plans[join.alias] = node.setdefault(rest[-1], {})
    return plans[alias]


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
        return Data(self.d, self.si.registry, call.session.user, call.ctx.is_admin, self.si.store,
                    self.si.actor(call), known_fields)

    def _builder(self, call: Call) -> Builder:
        return self.si.builder(call)

    def _obj(self, row: Row, builder: Builder | None = None, plan: Plan | None = None) -> Any:
        rec = row.record
        if isinstance(rec, Record):
            if builder is None:
                raise BadUsage(f"cannot return {row.entity} objects here")
            return builder.build(rec, plan or {})
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
            return objects.event_obj(rec)
        raise BadUsage(f"cannot return {row.entity} objects")

    def _rtype(self, value: Any, item: hql.SelectItem, source: tuple[str, str] | None, builder: Builder,
               plan: Plan) -> Any:
        if value is None:
            return None
        if isinstance(value, Row):
            return robject(self._obj(value, builder, plan))
        if source is not None and source[0] in schema.ENTITIES and not schema.ENTITIES[source[0]].abstract:
            wrapper = marshal.fields(source[0]).scalars.get(source[1])
            if wrapper is not None and not isinstance(value, (list, Component)):
                return wrapper(value)
        if isinstance(value, (EntityName, Component)):
            return rstring(str(value) if isinstance(value, EntityName) else repr(value.values))
        if isinstance(value, bool):
            return rbool(value)
        if isinstance(value, int):
            expr = item.expr
            last = expr.parts[-1] if isinstance(expr, hql.Path) else ""
            return rtime(value) if last in TIME_FIELDS else rlong(value)
        if isinstance(value, float):
            return rdouble(value)
        return rstring(str(value))

    def _run(self, call: Call, text: str, params: Any) -> tuple[hql.Query, list[tuple[tuple[Any, Any], ...]]]:
        try:
            query = hql.parse(text)
        except hql.HqlError as exc:
            raise IllegalQuery(f"Illegal query:{text}\n{exc}") from None
        values = unwrap(params.map) if params is not None and params.map else {}
        with self.si.store.lock:
            results = hql_eval.run_typed(query, self._data(call), values or {})
        flt = params.theFilter if params is not None else None
        if flt is not None:
            offset = unwrap(flt.offset) or 0
            limit = unwrap(flt.limit)
            results = results[offset: offset + limit if limit is not None else None]
        return query, results

    @staticmethod
    def _plan(query: hql.Query, item: hql.SelectItem) -> Plan:
        expr = item.expr
        if isinstance(expr, hql.Path) and len(expr.parts) == 1:
            return fetch_plan(query, expr.parts[0])
        return {}

    def _objects(self, call: Call, text: str, params: Any) -> list[Any]:
        query, results = self._run(call, text, params)
        items = query.select or (hql.SelectItem(hql.Path((query.root.alias,))),)
        builder = self._builder(call)
        plan = self._plan(query, items[0])
        out = []
        for r in results:
            if len(r) != 1 or not isinstance(r[0][0], Row):
                raise BadUsage(f"Queries must return IObjects when using findByQuery/findAllByQuery: {text!r}")
            out.append(self._obj(r[0][0], builder, plan))
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
        call = self.si.call(current)
        parsed, results = self._run(call, query, params)
        items = parsed.select or (hql.SelectItem(hql.Path((parsed.root.alias,))),)
        builder = self._builder(call)
        plans = [self._plan(parsed, item) for item in items]
        return [[self._rtype(v, item, source, builder, plan)
                 for (v, source), item, plan in zip(r, items, plans, strict=True)] for r in results]

    def _by_id(self, call: Call, klass: str, id: int) -> Row | None:
        """The object, None if there is none; for data the caller may not read, OMERO's
        ``SecurityViolation`` ("Cannot read ..."): ``get``/``find`` load by id, past the query
        filter, and the ACL voter refuses it (``BasicACLVoter.throwLoadViolation``)."""
        entity = _entity(klass)
        data = self._data(call)
        if entity in schema.ENTITIES:
            with self.si.store.lock:
                rec = self.si.store.get(entity, id)
                if rec is not None and not data.visible(rec):
                    raise Denied(f"Cannot read {marshal.java_name(rec.kind, rec.id)}")
                return data.record(rec) if rec is not None else None
        return next((r for r in data.rows(entity) if r.id == id), None)

    @amd
    def find(self, klass: str, id: int, current: Ice.Current | None = None) -> Any:
        call = self.si.call(current)
        row = self._by_id(call, klass, id)
        return self._obj(row, self._builder(call)) if row is not None else None

    @amd
    def get(self, klass: str, id: int, current: Ice.Current | None = None) -> Any:
        call = self.si.call(current)
        row = self._by_id(call, klass, id)
        if row is None:
            from . import faults

            entity = _entity(klass)
            name = schema.ENTITIES[entity].java if entity in schema.ENTITIES else entity
            raise faults.validation(f"No row with the given identifier exists: [{name}#{id}]")
        return self._obj(row, self._builder(call))

    @amd
    def findAll(self, klass: str, filter: Any, current: Ice.Current | None = None) -> Any:
        call = self.si.call(current)
        with self.si.store.lock:
            rows = self._data(call).rows(_entity(klass))
        if filter is not None:
            offset = unwrap(filter.offset) or 0
            limit = unwrap(filter.limit)
            rows = rows[offset: offset + limit if limit is not None else None]
        builder = self._builder(call)
        return [self._obj(r, builder) for r in rows]

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
        call = self.si.call(current)
        found = self._by_string(call, klass, field, value)
        if len(found) > 1:
            raise BadUsage("findByString has returned more than one Object")
        return self._obj(found[0], self._builder(call)) if found else None

    @amd
    def findAllByString(self, klass: str, field: str, value: str, caseSensitive: bool, filter: Any,
                        current: Ice.Current | None = None) -> Any:
        call = self.si.call(current)
        found = self._by_string(call, klass, field, value, caseSensitive)
        builder = self._builder(call)
        return [self._obj(r, builder) for r in found]
