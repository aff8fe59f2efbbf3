"""The classic OMERO connection guide (BlitzGateway patterns), section by section,
each pattern done through a profile against the stand-in server with the real omero-py client."""

from __future__ import annotations

import omero
import omero.clients
import pytest
from connection_helpers import write_profiles
from omero.gateway import BlitzGateway

from omeroprofiles import AuthenticationFailed, ProfileError, ServerUnreachable, connect, get_conn, load_profile


@pytest.fixture
def server(omero_server, user_file):
    write_profiles(user_file, omero_server)
    return omero_server


# -- Basic Connection ---------------------------------------------------------------------------
def test_standard_connection_pattern(server):
    """`conn = BlitzGateway(user, pw, host=host, port=4064); conn.connect(); ...; conn.close()`."""
    conn = get_conn("alice")
    assert conn.isConnected()  # never a bare True/False to check: failures raise
    conn.close()
    assert not conn.isConnected()


def test_connection_parameters_come_from_the_profile(server):
    profile = load_profile("alice")
    assert (profile.hostname, profile.port, profile.credentials.username) == (server.host, server.ssl_port, "alice")
    assert profile.secure is True  # the guide's default is False; ours follows its best practice


def test_secure_connection(server):
    with connect("alice") as conn:
        assert conn.c.isSecure() and conn.isSecure()
    with connect("alice-insecure") as conn:
        assert not conn.c.isSecure()


# -- Context Manager Pattern --------------------------------------------------------------------
def test_context_manager(server):
    before = server.session_count("alice")
    with connect("alice") as conn:
        assert [project.getName() for project in conn.getObjects("Project")] == []  # an empty server
        assert conn.getUser().getName() == "alice"
    assert server.session_count("alice") == before


# -- Session Management -------------------------------------------------------------------------
def test_connection_from_existing_client_session(server, monkeypatch):
    """`client = omero.client(host, port); client.createSession(u, p); BlitzGateway(client_obj=client)`:
    as a profile, join the client's session by key."""
    client = omero.client(server.host, server.ssl_port)
    client.createSession("alice", server.users["alice"].password)
    try:
        monkeypatch.setenv("TEST_OMERO_SESSION", client.getSessionId())
        with connect("session") as conn:
            assert conn.getUser().getName() == "alice"
        assert client.getSession().getAdminService().getEventContext().userName == "alice"  # not killed
    finally:
        client.closeSession()


def test_retrieve_session_information(server):
    with connect("alice") as conn:
        user = conn.getUser()
        assert (user.getName(), user.getFullName()) == ("alice", "Alice Analyst")
        assert user.getId() == server.users["alice"].id
        assert conn.isAdmin() is False
        group = conn.getGroupFromContext()
        assert (group.getName(), group.getId()) == ("lab-shared", server.users.groups["lab-shared"].id)


def test_check_admin_privileges(server):
    with connect("root") as conn:
        assert conn.isAdmin() and conn.isFullAdmin()
    with connect("helpdesk") as conn:
        assert conn.isAdmin() and not conn.isFullAdmin()
        assert "ModifyUser" in conn.getCurrentAdminPrivileges()


# -- Group Context Management -------------------------------------------------------------------
def test_current_group_context(server):
    with connect("alice-private") as conn:
        assert conn.getGroupFromContext().getName() == "alice-private"


def test_query_across_all_groups(server):
    with connect("alice-all") as conn:
        assert conn.SERVICE_OPTS.getOmeroGroup() == "-1"
        assert conn.getObject("Experimenter", conn.getUserId()).getName() == "alice"
        assert conn.getObject("Image", 1) is None and list(conn.listProjects()) == []  # no data on the stand-in


def test_switch_to_specific_group(server):
    with connect("alice") as conn:
        target = server.users.groups["alice-private"].id
        conn.SERVICE_OPTS.setOmeroGroup(target)  # the guide's per-call switch still works
        assert conn.getObject("ExperimenterGroup", target).getName() == "alice-private"
    with connect("alice-by-id") as conn:  # or as a profile: group = <id>
        assert conn.getEventContext().groupId == server.users.groups["alice-private"].id


def test_list_available_groups(server):
    with connect("alice") as conn:
        assert sorted(g.getName() for g in conn.getGroupsMemberOf()) == ["alice-private", "lab-shared"]


# -- Advanced Connection Features ---------------------------------------------------------------
def test_substitute_user_connection(server):
    with connect("root-as-bob") as user_conn:
        assert user_conn.getUser().getName() == "bob"
        assert user_conn.getEventContext().userName == "bob"
        assert list(user_conn.listProjects()) == []
    assert server.session_count("root") == 0 and server.session_count("bob") == 0


def test_list_administrators(server):
    with connect("alice") as conn:
        admins = {a.getOmeName() for a in conn.getAdministrators()}
    assert "root" in admins and "alice" not in admins


# -- Connection Lifecycle -----------------------------------------------------------------------
def test_closing_and_status(server):
    conn = get_conn("alice")
    try:
        assert conn.isConnected()
    finally:
        conn.close()
    assert not conn.isConnected()


# -- Error Handling -----------------------------------------------------------------------------
def test_robust_connection_pattern(server):
    """The guide returns None and prints a traceback; with profiles each failure has its class."""
    for name, kind in (("refused", ServerUnreachable), ("alice-bad-password", AuthenticationFailed)):
        with pytest.raises(kind) as info:
            get_conn(name)
        assert isinstance(info.value, ProfileError) and name in str(info.value)


# -- Common Connection Patterns -----------------------------------------------------------------
def test_pattern_simple_script(server):
    with connect("alice") as conn:
        assert f"Connected as {conn.getUser().getName()}" == "Connected as alice"


def test_pattern_configuration_based(server, tmp_path):
    """Pattern 2 reads a YAML file by hand; a profiles file is that file, validated."""
    config = tmp_path / "omero_config.toml"
    write_profiles(config, server)
    with connect("alice", config_file=str(config)) as conn:
        assert isinstance(conn, BlitzGateway)


def test_pattern_environment_variables(server, monkeypatch):
    monkeypatch.setenv("OMERO_USER", "alice")
    monkeypatch.setenv("OMERO_PASSWORD", server.users["alice"].password)
    monkeypatch.setenv("OMERO_PROFILE", "alice-env")
    with connect() as conn:
        assert conn.getUser().getName() == "alice"


# -- Best practices: timeouts, keep-alive, pooling (covered in test_connect.py) -----------------
def test_best_practice_settings_are_profile_keys(server):
    profile = load_profile("alice", timeout=3, keepalive=60)
    assert (profile.timeout, profile.keepalive) == (3, 60)
