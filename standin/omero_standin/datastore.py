"""The stand-in's data while it runs: projects, images, annotations, ROIs... as plain records.

One ``Record`` per OMERO object: its entity (``kind``), id, owner, group, creation and update
events, version, and its fields as plain values (a ``Ref`` for a reference to another object,
a list of pairs for a map annotation's values). Collections are not stored: they are the
reverse of references (``schema.COLLECTIONS``). Ids come from one sequence per table, as
OMERO's (a tag and a comment never share an id). Who may see or change a record is
``acl.py``'s job, turning client objects into records ``marshal.py``'s; nothing here imports
Ice. The data lives as long as the server: there is no file behind it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from . import schema
from .directory import SYSTEM


@dataclass(frozen=True)
class Ref:
    """A reference to a stored object."""

    kind: str
    id: int

    @property
    def table(self) -> str:
        return schema.base(self.kind)


@dataclass(eq=False)
class Record:
    kind: str
    id: int
    owner_id: int
    group_id: int
    fields: dict[str, Any] = field(default_factory=dict)
    creation_event: int | None = None
    update_event: int | None = None
    version: int = 0
    external_info: Ref | None = None
    """``details.externalInfo``: an ExternalInfo record."""

    @property
    def table(self) -> str:
        return schema.base(self.kind)

    @property
    def ref(self) -> Ref:
        return Ref(self.kind, self.id)

    def copy(self) -> Record:
        return Record(self.kind, self.id, self.owner_id, self.group_id, dict(self.fields), self.creation_event,
                      self.update_event, self.version, self.external_info)


class Store:
    """Every record, by table and id; thread-safe through ``lock``; ``transaction`` undoes a failed call."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._tables: dict[str, dict[int, Record]] = {}
        self._next: dict[str, int] = {}
        self._reverse: dict[tuple[str, str], dict[int, list[int]]] | None = None
        for kind, values in schema.ENUMS.items():
            for value in values:
                rec = Record(kind, self.next_id(kind), 0, SYSTEM, {"value": value})
                self._tables.setdefault(kind, {})[rec.id] = rec

    # -- reading ------------------------------------------------------------------------

    def get(self, kind: str, rid: int) -> Record | None:
        """The record of entity ``kind`` (or a subclass of it) with this id."""
        with self.lock:
            rec = self._tables.get(schema.base(kind), {}).get(rid)
            return rec if rec is not None and schema.is_a(rec.kind, kind) else None

    def deref(self, ref: Ref | None) -> Record | None:
        return self.get(ref.kind, ref.id) if ref is not None else None

    def rows(self, kind: str) -> list[Record]:
        """Every record of entity ``kind`` and its subclasses, by id."""
        with self.lock:
            table = self._tables.get(schema.base(kind), {})
            return [table[i] for i in sorted(table) if schema.is_a(table[i].kind, kind)]

    def referrers(self, element_kind: str, back_field: str, target_id: int) -> list[Record]:
        """Records of ``element_kind`` whose ``back_field`` refers to ``target_id`` (a collection), by id."""
        with self.lock:
            if self._reverse is None:
                self._reverse = {}
            key = (schema.base(element_kind), back_field)
            index = self._reverse.get(key)
            if index is None:
                index = {}
                for rid in sorted(self._tables.get(key[0], {})):
                    ref = self._tables[key[0]][rid].fields.get(back_field)
                    if isinstance(ref, Ref):
                        index.setdefault(ref.id, []).append(rid)
                self._reverse[key] = index
            table = self._tables.get(key[0], {})
            found = (table[i] for i in index.get(target_id, ()))
            return [r for r in found if schema.is_a(r.kind, element_kind)]

    def find_enum(self, kind: str, value: str) -> Record | None:
        return next((r for r in self.rows(kind) if r.fields.get("value") == value), None)

    def all_records(self) -> list[Record]:
        with self.lock:
            return [r for table in self._tables.values() for r in table.values() if r.kind not in schema.ENUMS]

    # -- changing ------------------------------------------------------------------------

    def next_id(self, kind: str) -> int:
        with self.lock:
            table = schema.base(kind)
            rid = self._next.get(table, 1)
            self._next[table] = rid + 1
            return rid

    def put(self, rec: Record) -> None:
        """Insert or replace a record."""
        with self.lock:
            self._tables.setdefault(rec.table, {})[rec.id] = rec
            self._reverse = None

    def remove(self, ref: Ref) -> Record | None:
        with self.lock:
            rec = self._tables.get(ref.table, {}).pop(ref.id, None)
            self._reverse = None
            return rec

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Changes made in the block are undone if it raises, as OMERO rolls back a failed call."""
        with self.lock:
            tables = {name: {rid: rec.copy() for rid, rec in table.items()} for name, table in self._tables.items()}
            counters = dict(self._next)
            try:
                yield
            except BaseException:
                self._tables, self._next, self._reverse = tables, counters, None
                raise
