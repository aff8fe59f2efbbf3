"""Session bookkeeping of the stand-in server: OMERO sessions and the Glacier2 sessions on them.

No Ice here, so the rules can be read (and tested) on their own. They follow OMERO:

- An OMERO session has a reference count. Each Glacier2 session (one per client connection:
  a login, or a join by session key) adds one. Destroying a Glacier2 session *detaches*
  (count - 1, the session lives on until it times out) if the client called
  ``detachOnDestroy``, else *closes* (count - 1, removed at 0; the default).
  ``ISession.closeSession`` closes; ``BlitzGateway.close()`` calls it until the session is gone.
- Sessions expire after ``timeToIdle`` without calls (default 600 s; 0 = never) or after
  ``timeToLive`` (0 = never). Expiry is noticed lazily; the first call on an expired session
  gets "timeout", later calls "removed".
- A session that is closed for good (its count reaches 0, or it is killed) loses its services
  at once, as OMERO's ``SessionManagerI.reapSession`` removes them: later calls on them find no
  object. The Glacier2 session of each client connection stays until the client destroys it or
  its connection closes, as in Glacier2, so ``destroySession`` after a kill succeeds once.
- A Glacier2 session opened with a password may call methods that need one (``HasPassword``);
  one that joined by session key may not, until ``setSecurityPassword``.

All state is behind one lock; the Ice thread pool calls in from many threads.
"""

from __future__ import annotations

import threading
import time
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .directory import USER, Directory, User
from .errors import BadUsage, Denied


class LoginDenied(Exception):
    """Bad user name or password, or a dead session key (Glacier2.PermissionDeniedException)."""


class NoSuchGroup(BadUsage):
    """A group name or id that does not exist."""


