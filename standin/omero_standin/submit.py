"""``ServiceFactory.submit``: OMERO's command framework, a request answered through a handle.

As ``omero.cmd.SessionI.submit_async`` and ``omero.cmd.HandleI`` (ome/omero-blitz): ``submit``
registers a handle for the request and returns its proxy at once; the request then runs in the
background (here: once the client adds its callback or asks for the response, else after
``START_WITHOUT_CALLBACK`` seconds, so that a request as quick as these still reaches the
callback as a real server's slower ones do), and
when it ends the handle holds its ``Response`` (``OK`` or a subclass, or ``ERR``)
and a ``Status`` (flags ``FAILURE``/``CANCELLED`` on error), and every callback added with
``addCallback`` is told ``finished`` over the client's own connection (Glacier2 routes it so).
``close`` removes the handle. Errors are ``ERR`` responses named as OMERO names them, with
``category`` the request's Slice type id; the client raises them as ``omero.CmdError``.

Requests: ``UpdateSessionTimeoutRequest`` (OMERO 5.5 rules: a non-administrator may only lower
a timeout, ``non-admin-increase``; not to 0, ``non-admin-disabling``), ``CurrentSessionsRequest``
(``omero sessions who``), ``Chmod2`` on groups and ``Delete2`` of data (``delete.py``). Any other
request gets an ``ERR`` naming its type, never a bare ``Ice.UnknownUserException``.
"""

from __future__ import annotations

import threading
import time
import uuid as uuidlib
from collections.abc import Callable
from typing import Any

import Ice
import omero
import omero.cmd
from omero.rtypes import rint, rtime

from . import objects, security
from .amd import servant
from .context import StandIn
from .errors import StandInError
from .state import ClientRecord, SessionRecord

START_WITHOUT_CALLBACK = 1.0
"""Seconds a handle waits for ``addCallback`` (or a poll) before running its request anyway."""
SESSION_TIMETOLIVE = "ome.model.meta.Session_timeToLive"
SESSION_TIMETOIDLE = "ome.model.meta.Session_timeToIdle"


class Cancel(Exception):
    """A request stops with an ERR (OMERO's ``helper.cancel``)."""

    def __init__(self, name: str, **parameters: str) -> None:
        super().__init__(name)
        self.name = name
        self.parameters = {k: str(v) for k, v in parameters.items()}


class Job:
    """One submitted request: what runs, who ran it, and how it ended."""

    def __init__(self, si: StandIn, client: ClientRecord, rec: SessionRecord, request: Any, name: str) -> None:
        self.si = si
        self.client = client
        self.session = rec
        self.request = request
        self.name = name
        self.group_id = rec.group_id
        """The call's group (``omero.group`` of the submit call, else the session's)."""
        self.lock = threading.Lock()
        self.callbacks: dict[str, Any] = {}
        self.response: Any = None
        self.started = threading.Event()
        self.status = omero.cmd.Status(category="", name="", flags=[], parameters={}, currentStep=0, steps=1,
                                       startTime=int(time.time() * 1000), stepStartTimes=[], stepStopTimes=[],
                                       stopTime=0)

    def run(self, handler: Callable[[Job], Any]) -> None:
        self.started.wait(START_WITHOUT_CALLBACK)
        self.status.stepStartTimes.append(int(time.time() * 1000))
        try:
            response = handler(self)
        except Cancel as cancel:
            response = self._err(cancel.name, cancel.parameters, cancelled=True)
        except StandInError as exc:
            response = self._err("run-fail", {"message": str(exc)})
        except Exception as exc:  # noqa: BLE001 - a bug must still end the request
            response = self._err("run-fail", {"message": f"stand-in server bug: {exc!r}"})
        now = int(time.time() * 1000)
        self.status.stepStopTimes.append(now)
        self.status.stopTime = now
        self.status.currentStep = 1
        with self.lock:
            self.response = response
            callbacks = list(self.callbacks.values())
        for cb in callbacks:
            self._notify(cb)

    def _err(self, name: str, parameters: dict[str, str], cancelled: bool = False) -> Any:
        self.status.flags.append(omero.cmd.State.FAILURE)
        if cancelled:
            self.status.flags.append(omero.cmd.State.CANCELLED)
        return omero.cmd.ERR(category=self.request.ice_id(), name=name, parameters=parameters)

    def _notify(self, cb: Any) -> None:
        try:
            cb.begin_finished(self.response, self.status)
        except Ice.Exception:
            pass  # OMERO logs a failed callback and carries on

    def add_callback(self, cb: Any) -> None:
        key = Ice.identityToString(cb.ice_getIdentity())
        with self.lock:
            self.callbacks[key] = cb
            finished = self.response is not None
        self.started.set()
        if finished:
            return  # as OMERO: a callback added after the end is not told; the client polls


