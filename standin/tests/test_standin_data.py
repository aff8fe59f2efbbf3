"""The stand-in server's data and rules without a server: users file, directory, security rules,
HQL parser and evaluator, session registry."""

from __future__ import annotations

import pytest

from omero_standin import ALL_PRIVILEGES, DEFAULT_USERS, UsersFileError, hql, hql_eval, security
from omero_standin.directory import GUEST_ID, SYSTEM, USER, Directory
from omero_standin.errors import BadUsage, Denied, Invalid
from omero_standin.rows import Data
from omero_standin.state import LoginDenied, NoSuchGroup, Registry, SessionGone
from omero_standin.users import parse_users

GROUP = {name: g.id for name, g in DEFAULT_USERS.groups.items()}


def directory() -> Directory:
    return Directory.from_spec(DEFAULT_USERS)


def test_default_users_cover_the_roles() -> None:
    roles = {name: user.role for name, user in DEFAULT_USERS.items()}
    assert roles == {
        "root": "admin", "guest": "guest", "alice": "user", "bob": "user",
        "helpdesk": "restricted-admin", "sudoer": "restricted-admin",
    }
    assert DEFAULT_USERS["root"].memberships == ("system", "user")
    assert DEFAULT_USERS["root"].admin_privileges == ALL_PRIVILEGES
    assert "Sudo" not in DEFAULT_USERS["helpdesk"].admin_privileges
    assert "Sudo" in DEFAULT_USERS["sudoer"].admin_privileges
    shared = set(DEFAULT_USERS["alice"].groups) & set(DEFAULT_USERS["bob"].groups)
    assert shared == {"lab-shared"}
    assert DEFAULT_USERS["guest"].memberships == ("guest",)
    assert [DEFAULT_USERS[n].id for n in ("root", "guest")] == [0, 1]
    assert [DEFAULT_USERS.groups[n].id for n in ("system", "user", "guest")] == [0, 1, 2]


def test_users_round_trip_through_toml_data() -> None:
    again = parse_users(DEFAULT_USERS.to_toml_dict())
    assert again.users == DEFAULT_USERS.users
    assert again.groups == DEFAULT_USERS.groups


def test_minimal_file_gets_root_guest_and_implicit_groups() -> None:
    users = parse_users({"users": {"carol": {"password": "pw", "groups": ["new-lab"]}}})
    assert list(users) == ["root", "guest", "carol"]
    assert users["carol"].memberships == ("new-lab", "user")
    assert users.groups["new-lab"].permissions == "rw----"


@pytest.mark.parametrize(
    "data,problem",
    [
        ({"users": {"x": {"password": "p", "groups": ["g"], "pasword": "typo"}}}, "unknown key"),
        ({"users": {"x": {"password": "p", "groups": []}}}, "groups must be"),
        ({"users": {"x": {"groups": ["g"]}}}, "password"),
        ({"users": {"x": {"password": "p", "groups": ["g"], "admin": "yes"}}}, "admin must be"),
        ({"users": {"x": {"password": "p", "groups": ["g"], "privileges": ["Sudo"]}}}, "only to admin"),
        ({"users": {"x": {"password": "p", "groups": ["g"], "admin": "restricted", "privileges": ["Fly"]}}},
         "privileges must be"),
        ({"users": {"x": {"password": "p", "groups": ["g"], "owner_of": ["h"]}}}, "owner_of"),
        ({"users": {"root": {"password": "p", "groups": ["system"]}}}, "root is always"),
        ({"groups": {"system": {}}}, "built-in group"),
        ({"groups": {"g": {"permissions": "rwxrwx"}}}, "permissions"),
        ({"people": {}}, "unknown key"),
    ],
)
def test_invalid_users_data_is_rejected(data: dict, problem: str) -> None:
    with pytest.raises(UsersFileError, match=problem):
        parse_users(data, source="users.toml")


# -- the directory --------------------------------------------------------------------------------


def test_directory_starts_from_the_users_file() -> None:
    d = directory()
    alice = d.user_named("alice")
    assert d.member_of(alice.id) == [GROUP["lab-shared"], GROUP["alice-private"], USER]
    assert d.leader_of(alice.id) == [GROUP["alice-private"]]
    assert d.privileges(d.user_named("root").id) == frozenset(ALL_PRIVILEGES)
    assert d.privileges(d.user_named("sudoer").id) == {"Sudo", "ReadSession"}
    assert d.privileges(alice.id) == frozenset()
    assert d.default_group(alice.id).name == "lab-shared"


