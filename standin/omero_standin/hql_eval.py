"""Run a parsed HQL query (``hql.Query``) over the stand-in's rows (``rows.Data``).

Semantics are Hibernate's where the stand-in needs them: FROM sources make a cross product,
a JOIN over a collection gives one binding per element (an inner join drops rows with none, a
LEFT join keeps them with null), a path that ends at an entity compares by id, ``count``
aggregates, DISTINCT removes duplicate results, ORDER BY puts nulls last ascending and first
descending (PostgreSQL). Objects are always returned loaded, whatever ``fetch`` says; but a
query that fetch-joins a collection returns each selected entity once: OMERO always sets
first/max results on its queries, and Hibernate (``QueryTranslatorImpl.list``) then removes
duplicate roots of collection fetches in memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from . import hql
from .errors import BadUsage, IllegalQuery
from .rows import Data, Row

Binding = dict[str, Any]


def _fail(query: hql.Query, problem: str) -> IllegalQuery:
    return IllegalQuery(f"Illegal query:{query.text}\n{problem}")


class _Evaluator:
    def __init__(self, query: hql.Query, data: Data, params: dict[str, Any], outer: Binding | None = None) -> None:
        self.q = query
        self.data = data
        self.params = params
        self.outer = outer or {}
        self.aliases = {s.alias for s in query.sources} | {j.alias for s in query.sources for j in s.joins}
        self.collection_fetched = False

    # -- bindings --------------------------------------------------------------------------

    def bindings(self) -> list[Binding]:
        out: list[Binding] = [dict(self.outer)]
        for source in self.q.sources:
            rows = self.data.rows(source.entity)
            expanded: list[Binding] = []
            for b in out:
                for row in rows:
                    nb = dict(b)
                    nb[source.alias] = row
                    expanded.extend(self._joins(nb, source.joins))
            out = expanded
        return out

    def _joins(self, binding: Binding, joins: Iterable[hql.Join]) -> list[Binding]:
        current = [binding]
        for join in joins:
            nxt: list[Binding] = []
            for b in current:
                value = self.path(b, join.path, allow_collection=True)
                if isinstance(value, list) and join.fetch:
                    self.collection_fetched = True
                items = value if isinstance(value, list) else ([] if value is None else [value])
                if not items and join.left:
                    items = [None]
                for index, item in enumerate(items):
                    nb = dict(b)
                    nb[join.alias] = item
                    if isinstance(value, list):
                        nb[_INDEX + join.alias] = index  # for index(alias)
                    nxt.append(nb)
            current = nxt
        return current

    # -- values ------------------------------------------------------------------------------

    def path(self, b: Binding, path: hql.Path, allow_collection: bool = False) -> Any:
        parts = path.parts
        if parts[0] in b and not parts[0].startswith(_INDEX):
            value, rest = b[parts[0]], parts[1:]
        elif len(self.q.sources) == 1:
            value, rest = b[self.q.root.alias], parts
        else:
            raise _fail(self.q, f"unknown alias {parts[0]!r}")
        for i, part in enumerate(rest):
            if value is None:
                return None
            if isinstance(value, list):
                raise _fail(self.q, f"illegal attempt to dereference collection {'.'.join(parts[:i + 1])}")
            if part == "class" and isinstance(value, Row) and i == len(rest) - 1:
                return EntityName(value.entity)
            if not hasattr(value, "get") or isinstance(value, (str, dict)):
                raise _fail(self.q, f"cannot dereference {part!r} of a value")
            value = value.get(part)
        if isinstance(value, list) and not allow_collection:
            raise _fail(self.q, f"a collection ({'.'.join(parts)}) cannot be used as a value")
        return value

    def value(self, b: Binding, expr: Any) -> Any:
        if isinstance(expr, hql.Literal):
            return expr.value
        if isinstance(expr, hql.Param):
            if expr.name not in self.params:
                raise _fail(self.q, f"Not all named parameters have been set: [{expr.name}]")
            return self.params[expr.name]
        if isinstance(expr, hql.Path):
            return self.path(b, expr)
        if isinstance(expr, hql.Func):
            if expr.name in ("lower", "upper") and len(expr.args) == 1:
                v = self.value(b, expr.args[0])
                return None if v is None else (str(v).lower() if expr.name == "lower" else str(v).upper())
            if expr.name == "concat":
                parts = [self.value(b, a) for a in expr.args]
                return None if None in parts else "".join(str(p) for p in parts)
            if expr.name == "type" and len(expr.args) == 1:
                v = self.value(b, expr.args[0])
                return EntityName(v.entity) if isinstance(v, Row) else v if isinstance(v, EntityName) else None
            if expr.name == "index" and len(expr.args) == 1 and isinstance(expr.args[0], hql.Path):
                key = _INDEX + expr.args[0].parts[0]
                if len(expr.args[0].parts) != 1 or key not in b:
                    raise _fail(self.q, f"index() needs the alias of an element joined from a list: {expr!r}")
                return b[key]
            if expr.name == "str" and len(expr.args) == 1:
                v = self.value(b, expr.args[0])
                return None if v is None else str(v)
            raise _fail(self.q, f"function {expr.name}() is not supported by the stand-in here")
        if isinstance(expr, hql.Subquery):
            return [r[0] for r in _Evaluator(expr.query, self.data, self.params, b).run()]
        raise _fail(self.q, f"cannot evaluate {expr!r}")

    # -- conditions ------------------------------------------------------------------------------

    def test(self, b: Binding, cond: Any) -> bool | None:
        """SQL three-valued logic: True, False or None (unknown)."""
        if isinstance(cond, hql.BoolOp):
            results = [self.test(b, c) for c in cond.items]
            if cond.op == "and":
                return False if False in results else (None if None in results else True)
            return True if True in results else (None if None in results else False)
        if isinstance(cond, hql.Not):
            r = self.test(b, cond.item)
            return None if r is None else not r
        if isinstance(cond, hql.Exists):
            return bool(_Evaluator(cond.query, self.data, self.params, b).run())
        if isinstance(cond, hql.Compare):
            left, right = self.value(b, cond.left), self._entity_or_value(b, cond.right)
            if isinstance(left, EntityName) or isinstance(right, EntityName):
                return _compare(cond.op, str(left) if left is not None else None,
                                str(right) if right is not None else None)
            return _compare(cond.op, _key(left), _key(right))
        if isinstance(cond, hql.IsNull):
            isnull = self.value(b, cond.expr) is None
            return not isnull if cond.negated else isnull
        if isinstance(cond, hql.In):
            left = _key(self.value(b, cond.expr))
            if left is None:
                return None
            candidates: list[Any] = []
            for item in cond.items:
                v = self.value(b, item)
                candidates.extend(v if isinstance(v, (list, tuple, set, frozenset)) else [v])
            found = left in {_key(c) for c in candidates}
            return not found if cond.negated else found
        if isinstance(cond, hql.Like):
            v, pattern = self.value(b, cond.expr), self.value(b, cond.pattern)
            if v is None or pattern is None:
                return None
            found = _like(str(pattern)).fullmatch(str(v)) is not None
            return not found if cond.negated else found
        if isinstance(cond, hql.Between):
            v, low, high = (_key(self.value(b, e)) for e in (cond.expr, cond.low, cond.high))
            if None in (v, low, high):
                return None
            found = low <= v <= high
            return not found if cond.negated else found
        raise _fail(self.q, f"not a condition: {cond!r}")

    def _entity_or_value(self, b: Binding, expr: Any) -> Any:
        """The right side of a comparison: a bare entity name (``type(a) = TagAnnotation``) or a value."""
        if (isinstance(expr, hql.Path) and len(expr.parts) == 1 and expr.parts[0] not in b
                and expr.parts[0][:1].isupper()):
            return EntityName(expr.parts[0])
        return self.value(b, expr)

    def source(self, b: Binding, expr: Any) -> tuple[str, str] | None:
        """(entity, field) of a selected path, so that its value gets the field's type (rint, rtime...)."""
        if not isinstance(expr, hql.Path) or len(expr.parts) < 2:
            return None
        try:
            holder = self.path(b, hql.Path(expr.parts[:-1]))
        except IllegalQuery:
            return None
        if isinstance(holder, Row):
            return holder.entity, expr.parts[-1]
        return None

    # -- the whole query ----------------------------------------------------------------------------

    def run(self) -> list[tuple[Any, ...]]:
        return [tuple(v for v, _ in row) for row in self.run_typed()]

    def run_typed(self) -> list[tuple[tuple[Any, Any], ...]]:
        """Each result as ((value, (entity, field) or None), ...) per selected item."""
        found = [b for b in self.bindings() if self.q.where is None or self.test(b, self.q.where) is True]
        for order in reversed(self.q.order):
            present = [b for b in found if _key(self.value(b, order.expr)) is not None]
            absent = [b for b in found if _key(self.value(b, order.expr)) is None]
            present.sort(key=lambda b, o=order: _sortable(_key(self.value(b, o.expr))), reverse=order.descending)
            found = absent + present if order.descending else present + absent
        items = self.q.select or (hql.SelectItem(hql.Path((self.q.root.alias,))),)
        if any(isinstance(i.expr, hql.Func) and i.expr.name in AGGREGATES for i in items):
            return [tuple((self._aggregate(found, i.expr), None) for i in items)]
        results = [tuple((self.value(b, i.expr), self.source(b, i.expr)) for i in items) for b in found]
        if self.q.distinct or (self.collection_fetched and len(items) == 1):
            seen: set[Any] = set()
            unique = []
            for r in results:
                k = tuple(_key(v) if not isinstance(v, Row) else v for v, _ in r)
                if k not in seen:
                    seen.add(k)
                    unique.append(r)
            results = unique
        return results

    def _aggregate(self, found: list[Binding], expr: Any) -> Any:
        if not (isinstance(expr, hql.Func) and expr.name in AGGREGATES):
            raise _fail(self.q, "aggregates cannot be mixed with other values without GROUP BY")
        if expr.name == "count" and expr.args and expr.args[0] == hql.Literal("*"):
            return len(found)
        values = [self.value(b, expr.args[0]) for b in found]
        values = [v for v in values if v is not None]
        if expr.distinct:
            values = list({_key(v) if not isinstance(v, Row) else v: v for v in values}.values())
        if expr.name == "count":
            return len(values)
        keys = [_key(v) for v in values]
        if not keys:
            return None
        if expr.name == "sum":
            return sum(keys)
        if expr.name == "avg":
            return sum(keys) / len(keys)
        return min(keys) if expr.name == "min" else max(keys)


