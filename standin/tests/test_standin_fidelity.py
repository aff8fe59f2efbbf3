"""OMERO's administration and session rules in the stand-in, seen through the real omero-py client.

Each test states a behaviour of OMERO.server (from its sources, see the stand-in README) and
checks the stand-in reproduces it over real sockets: sudo and group-owner sudo, the HasPassword
role, ``submit`` with handles and callbacks, session queries, IAdmin's rules, and what
Glacier2 answers to ``destroySession`` after a kill. Each test starts its own server, so the
users and groups it creates do not leak into other tests.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

# omero before Glacier2 (see test_standin_server.py)
import omero
import omero.callbacks
import omero.clients
import omero.cmd

# isort: split
import Glacier2
import Ice
import pytest
from omero.rtypes import rint, rlong, rstring

from omero_standin import StandInServer


@pytest.fixture
def srv(start_omero_server: Any) -> StandInServer:
    return start_omero_server()


class Clients:
    """omero.client objects that are always torn down."""

    def __init__(self, server: StandInServer) -> None:
        self.server = server
        self.all: list[Any] = []

    def new(self) -> Any:
        c = omero.client(host=self.server.host, port=self.server.ssl_port)
        self.all.append(c)
        return c

    def login(self, user: str, password: str | None = None, agent: str | None = None, ip: str | None = None) -> Any:
        c = self.new()
        if agent:
            c.setAgent(agent)
        if ip:
            c.setIP(ip)
        c.createSession(user, password if password is not None else self.server.users[user].password)
        return c

    def join(self, key: str) -> Any:
        c = self.new()
        c.joinSession(key)
        return c


@pytest.fixture
def clients(srv: StandInServer) -> Iterator[Clients]:
    made = Clients(srv)
    yield made
    for c in made.all:
        c.__del__()


def principal(name: str, group: str | None = None, event: str = "User") -> Any:
    return omero.sys.Principal(name=name, group=group or "", eventType=event)


# -- sudo -------------------------------------------------------------------------------------------


def test_create_user_session_needs_a_password_login(srv, clients):
    """SessionBean.createUserSession is @RolesAllowed({"user", "HasPassword"})."""
    alice = clients.login("alice")
    made = alice.sf.getSessionService().createUserSession(60_000, 30_000, "lab-shared")
    assert (made.timeToLive.val, made.timeToIdle.val) == (60_000, 30_000)
    for key in (made.uuid.val, alice.getSessionId()):  # joined by key: no password
        joined = clients.join(key)
        with pytest.raises(omero.SecurityViolation, match="Bad authentication credentials"):
            joined.sf.getSessionService().createUserSession(10_000, 10_000, "lab-shared")
    root = clients.login("root")
    sudo = root.sf.getSessionService().createSessionWithTimeout(principal("alice", "lab-shared"), 10_000)
    as_alice = clients.join(sudo.uuid.val)
    with pytest.raises(omero.SecurityViolation):
        as_alice.sf.getSessionService().createUserSession(10_000, 10_000, "lab-shared")
    as_alice.sf.setSecurityPassword(srv.users["alice"].password)  # late password authentication
    as_alice.sf.getSessionService().createUserSession(10_000, 10_000, "lab-shared")
    with pytest.raises(omero.SecurityViolation, match="Bad password"):
        clients.join(sudo.uuid.val).sf.setSecurityPassword("wrong")


def test_sudo_sessions_record_the_sudoer_and_idle_only_if_asked(srv, clients):
    root = clients.login("root")
    svc = root.sf.getSessionService()
    plain = svc.createSessionWithTimeout(principal("bob"), 60_000)
    assert (plain.timeToIdle.val, plain.timeToLive.val) == (0, 60_000)  # no idle timeout at all
    timed = svc.createSessionWithTimeouts(principal("bob", "lab-shared"), 0, 5_000)
    assert (timed.timeToIdle.val, timed.timeToLive.val) == (5_000, 0)
    ec = clients.join(timed.uuid.val).sf.getAdminService().getEventContext()
    assert (ec.userName, ec.groupName, ec.sudoerName.val) == ("bob", "lab-shared", "root")
    assert {s["uuid"]: s["agent"] for s in srv.sessions()}[plain.uuid.val] == "OMERO.sudo"
    with pytest.raises(omero.ApiUsageException, match="Unknown enumeration"):
        svc.createSessionWithTimeout(principal("bob", event="Nonsense"), 1000)


def test_group_owner_sudo_is_limited_to_the_groups_they_own(srv, clients):
    bob = clients.login("bob")  # owns lab-shared and bob-private
    svc = bob.sf.getSessionService()
    made = svc.createSessionWithTimeout(principal("alice", "lab-shared"), 60_000)
    with pytest.raises(omero.SecurityViolation, match=r"Group sudo is not permitted for group alice-private"):
        svc.createSessionWithTimeout(principal("alice", "alice-private"), 60_000)
    as_alice = clients.join(made.uuid.val)
    ec = as_alice.sf.getAdminService().getEventContext()
    groups = srv.users.groups
    assert ec.memberOfGroups == [groups["lab-shared"].id, groups["user"].id]  # only what bob shares
    assert not ec.isAdmin and ec.leaderOfGroups == []
    with pytest.raises(omero.SecurityViolation, match="Group-sudo session cannot change context"):
        as_alice.sf.setSecurityContext(omero.model.ExperimenterGroupI(groups["alice-private"].id, False))
    alice = clients.login("alice")  # owns only alice-private, which bob is not in
    with pytest.raises(omero.SecurityViolation, match="Group sudo is not permitted"):
        alice.sf.getSessionService().createSessionWithTimeout(principal("bob"), 60_000)


# -- submit -------------------------------------------------------------------------------------------


class RemoteOnly(omero.callbacks.CmdCallbackI):
    """A command callback that never polls: only the server's ``finished`` call can end its wait."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Before the base class registers the callback: the server may call ``finished`` at once.
        self.remote = threading.Event()
        super().__init__(*args, **kwargs)

    def initialPoll(self, foreground_poll: bool = False) -> None:  # noqa: N802 - omero-py's name
        """Never poll."""

    def finished(self, rsp: Any, status: Any, current: Any = None) -> None:
        if current is not None:
            self.remote.set()
        super().finished(rsp, status, current)


