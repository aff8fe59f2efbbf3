"""`omero-profile doctor`: step by step against the stand-in (real client, real sockets), a port with
nothing listening, a port that never answers, a server that freezes at each step (the stand-in's
freezing proxy), and an expired and a wrong-name certificate made here (the stand-in's --cert)."""

from __future__ import annotations

import json
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from omero_standin import SessionLeakCheck
from omero_standin.certs import write_certificate
from timing_helpers import Pace

from omeroprofiles import load_profile
from omeroprofiles.doctor import DoctorFailed, run_doctor

PASSWORD = "doctor-pw-5b1e"
TIMEOUT = 2.0
IDLE_SLACK = 2.0
"""On an idle machine a doctor run may take the timeout plus this; a busy one stretches it (``Pace``)."""
"""What one step may take when the server does not answer: the profile timeout plus two seconds."""
NETWORK_STEPS = ["dns", "tcp", "tls", "router", "version", "credentials", "login", "group", "su", "timeouts", "stored"]


def _users() -> dict:
    return {"groups": {"lab": {"permissions": "rwr---"}, "other": {"permissions": "rw----"}},
            "users": {"ann": {"password": PASSWORD, "groups": ["lab"]},
                      "bea": {"password": "bea-pw", "groups": ["other"]},
                      "boss": {"password": "boss-pw", "groups": ["lab"], "admin": True}}}


@pytest.fixture(scope="module")
def server():
    from omero_standin import running_server

    with running_server(_users(), ws=False, wss=False) as srv:
        yield srv


def _write(write_user, server, extra: str = "", port: int | None = None) -> None:
    write_user(f"""
[defaults]
host = "{server.host}"
port = {port or server.ssl_port}
timeout = {TIMEOUT:g}
keepalive = 0

[profiles.ann]
credentials = {{ source = "plain", username = "ann", password = "{PASSWORD}" }}

[profiles.ann-lab]
group = "lab"
share_session = true
credentials = {{ source = "plain", username = "ann", password = "{PASSWORD}" }}

[profiles.ann-other]
group = "other"
credentials = {{ source = "plain", username = "ann", password = "{PASSWORD}" }}

[profiles.ann-wrong]
credentials = {{ source = "plain", username = "ann", password = "not-{PASSWORD}" }}

[profiles.ann-env]
credentials = {{ source = "env" }}

[profiles.ann-stored]
credentials = {{ source = "omero-login", username = "ann" }}

[profiles.ann-as-bea]
su = "bea"
credentials = {{ source = "plain", username = "ann", password = "{PASSWORD}" }}

[profiles.boss-as-bea]
su = "bea"
group = "other"
credentials = {{ source = "plain", username = "boss", password = "boss-pw" }}

[profiles.boss-as-bea-in-lab]
su = "bea"
group = "lab"
credentials = {{ source = "plain", username = "boss", password = "boss-pw" }}

[profiles.nothing-listens]
port = 1

[profiles.no-such-host]
host = "no-such-host.invalid"

[profiles.plain-port-as-ssl]
port = {server.tcp_port}
credentials = {{ source = "plain", username = "ann", password = "{PASSWORD}" }}
{extra}""")


def _doctor(run, *args: str):
    result = run("doctor", *args, "--json")
    data = json.loads(result.stdout)
    return result.exit_code, data, result


def test_a_healthy_profile_passes_every_step_and_leaves_no_session(server, write_user, run, tmp_path, monkeypatch):
    monkeypatch.setenv("OMERO_SESSIONDIR", str(tmp_path / "sessions"))
    _write(write_user, server)
    leaks = SessionLeakCheck(server)
    for name in ("ann", "ann-lab", "boss-as-bea"):
        code, data, result = _doctor(run, name)
        assert code == 0, result.stderr
        steps = {s["step"]: s for s in data["steps"]}
        assert list(steps) == ["profile", *NETWORK_STEPS]
        assert all(s["status"] in ("ok", "skip") for s in data["steps"]), data["steps"]
        assert steps["version"]["detail"].startswith("OMERO 5.")
        assert steps["tls"]["data"]["protocol"].startswith("TLS") and steps["tls"]["data"]["self_signed"]
        assert steps["login"]["detail"].startswith(f"logged in as {name.split('-')[0]}")
        assert steps["timeouts"]["data"]["time_to_idle_s"] == server.session_timeout
        assert all(s["ms"] is not None for s in data["steps"] if s["status"] == "ok")
        assert PASSWORD not in result.stdout + result.stderr
    assert steps["su"]["detail"] == "boss may act as bea: a session of bea in other"
    assert steps["group"]["status"] == "skip" and "checked in the su step" in steps["group"]["detail"]
    leaks.assert_clean(settle=3)  # the guest session, the login and the su session were all ended
    text = run("doctor", "ann-lab")
    assert text.exit_code == 0 and "result: ok" in text.stdout and "alice" not in text.stdout
    assert "  ok    group" in text.stdout and "ann is a member of 'lab'" in text.stdout


