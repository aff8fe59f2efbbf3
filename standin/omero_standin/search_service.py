"""A minimal ``omero.api.Search`` (``BlitzGateway.searchObjects``) and ``SharedResources``.

Search finds objects of one type (``onlyType``) whose name, description, or the text of an
annotation on them (tag, comment, map values, file name) holds every term of the query, as
words: text is split on anything but letters and digits, case-insensitively unless
``setCaseSensitive(True)``; a term may hold ``*`` and ``?`` wildcards (``setAllowLeadingWildcard``
allows a leading one). ``onlyOwnedBy`` and ``onlyCreatedBetween`` filter; ``results`` hands back
batches of ``setBatchSize`` (default 1000) while ``hasNext``. There is no Lucene index: other
query forms (``byHqlQuery``, ``bySomeMustNone``...) are refused by name.

``SharedResources.repositories`` is honest and empty: the stand-in stores no files.
``areTablesEnabled`` is False: there is no OMERO.tables.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any

import Ice
import omero
import omero.api
import omero.grid
from omero.rtypes import unwrap

from . import objects, schema
from .amd import amd, servant
from .container_service import _kind, _Reader
from .context import StandIn
from .datastore import Record, Ref
from .errors import BadUsage


@dataclass
class _State:
    kinds: list[str] = field(default_factory=list)
    batch: int = 1000
    owner: int | None = None
    created: tuple[int | None, int | None] = (None, None)
    case_sensitive: bool = False
    leading_wildcard: bool = False
    results: list[Any] = field(default_factory=list)


def _words(text: str, case_sensitive: bool) -> list[str]:
    words = [w for w in re.split(r"[^0-9A-Za-z]+", text) if w]
    return words if case_sensitive else [w.lower() for w in words]


@servant
class SearchI(omero.api.Search):
    """One state per Search proxy (by identity name), dropped on ``close``."""

    def __init__(self, si: StandIn) -> None:
        self.si = si
        self.states: dict[str, _State] = {}

    def _state(self, current: Ice.Current) -> _State:
        self.si.use(current)
        return self.states.setdefault(current.id.name, _State())

    @amd(void=True)
    def close(self, current: Ice.Current | None = None) -> None:
        self.states.pop(current.id.name, None)
        client = self.si.registry.client(current.id.category)
        if client is not None:
            client.stateful.discard(current.id.name)

    @amd
    def getCurrentEventContext(self, current: Ice.Current | None = None) -> Any:
        call = self.si.call(current, roles=None)
        return objects.event_context(self.si.directory, call.session, call.ctx, call.group_id)

    @amd(void=True)
    def activate(self, current: Ice.Current | None = None) -> None:
        self.si.use(current)

    @amd(void=True)
    def passivate(self, current: Ice.Current | None = None) -> None:
        self.si.use(current)

    @amd(void=True)
    def onlyType(self, klass: str, current: Ice.Current | None = None) -> None:
        self._state(current).kinds = [_kind(klass)]

    @amd(void=True)
    def onlyTypes(self, classes: Any, current: Ice.Current | None = None) -> None:
        self._state(current).kinds = [_kind(k) for k in classes or []]

    @amd(void=True)
    def allTypes(self, current: Ice.Current | None = None) -> None:
        self._state(current).kinds = []

    @amd(void=True)
    def setBatchSize(self, size: int, current: Ice.Current | None = None) -> None:
        if size < 1:
            raise BadUsage(f"Batch size must be positive: {size}")
        self._state(current).batch = size

    @amd
    def getBatchSize(self, current: Ice.Current | None = None) -> Any:
        return self._state(current).batch

    @amd(void=True)
    def setCaseSensitive(self, value: bool, current: Ice.Current | None = None) -> None:
        self._state(current).case_sensitive = value

    @amd(void=True)
    def setCaseSentivice(self, value: bool, current: Ice.Current | None = None) -> None:
        self._state(current).case_sensitive = value

    @amd
    def isCaseSensitive(self, current: Ice.Current | None = None) -> Any:
        return self._state(current).case_sensitive

    @amd(void=True)
    def setAllowLeadingWildcard(self, value: bool, current: Ice.Current | None = None) -> None:
        self._state(current).leading_wildcard = value

    @amd
    def isAllowLeadingWildcard(self, current: Ice.Current | None = None) -> Any:
        return self._state(current).leading_wildcard

    @amd(void=True)
    def onlyOwnedBy(self, details: Any, current: Ice.Current | None = None) -> None:
        owner = details.owner if details is not None else None
        self._state(current).owner = unwrap(owner.id) if owner is not None else None

    @amd(void=True)
    def onlyCreatedBetween(self, start: Any, stop: Any, current: Ice.Current | None = None) -> None:
        self._state(current).created = (unwrap(start), unwrap(stop))

    @amd(void=True)
    def resetDefaults(self, current: Ice.Current | None = None) -> None:
        self.states[current.id.name] = _State()

    @amd(void=True)
    def clearQueries(self, current: Ice.Current | None = None) -> None:
        self._state(current).results = []

    @amd
    def activeQueries(self, current: Ice.Current | None = None) -> Any:
        return 1 if self._state(current).results else 0

    @amd
    def hasNext(self, current: Ice.Current | None = None) -> Any:
        return bool(self._state(current).results)

    @amd
    def results(self, current: Ice.Current | None = None) -> Any:
        state = self._state(current)
        if not state.results:
            raise BadUsage("No more results")
        batch, state.results = state.results[:state.batch], state.results[state.batch:]
        return batch

    @amd
    def next(self, current: Ice.Current | None = None) -> Any:
        state = self._state(current)
        if not state.results:
            raise BadUsage("No more results")
        return state.results.pop(0)

    @amd(void=True)
    def byFullText(self, query: str, current: Ice.Current | None = None) -> None:
        state = self._state(current)
        terms = [t for t in re.split(r"\s+", query.strip()) if t]
        if not terms:
            raise BadUsage("Query string must be non-empty")
        for term in terms:
            if term[0] in "*?" and not state.leading_wildcard:
                raise BadUsage(f"Leading wildcards are not allowed (setAllowLeadingWildcard): {term}")
        reader = _Reader(self.si, current)
        kinds = state.kinds or ["Project", "Dataset", "Image", "Screen", "Plate"]
        found: list[Any] = []
        with self.si.store.lock:
            for kind in kinds:
                for rec in reader.all(kind):
                    if self._keep(state, rec) and self._matches(reader, state, rec, terms):
                        found.append(reader.builder.build(rec, {"details": {"owner": {}, "creationEvent": {}}}))
        state.results = found

    def _keep(self, state: _State, rec: Record) -> bool:
        if state.owner is not None and rec.owner_id != state.owner:
            return False
        start, stop = state.created
        if start is None and stop is None:
            return True
        event = self.si.directory.events.get(rec.creation_event or -1)
        when = event.time_ms if event is not None else 0
        return (start is None or when >= start) and (stop is None or when <= stop)

    def _text(self, reader: _Reader, rec: Record) -> list[str]:
        texts = [str(rec.fields.get(k) or "") for k in ("name", "description")]
        link = f"{schema.base(rec.kind)}AnnotationLink"
        if link not in schema.ENTITIES:
            return texts
        for lk in reader.store.referrers(link, "parent", rec.id):
            ann = reader.store.deref(lk.fields.get("child"))
            if ann is None or not reader.visible(ann):
                continue
            for key in ("textValue", "name", "description"):
                if isinstance(ann.fields.get(key), str):
                    texts.append(ann.fields[key])
            for _, value in ann.fields.get("mapValue") or []:
                texts.append(str(value))
            file = ann.fields.get("file")
            target = reader.store.deref(file) if isinstance(file, Ref) else None
            if target is not None:
                texts.append(str(target.fields.get("name") or ""))
        return texts

    def _matches(self, reader: _Reader, state: _State, rec: Record, terms: list[str]) -> bool:
        words = [w for t in self._text(reader, rec) for w in _words(t, state.case_sensitive)]
        for term in terms:
            parts = [p for p in re.split(r"[^0-9A-Za-z*?]+", term if state.case_sensitive else term.lower()) if p]
            if not all(any(fnmatch.fnmatchcase(w, p) for w in words) for p in parts):
                return False
        return True


@servant
class SharedResourcesI(omero.grid.SharedResources):
    """The repositories (none: the stand-in stores no files) and whether OMERO.tables runs (no)."""

    def __init__(self, si: StandIn) -> None:
        self.si = si

    def repositories(self, current: Ice.Current | None = None) -> Any:
        self.si.use(current)
        return omero.grid.RepositoryMap(descriptions=[], proxies=[])

    def areTablesEnabled(self, current: Ice.Current | None = None) -> Any:
        self.si.use(current)
        return False
