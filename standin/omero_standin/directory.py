"""The stand-in's users and groups while it runs: created, joined, owned and changed through IAdmin.

The users file (``users.py``) is how a server starts with known people; this directory is what
the server holds afterwards, mutable and behind one lock. Shaped like OMERO's tables:
``Experimenter``, ``ExperimenterGroup`` and the ``GroupExperimenterMap`` links between them,
each with an owner flag. A user's links are ordered; the first is the default group
(OMERO's ``index(m) = 0``). Only data rules live here (unique names, the default group
following ``SimpleRoleProvider``); who may change what is ``security.py``'s job.

Passwords follow OMERO's JDBC provider: ``None`` = no password (nothing matches), a blank one
matches anything only for users who need no password (``guest``; others need one, as with
``omero.security.password_required=true``, OMERO's default). Light-admin restrictions are the
privileges a system-group member does *not* have (OMERO stores them as ``false`` config entries).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from .errors import BadUsage, Invalid
from .users import ALL_PRIVILEGES, UserDirectory

SYSTEM, USER, GUEST = 0, 1, 2
"""Ids of OMERO's built-in groups (``Roles``)."""
ROOT_ID, GUEST_ID = 0, 1
"""Ids of OMERO's built-in users."""
BUILTIN_GROUP_NAMES = {SYSTEM: "system", USER: "user", GUEST: "guest"}


@dataclass(eq=False)
class Group:
    id: int
    name: str
    permissions: str = "rw----"
    description: str | None = None
    ldap: bool = False


@dataclass(eq=False)
class User:
    id: int
    name: str
    password: str | None = field(default=None, repr=False)
    first_name: str = ""
    middle_name: str | None = None
    last_name: str = ""
    email: str | None = None
    institution: str | None = None
    ldap: bool = False
    restrictions: frozenset[str] = frozenset()
    """Admin privileges withheld (only meaningful for members of ``system``)."""


@dataclass(eq=False)
class Link:
    """A GroupExperimenterMap row."""

    id: int
    group_id: int
    user_id: int
    owner: bool = False


@dataclass(frozen=True)
class EventRow:
    """An Event: who did something, in which group and session, when (one per changing call)."""

    id: int
    time_ms: int
    experimenter_id: int
    group_id: int
    session_id: int
    type: str = "User"


@dataclass(frozen=True)
class EventLogRow:
    """An EventLog row: one change (``PASSWORD``, ``INSERT``, ``UPDATE``, ``DELETE``...) within an Event."""

    id: int
    action: str
    entity_type: str
    entity_id: int
    event: EventRow

    @property
    def time_ms(self) -> int:
        return self.event.time_ms

    @property
    def experimenter_id(self) -> int:
        return self.event.experimenter_id

    @property
    def group_id(self) -> int:
        return self.event.group_id

    @property
    def session_id(self) -> int:
        return self.event.session_id