# -- the handle servant ------------------------------------------------------------------------


@servant
class HandleI(omero.cmd.Handle):
    """Every handle, found by identity (category = client, name = the handle's)."""

    def __init__(self, si: StandIn) -> None:
        self.si = si

    def _job(self, current: Ice.Current) -> Job:
        client = self.si.registry.client(current.id.category)
        job = client.handles.get(current.id.name) if client is not None else None
        if job is None:
            raise Ice.ObjectNotExistException(id=current.id, facet="", operation=current.operation)
        return job

    def addCallback(self, cb: Any, current: Ice.Current | None = None) -> None:
        job = self._job(current)
        if cb is None:
            return
        if current.con is not None:  # call back over the client's connection, as Glacier2 routes it
            cb = omero.cmd.CmdCallbackPrx.uncheckedCast(current.con.createProxy(cb.ice_getIdentity()).ice_oneway())
        job.add_callback(cb)

    def removeCallback(self, cb: Any, current: Ice.Current | None = None) -> None:
        job = self._job(current)
        if cb is not None:
            with job.lock:
                job.callbacks.pop(Ice.identityToString(cb.ice_getIdentity()), None)

    def getRequest(self, current: Ice.Current | None = None) -> Any:
        return self._job(current).request

    def getResponse(self, current: Ice.Current | None = None) -> Any:
        job = self._job(current)
        job.started.set()  # a client that polls needs no callback to wait for
        return job.response

    def getStatus(self, current: Ice.Current | None = None) -> Any:
        job = self._job(current)
        job.status.source = omero.cmd.HandlePrx.uncheckedCast(self.si.proxy(current.id.category, current.id.name))
        return job.status

    def cancel(self, current: Ice.Current | None = None) -> bool:
        self._job(current)
        return False  # requests here finish at once; OMERO answers False for a finished one

    def close(self, current: Ice.Current | None = None) -> None:
        client = self.si.registry.client(current.id.category)
        if client is not None:
            client.handles.pop(current.id.name, None)


def submit(si: StandIn, current: Ice.Current, request: Any) -> Any:
    """Register a handle for ``request``, start it in the background, and return the handle's proxy."""
    client, rec = si.use(current)
    if request is None:
        return None  # OMERO answers a null handle for a request it cannot run
    name = f"IHandle{uuidlib.uuid4()}"
    job = Job(si, client, rec, request, name)
    job.group_id = si._call_group(rec, current)
    client.handles[name] = job
    handler = HANDLERS.get(request.ice_id(), _unsupported)
    threading.Thread(target=job.run, args=(handler,), name=f"standin-{name}", daemon=True).start()
    return omero.cmd.HandlePrx.uncheckedCast(si.proxy(client.uuid, name))


# -- requests ---------------------------------------------------------------------------------------


def _unsupported(job: Job) -> Any:
    kind = job.request.ice_id()
    raise Cancel("stand-in-not-implemented", message=f"{kind} is not implemented by the omero-profiles stand-in "
                 "server (it runs UpdateSessionTimeoutRequest, CurrentSessionsRequest, Chmod2 on groups and Delete2)")


def _context(job: Job) -> security.Context:
    return job.si.context(job.session)


def update_session_timeout(job: Job) -> Any:
    """``UpdateSessionTimeoutRequestI`` as in OMERO 5.5 (see module docstring)."""
    req = job.request
    registry = job.si.registry
    ctx = _context(job)
    target = registry.session(req.session or "")
    if target is None or not (ctx.is_admin or target.user is job.session.user):
        raise Cancel("no-session")
    updates: dict[str, int] = {}
    for field, key, value, current_value in (
        (SESSION_TIMETOLIVE, "ttl_ms", req.timeToLive, target.ttl_ms),
        (SESSION_TIMETOIDLE, "tti_ms", req.timeToIdle, target.tti_ms),
    ):
        if value is None:
            continue
        wanted = int(value.getValue())
        if not ctx.is_admin and wanted - current_value > 0:
            raise Cancel("non-admin-increase", field=field, target=wanted, current=current_value)
        if not ctx.is_admin and wanted <= 0:
            raise Cancel("non-admin-disabling", field=field, target=wanted, current=current_value)
        updates[key] = wanted
    if not updates:
        raise Cancel("no-update-performed", session=req.session)
    registry.update_timeouts(target, **updates)
    return omero.cmd.OK()