def test_directory_groups_and_memberships_follow_omero_order() -> None:
    d = directory()
    lab = d.create_group("new-lab", "rwr---")
    with pytest.raises(Invalid, match="already in use"):
        d.create_group("new-lab", "rw----")
    carol = d.create_user("carol", password="pw", default_group=USER, other_groups=[lab.id])
    assert d.member_of(carol.id) == [USER, lab.id] and d.default_group(carol.id) is None
    d.add_groups(carol.id, [])  # "user" first and another group: that one becomes the default
    assert d.member_of(carol.id) == [lab.id, USER] and d.default_group(carol.id) is lab
    other = d.create_group("other-lab", "rw----")
    d.add_groups(carol.id, [other.id])
    assert d.member_of(carol.id)[0] == lab.id
    d.set_default_group(carol.id, other.id)
    assert d.member_of(carol.id)[0] == other.id
    with pytest.raises(BadUsage, match="was not found for user"):
        d.set_default_group(carol.id, SYSTEM)
    d.set_owner(other.id, carol.id, True)
    assert d.leader_of(carol.id) == [other.id]
    d.remove_groups(carol.id, [other.id])
    assert other.id not in d.member_of(carol.id) and d.leader_of(carol.id) == []
    with pytest.raises(Invalid, match="already in use"):
        d.create_user("carol", password="x", default_group=lab.id)


def test_passwords_follow_the_jdbc_provider() -> None:
    d = directory()
    bob = d.user_named("bob")
    assert d.check_password("bob", "bob-pw") and not d.check_password("bob", "nope")
    d.set_password(bob.id, " ", by_uid=bob.id, session_id=1)  # blank: no login while passwords are required
    assert not d.check_password("bob", "anything")
    d.set_password(bob.id, None, by_uid=bob.id, session_id=1)  # none: disabled
    assert not d.check_password("bob", "")
    d.set_password(GUEST_ID, "", by_uid=0, session_id=1)  # guest needs no password
    assert d.check_password("guest", "whatever")
    assert [e.action for e in d.event_log] == ["PASSWORD", "PASSWORD", "PASSWORD"]


# -- security rules -----------------------------------------------------------------------------------


def test_group_owner_sudo_keeps_only_what_the_sudoer_shares() -> None:
    d = directory()
    alice, bob = d.user_named("alice"), d.user_named("bob")
    plain = security.context(d, alice, None, None)
    assert not plain.is_admin and plain.member_of == (GROUP["lab-shared"], GROUP["alice-private"], USER)
    sudo = security.context(d, alice, bob, (GROUP["lab-shared"], GROUP["bob-private"]))
    # bob shares lab-shared and user with alice, leads neither of alice's led groups
    assert sudo.member_of == (GROUP["lab-shared"], USER) and sudo.leader_of == ()
    security.check_call_group(d, sudo, GROUP["lab-shared"])
    with pytest.raises(Denied, match="Group-sudo session cannot change context"):
        security.check_call_group(d, sudo, GROUP["alice-private"])
    assert security.sudo_groups(security.context(d, bob, None, None), frozenset()) == (
        GROUP["bob-private"], GROUP["lab-shared"])


def test_admin_sudo_privileges_are_the_intersection() -> None:
    d = directory()
    root, sudoer, helpdesk = (d.user_named(n) for n in ("root", "sudoer", "helpdesk"))
    ctx = security.context(d, root, sudoer, None)
    assert ctx.is_admin and ctx.admin_privileges == {"Sudo", "ReadSession"}
    assert security.sudo_groups(security.context(d, sudoer, None, None), frozenset(ALL_PRIVILEGES)) is None
    assert security.sudo_groups(security.context(d, helpdesk, None, None), frozenset({"ModifyUser"})) == ()
    with pytest.raises(Denied, match="not admin for the given user"):
        security.admin_of_user(security.context(d, sudoer, None, None))
    security.admin_of_user(security.context(d, helpdesk, None, None))