class Directory:
    """All users, groups and memberships; every method is safe to call from any thread."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._users: dict[int, User] = {}
        self._groups: dict[int, Group] = {}
        self._links: dict[int, list[Link]] = {}  # user id -> links, default group first
        self._next = {"user": 0, "group": 0, "link": 1, "event": 1, "eventlog": 1}
        self.event_log: list[EventLogRow] = []
        self.events: dict[int, EventRow] = {}

    @classmethod
    def from_spec(cls, spec: UserDirectory) -> Directory:
        """The directory a users file describes (ids as the file's parser assigned them)."""
        d = cls()
        for g in sorted(spec.groups.values(), key=lambda g: g.id):
            d._groups[g.id] = Group(g.id, g.name, g.permissions, g.description or None)
        for u in sorted(spec.values(), key=lambda u: u.id):
            restrictions = frozenset(set(ALL_PRIVILEGES) - set(u.privileges)) if u.restricted else frozenset()
            d._users[u.id] = User(u.id, u.name, u.password, u.first_name, None, u.last_name, u.email or None,
                                  restrictions=restrictions)
            d._links[u.id] = []
            for name in u.memberships:
                d._link(spec.groups[name].id, u.id, name in u.owner_of)
        d._next["user"] = max(d._users) + 1
        d._next["group"] = max(d._groups) + 1
        return d

    # -- reading -------------------------------------------------------------------------

    def user(self, uid: int) -> User | None:
        return self._users.get(uid)

    def user_named(self, name: str) -> User | None:
        with self.lock:
            return next((u for u in self._users.values() if u.name == name), None)

    def group(self, gid: int) -> Group | None:
        return self._groups.get(gid)

    def group_named(self, name: str) -> Group | None:
        with self.lock:
            return next((g for g in self._groups.values() if g.name == name), None)

    def users(self) -> list[User]:
        with self.lock:
            return [self._users[k] for k in sorted(self._users)]

    def groups(self) -> list[Group]:
        with self.lock:
            return [self._groups[k] for k in sorted(self._groups)]

    def links_of_user(self, uid: int) -> list[Link]:
        """The user's memberships, default group first (OMERO's list order)."""
        with self.lock:
            return list(self._links.get(uid, ()))

    def links_of_group(self, gid: int) -> list[Link]:
        with self.lock:
            return sorted((lk for links in self._links.values() for lk in links if lk.group_id == gid),
                          key=lambda lk: lk.id)

    def all_links(self) -> list[Link]:
        with self.lock:
            return sorted((lk for links in self._links.values() for lk in links), key=lambda lk: lk.id)

    def member_of(self, uid: int) -> list[int]:
        return [lk.group_id for lk in self.links_of_user(uid)]

    def leader_of(self, uid: int) -> list[int]:
        return [lk.group_id for lk in self.links_of_user(uid) if lk.owner]

    def is_system_member(self, uid: int) -> bool:
        return SYSTEM in self.member_of(uid)

    def privileges(self, uid: int) -> frozenset[str]:
        """``IAdmin.getAdminPrivileges``: all but the restricted ones for ``system`` members, else none."""
        user = self._users.get(uid)
        if user is None or not self.is_system_member(uid):
            return frozenset()
        return frozenset(ALL_PRIVILEGES) - user.restrictions

    def default_group(self, uid: int) -> Group | None:
        """The first group that is not ``user`` at index 0 (``IAdmin.getDefaultGroup``), else None."""
        links = self.links_of_user(uid)
        if links and links[0].group_id != USER:
            return self._groups.get(links[0].group_id)
        return None

    # -- passwords ---------------------------------------------------------------------------

    def password_required(self, uid: int) -> bool:
        return uid != GUEST_ID

    def check_password(self, name: str, password: str | None) -> bool:
        with self.lock:
            user = self.user_named(name)
            if user is None or user.password is None or password is None:
                return False
            if not user.password.strip():
                return not self.password_required(user.id)
            return user.password == password

    def set_password(self, uid: int, password: str | None, *, by_uid: int, session_id: int) -> None:
        with self.lock:
            user = self._require_user(uid)
            user.password = password
            self.log_event("PASSWORD", "ome.model.meta.Experimenter", uid, by_uid, session_id)

    def new_event(self, by_uid: int, session_id: int, group_id: int | None = None) -> EventRow:
        """A new Event in ``group_id`` (default: the user's default group, as a context-free change)."""
        with self.lock:
            if group_id is None or group_id < 0:
                links = self._links.get(by_uid) or []
                group_id = links[0].group_id if links else USER
            event = EventRow(self._next["event"], int(time.time() * 1000), by_uid, group_id, session_id)
            self._next["event"] += 1
            self.events[event.id] = event
            return event

    def log_event(self, action: str, entity_type: str, entity_id: int, by_uid: int, session_id: int,
                  event: EventRow | None = None) -> EventLogRow:
        """Log one change, within ``event`` or an Event of its own."""
        with self.lock:
            row = EventLogRow(self._next["eventlog"], action, entity_type, entity_id,
                              event or self.new_event(by_uid, session_id))
            self._next["eventlog"] += 1
            self.event_log.append(row)
            return row

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Changes made in the block are undone if it raises, as OMERO rolls back a failed call
        (AdminImpl checks some rules, such as privilege elevation, after making the change)."""
        with self.lock:
            users, groups = dict(self._users), dict(self._groups)
            user_state = {uid: dict(vars(u)) for uid, u in users.items()}
            group_state = {gid: dict(vars(g)) for gid, g in groups.items()}
            links = {uid: [(lk, dict(vars(lk))) for lk in lst] for uid, lst in self._links.items()}
            counters, logs, events = dict(self._next), len(self.event_log), dict(self.events)
            try:
                yield
            except BaseException:
                self._users, self._groups = users, groups
                for uid, state in user_state.items():
                    vars(users[uid]).update(state)
                for gid, state in group_state.items():
                    vars(groups[gid]).update(state)
                self._links = {uid: [lk for lk, _ in lst] for uid, lst in links.items()}
                for lst in links.values():
                    for lk, state in lst:
                        vars(lk).update(state)
                self._next = counters
                del self.event_log[logs:]
                self.events = events
                raise

    # -- changing ----------------------------------------------------------------------------

    def create_group(self, name: str | None, permissions: str, description: str | None = None,
                     ldap: bool = False) -> Group:
        if not name:
            raise Invalid("Group name may not be null.")
        with self.lock:
            if self.group_named(name) is not None:
                raise Invalid(f"Group name already in use: {name}")
            group = Group(self._next["group"], name, permissions, description, ldap)
            self._next["group"] += 1
            self._groups[group.id] = group
            return group

    def create_user(self, name: str | None, *, first_name: str = "", middle_name: str | None = None,
                    last_name: str = "", email: str | None = None, institution: str | None = None,
                    ldap: bool = False, password: str | None = None, default_group: int,
                    other_groups: Iterable[int] = (), restrictions: frozenset[str] = frozenset()) -> User:
        if not name:
            raise Invalid("OmeName may not be null.")
        with self.lock:
            if self.user_named(name) is not None:
                raise Invalid(f"Experimenter name already in use: {name}")
            for gid in [default_group, *other_groups]:
                self._require_group(gid)
            user = User(self._next["user"], name, password, first_name or "", middle_name, last_name or "",
                        email, institution, ldap, restrictions)
            self._next["user"] += 1
            self._users[user.id] = user
            self._links[user.id] = []
            for gid in [default_group, *other_groups]:
                if gid not in self.member_of(user.id):
                    self._link(gid, user.id, False)
            return user

    def update_user(self, uid: int, **values: object) -> None:
        with self.lock:
            user = self._require_user(uid)
            name = values.get("name")
            if name is not None and name != user.name:
                if user.id in (ROOT_ID, GUEST_ID):
                    raise Invalid(f"cannot change name of special experimenter '{user.name}'")
                if name in ("root", "guest"):
                    raise Invalid(f"cannot change name to special experimenter '{name}'")
                if self.user_named(str(name)) is not None:
                    raise Invalid(f"Experimenter name already in use: {name}")
            for key, value in values.items():
                if key == "name" and value is None:
                    continue
                setattr(user, key, value)

    def update_group(self, gid: int, *, name: str | None = None, description: str | None = None) -> None:
        with self.lock:
            group = self._require_group(gid)
            if name is not None and name != group.name:
                if gid in BUILTIN_GROUP_NAMES:
                    raise Invalid(f"cannot change name of special group '{group.name}'")
                if name in BUILTIN_GROUP_NAMES.values():
                    raise Invalid(f"cannot change name to special group '{name}'")
                if self.group_named(name) is not None:
                    raise Invalid(f"Group name already in use: {name}")
                group.name = name
            group.description = description

    def set_permissions(self, gid: int, permissions: str) -> None:
        with self.lock:
            self._require_group(gid).permissions = permissions

    def add_groups(self, uid: int, gids: Iterable[int]) -> None:
        """Link the user to each group not yet linked; then fix the default group (OMERO's order)."""
        with self.lock:
            self._require_user(uid)
            for gid in gids:
                self._require_group(gid)
                if gid not in self.member_of(uid):
                    self._link(gid, uid, False)
            self._fix_default(uid)

    def remove_groups(self, uid: int, gids: Iterable[int]) -> None:
        with self.lock:
            self._require_user(uid)
            drop = set(gids)
            self._links[uid] = [lk for lk in self._links[uid] if lk.group_id not in drop]
            self._fix_default(uid)

    def set_default_group(self, uid: int, gid: int) -> None:
        """Swap the group's link into first place (OMERO's ``setPrimaryGroupExperimenterMap``)."""
        with self.lock:
            links = self._links[self._require_user(uid).id]
            index = next((i for i, lk in enumerate(links) if lk.group_id == gid), None)
            if index is None:
                raise BadUsage(f"Group {gid} was not found for user {uid}")
            links[0], links[index] = links[index], links[0]

    def set_owner(self, gid: int, uid: int, owner: bool) -> None:
        with self.lock:
            link = next((lk for lk in self._links[self._require_user(uid).id] if lk.group_id == gid), None)
            if link is None:
                raise BadUsage(f"Group {gid} was not found for user {uid}")
            link.owner = owner

    def set_restrictions(self, uid: int, restrictions: frozenset[str]) -> None:
        with self.lock:
            self._require_user(uid).restrictions = restrictions

    def delete_user(self, uid: int) -> None:
        with self.lock:
            self._require_user(uid)
            del self._users[uid]
            del self._links[uid]

    def delete_group(self, gid: int) -> None:
        with self.lock:
            self._require_group(gid)
            if self.links_of_group(gid):
                raise Invalid(f"Group {gid} still has members")
            del self._groups[gid]

    # -- internals (lock held) ------------------------------------------------------------------

    def _require_user(self, uid: int) -> User:
        user = self._users.get(uid)
        if user is None:
            raise BadUsage(f"No such experimenter: {uid}")
        return user

    def _require_group(self, gid: int) -> Group:
        group = self._groups.get(gid)
        if group is None:
            raise BadUsage(f"No such group: {gid}")
        return group

    def _link(self, gid: int, uid: int, owner: bool) -> Link:
        link = Link(self._next["link"], gid, uid, owner)
        self._next["link"] += 1
        self._links[uid].append(link)
        return link

    def _fix_default(self, uid: int) -> None:
        """If ``user`` came first and there is another group, that one becomes the default."""
        links = self._links[uid]
        if len(links) >= 2 and links[0].group_id == USER:
            links[0], links[1] = links[1], links[0]