def _timeout_request(key: str, idle: int | None = None, live: int | None = None) -> Any:
    req = omero.cmd.UpdateSessionTimeoutRequest()
    req.session = key
    req.timeToIdle = rlong(idle) if idle is not None else None
    req.timeToLive = rlong(live) if live is not None else None
    return req


def test_submit_answers_through_the_callback(srv, clients):
    alice = clients.login("alice")
    handle = alice.sf.submit(_timeout_request(alice.getSessionId(), idle=300_000))
    cb = RemoteOnly(alice, handle)
    try:
        assert cb.block(5000) and cb.remote.is_set()
        assert isinstance(cb.getResponse(), omero.cmd.OK)
        assert cb.getStatus().flags == [] and cb.getStatus().steps == 1
    finally:
        cb.close(True)
    with pytest.raises(Exception):  # noqa: B017 - the closed handle is gone (ObjectNotExist)
        handle.getResponse()
    assert alice.sf.getSessionService().getSession(alice.getSessionId()).timeToIdle.val == 300_000


def test_session_timeouts_through_submit_follow_omero_rules(srv, clients):
    alice, root = clients.login("alice"), clients.login("root")
    key = alice.getSessionId()
    with pytest.raises(omero.CmdError) as raised:
        alice.submit(_timeout_request(key, idle=600_001))
    err = raised.value.err
    assert (err.name, err.category) == ("non-admin-increase", "::omero::cmd::UpdateSessionTimeoutRequest")
    assert err.parameters["field"] == "ome.model.meta.Session_timeToIdle"
    with pytest.raises(omero.CmdError, match="non-admin-disabling") as raised:
        alice.submit(_timeout_request(key, live=0, idle=0))
    assert raised.value.err.name in ("non-admin-disabling", "non-admin-increase")
    with pytest.raises(omero.CmdError) as raised:
        alice.submit(_timeout_request(key))
    assert raised.value.err.name == "no-update-performed"
    with pytest.raises(omero.CmdError) as raised:
        alice.submit(_timeout_request(root.getSessionId(), idle=1000))  # not hers: not visible
    assert raised.value.err.name == "no-session"
    alice.submit(_timeout_request(key, idle=1000))
    root.submit(_timeout_request(key, idle=7_200_000, live=86_400_000))  # an admin may raise both
    found = alice.sf.getQueryService().findByQuery("select s from Session s where s.uuid = :u",
                                                   omero.sys.ParametersI().add("u", rstring(key)))
    assert (found.timeToIdle.val, found.timeToLive.val) == (7_200_000, 86_400_000)


