"""One fetch per process: reconnects, pools and repeated get_conn do not ask the source again,
unless the secret expired or was rejected. A real `command` source counts how often it runs."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from omeroprofiles import AuthenticationFailed, connect, get_conn
from omeroprofiles.fetch import forget_all
from omeroprofiles.pool import ConnectionPool

SCRIPT = """
import json, pathlib, sys
count = pathlib.Path(sys.argv[1])
count.write_text(str(int(count.read_text() or 0) + 1) if count.exists() else "1")
password = pathlib.Path(sys.argv[2]).read_text().strip()
out = {"username": "alice", "password": password}
if len(sys.argv) > 3:
    out["expires"] = float(sys.argv[3])
print(json.dumps(out))
"""


@pytest.fixture
def counted(tmp_path: Path, omero_server, write_user):
    script = tmp_path / "creds.py"
    script.write_text(SCRIPT)
    count = tmp_path / "count"
    secret = tmp_path / "password"
    secret.write_text(omero_server.users["alice"].password)

    def write(expires: float | None = None) -> None:
        argv = [sys.executable, str(script), str(count), str(secret)] + ([str(expires)] if expires else [])
        listed = ", ".join(f'"{a}"' for a in argv)
        write_user(f'[profiles.c]\nhost = "{omero_server.host}"\nport = {omero_server.ssl_port}\ntimeout = 10\n'
                   f'keepalive = 0\ncredentials = {{ source = "command", command = [{listed}] }}\n')

    def runs() -> int:
        return int(count.read_text()) if count.exists() else 0

    write()
    return write, runs, secret


def test_reconnect_pool_and_repeated_get_conn_fetch_once(counted, omero_server, no_leaked_sessions):
    _, runs, _ = counted
    conn = get_conn("c", reconnect=True)
    try:
        assert omero_server.expire_session(conn.c.getSessionId())
        assert conn.ensure_alive() is False and conn.reconnects == 1
    finally:
        conn.close()
    with connect("c") as again:
        assert again.getUser().getName() == "alice"
    with ConnectionPool("c", size=4) as pool:
        def work() -> None:
            with pool.connection() as pooled:
                pooled.getEventContext()
                time.sleep(0.2)  # hold it, so the pool opens more than one connection
        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert pool.open_connections > 1
    assert runs() == 1


def test_a_rejected_remembered_password_is_fetched_again_once(counted, omero_server):
    _, runs, secret = counted
    with connect("c"):
        pass
    assert runs() == 1
    secret.write_text("wrong-now")  # the remembered one still works: no new fetch
    with connect("c"):
        pass
    assert runs() == 1
    forget_all()
    with pytest.raises(AuthenticationFailed):  # fetched fresh (wrong), rejected: no second try
        get_conn("c")
    assert runs() == 2
    secret.write_text(omero_server.users["alice"].password)
    with connect("c"):  # the rejected one was dropped: fetched anew
        pass
    assert runs() == 3


def test_a_password_changed_at_the_source_is_picked_up_after_rejection(counted, omero_server, start_omero_server):
    write, runs, secret = counted
    with connect("c"):
        pass
    assert runs() == 1
    # the server now rejects the remembered password (as after a password change), the source has a new one
    other = start_omero_server(users={"users": {"alice": {"password": "changed-pw", "groups": ["lab"]}}})
    secret.write_text("changed-pw")
    with connect("c", port=other.ssl_port) as conn:
        assert conn.getUser().getName() == "alice"
    assert runs() == 2  # the remembered one was rejected, so the source was asked once more


def test_an_expiring_secret_is_fetched_again(counted):
    write, runs, _ = counted
    write(expires=time.time() + 10)  # within the 30 s margin: already stale
    with connect("c"):
        pass
    with connect("c"):
        pass
    assert runs() == 2
    write(expires=time.time() + 3600)
    with connect("c"):
        pass
    with connect("c"):
        pass
    assert runs() == 3
