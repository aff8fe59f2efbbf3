"""What every servant needs: the directory, the registry, the adapter, and the per-call checks.

A call's session comes from the category of the identity it was sent to (the client's uuid,
as Glacier2 routes it); its group from the session, or from an ``omero.group`` entry in the
call context (a numeric id, -1 = all groups), as on the real server. ``StandIn.call`` does what
OMERO's method security and ``loadEventContext`` do before a service method runs: check the
session, the method's roles (``user``, ``system``, ``guest``, ``HasPassword``) and the group.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import Ice

from . import acl, faults, security
from .datastore import Store
from .directory import Directory
from .errors import Denied, StandInError
from .state import ClientRecord, Registry, SessionGone, SessionRecord

USER_ROLES = ("user",)
ANY_ROLES = ("user", "guest")


@dataclass(frozen=True)
class Call:
    """A service call that passed the checks: its Glacier2 session, OMERO session, context and group."""

    client: ClientRecord
    session: SessionRecord
    ctx: security.Context
    group_id: int
    call_context: dict[str, str]
    """The Ice call context the client sent (``omero.group``, ``omero.client.uuid``...)."""


class StandIn:
    """Shared state of one running stand-in server."""

    def __init__(self, directory: Directory, registry: Registry, verbose: bool = False,
                 store: Store | None = None) -> None:
        self.directory = directory
        self.registry = registry
        self.store = store if store is not None else Store()
        """The data (projects, images, annotations...): ``datastore``."""
        self.verbose = verbose
        self.adapter: Any = None  # Ice.ObjectAdapter, set once created
        self.ports: dict[str, int] = {}

    def use(self, current: Ice.Current) -> tuple[ClientRecord, SessionRecord]:
        """The live session a call belongs to (refreshing it), else the OMERO session error."""
        try:
            return self.registry.use(current.id.category)
        except SessionGone as gone:
            raise faults.session_gone(gone) from None

    def context(self, rec: SessionRecord) -> security.Context:
        return security.context(self.directory, rec.user, rec.sudoer, rec.groups_led)

    def call(self, current: Ice.Current, roles: tuple[str, ...] | None = USER_ROLES,
             password: bool = False, group: bool = True) -> Call:
        """Check a call as OMERO does before a method runs; ``roles=None`` is ``@PermitAll``."""
        client, rec = self.use(current)
        ctx = self.context(rec)
        try:
            if roles is not None:
                allowed = roles + (("HasPassword",) if password else ())
                security.check_roles(self.directory, rec.user, rec.uuid, allowed, client.has_password)
            gid = self._call_group(rec, current)
            if group:
                security.check_call_group(self.directory, ctx, gid)
            self._check_call_user(ctx, current)
        except StandInError as exc:
            raise faults.from_error(exc) from None
        return Call(client, rec, ctx, gid, dict(current.ctx or {}) if current is not None else {})

    def _check_call_user(self, ctx: security.Context, current: Ice.Current | None) -> None:
        """``omero.user`` in the call context: for administrators only (OMERO's
        ``test_permissions.py``, testOmeroUserAsNonAdmin); they keep their own identity here."""
        raw = (current.ctx or {}).get("omero.user", "") if current is not None else ""
        if raw and not ctx.is_admin:
            raise Denied(f"User {ctx.user.id} is not an admin and so cannot set uid to {raw}")

    def _call_group(self, rec: SessionRecord, current: Ice.Current | None) -> int:
        raw = (current.ctx or {}).get("omero.group", "") if current is not None else ""
        try:
            return int(raw)
        except ValueError:
            return rec.group_id  # absent, or a login group *name* left in the implicit context

    def actor(self, call: Call) -> acl.Actor:
        """Who is calling, in which group, for the data rules (``acl``)."""
        return acl.actor(call.ctx, call.group_id)

    def builder(self, call: Call) -> Any:
        """A ``marshal.Builder`` for this call's answer (details carry its call and event context)."""
        from . import objects
        from .marshal import Builder

        ec = objects.event_context(self.directory, call.session, call.ctx, call.group_id)
        return Builder(self.store, self.directory, self.actor(call), call_context=dict(call.call_context), event=ec)

    def checked(self, current: Ice.Current) -> tuple[SessionRecord, int]:
        """The session and group of a call that needs no particular role (getEventContext and co.)."""
        call = self.call(current, roles=None)
        return call.session, call.group_id

    def insecure_router(self) -> str:
        """The value of ``omero.router.insecure``: the plain-TCP router, host left to the client."""
        return f"OMERO.Glacier2/router:tcp -p {self.ports['tcp']} -h @omero.host@"

    def proxy(self, category: str, name: str) -> Any:
        return self.adapter.createProxy(Ice.Identity(name=name, category=category))