def test_current_sessions_shows_others_only_to_admins(srv, clients):
    alice, bob, root = clients.login("alice", agent="OMERO.web"), clients.login("bob"), clients.login("root")
    mine = alice.submit(omero.cmd.CurrentSessionsRequest()).getResponse()
    by_user = {}
    for s, ec, data in zip(mine.sessions, mine.contexts, mine.data, strict=True):
        by_user.setdefault(ec.userName, []).append((s, data))
    assert all(s is None and data == {} for s, data in by_user["bob"])  # another user's: no details
    [(own, data)] = by_user["alice"]
    assert own.uuid.val == alice.getSessionId() and own.userAgent.val == "OMERO.web"
    assert set(data) == {"hitCount", "lastAccessTime"}
    everyone = root.submit(omero.cmd.CurrentSessionsRequest()).getResponse()
    assert bob.getSessionId() in {s.uuid.val for s in everyone.sessions if s is not None}


def test_chmod2_of_a_group_and_requests_the_stand_in_does_not_run(srv, clients):
    bob, alice = clients.login("bob"), clients.login("alice")
    gid = srv.users.groups["bob-private"].id
    rsp = bob.submit(omero.cmd.Chmod2(targetObjects={"ExperimenterGroup": [gid]}, permissions="rwr---"))
    assert rsp.getResponse().includedObjects == {"ome.model.meta.ExperimenterGroup": [gid]}
    assert str(bob.sf.getAdminService().getGroup(gid).details.permissions) == "rwr---"
    with pytest.raises(omero.CmdError) as raised:  # alice does not own it
        alice.submit(omero.cmd.Chmod2(targetObjects={"ExperimenterGroup": [gid]}, permissions="rw----"))
    assert raised.value.err.name == "graph-fail"
    with pytest.raises(omero.CmdError) as raised:
        alice.submit(omero.cmd.Chgrp2(targetObjects={"Image": [1]}, groupId=gid))
    assert raised.value.err.category == "::omero::cmd::Chgrp2"
    assert "Chgrp2 is not implemented" in raised.value.err.parameters["message"]
    with pytest.raises(omero.CmdError) as raised:  # Delete2 runs, of what exists
        alice.submit(omero.cmd.Delete2(targetObjects={"Image": [1]}))
    assert raised.value.err.name == "graph-fail"


# -- sessions and queries ---------------------------------------------------------------------------


def test_sessions_record_agent_and_ip_and_are_found_by_query(srv, clients):
    root = clients.login("root", agent="OMERO.py.test", ip="2400:cb00:2048:1::6814:55")
    key = root.getSessionId()
    found = root.sf.getQueryService().findByQuery("from Session where uuid=:uuid",
                                                  omero.sys.ParametersI().add("uuid", rstring(key)))
    assert found.getUserIP().val == "2400:cb00:2048:1::6814:55" and found.userAgent.val == "OMERO.py.test"
    params = omero.sys.Parameters(theFilter=omero.sys.Filter(limit=rint(1)))
    first = root.sf.getQueryService().findByQuery(
        "select e from Experimenter e where e.id > 0 and e.omeName != 'guest' order by e.id", params)
    assert first.omeName.val == "alice"
    rows = root.sf.getQueryService().projection(
        "select e.omeName, e.id from Experimenter e where e.omeName like 'b%' or e.omeName = :n order by e.id",
        omero.sys.ParametersI().add("n", rstring("sudoer")))
    assert [[r[0].val, r[1].val] for r in rows] == [["bob", srv.users["bob"].id], ["sudoer", srv.users["sudoer"].id]]
    with pytest.raises(omero.QueryException, match="Illegal query"):
        root.sf.getQueryService().findAllByQuery("select x from", None)