@pytest.mark.parametrize(("name", "step", "code", "said", "next_"), [
    ("nothing-listens", "tcp", 5, "connection refused", "check the port"),
    ("no-such-host", "dns", 5, "cannot resolve 'no-such-host.invalid'", "check the host name"),
    ("plain-port-as-ssl", "tls", 5, "TLS handshake failed", "may not speak TLS"),
    ("ann-env", "credentials", 4, "$OMERO_USER and $OMERO_PASSWORD are not set", "set the variables"),
    ("ann-stored", "credentials", 6, "no session of user 'ann'", "omero-profile login ann-stored"),
    ("ann-wrong", "login", 6, "rejected the username or password", "password was refused"),
    ("ann-other", "group", 7, "'ann' is not a member of group 'other' (member of: lab)", "omero-profile groups"),
    ("ann-as-bea", "su", 7, "so it cannot su to 'bea'", "Sudo privilege"),
    ("boss-as-bea-in-lab", "su", 7, "user 'bea' is not a member of group 'lab'", "check su = 'bea'"),
    ("not-a-profile", "profile", 3, "not-a-profile", None),
])
def test_the_first_failure_stops_the_run_with_its_code_and_what_to_try(server, write_user, run, tmp_path,
                                                                       monkeypatch, name, step, code, said, next_):
    monkeypatch.setenv("OMERO_SESSIONDIR", str(tmp_path / "sessions"))
    _write(write_user, server)
    exit_code, data, result = _doctor(run, name)
    assert exit_code == code == data["exit_code"], result.stderr
    assert data["steps"][-1]["step"] == step and data["steps"][-1]["status"] == "FAIL"
    assert said in data["steps"][-1]["detail"]
    if next_:
        assert next_ in data["next"] and f"hint: {data['next']}" in result.stderr
    text = run("doctor", name)
    assert text.exit_code == code and "  FAIL  " in text.stdout and f"result: failed (exit {code})" in text.stdout
    assert PASSWORD not in text.stdout + text.stderr + result.stdout


def test_a_port_that_never_answers_fails_the_step_that_waits_within_the_timeout(write_user, run, silent_port,
                                                                                hung_router_port):
    write_user(f"""
[defaults]
timeout = {TIMEOUT:g}
credentials = {{ source = "plain", username = "ann", password = "{PASSWORD}" }}

[profiles.silent-ssl]
host = "127.0.0.1"
port = {silent_port}

[profiles.silent-tcp]
host = "tcp://127.0.0.1:{silent_port}"

[profiles.hung-router]
host = "tcp://127.0.0.1:{hung_router_port}"

[profiles.refused]
host = "127.0.0.1"
port = 1
""")
    pace = Pace()
    pace.measure(lambda: _doctor(run, "refused"))  # the same work around the wait, with no wait: the baseline
    for name, step in (("silent-ssl", "tls"), ("silent-tcp", "router"), ("hung-router", "router")):
        started = time.monotonic()
        code, data, result = _doctor(run, name)
        elapsed = time.monotonic() - started
        assert (code, data["steps"][-1]["step"]) == (5, step), result.stderr
        pace.check(elapsed, limit=TIMEOUT, idle_slack=IDLE_SLACK, what=f"doctor {name}")
        assert f"{TIMEOUT:g} s" in data["steps"][-1]["detail"]


FROZEN_STEPS = ["router", "version", "login", "group", "su", "timeouts", "stored"]
"""Every step that talks to the server, in order; the proxy freezes as the one before it ends."""


def test_a_server_that_freezes_at_each_step_ends_classified_within_the_timeout(start_omero_server, freezing_proxy,
                                                                               user_file):
    """For each step, a server that freezes just as that step begins (the proxy trips when the step
    before it ends): exit 5 naming that step, within the timeout, and nothing after it is tried."""
    from omeroprofiles import connect

    server = start_omero_server(users=_users(), ws=False, wss=False)
    proxies = {step: freezing_proxy(server.tcp_port, after=10**6) for step in FROZEN_STEPS}
    user_file.parent.mkdir(parents=True, exist_ok=True)
    user_file.write_text("".join(f"""
[profiles.{step}]
host = "tcp://127.0.0.1:{proxy.port}"
timeout = {TIMEOUT:g}
keepalive = 0
group = "lab"
share_session = true
credentials = {{ source = "plain", username = "boss", password = "boss-pw" }}
{'su = "ann"' if step == "su" else ""}
""" for step, proxy in proxies.items()))  # an su profile's group is checked in the su step: su only for that one
    pace = Pace()
    for step in FROZEN_STEPS:  # a stored shared session for the last step to check; each connect a baseline
        pace.measure(lambda step=step: connect(step).__enter__().close())
    order = ["profile", *NETWORK_STEPS]

    def attempt(target: str) -> tuple[int, str, float, list[str]]:
        before = order[order.index(target) - 1]

        def trip(step, report) -> None:
            if step.key == before:
                proxies[target].trip_at_next_request()

        started = time.monotonic()
        try:
            run_doctor(lambda: load_profile(target), trip)
            return 0, "", time.monotonic() - started, []
        except DoctorFailed as exc:
            steps = exc.report.steps  # type: ignore[attr-defined]
            return exc.exit_code, steps[-1].key, time.monotonic() - started, [s.key for s in steps]

    outcomes = _in_threads(attempt, FROZEN_STEPS, workers=4)
    for target, out in outcomes.items():
        assert not isinstance(out, BaseException), (target, out)
        code, failed_at, seconds, steps = out
        assert (code, failed_at) == (5, target), (target, out, proxies[target].operations[-5:])
        assert steps == order[:order.index(target) + 1]
        assert proxies[target].tripped.is_set()
        # the steps before ran on a healthy server; the frozen one waits at most the timeout (+ closing)
        pace.check(seconds, limit=TIMEOUT, idle_slack=IDLE_SLACK + 2, what=f"doctor frozen at {target}")


