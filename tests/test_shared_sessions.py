"""share_session: N processes, one login; expiry, groups per call, reconnect, pools, logout, env."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
from filelock import FileLock
from session_helpers import end_all
from timing_helpers import Pace

from omeroprofiles import ServerUnreachable, connect, get_conn, load_profile
from omeroprofiles.pool import ConnectionPool
from omeroprofiles.sessionstore import SessionStore
from omeroprofiles.shared import lock_path, share_key

WORKER = """
from omeroprofiles import connect
with connect("shared") as conn:
    print(conn.getUser().getName(), conn.joined)
"""


@pytest.fixture
def shared(omero_server, write_user, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("OMERO_SESSIONDIR", str(tmp_path / "sessions"))
    plain = f'{{ source = "plain", username = "alice", password = "{omero_server.users["alice"].password}" }}'
    write_user(f"""
[defaults]
host = "{omero_server.host}"
port = {omero_server.ssl_port}
timeout = 10
keepalive = 0

[profiles.shared]
share_session = true
credentials = {plain}

[profiles.shared-private]
share_session = true
group = "alice-private"
credentials = {plain}

[profiles.all-groups]
share_session = true
group = -1
credentials = {plain}

[profiles.shared-env]
share_session = true
credentials = {{ source = "env" }}

[profiles.root-as-bob]
share_session = true
su = "bob"
credentials = {{ source = "plain", username = "root", password = "{omero_server.users["root"].password}" }}
""")
    return tmp_path / "sessions"


def _stored(server, user="alice"):
    return SessionStore().sessions(server.host, user, server.ssl_port)


def _raw_join(server, key):
    """A plain omero.client joined to ``key``, as another program (the OMERO CLI) would."""
    import omero

    client = omero.client(host=server.host, port=server.ssl_port)
    client.joinSession(key).detachOnDestroy()
    return client


def _group(server, name):
    import omero.model

    return omero.model.ExperimenterGroupI(server.users.groups[name].id, False)


def test_many_processes_log_in_once(omero_server, shared):
    before = omero_server.counters()
    procs = [subprocess.Popen([sys.executable, "-c", WORKER], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(12)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    assert [out.strip() for out, _ in outputs] == ["alice True"] * 12
    after = omero_server.counters()
    assert after["logins"] - before["logins"] == 1
    assert after["joins"] - before["joins"] == 12  # the creator joins its own stored session too
    [stored] = _stored(omero_server)
    live = [s for s in omero_server.sessions() if s["user"] == "alice"]
    assert [s["uuid"] for s in live] == [stored.key] and live[0]["refcount"] == 0  # all detached
    end_all(omero_server)


def test_an_expired_shared_session_is_replaced_by_one_login(omero_server, shared):
    with connect("shared"):
        pass
    [first] = _stored(omero_server)
    assert omero_server.expire_session(first.key)
    before = omero_server.counters()
    for _ in range(3):
        with connect("shared") as conn:
            assert conn.getUser().getName() == "alice"
    after = omero_server.counters()
    assert after["logins"] - before["logins"] == 1
    [second] = _stored(omero_server)  # the ended one was removed from the store
    assert second.key != first.key
    end_all(omero_server)


def test_each_group_has_its_own_shared_session_made_in_that_group(omero_server, shared):
    before = omero_server.counters()
    with connect("shared-private") as private, connect("shared") as default:
        assert private.c.getSessionId() != default.c.getSessionId()
        assert private.call_group is None and default.call_group is None  # nothing per call: the session's own
        assert private.getGroupFromContext().getName() == "alice-private"
        assert default.getGroupFromContext().getName() == "lab-shared"
        # a service called directly, without SERVICE_OPTS (as most libraries do), runs in the profile's group
        assert private.c.sf.getAdminService().getEventContext().groupName == "alice-private"
    with connect("shared-private") as again:  # joins the one made for its group
        assert again.joined and again.getEventContext().groupName == "alice-private"
    assert omero_server.counters()["logins"] - before["logins"] == 2
    assert sorted(s["group"] for s in omero_server.sessions() if s["user"] == "alice") == \
        ["alice-private", "lab-shared"]
    end_all(omero_server)


def test_all_groups_profiles_share_a_default_group_session_and_query_per_call(omero_server, shared):
    with connect("all-groups") as conn, connect("all-groups") as other:
        assert conn.call_group == -1 and conn.SERVICE_OPTS.getOmeroGroup() == "-1"
        assert conn.c.getSessionId() == other.c.getSessionId()
        assert conn.c.sf.getAdminService().getEventContext().groupName == "lab-shared"  # made in the default
    end_all(omero_server)


def test_a_session_moved_to_another_group_is_not_joined(omero_server, shared):
    with connect("shared") as conn:
        first = conn.c.getSessionId()
    other = _raw_join(omero_server, first)  # `omero sessions group alice-private` does this
    other.sf.setSecurityContext(_group(omero_server, "alice-private"))
    other.closeSession()
    with connect("shared") as conn:
        assert conn.c.getSessionId() != first
        assert conn.getEventContext().groupName == "lab-shared"
    end_all(omero_server)


def test_set_group_for_session_on_a_shared_connection_leaves_the_others_alone(omero_server, shared):
    private_id = omero_server.users.groups["alice-private"].id
    with connect("shared") as conn, connect("shared") as other:
        shared_key = conn.c.getSessionId()
        assert conn.setGroupForSession(private_id) is True
        assert conn.c.getSessionId() != shared_key and not conn.shared
        assert conn.getGroupFromContext().getName() == "alice-private"
        assert conn.c.sf.getAdminService().getEventContext().groupName == "alice-private"
        assert other.c.sf.getAdminService().getEventContext().groupName == "lab-shared"  # untouched
        private_key = conn.c.getSessionId()
    assert private_key not in {s["uuid"] for s in omero_server.sessions()}  # private: ended on close
    assert shared_key in {s["uuid"] for s in omero_server.sessions()}
    end_all(omero_server)


def test_reconnect_and_pool_join_instead_of_logging_in(omero_server, shared):
    conn = get_conn("shared", reconnect=True)
    try:
        assert omero_server.expire_session(conn.c.getSessionId())
        before = omero_server.counters()
        assert conn.ensure_alive() is False
        assert omero_server.counters()["logins"] - before["logins"] == 1  # one new shared login
        before = omero_server.counters()
        with ConnectionPool("shared", size=4) as pool:
            held = [pool.acquire() for _ in range(4)]
            assert len({c.c.getSessionId() for c in held}) == 1
            for c in held:
                pool.release(c)
        assert omero_server.counters()["logins"] == before["logins"]
    finally:
        conn.close()
    end_all(omero_server)


def test_su_shared_session_and_logout_ends_it_for_everyone(omero_server, shared, run):
    with connect("root-as-bob") as conn:
        assert conn.getUser().getName() == "bob" and conn.su_by == "root"
    [stored] = _stored(omero_server, "bob")
    assert stored.props["omero.sudo"] == "root"
    with connect("root-as-bob") as conn:  # joins: the admin's password is not used again
        assert conn.su_by == "root" and conn.c.getSessionId() == stored.key
    assert run("logout", "root-as-bob").exit_code == 0
    assert omero_server.session_count("bob") == 0 and not _stored(omero_server, "bob")


def test_the_username_for_the_store_comes_from_the_environment(omero_server, shared, monkeypatch):
    monkeypatch.setenv("OMERO_USER", "alice")
    monkeypatch.setenv("OMERO_PASSWORD", "alice-pw")
    with connect("shared-env"):
        pass
    monkeypatch.delenv("OMERO_PASSWORD")  # a joining process needs no password
    from omeroprofiles.fetch import forget_all

    forget_all()
    with connect("shared-env") as conn:
        assert conn.joined and conn.getUser().getName() == "alice"
    end_all(omero_server)


def test_waiting_for_the_lock_is_bounded_by_the_profile_timeout(omero_server, shared, write_user, isolated_env):
    lock = lock_path(share_key(load_profile("shared"), "alice"))
    lock.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen([sys.executable, "-c", f"from filelock import FileLock; import time\n"
                               f"l = FileLock({str(lock)!r}); l.acquire(); print('held', flush=True); time.sleep(30)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        pace = Pace()
        pace.measure(lambda: get_conn("shared", share_session=False).close())  # no lock: a plain connect
        started = time.monotonic()
        with pytest.raises(ServerUnreachable, match="another process has been logging in"):
            get_conn("shared", timeout=2)
        pace.check(time.monotonic() - started, limit=2, idle_slack=2)
    finally:
        holder.kill()
        holder.wait()
    with FileLock(str(lock), timeout=5):  # released when the holder died
        pass


def test_env_prints_exports_and_reveals_a_child_key_only_when_asked(omero_server, shared, run):
    plain = run("env", "shared", "--shell", "bash")
    assert plain.exit_code == 0 and plain.stdout == "export OMERO_PROFILE=shared\n"
    revealed = run("env", "shared", "--session", "--shell", "bash")
    assert revealed.exit_code == 0, revealed.stderr
    [stored] = _stored(omero_server)
    exports = dict(shlex.split(line.removeprefix("export "))[0].split("=", 1) for line in revealed.stdout.splitlines())
    child = exports["OMERO_SESSION_KEY"]
    assert child != stored.key  # a session of its own, not the shared one
    assert exports == {"OMERO_PROFILE": "shared", "OMERO_HOST": omero_server.host,
                       "OMERO_PORT": str(omero_server.ssl_port), "OMERO_SESSION_KEY": child, "OMERO_USER": child,
                       "OMERO_PASS": child, "OMERO_SECURE": "True", "OMERO_GROUP": ""}
    assert "child session of alice in group lab-shared" in revealed.stderr and child not in revealed.stderr
    fish = run("env", "shared", "--shell", "fish")
    assert fish.stdout == "export OMERO_PROFILE=shared\n"  # fish reads it through its export function
    # a batch job: the exports are all it needs
    env = {**os.environ, "OMERO_SESSION_KEY": child}
    job = subprocess.run([sys.executable, "-c", "import omero, os\n"
                          f"c = omero.client(host={omero_server.host!r}, port={omero_server.ssl_port})\n"
                          "sf = c.joinSession(os.environ['OMERO_SESSION_KEY']); sf.detachOnDestroy()\n"
                          "print(sf.getAdminService().getEventContext().userName); c.__del__()"],
                         capture_output=True, text=True, env=env)
    assert job.stdout.strip() == "alice", job.stderr
    assert run("logout", "shared").exit_code == 0  # ends the child and the shared session
    assert omero_server.session_count("alice") == 0


def test_a_wait_for_the_lock_and_the_login_after_it_share_one_deadline(write_user, hung_router_port, isolated_env,
                                                                       shared, omero_server):
    """Another process holds the lock for most of the timeout and then gives up: our own login gets only
    what is left (at least a second), not a second full timeout.

    Timeout 6 s, lock held 5.2 s: right is about 6.2 s at most, wrong 11.2 s; the gap leaves room for
    a busy machine's slack (measured: a plain connect to the stand-in)."""
    write_user(f'[profiles.stuck]\nhost = "tcp://127.0.0.1:{hung_router_port}"\ntimeout = 6\nshare_session = true\n'
               'credentials = { source = "plain", username = "alice", password = "alice-pw" }\n\n'
               f'[profiles.plain]\nhost = "{omero_server.host}"\nport = {omero_server.ssl_port}\nkeepalive = 0\n'
               f'credentials = {{ source = "plain", username = "alice", password = "alice-pw" }}\n')
    pace = Pace()
    pace.measure(lambda: get_conn("plain").close())
    lock = lock_path(share_key(load_profile("stuck"), "alice"))
    lock.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen([sys.executable, "-c", "from filelock import FileLock; import time\n"
                               f"l = FileLock({str(lock)!r}); l.acquire(); print('held', flush=True)\n"
                               "time.sleep(5.2); l.release()"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        with pytest.raises(ServerUnreachable):
            get_conn("stuck")
        elapsed = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert elapsed > 5  # it did wait for the lock
    pace.check(elapsed, limit=6 + 1.0, idle_slack=0.8)  # not 5.2 + 6 s: the login after the wait got what was left
