"""IUpdate: save and delete data, with OMERO's rules (``writes``) and its transaction.

Each call is all or nothing, as OMERO's (``UpdateImpl`` is ``@Transactional``): a graph of which
one object breaks a rule leaves nothing behind. A save returns the stored graph shaped like
the one sent (``marshal.shape_plan``): what was loaded comes back loaded, with ids.
"""

from __future__ import annotations

from typing import Any

import Ice
import omero
import omero.api

from .amd import amd, servant
from .context import Call, StandIn
from .marshal import shape_plan
from .writes import Writer


@servant
class UpdateI(omero.api.IUpdate):
    """IUpdate as OMERO's UpdateImpl (role ``user``)."""

    def __init__(self, si: StandIn) -> None:
        self.si = si

    def _writer(self, call: Call) -> Writer:
        return Writer(self.si.store, self.si.directory, self.si.actor(call), call.session.id)

    def _save(self, current: Ice.Current, graphs: list[Any], answer: bool) -> list[Any]:
        call = self.si.call(current)
        si = self.si
        with si.store.lock, si.store.transaction(), si.directory.transaction():
            writer = self._writer(call)
            refs = [writer.save(g) for g in graphs]
            if not answer:
                return []
            builder = si.builder(call)
            return [builder.build(si.store.deref(r), shape_plan(g)) if r is not None else None
                    for r, g in zip(refs, graphs, strict=True)]

    @amd(void=True)
    def saveObject(self, obj: Any, current: Ice.Current | None = None) -> None:
        self._save(current, [obj], answer=False)

    @amd
    def saveAndReturnObject(self, obj: Any, current: Ice.Current | None = None) -> Any:
        return self._save(current, [obj], answer=True)[0]

    @amd(void=True)
    def saveArray(self, graph: Any, current: Ice.Current | None = None) -> None:
        self._save(current, list(graph or []), answer=False)

    @amd(void=True)
    def saveCollection(self, graph: Any, current: Ice.Current | None = None) -> None:
        self._save(current, list(graph or []), answer=False)

    @amd
    def saveAndReturnArray(self, graph: Any, current: Ice.Current | None = None) -> Any:
        return self._save(current, list(graph or []), answer=True)

    @amd
    def saveAndReturnIds(self, graph: Any, current: Ice.Current | None = None) -> Any:
        return [o.getId().getValue() for o in self._save(current, list(graph or []), answer=True)]

    @amd(void=True)
    def deleteObject(self, row: Any, current: Ice.Current | None = None) -> None:
        call = self.si.call(current)
        if row is None:
            return
        with self.si.store.lock, self.si.store.transaction(), self.si.directory.transaction():
            self._writer(call).delete_object(row)