def test_roles_and_has_password() -> None:
    d = directory()
    guest = d.user(GUEST_ID)
    with pytest.raises(Denied, match=r"No matching roles found in \[guest\] for session s1 \(allowed: \[user\]\)"):
        security.check_roles(d, guest, "s1", ["user"])
    alice = d.user_named("alice")
    security.check_roles(d, alice, "s1", ["user", "HasPassword"], has_password=True)
    with pytest.raises(Denied, match="Bad authentication credentials"):
        security.check_roles(d, alice, "s1", ["user", "HasPassword"], has_password=False)
    with pytest.raises(Denied, match=r"allowed: \[system\]"):
        security.check_roles(d, alice, "s1", ["system"])


def test_call_group_needs_membership_unless_world_readable() -> None:
    d = directory()
    bob = d.user_named("bob")
    ctx = security.context(d, bob, None, None)
    with pytest.raises(Denied, match=f"User {bob.id} is not a member of group {GROUP['alice-private']}"):
        security.check_call_group(d, ctx, GROUP["alice-private"])
    d.set_permissions(GROUP["alice-private"], "rwrwr-")
    security.check_call_group(d, ctx, GROUP["alice-private"])
    security.check_call_group(d, ctx, -1)


# -- HQL ---------------------------------------------------------------------------------------------


def test_hql_parser_builds_a_tree() -> None:
    q = hql.parse("select distinct e from Experimenter as e left outer join fetch e.groupExperimenterMap m "
                  "join fetch m.parent g where (e.id > 0 and e.omeName != 'guest') or g.name like 'lab%' "
                  "order by e.omeName desc, e.id")
    assert q.distinct and q.root == hql.Source("Experimenter", "e", q.root.joins)
    assert [j.alias for j in q.root.joins] == ["m", "g"] and q.root.joins[0].left and q.root.joins[0].fetch
    assert isinstance(q.where, hql.BoolOp) and q.where.op == "or"
    assert [o.descending for o in q.order] == [True, False]
    q = hql.parse("from Session where uuid=:uuid")
    assert q.root.alias == "Session" and q.where == hql.Compare("=", hql.Path(("uuid",)), hql.Param("uuid"))
    q = hql.parse("SELECT event.time FROM EventLog WHERE action = 'PASSWORD' ORDER BY id DESC")
    assert q.select == (hql.SelectItem(hql.Path(("event", "time"))),)
    for bad in ("select e from", "select e from Experimenter e where", "delete from Experimenter",
                "select e from Experimenter e group by e.id", "select e from Experimenter e where e.id ~ 1"):
        with pytest.raises(hql.HqlError):
            hql.parse(bad)


def _run(text: str, params: dict | None = None, caller: str = "root", admin: bool = True,
         d: Directory | None = None, registry: Registry | None = None) -> list[tuple]:
    d = d or directory()
    registry = registry or Registry(d)
    return hql_eval.run(hql.parse(text), Data(d, registry, d.user_named(caller), admin), params or {})


def test_hql_comparisons_params_and_order() -> None:
    names = [r[0] for r in _run("select e.omeName from Experimenter e where e.id > 0 and e.omeName != 'guest' "
                                "order by e.id")]
    assert names == ["alice", "bob", "helpdesk", "sudoer"]
    assert [r[0].id for r in _run("select g from ExperimenterGroup g where g.id in (:ids) order by g.name desc",
                                  {"ids": [0, 3]})] == [0, 3]
    assert [r[0] for r in _run("select g.name from ExperimenterGroup g where g.name like '%-private' "
                               "order by g.name")] == ["alice-private", "bob-private"]
    assert _run("select count(e) from Experimenter e where e.email is not null") == [(1,)]  # alice only
    assert _run("select e.omeName from Experimenter e where e.id between 2 and 3 order by e.omeName") == [
        ("alice",), ("bob",)]
    with pytest.raises(BadUsage, match=r"Not all named parameters have been set: \[name\]"):
        _run("select e from Experimenter e where e.omeName = :name")
    with pytest.raises(BadUsage, match="could not resolve property"):
        _run("select e from Experimenter e where e.shoeSize = 3")


def test_hql_joins_duplicate_unless_a_collection_is_fetched() -> None:
    text = "select g from ExperimenterGroup g join g.groupExperimenterMap m where g.id = :id"
    members = len(DEFAULT_USERS.members("lab-shared"))
    assert len(_run(text, {"id": GROUP["lab-shared"]})) == members
    fetched = text.replace("join g.", "left outer join fetch g.")
    assert len(_run(fetched, {"id": GROUP["lab-shared"]})) == 1
    owners = _run("select m.child.omeName from GroupExperimenterMap m where m.owner = true and m.parent.id = :g",
                  {"g": GROUP["lab-shared"]})
    assert owners == [("bob",)]