class EntityName(str):
    """An entity's name as a value: what ``type(a)`` and ``a.class`` give."""


_INDEX = "#index:"
AGGREGATES = ("count", "sum", "min", "max", "avg")


def _key(value: Any) -> Any:
    """What a value compares as: an entity (a row, or an omero object given as a parameter) by id."""
    if isinstance(value, Row):
        return value.id
    get_id = getattr(value, "getId", None)
    if callable(get_id):
        rid = get_id()
        return getattr(rid, "val", rid)
    return value


def _sortable(value: Any) -> Any:
    return (str(type(value).__name__), value) if not isinstance(value, (int, float)) else ("", value)


def _compare(op: str, left: Any, right: Any) -> bool | None:
    if left is None or right is None:
        return None
    if isinstance(left, bool) or isinstance(right, bool):
        left, right = bool(left), bool(right)
    try:
        if op == "=":
            return bool(left == right)
        if op == "!=":
            return bool(left != right)
        if op == "<":
            return bool(left < right)
        if op == "<=":
            return bool(left <= right)
        if op == ">":
            return bool(left > right)
        if op == ">=":
            return bool(left >= right)
    except TypeError:
        raise BadUsage(f"cannot compare {left!r} {op} {right!r}") from None
    raise BadUsage(f"unknown operator {op}")


def _like(pattern: str) -> re.Pattern[str]:
    out = []
    for ch in pattern:
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


def run(query: hql.Query, data: Data, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Every result of ``query`` as a tuple of selected values (a Row for an entity)."""
    return _Evaluator(query, data, params).run()


def run_typed(query: hql.Query, data: Data, params: dict[str, Any]) -> list[tuple[tuple[Any, Any], ...]]:
    """As ``run``, each value paired with the (entity, field) it was read from, or None."""
    return _Evaluator(query, data, params).run_typed()