class SessionGone(Exception):
    """The session of a call is gone; ``kind`` is "timeout" (first call after expiry) or "removed"."""

    def __init__(self, kind: str, session: SessionRecord | None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.session = session


@dataclass(eq=False)
class SessionRecord:
    """One OMERO session."""

    id: int
    uuid: str
    user: User
    group_id: int
    started_ms: int
    last_access: float
    tti_ms: int
    ttl_ms: int
    agent: str | None = None
    ip: str | None = None
    event_type: str = "User"
    sudoer: User | None = None
    groups_led: tuple[int, ...] | None = None
    """Set for a group-owner sudo: the groups the sudoer led, the only ones this session may use."""
    refcount: int = 0
    state: str = "live"  # live | timeout | timeout-reported | closed
    clients: set[str] = field(default_factory=set)
    hits: int = 0
    last_access_ms: int = 0
    closed_ms: int | None = None


@dataclass(eq=False)
class ClientRecord:
    """One Glacier2 session: one client connection attached to one OMERO session."""

    uuid: str  # the client's omero.client.uuid: the category of its ServiceFactory identity
    session: SessionRecord
    conn_key: str
    transport: str
    has_password: bool = True
    """Opened with a password (OMERO's HasPassword role); False when joined by session key."""
    close_on_destroy: bool = True
    stateful: set[str] = field(default_factory=set)  # names of open stateful services
    handles: dict[str, Any] = field(default_factory=dict)  # name -> command handle (submit)
    connection: Any = None
    """The Ice connection, to call the client back (command callbacks)."""


class Registry:
    """All sessions, thread-safe. Methods raise the exceptions above; servants translate them."""

    def __init__(
        self, directory: Directory, tti_ms: int = 600_000, clock: Callable[[], float] = time.monotonic,
        login_delay: float = 0.0, login_concurrency: int = 0,
    ) -> None:
        self.login_delay = login_delay
        """Seconds a password check takes, as an LDAP bind or a password hash does on a real server."""
        self._checks = threading.BoundedSemaphore(login_concurrency) if login_concurrency > 0 else None
        """At most this many password checks at once (None: no limit): a directory server's
        connection pool, or password hashing on a server with few cores; the rest queue."""
        self.directory = directory
        self.default_tti_ms = tti_ms
        self.clock = clock
        self.lock = threading.RLock()
        self._sessions: dict[str, SessionRecord] = {}
        self._clients: dict[str, ClientRecord] = {}
        self._by_conn: dict[str, str] = {}  # connection -> client uuid: Glacier2's routers by connection
        self._next_id = 1
        self.counters: dict[str, int] = {"logins": 0, "failed_logins": 0, "joins": 0, "failed_joins": 0,
                                         "sessions_created": 0}
        """Router-level events since start: password logins, joins by session key, and sessions made
        (by logins and by ISession: su, createUserSession). Tests read them to count real logins."""

    # -- users and groups -------------------------------------------------------------

    def count(self, event: str) -> None:
        with self.lock:
            self.counters[event] += 1

    def authenticate(self, name: str, password: str) -> User:
        if self.login_delay:  # outside the lock: a slow check must not stall other calls
            if self._checks is None:
                time.sleep(self.login_delay)
            else:
                with self._checks:
                    time.sleep(self.login_delay)
        user = self.directory.user_named(name)
        if user is None or not self.directory.check_password(name, password):
            raise LoginDenied(f"Password check failed for '{name}'")
        return user

    def login_group(self, user: User, group: str | None) -> int:
        """The group a new session starts in: the named one, or for none (or ``user``) the user's
        default group (OMERO's ``validateSessionInputs``)."""
        if not group or group == self.directory.group(USER).name:  # type: ignore[union-attr]
            default = self.directory.default_group(user.id)
            if default is None:
                raise BadUsage(f"Can't find default group for {user.name}")
            return default.id
        found = self.directory.group_named(group)
        if found is None:
            raise NoSuchGroup(f"No such group: {group}")
        return found.id

    # -- creating and attaching ---------------------------------------------------------

    def create_session(
        self,
        user: User,
        group: str | None = None,
        *,
        agent: str | None = None,
        ip: str | None = None,
        tti_ms: int | None = None,
        ttl_ms: int = 0,
        sudoer: User | None = None,
        groups_led: tuple[int, ...] | None = None,
        event_type: str = "User",
    ) -> SessionRecord:
        """A new session with no Glacier2 session attached (reference count 0)."""
        gid = self.login_group(user, group)
        if groups_led is not None and gid not in groups_led:
            name = self.directory.group(gid).name  # type: ignore[union-attr]
            raise Denied(f"Group sudo is not permitted for group {name} (gid={gid})")
        with self.lock:
            now_ms = int(time.time() * 1000)
            rec = SessionRecord(
                id=self._next_id,
                uuid=str(uuidlib.uuid4()),
                user=user,
                group_id=gid,
                started_ms=now_ms,
                last_access=self.clock(),
                last_access_ms=now_ms,
                tti_ms=self.default_tti_ms if tti_ms is None else tti_ms,
                ttl_ms=ttl_ms,
                agent=agent,
                ip=ip,
                event_type=event_type,
                sudoer=sudoer,
                groups_led=groups_led,
            )
            self._next_id += 1
            self._sessions[rec.uuid] = rec
            self.counters["sessions_created"] += 1
            return rec

    def find_live(self, session_uuid: str) -> SessionRecord:
        """The live session with this uuid, else LoginDenied (the key is as good as a password)."""
        with self.lock:
            rec = self._sessions.get(session_uuid)
            if rec is None or not self._check(rec):
                raise LoginDenied(f"Session does not exist: {session_uuid}")
            return rec

    def attach(self, rec: SessionRecord, client_uuid: str, conn_key: str, transport: str,
               has_password: bool = True, connection: Any = None) -> ClientRecord:
        """Add a Glacier2 session for this client connection (reference count + 1)."""
        with self.lock:
            if conn_key in self._by_conn:
                raise Denied("session exists")
            if client_uuid in self._clients:
                self._destroy_client(client_uuid)
            client = ClientRecord(client_uuid, rec, conn_key, transport, has_password=has_password,
                                  connection=connection)
            self._clients[client_uuid] = client
            self._by_conn[conn_key] = client_uuid
            rec.clients.add(client_uuid)
            rec.refcount += 1
            self._touch(rec)
            return client

    # -- using --------------------------------------------------------------------------

    def client(self, client_uuid: str) -> ClientRecord | None:
        """The Glacier2 session with this category, live or a tombstone of an expired session."""
        with self.lock:
            return self._clients.get(client_uuid)

    def client_for_connection(self, conn_key: str) -> ClientRecord | None:
        with self.lock:
            cu = self._by_conn.get(conn_key)
            return self._clients.get(cu) if cu else None

    def use(self, client_uuid: str) -> tuple[ClientRecord, SessionRecord]:
        """Check and refresh the session behind a call; raise SessionGone if it is dead."""
        with self.lock:
            client = self._clients.get(client_uuid)
            if client is None:
                raise SessionGone("removed", None)
            rec = client.session
            self._check(rec)
            if rec.state == "timeout":
                rec.state = "timeout-reported"
                raise SessionGone("timeout", rec)
            if rec.state != "live":
                raise SessionGone("removed", rec)
            self._touch(rec)
            rec.hits += 1
            return client, rec

    def refresh_connection(self, conn_key: str) -> bool:
        client = self.client_for_connection(conn_key)
        if client is None:
            return False
        try:
            self.use(client.uuid)
        except SessionGone:
            return False
        return True

    # -- ending ---------------------------------------------------------------------------

    def destroy_client(self, client_uuid: str) -> bool:
        """Glacier2 session destroyed (by the client or by its connection closing)."""
        with self.lock:
            return self._destroy_client(client_uuid)

    def destroy_connection(self, conn_key: str) -> bool:
        """Destroy the Glacier2 session of a connection; False if it has none (Glacier2's
        SessionNotExistException). True also when its OMERO session was already killed."""
        with self.lock:
            cu = self._by_conn.pop(conn_key, None)
            if cu is None:
                return False
            self._destroy_client(cu)
            return True

    def close_session(self, session_uuid: str) -> int:
        """ISession.closeSession: remaining references; -2 if now removed; -1 if already gone."""
        with self.lock:
            rec = self._sessions.get(session_uuid)
            if rec is None or not self._check(rec):
                return -1
            rec.refcount -= 1
            if rec.refcount < 1:
                self._remove(rec, "closed")
                return -2
            return rec.refcount

    def expire(self, session_uuid: str) -> bool:
        """Make a live session time out now (a test hook)."""
        with self.lock:
            rec = self._sessions.get(session_uuid)
            if rec is None:
                return False
            self._remove(rec, "timeout")
            return True

    def kill(self, session_uuid: str) -> bool:
        """Remove a live session regardless of references (a test hook)."""
        with self.lock:
            rec = self._sessions.get(session_uuid)
            if rec is None:
                return False
            self._remove(rec, "closed")
            return True

    def update_timeouts(self, rec: SessionRecord, *, tti_ms: int | None = None, ttl_ms: int | None = None) -> None:
        with self.lock:
            if tti_ms is not None:
                rec.tti_ms = tti_ms
            if ttl_ms is not None:
                rec.ttl_ms = ttl_ms

    def set_group(self, rec: SessionRecord, group_id: int) -> int:
        """Switch the session's group; the previous group id."""
        with self.lock:
            previous, rec.group_id = rec.group_id, group_id
            return previous

    # -- looking ----------------------------------------------------------------------------

    def live_sessions(self) -> list[SessionRecord]:
        with self.lock:
            return [rec for rec in list(self._sessions.values()) if self._check(rec)]

    def session(self, session_uuid: str) -> SessionRecord | None:
        with self.lock:
            rec = self._sessions.get(session_uuid)
            return rec if rec is not None and self._check(rec) else None

    def snapshot(self) -> list[dict[str, Any]]:
        """Live sessions as plain data, for the control endpoint."""
        now = self.clock()
        with self.lock:
            out = []
            for rec in self.live_sessions():
                group = self.directory.group(rec.group_id)
                out.append(
                    {
                        "uuid": rec.uuid,
                        "id": rec.id,
                        "user": rec.user.name,
                        "group": group.name if group else None,
                        "sudoer": rec.sudoer.name if rec.sudoer else None,
                        "refcount": rec.refcount,
                        "agent": rec.agent,
                        "ip": rec.ip,
                        "idle_seconds": round(now - rec.last_access, 3),
                        "time_to_idle_ms": rec.tti_ms,
                        "time_to_live_ms": rec.ttl_ms,
                        "clients": sorted(
                            ({"uuid": c, "transport": self._clients[c].transport,
                              "password": self._clients[c].has_password} for c in rec.clients),
                            key=lambda c: c["uuid"],
                        ),
                    }
                )
            return out

    # -- internals (lock held) ------------------------------------------------------------

    def _touch(self, rec: SessionRecord) -> None:
        rec.last_access = self.clock()
        rec.last_access_ms = int(time.time() * 1000)

    def _check(self, rec: SessionRecord) -> bool:
        """True if live; notices expiry."""
        if rec.state != "live":
            return False
        age = self.clock() - rec.last_access
        expired = rec.tti_ms > 0 and age * 1000 > rec.tti_ms
        if rec.ttl_ms > 0 and time.time() * 1000 - rec.started_ms > rec.ttl_ms:
            expired = True
        if expired:
            self._remove(rec, "timeout")
            return False
        return True

    def _remove(self, rec: SessionRecord, state: str) -> None:
        rec.state = state
        rec.closed_ms = int(time.time() * 1000)
        self._sessions.pop(rec.uuid, None)
        if state == "closed":
            # OMERO reaps the session's services; the Glacier2 sessions (by connection) stay.
            for cu in list(rec.clients):
                self._clients.pop(cu, None)
            rec.clients.clear()

    def _destroy_client(self, client_uuid: str) -> bool:
        client = self._clients.pop(client_uuid, None)
        if client is None:
            return False
        if self._by_conn.get(client.conn_key) == client_uuid:
            del self._by_conn[client.conn_key]
        rec = client.session
        rec.clients.discard(client_uuid)
        if rec.state == "live":
            rec.refcount -= 1
            if client.close_on_destroy and rec.refcount < 1:
                self._remove(rec, "closed")
        return True
