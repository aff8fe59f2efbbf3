"""What every servant needs: the registry, the users, the adapter, and the per-call checks.

A call's session comes from the category of the identity it was sent to (the client's uuid,
as Glacier2 routes it); its group from the session, or from an ``omero.group`` entry in the
call context (a numeric id, -1 = all groups), as on the real server.
"""

from __future__ import annotations

from typing import Any

import Ice

from . import faults
from .state import ClientRecord, Registry, SessionGone, SessionRecord
from .users import UserDirectory


class StandIn:
    """Shared state of one running stand-in server."""

    def __init__(self, users: UserDirectory, registry: Registry, verbose: bool = False) -> None:
        self.users = users
        self.registry = registry
        self.verbose = verbose
        self.adapter: Any = None  # Ice.ObjectAdapter, set once created
        self.ports: dict[str, int] = {}

    def use(self, current: Ice.Current) -> tuple[ClientRecord, SessionRecord]:
        """The live session a call belongs to (refreshing it), else the OMERO session error."""
        try:
            return self.registry.use(current.id.category)
        except SessionGone as gone:
            raise faults.session_gone(gone) from None

    def group_for_call(self, rec: SessionRecord, current: Ice.Current | None) -> int:
        """The group a call acts in; SecurityViolation if the user may not use it."""
        raw = (current.ctx or {}).get("omero.group", "") if current is not None else ""
        try:
            wanted = int(raw)
        except ValueError:
            wanted = None  # absent, or a login group *name* left in the implicit context
        if wanted is not None and wanted != -1:
            if not self.registry.may_use_group(rec.user, wanted):
                raise faults.security_violation(
                    f"User {rec.user.name} (id={rec.user.id}) is not a member of group {wanted}"
                )
            return wanted
        if not self.registry.may_use_group(rec.user, rec.group_id):
            group = self.users.group_by_id(rec.group_id)
            raise faults.security_violation(
                f"User {rec.user.name} is not a member of group "
                f"{group.name if group else rec.group_id} (id={rec.group_id})"
            )
        return rec.group_id

    def checked(self, current: Ice.Current) -> tuple[SessionRecord, int]:
        """``use`` plus ``group_for_call``: what most service operations start with."""
        _, rec = self.use(current)
        return rec, self.group_for_call(rec, current)

    def insecure_router(self) -> str:
        """The value of ``omero.router.insecure``: the plain-TCP router, host left to the client."""
        return f"OMERO.Glacier2/router:tcp -p {self.ports['tcp']} -h @omero.host@"

    def proxy(self, category: str, name: str) -> Any:
        return self.adapter.createProxy(Ice.Identity(name=name, category=category))
