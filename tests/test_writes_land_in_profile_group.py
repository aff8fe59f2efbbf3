"""Writes land in the profile's group: a save made WITHOUT SERVICE_OPTS (as most scripts and libraries
do: omero-py services called directly) goes to the group the profile names, through a plain
``group =`` profile, a ``share_session = true`` profile (its shared session is made in that group)
and an ``su`` profile. Real client, real stand-in, real writes; the server says where they went."""

from __future__ import annotations

import pytest

from omeroprofiles import connect


@pytest.fixture
def server(start_omero_server):
    return start_omero_server(ws=False, wss=False)


@pytest.fixture
def profiles(server, write_user, tmp_path, monkeypatch):
    monkeypatch.setenv("OMERO_SESSIONDIR", str(tmp_path / "sessions"))
    users = server.users

    def plain(user: str) -> str:
        return f'{{ source = "plain", username = "{user}", password = "{users[user].password}" }}'

    write_user(f"""
[defaults]
host = "{server.host}"
port = {server.ssl_port}
timeout = 10
keepalive = 0

[profiles.alice]
credentials = {plain("alice")}

[profiles.alice-private]
group = "alice-private"
credentials = {plain("alice")}

[profiles.alice-private-shared]
share_session = true
group = "alice-private"
credentials = {plain("alice")}

[profiles.root-as-bob]
su = "bob"
credentials = {plain("root")}

[profiles.root-as-bob-in-lab]
su = "bob"
group = "lab-shared"
credentials = {plain("root")}

[profiles.root-as-bob-in-lab-shared]
su = "bob"
group = "lab-shared"
share_session = true
credentials = {plain("root")}

[profiles.alice-all-groups]
group = -1
credentials = {plain("alice")}
""")
    return server


def _project(name: str):
    from omero.model import ProjectI
    from omero.rtypes import rstring

    project = ProjectI()
    project.name = rstring(name)
    return project


@pytest.mark.parametrize("profile,owner,group", [
    ("alice", "alice", "lab-shared"),  # no group: the user's default group
    ("alice-private", "alice", "alice-private"),
    ("alice-private-shared", "alice", "alice-private"),
    ("root-as-bob", "bob", "bob-private"),  # su: the user's default group, bob the owner
    ("root-as-bob-in-lab", "bob", "lab-shared"),
    ("root-as-bob-in-lab-shared", "bob", "lab-shared"),
])
def test_a_save_without_service_opts_lands_in_the_profiles_group(profiles, profile, owner, group):
    server = profiles
    expected_gid = server.users.groups[group].id
    with connect(profile) as conn:
        raw = conn.c.sf.getUpdateService().saveAndReturnObject(_project(f"{profile} raw"))  # no context at all
        wrapped = conn.getUpdateService().saveAndReturnObject(_project(f"{profile} gateway"))  # no SERVICE_OPTS
        assert conn.getGroupFromContext().getId() == expected_gid, "the context tells the truth"
        assert conn.getUser().getName() == owner
    for saved in (raw, wrapped):
        assert saved.details.group.id.val == expected_gid
    stored = {o["name"]: o for o in server.data("Project")}
    for name in (f"{profile} raw", f"{profile} gateway"):
        assert (stored[name]["owner"], stored[name]["group"]) == (owner, group)


def test_a_shared_session_is_joined_and_writes_still_land_in_its_group(profiles):
    server = profiles
    with connect("alice-private-shared") as first, connect("alice-private-shared") as second:
        assert first.c.getSessionId() == second.c.getSessionId(), "one shared session"
        second.c.sf.getUpdateService().saveAndReturnObject(_project("from the joined connection"))
    (made,) = server.data("Project")
    assert made["group"] == "alice-private"


def test_an_all_groups_profile_reads_everywhere_and_a_context_free_write_goes_to_the_default_group(profiles):
    server = profiles
    with connect("alice-private") as private:
        private.c.sf.getUpdateService().saveAndReturnObject(_project("private one"))
    with connect("alice-all-groups") as conn:
        assert [p.getName() for p in conn.getObjects("Project")] == ["private one"], "group -1 per call"
        conn.c.sf.getUpdateService().saveAndReturnObject(_project("no group given"))
    made = {o["name"]: o["group"] for o in server.data("Project")}
    assert made == {"private one": "alice-private", "no group given": "lab-shared"}
