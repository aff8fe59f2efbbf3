"""The stand-in server as a process: the standalone command, the handle, start failures."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from typing import Any

import pytest

from omero_standin import StandInServer, StandInServerError, UsersFileError, silent_port, start_server


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("ICE_CONFIG", raising=False)


@pytest.mark.parametrize(("module", "sig"), [("omero_standin.server", signal.SIGTERM),
                                            ("omero_standin.server", signal.SIGINT),
                                            ("omero_standin", signal.SIGTERM)])  # python -m omero_standin
def test_standalone_prints_one_json_line_and_stops_cleanly(module: str, sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "--ws", "0", "--wss", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        ready = json.loads(proc.stdout.readline())
        assert ready["host"] == "127.0.0.1" and ready["pid"] == proc.pid
        ports = [ready[k] for k in ("ssl", "tcp", "ws", "wss", "control")]
        assert all(isinstance(p, int) and p > 0 for p in ports) and len(set(ports)) == 5
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert (proc.returncode, out) == (0, ""), err


def test_standalone_rejects_a_bad_users_file(tmp_path: Any) -> None:
    bad = tmp_path / "users.toml"
    bad.write_text('[users.x]\npassword = "p"\ngroups = ["g"]\nrole = "boss"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "omero_standin.server", "--users", str(bad)],
        capture_output=True, text=True, timeout=30,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert "user 'x'" in proc.stderr and "role" in proc.stderr
    with pytest.raises(UsersFileError):
        start_server(users=bad)


def test_start_failure_raises_with_the_server_stderr() -> None:
    with silent_port() as taken, pytest.raises(StandInServerError) as failed:
        start_server(ssl_port=taken, ws=False, wss=False)
    assert "exit status" in str(failed.value) and "--- server stderr ---" in str(failed.value)
    assert "Address already in use" in str(failed.value) or "bind" in str(failed.value).lower()


def test_handle(omero_server: StandInServer) -> None:
    srv = omero_server
    assert srv.running and srv.host == "127.0.0.1" and srv.port == srv.ssl_port
    assert srv.ws_url == f"ws://127.0.0.1:{srv.ws_port}/omero-ws"
    assert srv.wss_url.startswith("wss://127.0.0.1:")
    assert srv.gateway_args("bob")["passwd"] == "bob-pw"
    assert isinstance(srv.session_count(), int)
    assert not srv.expire_session("no-such-uuid") and not srv.close_session("no-such-uuid")
    with open(f"/proc/{srv.pid}/status") as status:
        assert any(line.startswith("VmRSS:") for line in status)


def test_stop_and_parent_death(start_omero_server: Any) -> None:
    srv = start_omero_server(ws=False, wss=False)
    assert srv.stop() == 0 and not srv.running
    srv = start_omero_server(ws=False, wss=False)
    srv._proc.stdin.close()  # what happens when the test process dies: the server exits
    assert srv._proc.wait(10) == 0


def test_importing_the_package_does_not_import_ice() -> None:
    code = (
        "import sys, omero_standin, omero_standin.fixtures; "
        "print(sorted(m for m in ('Ice', 'IcePy', 'omero') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_omero_cli_login_against_the_stand_in(omero_server: StandInServer, tmp_path: Any,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The OMERO CLI's own login path (omero.util.sessions) works too, for CLI-level tests."""
    from omero.cli import CLI

    monkeypatch.setenv("OMERO_SESSIONDIR", str(tmp_path / "sessions"))
    cli = CLI()
    cli.loadplugins()
    cli.invoke(["login", "-s", omero_server.host, "-p", str(omero_server.port), "-u", "alice",
                "-w", "alice-pw", "-q"], strict=True)
    assert omero_server.session_count("alice") == 1
    cli.invoke(["logout"], strict=True)
    assert omero_server.session_count("alice") == 0


def test_login_delay_slows_password_checks_not_joins(start_omero_server) -> None:
    import time

    import omero

    server = start_omero_server(ws=False, wss=False, login_delay=0.5)
    client = omero.client(host=server.host, port=server.ssl_port)
    started = time.monotonic()
    client.createSession("alice", "alice-pw")
    login = time.monotonic() - started
    client.getSession().detachOnDestroy()
    key = client.getSessionId()
    joiner = omero.client(host=server.host, port=server.ssl_port)
    started = time.monotonic()
    joiner.joinSession(key)
    join = time.monotonic() - started
    assert login >= 0.5  # the delay was applied to the password check...
    assert join < login / 2  # ...and not to the join (same round trips; with the delay it would be ~login)
    assert server.counters() == {"logins": 1, "failed_logins": 0, "joins": 1, "failed_joins": 0,
                                 "sessions_created": 1}
    joiner.killSession()
    joiner.__del__()
    client.__del__()


def test_login_concurrency_queues_password_checks(start_omero_server) -> None:
    """Two logins at once, one check at a time: the second waits for the first (0.4 s + 0.4 s)."""
    import threading
    import time

    import omero

    server = start_omero_server(ws=False, wss=False, login_delay=0.4, login_concurrency=1)
    clients = [omero.client(host=server.host, port=server.ssl_port) for _ in range(2)]
    took: list[float] = []

    def login(client) -> None:
        started = time.monotonic()
        client.createSession("alice", "alice-pw")
        took.append(time.monotonic() - started)

    threads = [threading.Thread(target=login, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(took) == 2 and min(took) >= 0.4 and max(took) >= 0.8
    assert server.counters()["logins"] == 2
    for client in clients:
        client.killSession()
        client.__del__()


def test_cert_option_serves_another_certificate(start_omero_server: Any, tmp_path: Any) -> None:
    """`--cert`: the server presents the given certificate (here an expired one), and still serves logins."""
    import socket
    import ssl
    from datetime import datetime, timedelta, timezone

    from cryptography import x509
    from omero.gateway import BlitzGateway

    from omero_standin.certs import write_certificate

    past = datetime.now(timezone.utc) - timedelta(days=30)
    pem = write_certificate(tmp_path / "expired.pem", common_name="expired.test", names=("expired.test",),
                            not_before=past - timedelta(days=365), not_after=past)
    srv = start_omero_server(ws=False, wss=False, cert_file=pem)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((srv.host, srv.ssl_port), timeout=10) as raw, \
            context.wrap_socket(raw) as tls:
        served = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
    assert served.subject.rfc4514_string() == "CN=expired.test"
    assert served.not_valid_after_utc < datetime.now(timezone.utc)
    conn = BlitzGateway(**srv.gateway_args("alice"))
    assert conn.connect()  # omero-py does not verify server certificates (IceSSL.VerifyPeer=0)
    conn.close()