def test_my_open_sessions_by_agent(srv, clients):
    web = clients.login("alice", agent="OMERO.web")
    script = clients.login("alice", agent="my-script")
    svc = web.sf.getSessionService()
    mine = [s.uuid.val for s in svc.getMyOpenSessions()]
    assert set(mine) == {web.getSessionId(), script.getSessionId()}
    assert mine[0] == script.getSessionId()  # newest first
    assert [s.uuid.val for s in svc.getMyOpenAgentSessions("my-script")] == [script.getSessionId()]
    assert [s.uuid.val for s in svc.getMyOpenClientSessions()] == [web.getSessionId()]
    root = clients.login("root")
    sudo = root.sf.getSessionService().createSessionWithTimeout(principal("alice"), 60_000)
    assert sudo.uuid.val not in {s.uuid.val for s in svc.getMyOpenSessions()}  # another sudoer: not listed


def test_security_context_is_refused_while_a_stateful_service_is_open(srv, clients):
    alice = clients.login("alice")
    private = omero.model.ExperimenterGroupI(srv.users.groups["alice-private"].id, False)
    shared = omero.model.ExperimenterGroupI(srv.users.groups["lab-shared"].id, False)
    store = alice.sf.createRawFileStore()
    with pytest.raises(omero.SecurityViolation, match="active stateful services"):
        alice.sf.setSecurityContext(private)
    assert [prx.ice_getIdentity().name for prx in alice.getStatefulServices()] == [store.ice_getIdentity().name]
    store.close()
    assert alice.sf.setSecurityContext(private).id.val == shared.id.val
    with pytest.raises(omero.SecurityViolation, match="is not a member of group"):
        alice.sf.setSecurityContext(omero.model.ExperimenterGroupI(srv.users.groups["bob-private"].id, False))


def test_destroy_session_after_a_kill_is_answered_as_glacier2_does(srv, clients):
    """OMERO reaps the killed session's services; the client's Glacier2 session stays until the
    client destroys it: destroySession then succeeds, a second one raises SessionNotExist."""
    bob = clients.login("bob")
    router = bob.getRouter(bob.getCommunicator())
    assert bob.destroySession(bob.getSessionId()) >= 1  # what killSession does before closeSession
    with pytest.raises(Ice.ObjectNotExistException):
        bob.sf.getAdminService()  # the services are gone
    router.destroySession()
    # By its name: a test that loaded the OMERO CLI's plugins earlier in this process may have
    # re-imported the generated Glacier2 module, and the raised class is then not the one imported here.
    with pytest.raises(Exception) as second:  # noqa: B017,PT011 - the class is checked by name below
        router.destroySession()
    assert f"{type(second.value).__module__}.{type(second.value).__qualname__}" == "Glacier2.SessionNotExistException"
    assert srv.session_count("bob") == 0


# -- administration ----------------------------------------------------------------------------------


def _new_user(admin: Any, group_id: int, name: str | None = None) -> str:
    name = name or f"u-{uuid.uuid4().hex[:8]}"
    e = omero.model.ExperimenterI()
    e.omeName, e.firstName, e.lastName = rstring(name), rstring("F"), rstring("L")
    admin.createExperimenterWithPassword(e, rstring(name), omero.model.ExperimenterGroupI(group_id, False),
                                         [admin.lookupGroup("user")])
    return name