def test_hql_sessions_and_event_logs_are_private_to_their_owner() -> None:
    d = directory()
    registry = Registry(d)
    mine = registry.create_session(d.user_named("alice"), ip="10.0.0.1")
    registry.create_session(d.user_named("bob"))
    rows = _run("from Session where uuid = :uuid", {"uuid": mine.uuid}, caller="alice", admin=False, d=d,
                registry=registry)
    assert [r[0].record for r in rows] == [mine] and rows[0][0].get("userIP") == "10.0.0.1"
    assert len(_run("select s from Session s", caller="alice", admin=False, d=d, registry=registry)) == 1
    assert len(_run("select s from Session s", d=d, registry=registry)) == 2
    d.set_password(d.user_named("bob").id, "new", by_uid=d.user_named("bob").id, session_id=2)
    assert _run("select l.action from EventLog l", caller="alice", admin=False, d=d, registry=registry) == []
    assert _run("SELECT action FROM EventLog WHERE event.experimenter.id = :id", {"id": d.user_named("bob").id},
                d=d, registry=registry) == [("PASSWORD",)]


# -- the registry ---------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_registry_reference_counts() -> None:
    d = directory()
    reg = Registry(d)
    alice = reg.authenticate("alice", "alice-pw")
    with pytest.raises(LoginDenied):
        reg.authenticate("alice", "nope")
    with pytest.raises(NoSuchGroup):
        reg.create_session(alice, "no-such-group")
    rec = reg.create_session(alice)
    assert rec.group_id == GROUP["lab-shared"]  # no group: the default one
    reg.attach(rec, "c1", "conn1", "ssl")
    reg.attach(rec, "c2", "conn2", "tcp", has_password=False)
    assert rec.refcount == 2 and not reg.client("c2").has_password
    reg.client("c1").close_on_destroy = False
    assert reg.destroy_connection("conn1")  # detach
    assert reg.session(rec.uuid) is rec and rec.refcount == 1
    assert not reg.destroy_connection("conn1")
    assert reg.close_session(rec.uuid) == -2  # last reference: removed
    assert reg.session(rec.uuid) is None and reg.client("c2") is None
    assert reg.close_session(rec.uuid) == -1


def test_killed_session_keeps_its_glacier2_session_until_destroyed() -> None:
    """OMERO reaps the services of a killed session; Glacier2 still holds the client's session,
    so destroySession succeeds once, then SessionNotExist (False here)."""
    d = directory()
    reg = Registry(d)
    rec = reg.create_session(d.user_named("bob"))
    reg.attach(rec, "c1", "conn1", "ssl")
    assert reg.kill(rec.uuid)
    assert reg.client("c1") is None  # services gone
    assert reg.destroy_connection("conn1")
    assert not reg.destroy_connection("conn1")


def test_group_sudo_is_refused_outside_the_led_groups() -> None:
    d = directory()
    reg = Registry(d)
    alice, bob = d.user_named("alice"), d.user_named("bob")
    rec = reg.create_session(alice, "lab-shared", sudoer=bob, groups_led=(GROUP["lab-shared"],))
    assert rec.sudoer is bob
    with pytest.raises(Denied, match=r"Group sudo is not permitted for group alice-private \(gid=4\)"):
        reg.create_session(alice, "alice-private", sudoer=bob, groups_led=(GROUP["lab-shared"],))


def test_registry_idle_expiry() -> None:
    clock = Clock()
    d = directory()
    reg = Registry(d, tti_ms=2000, clock=clock)
    rec = reg.create_session(d.user_named("bob"))
    reg.attach(rec, "c1", "conn1", "ssl")
    clock.now += 1.5
    reg.use("c1")  # refreshes
    clock.now += 1.5
    assert reg.live_sessions() == [rec]
    clock.now += 2.5
    assert reg.live_sessions() == []
    with pytest.raises(SessionGone) as first:
        reg.use("c1")
    with pytest.raises(SessionGone) as later:
        reg.use("c1")
    assert (first.value.kind, later.value.kind) == ("timeout", "removed")
    with pytest.raises(LoginDenied):
        reg.find_live(rec.uuid)
