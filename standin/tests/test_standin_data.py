"""The stand-in server's data and rules without a server: users file, HQL subset, session registry."""

from __future__ import annotations

import pytest

from omero_standin import ALL_PRIVILEGES, DEFAULT_USERS, UsersFileError
from omero_standin import query as hql
from omero_standin.state import LoginDenied, NoSuchGroup, Registry, SessionGone
from omero_standin.users import parse_users


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


def test_hql_subset() -> None:
    q = hql.parse(
        "select obj from Experimenter as obj left outer join fetch obj.groupExperimenterMap as m "
        "left outer join fetch m.parent g where obj.omeName=:omeName"
    )
    assert [u.name for u in hql.select(DEFAULT_USERS, q, {"omeName": "bob"})] == ["bob"]
    q = hql.parse("select obj from ExperimenterGroup obj where obj.id in (:ids) order by obj.name")
    assert [g.name for g in hql.select(DEFAULT_USERS, q, {"ids": [0, 3]})] == ["system", "lab-shared"]
    for bad in ("select obj from Instrument obj", "select obj from Experimenter obj where obj.omeName like :x"):
        with pytest.raises(hql.UnsupportedQuery):
            hql.parse(bad)
    assert hql.select(DEFAULT_USERS, hql.parse("select i from Image i where i.id = :id"), {"id": 1}) == []


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_registry_reference_counts() -> None:
    reg = Registry(DEFAULT_USERS)
    alice = reg.authenticate("alice", "alice-pw")
    with pytest.raises(LoginDenied):
        reg.authenticate("alice", "nope")
    with pytest.raises(NoSuchGroup):
        reg.create_session(alice, "no-such-group")
    rec = reg.create_session(alice)
    reg.attach(rec, "c1", "conn1", "ssl")
    reg.attach(rec, "c2", "conn2", "tcp")
    assert rec.refcount == 2
    reg.client("c1").close_on_destroy = False
    assert reg.destroy_connection("conn1")  # detach
    assert reg.session(rec.uuid) is rec and rec.refcount == 1
    assert not reg.destroy_connection("conn1")
    assert reg.close_session(rec.uuid) == -2  # last reference: removed
    assert reg.session(rec.uuid) is None and reg.client("c2") is None
    assert reg.close_session(rec.uuid) == -1


def test_registry_idle_expiry() -> None:
    clock = Clock()
    reg = Registry(DEFAULT_USERS, tti_ms=2000, clock=clock)
    rec = reg.create_session(reg.users["bob"])
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