def _in_threads(fn, items: list, *, workers: int) -> dict:
    """``fn(item)`` for each item, ``workers`` at a time, in daemon threads (a hang fails, never blocks)."""
    results: dict = {}
    slots = threading.Semaphore(workers)

    def run(item) -> None:
        with slots:
            try:
                results[item] = fn(item)
            except BaseException as exc:  # noqa: BLE001 - reported by the caller
                results[item] = exc

    threads = [threading.Thread(target=run, args=(item,), daemon=True) for item in items]
    for thread in threads:
        thread.start()
    limit = time.monotonic() + 600  # a hang guard, not a speed claim
    for thread in threads:
        thread.join(max(0.0, limit - time.monotonic()))
    assert all(item in results for item in items), [item for item in items if item not in results]
    return results


@pytest.mark.parametrize("case", ["expired", "wrong-name", "not-yet-valid"])
def test_certificates_a_verifying_client_would_refuse_are_warnings(start_omero_server, write_user, run, tmp_path,
                                                                   case):
    now = datetime.now(timezone.utc)
    options = {"expired": {"not_before": now - timedelta(days=400), "not_after": now - timedelta(days=3)},
               "wrong-name": {"common_name": "omero.elsewhere.test", "names": ("omero.elsewhere.test",),
                              "addresses": ()},
               "not-yet-valid": {"not_before": now + timedelta(days=2), "not_after": now + timedelta(days=400)}}
    pem = write_certificate(tmp_path / f"{case}.pem", **options[case])
    server = start_omero_server(users=_users(), ws=False, wss=False, cert_file=pem)
    _write(write_user, server)
    code, data, result = _doctor(run, "ann")
    assert code == 0, result.stderr  # omero-py does not check certificates: the login works
    tls = next(s for s in data["steps"] if s["step"] == "tls")
    assert tls["status"] == "warn" and data["warnings"] == 1
    said = " ".join(tls["notes"])
    expected = {"expired": f"EXPIRED on {(now - timedelta(days=3)):%Y-%m-%d}",
                "wrong-name": "DOES NOT NAME 127.0.0.1 (it names: omero.elsewhere.test)",
                "not-yet-valid": "NOT YET VALID"}[case]
    assert expected in said and "browsers" in said
    assert tls["data"]["name_matches"] is (case != "wrong-name")
    assert "result: ok, 1 warning" in run("doctor", "ann").stdout


def test_without_cryptography_the_handshake_still_reports_protocol(server, monkeypatch):
    import socket

    from omeroprofiles import tlsinfo

    monkeypatch.setitem(sys.modules, "cryptography", None)  # `import cryptography` now raises ImportError
    with socket.create_connection((server.host, server.ssl_port), timeout=5) as sock:
        shaken = tlsinfo.handshake(sock, server.host, 5)
    assert shaken.protocol.startswith("TLS") and shaken.certificate is None
    assert "cryptography" in (shaken.why_no_details or "")


def test_stored_sessions_are_reported_for_an_omero_login_profile(server, write_user, run, tmp_path, monkeypatch):
    monkeypatch.setenv("OMERO_SESSIONDIR", str(tmp_path / "sessions"))
    _write(write_user, server)
    assert run("login", "ann").exit_code == 0
    code, data, result = _doctor(run, "ann-stored")
    assert code == 0, result.stderr
    steps = {s["step"]: s for s in data["steps"]}
    assert steps["credentials"]["detail"] == "source 'omero-login' (ann): a session key (not shown)"
    assert steps["login"]["detail"].startswith("joined a stored session as ann")
    assert steps["stored"]["detail"] == "1 stored session(s) serve it, 1 alive"
    assert steps["stored"]["data"]["sessions"][0]["kind"] == "login"
    assert run("status", "ann-stored").exit_code == 0  # doctor detached from the stored session, never ended it
