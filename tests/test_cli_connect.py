"""`omero-profile test` and `groups`: output, JSON keys, exit code per failure class, no secrets."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from connection_helpers import write_profiles
from timing_helpers import Pace


@pytest.fixture
def server(omero_server, user_file):
    write_profiles(user_file, omero_server)
    return omero_server


def test_test_json_has_the_documented_keys(server, run):
    result = run("test", "alice-private", "--json")
    assert result.exit_code == 0, result.stderr
    info = json.loads(result.stdout)
    assert {"profile", "user", "group", "admin", "host", "port", "secure", "elapsed_ms", "credentials_ms"} <= set(info)
    assert info["user"]["name"] == "alice"
    assert info["group"] == {"name": "alice-private", "id": server.users.groups["alice-private"].id, "from": "profile"}
    assert info["admin"] is False and info["port"] == server.ssl_port and info["secure"] is True
    assert info["elapsed_ms"] > 0
    assert server.session_count("alice") == 0  # test closes what it opened


SLOW_FETCH_S = 3.0


def test_test_reports_the_credential_fetch_apart_from_the_connect(omero_server, no_leaked_sessions, write_user, run):
    """docs/design.md: the connect's clock starts after the credentials (a person typing, a slow Vault); ``test``
    shows both. The source below takes SLOW_FETCH_S to answer: that is credentials time, not connect time."""
    from omeroprofiles import hookimpl
    from omeroprofiles.credentials import Credentials, CredentialSource, SourceConfig
    from omeroprofiles.plugins import get_registry

    class SlowConfig(SourceConfig):
        username: str

    class SlowSource(CredentialSource):
        name = "slow-test"
        config_model = SlowConfig

        def fetch(self, profile, config):
            time.sleep(SLOW_FETCH_S)
            return Credentials(username=config.username, password=omero_server.users[config.username].password)

    class SlowPlugin:
        @staticmethod
        @hookimpl
        def omeroprofiles_credential_sources():
            return [SlowSource]

    write_user(f'[profiles.slow]\nhost = "{omero_server.host}"\nport = {omero_server.ssl_port}\ntimeout = 10\n'
               'keepalive = 0\ncredentials = { source = "slow-test", username = "alice" }\n')
    get_registry().register(SlowPlugin, name="slow-test-plugin")
    try:
        info = json.loads(run("test", "slow", "--json").stdout)
        assert info["credentials_ms"] >= SLOW_FETCH_S * 1000
        assert 0 < info["elapsed_ms"] < info["credentials_ms"], info  # the connect alone, without the sleep
        text = run("test", "slow").stdout
    finally:
        get_registry().unregister("slow-test-plugin")
    line = next(li for li in text.splitlines() if li.startswith("elapsed:"))
    assert " ms to connect, after " in line and line.endswith(" ms getting credentials"), line


def test_test_text_for_su_and_admins(server, run):
    text = run("test", "root-as-bob").stdout
    assert "user:     bob" in text and "via su by root" in text
    info = json.loads(run("test", "sudoer-as-bob", "--json").stdout)
    assert info["su"] == "bob" and info["su_by"] == "sudoer"
    helpdesk = json.loads(run("test", "helpdesk", "--json").stdout)
    assert helpdesk["admin"] is True and helpdesk["full_admin"] is False
    assert "Sudo" not in helpdesk["privileges"] and "ModifyUser" in helpdesk["privileges"]
    assert "restricted administrator (" in run("test", "helpdesk").stdout
    assert "full administrator" in run("test", "root").stdout


@pytest.mark.parametrize(
    ("name", "code", "fragment"),
    [
        ("alice-bad-password", 6, "rejected the username or password"),
        ("alice-not-member", 7, "is not a member of group 'bob-private'"),
        ("alice-as-bob", 7, "neither an administrator nor an owner"),
        ("refused", 5, "connection refused"),
        ("alice-prompt", 4, "needs a terminal"),
        ("no-such-profile", 3, "is not defined"),
    ],
)
def test_test_exit_codes(server, run, name, code, fragment):
    result = run("test", name)
    assert result.exit_code == code, result.stderr
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "definitely-wrong-pw" not in result.stderr
    assert server.users["alice"].password not in result.stderr


def test_groups(server, run):
    rows = json.loads(run("groups", "alice-private", "--json").stdout)
    assert [(r["name"], r["current"]) for r in rows] == [("lab-shared", False), ("alice-private", True)]
    assert rows[0]["permissions"] == "rwr---"
    text = run("groups", "alice").stdout.splitlines()
    assert text[0].split() == ["ID", "NAME", "PERMISSIONS"]
    assert text[1].startswith("*") and "lab-shared" in text[1]


def test_installed_script_test_end_to_end(server, user_file):
    script = Path(sys.executable).with_name("omero-profile")
    done = subprocess.run([str(script), "test", "alice", "--json"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["user"]["name"] == "alice"
    done = subprocess.run([str(script), "test", "alice-bad-password"], capture_output=True, text=True)
    assert done.returncode == 6
    assert done.stderr.count("\n") == 1 and "WARNING" not in done.stderr  # one line, no library noise


def _controlling_tty() -> None:  # runs in the child: make the pty its controlling terminal
    import fcntl
    import os
    import termios

    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def test_prompt_source_asks_on_a_real_terminal(server, user_file):
    """The prompt source reads the password from the terminal (a real pseudo-terminal here)."""
    import os
    import select

    script = Path(sys.executable).with_name("omero-profile")
    master, slave = os.openpty()
    proc = subprocess.Popen([str(script), "test", "alice-prompt", "--json"], stdin=slave, stdout=subprocess.PIPE,
                            stderr=slave, preexec_fn=_controlling_tty)
    os.close(slave)
    seen = b""
    try:
        while b"password" not in seen.lower():
            ready, _, _ = select.select([master], [], [], 20)
            assert ready, f"no password prompt; terminal showed {seen!r}"
            seen += os.read(master, 1024)
        assert b"alice@127.0.0.1:" in seen
        os.write(master, server.users["alice"].password.encode() + b"\n")
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert proc.returncode == 0
    assert json.loads(out)["user"]["name"] == "alice"
    assert server.users["alice"].password.encode() not in seen  # not echoed


def test_test_with_overrides(server, run):
    info = json.loads(run("test", "alice", "--group", "alice-private", "--json").stdout)
    assert info["group"]["name"] == "alice-private"
    info = json.loads(run("test", "root", "--su", "alice", "--json").stdout)
    assert info["user"]["name"] == "alice" and info["su_by"] == "root"
    result = run("test", "alice", "--group", "bob-private")
    assert result.exit_code == 7
    assert run("test", "alice", "--timeout", "-1").exit_code == 2


# -- a server that freezes or dies (issue "Hardening", section 1) ------------------------------------
FAULT_TIMEOUT = 3


def _fault_profile(user_file: Path, name: str, port: int) -> None:
    user_file.write_text(user_file.read_text() + (
        f'\n[profiles.{name}]\nhost = "tcp://127.0.0.1:{port}"\ntimeout = {FAULT_TIMEOUT}\n'
        'credentials = { source = "plain", username = "alice", password = "alice-pw" }\n'))


@pytest.mark.parametrize(
    ("command", "mode", "after", "fragment"),
    [
        ("test", "freeze", 1, f"no answer within {FAULT_TIMEOUT} s"),  # in createObjectAdapterWithRouter
        ("test", "freeze", 10, "the server stopped answering"),  # describe's getEventContext
        ("test", "close", 8, "the connection to the server was lost"),  # was exit 1 (ConnectionRefused)
        ("groups", "close", 9, "the connection to the server was lost"),
    ],
)
def test_a_server_that_freezes_or_dies_is_exit_5_in_time(server, user_file, run, no_leaked_sessions,
                                                         freezing_proxy, command, mode, after, fragment):
    proxy = freezing_proxy(server.tcp_port, after=after, mode=mode)
    _fault_profile(user_file, "fault", proxy.port)
    pace = Pace()
    assert pace.measure(lambda: run(command, "alice")).exit_code == 0  # the same command, no fault
    done: list = []
    started = time.monotonic()
    runner = threading.Thread(target=lambda: done.append(run(command, "fault")), daemon=True)
    runner.start()  # in a daemon thread: a regression fails this test instead of hanging the run
    runner.join(FAULT_TIMEOUT + 30)
    elapsed = time.monotonic() - started
    assert done, f"'omero-profile {command}' still running after {elapsed:.0f} s"
    result = done[0]
    assert result.exit_code == 5, result.stderr
    assert fragment in result.stderr and "alice-pw" not in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr + result.stdout
    pace.check(elapsed, limit=FAULT_TIMEOUT, idle_slack=2, what=f"omero-profile {command}")
    assert proxy.tripped.is_set()
    # no_leaked_sessions: checked after the proxy stops (fixtures end in reverse order)


def test_installed_script_exits_cleanly_after_abandoning_a_frozen_login(server, user_file, freezing_proxy):
    """The watchdog abandons a login stuck in Ice; the process must still exit at once, cleanly:
    no abort ('terminate called ...'), no 'communicator not destroyed' noise, exit 5."""
    script = Path(sys.executable).with_name("omero-profile")
    pace = Pace()
    done = pace.measure(lambda: subprocess.run([str(script), "test", "alice"], capture_output=True, text=True,
                                               timeout=60))  # start-up + a normal connect, on this machine, now
    assert done.returncode == 0, done.stderr
    proxy = freezing_proxy(server.tcp_port, after=1)
    _fault_profile(user_file, "fault", proxy.port)
    started = time.monotonic()
    done = subprocess.run([str(script), "test", "fault"], capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - started
    assert done.returncode == 5, done.stderr
    assert done.stderr.count("\n") == 1 and f"no answer within {FAULT_TIMEOUT} s" in done.stderr, done.stderr
    # start-up, the timeout, exit: the slack covers one start-up on an idle machine
    pace.check(elapsed, limit=FAULT_TIMEOUT, idle_slack=2 + pace.samples[0])