def test_users_and_groups_change_while_the_server_runs(srv, clients):
    root = clients.login("root")
    admin = root.sf.getAdminService()
    group = _group(f"g-{uuid.uuid4().hex[:8]}", "rwra--")
    gid = admin.createGroup(group)
    with pytest.raises(omero.ValidationException, match="already in use"):
        admin.createGroup(group)
    name = _new_user(admin, gid)
    newcomer = clients.login(name, name)  # logs in at once, in its default group
    ec = newcomer.sf.getAdminService().getEventContext()
    assert ec.groupId == gid and ec.memberOfGroups == [gid, 1]
    other = admin.createGroup(_group(f"h-{uuid.uuid4().hex[:8]}"))
    user = admin.lookupExperimenter(name)
    admin.addGroups(user, [omero.model.ExperimenterGroupI(other, False)])
    assert other in newcomer.sf.getAdminService().getEventContext().memberOfGroups  # fresh (ticket 4011)
    newcomer.sf.getAdminService().setDefaultGroup(user, omero.model.ExperimenterGroupI(other, False))
    assert admin.getDefaultGroup(user.id.val).id.val == other
    with pytest.raises(omero.ApiUsageException, match="Cannot set default group to: user"):
        admin.setDefaultGroup(user, omero.model.ExperimenterGroupI(1, False))
    admin.setGroupOwner(omero.model.ExperimenterGroupI(other, False), user)
    assert newcomer.sf.getAdminService().getEventContext().leaderOfGroups == [other]
    with pytest.raises(omero.ValidationException, match="remain a member of some group"):
        admin.removeGroups(user, [omero.model.ExperimenterGroupI(g, False) for g in (gid, other, 1)])
    with pytest.raises(omero.ValidationException, match="may not be removed from the 'system'"):
        admin.removeGroups(omero.model.ExperimenterI(0, False), [omero.model.ExperimenterGroupI(0, False)])


def _group(name: str, perms: str = "rw----") -> Any:
    g = omero.model.ExperimenterGroupI()
    g.name = rstring(name)
    g.details.permissions = omero.model.PermissionsI(perms)
    return g


def test_who_may_administer_what(srv, clients):
    alice, bob, helpdesk = clients.login("alice"), clients.login("bob"), clients.login("helpdesk")
    with pytest.raises(omero.SecurityViolation, match=r"allowed: \[system\]"):
        alice.sf.getAdminService().createGroup(_group("nope"))
    groups = srv.users.groups
    # a group owner may add and remove members of the groups they own, not of others
    name = _new_user(clients.login("root").sf.getAdminService(), groups["lab-shared"].id)
    newcomer = bob.sf.getAdminService().lookupExperimenter(name)
    bob.sf.getAdminService().addGroups(newcomer, [omero.model.ExperimenterGroupI(groups["bob-private"].id, False)])
    with pytest.raises(omero.SecurityViolation, match="neither admin nor group-leader"):
        bob.sf.getAdminService().addGroups(newcomer, [omero.model.ExperimenterGroupI(groups["alice-private"].id,
                                                                                      False)])
    # a restricted admin cannot give privileges it does not have, nor reset a stronger user's password
    helpdesk_admin = helpdesk.sf.getAdminService()
    with pytest.raises(omero.SecurityViolation, match="cannot give administrator privileges"):
        helpdesk_admin.addGroups(newcomer, [omero.model.ExperimenterGroupI(0, False)])
    with pytest.raises(omero.SecurityViolation, match="more privileged user"):
        helpdesk_admin.changeUserPassword("root", rstring("x"))
    helpdesk_admin.changeUserPassword(name, rstring("new-pw"))
    clients.login(name, "new-pw")


def test_passwords_need_a_password_login(srv, clients):
    root = clients.login("root")
    name = _new_user(root.sf.getAdminService(), srv.users.groups["lab-shared"].id)
    user = clients.login(name, name)
    user.sf.getAdminService().changePassword(rstring("first"))
    joined = clients.join(user.getSessionId())
    with pytest.raises(omero.SecurityViolation, match="Bad authentication credentials"):
        joined.sf.getAdminService().changePassword(rstring("second"))
    with pytest.raises(omero.SecurityViolation, match="Old password is invalid"):
        joined.sf.getAdminService().changePasswordWithOldPassword(rstring("wrong"), rstring("second"))
    joined.sf.getAdminService().changePasswordWithOldPassword(rstring("first"), rstring("second"))
    rows = user.sf.getQueryService().projection(
        "SELECT event.time FROM EventLog WHERE event.experimenter.id = :id AND action = 'PASSWORD' ORDER BY id DESC",
        omero.sys.ParametersI().addId(user.sf.getAdminService().getEventContext().userId))
    assert len(rows) == 2 and rows[0][0].val >= rows[1][0].val
    with pytest.raises(Glacier2.PermissionDeniedException):
        clients.login(name, "first")
    clients.login(name, "second")