def current_sessions(job: Job) -> Any:
    """``CurrentSessionsRequestI``: every live session; full details of those the caller may read."""
    si = job.si
    ctx = _context(job)
    guest = job.session.user.id == 1
    rsp = omero.cmd.CurrentSessionsResponse(sessions=[], contexts=[], data=[])
    for rec in si.registry.live_sessions():
        other = si.context(rec)
        if ctx.is_admin or rec.user is job.session.user:
            rsp.sessions.append(objects.session_obj(si.directory, rec))
            rsp.contexts.append(objects.event_context(si.directory, rec, other, rec.group_id))
            rsp.data.append({"hitCount": rint(rec.hits), "lastAccessTime": rtime(rec.last_access_ms)})
        elif not guest:
            group = si.directory.group(rec.group_id)
            ec = omero.sys.EventContext(userId=rec.user.id, userName=rec.user.name, groupId=rec.group_id,
                                        groupName=group.name if group else "", isAdmin=other.is_admin)
            rsp.sessions.append(None)
            rsp.contexts.append(ec)
            rsp.data.append({})
    return rsp


def chmod2(job: Job) -> Any:
    """``Chmod2`` of groups (OMERO's GroupChmodStrategy rules); other targets: there is no data."""
    req = job.request
    targets = dict(req.targetObjects or {})
    unknown = sorted(k for k in targets if k.rsplit(".", 1)[-1] != "ExperimenterGroup")
    if unknown:
        raise Cancel("graph-fail", message=f"the stand-in holds no data; Chmod2 works on ExperimenterGroup only, "
                     f"not {', '.join(unknown)}")
    perms = req.permissions or ""
    if len(perms) != 6 or set(perms) - set("rwa-"):
        raise Cancel("bad-permissions", message=f"cannot parse permissions {perms!r}")
    ctx = _context(job)
    directory = job.si.directory
    done: list[int] = []
    for gids in targets.values():
        for gid in gids:
            group = directory.group(gid)
            if group is None:
                raise Cancel("graph-fail", message=f"no ExperimenterGroup:{gid}")
            if not (gid in ctx.leader_of or ctx.has("ModifyGroup")):
                raise Cancel("graph-fail", message=f"user is not an owner of group {gid}")
            if perms[0] != "r":
                raise Cancel("graph-fail", message=f"Cannot remove user read: ExperimenterGroup:{gid}")
            done.append(gid)
    if not req.dryRun:
        for gid in done:
            if directory.group(gid).permissions != perms:  # type: ignore[union-attr]
                directory.set_permissions(gid, perms)
                directory.log_event(f"CHMOD({perms})", "ome.model.meta.ExperimenterGroup", gid,
                                    job.session.user.id, job.session.id)
    return omero.cmd.Chmod2Response(includedObjects={"ome.model.meta.ExperimenterGroup": done}, deletedObjects={})


def delete2(job: Job) -> Any:
    """``Delete2`` of data (``delete.py`` has OMERO's graph rules), all or nothing."""
    from . import acl
    from .delete import GraphError, deleted_objects, plan_delete
    from .writes import Writer

    req = job.request
    si = job.si
    who = acl.actor(_context(job), job.group_id)
    include = [t for opt in (req.childOptions or []) for t in (opt.includeType or [])]
    exclude = [t for opt in (req.childOptions or []) for t in (opt.excludeType or [])]

    def perms_of(gid: int) -> str:
        group = si.directory.group(gid)
        return group.permissions if group is not None else "rw----"

    with si.store.lock, si.store.transaction(), si.directory.transaction():
        try:
            plan = plan_delete(si.store, who, perms_of, dict(req.targetObjects or {}), include, exclude)
        except GraphError as exc:
            raise Cancel("graph-fail", message=exc.message) from None
        if not req.dryRun:
            writer = Writer(si.store, si.directory, who, job.session.id)
            for rec in plan.doomed.values():
                writer.remove(rec)
    return omero.cmd.Delete2Response(deletedObjects=deleted_objects(plan))


HANDLERS: dict[str, Callable[[Job], Any]] = {
    "::omero::cmd::UpdateSessionTimeoutRequest": update_session_timeout,
    "::omero::cmd::CurrentSessionsRequest": current_sessions,
    "::omero::cmd::Chmod2": chmod2,
    "::omero::cmd::Delete2": delete2,
}
"""Request handlers by the request's Slice type id."""
