"""omeroprofiles.dask on a real distributed.LocalCluster (4 worker processes) and the stand-in server."""

from __future__ import annotations

import pickle

import pytest
from distributed import Client, LocalCluster

from omeroprofiles.dask import OmeroPlugin, conn
from omeroprofiles.sessionstore import SessionStore


def user_of_task(_: int) -> str:
    return conn().getUser().getName()


def session_of_task(_: int) -> str:
    return conn().c.getSessionId()


def server_user_of_task(_: int) -> str:
    return conn().getAdminService().getEventContext().userName  # asks the server (getUser() is cached)


@pytest.fixture
def profiles(omero_server, write_user, tmp_path, monkeypatch):
    monkeypatch.setenv("OMERO_SESSIONDIR", str(tmp_path / "sessions"))
    write_user(f"""
[profiles.prod]
host = "{omero_server.host}"
port = {omero_server.ssl_port}
timeout = 20
keepalive = 0
credentials = {{ source = "plain", username = "alice", password = "{omero_server.users["alice"].password}" }}
""")


@pytest.fixture
def cluster(profiles):
    with LocalCluster(n_workers=4, processes=True, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        yield client


def test_two_hundred_tasks_one_login(omero_server, cluster, run):
    before = omero_server.counters()
    plugin = OmeroPlugin("prod")
    assert b"alice-pw" not in pickle.dumps(plugin)  # nothing secret travels to the workers
    cluster.register_plugin(plugin)
    users = cluster.gather(cluster.map(user_of_task, range(200)))
    assert users == ["alice"] * 200
    after = omero_server.counters()
    assert after["logins"] - before["logins"] == 1
    assert after["joins"] - before["joins"] <= 4
    cluster.close()
    cluster.cluster.close()
    [stored] = SessionStore().sessions(omero_server.host, "alice", omero_server.ssl_port)
    live = [s for s in omero_server.sessions() if s["user"] == "alice"]
    assert [(s["uuid"], s["refcount"]) for s in live] == [(stored.key, 0)]  # only the shared one, detached
    assert run("logout", "prod").exit_code == 0
    assert omero_server.session_count("alice") == 0


def test_an_expired_shared_session_mid_run_costs_one_login_and_no_errors(omero_server, cluster, run):
    cluster.register_plugin(OmeroPlugin("prod"))
    assert cluster.gather(cluster.map(server_user_of_task, range(40))) == ["alice"] * 40
    first = set(cluster.gather(cluster.map(session_of_task, range(40, 80))))
    assert len(first) == 1
    before = omero_server.counters()
    assert omero_server.expire_session(first.pop())
    users = cluster.gather(cluster.map(server_user_of_task, range(100, 300)))  # no task may fail
    assert users == ["alice"] * 200
    after = omero_server.counters()
    assert after["logins"] - before["logins"] == 1
    assert len(set(cluster.gather(cluster.map(session_of_task, range(300, 340))))) == 1
    assert run("logout", "prod").exit_code == 0


def test_without_the_plugin_the_task_says_what_to_do(cluster):
    with pytest.raises(RuntimeError, match="register one first"):
        cluster.submit(user_of_task, 0).result()


def test_credentials_are_refused_as_plugin_arguments():
    with pytest.raises(ValueError, match="takes no credentials"):
        OmeroPlugin("prod", credentials={"source": "plain", "username": "u", "password": "p"})
