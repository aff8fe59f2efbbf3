"""Sessions: joining instead of logging in, and many processes sharing one login.

- ``source = "omero-login"``: get_conn joining a stored session against a fresh password login
  (``plain``), same stand-in, same run; and how many logins the server counted while joining.
- 64 processes started at once, each get_conn + getUser + close: ``share_session = true`` against
  without; logins counted by the server and wall time. Run three times: with the stand-in's
  password check free (its default); taking 200 ms (``--login-delay``), as an LDAP bind or a
  password hash does on a real server, any number at once; and 200 ms one at a time
  (``--login-concurrency 1``: a directory reached through one connection, or a server hashing on
  one core), where logins queue. Sharing saves the logins; what that saves in wall time depends
  on what a login costs the server, so all three are shown.
- Dask, 4 workers x 200 tasks: logins and tasks/s with ``OmeroPlugin`` against every task calling
  get_conn itself; then the shared session expires mid-run: logins afterwards, errors seen by tasks.
- One shared session per group: 64 processes at once spread over 1, 2 and 4 ``share_session``
  profiles of one user that differ only in ``group``: logins counted (one per group) and wall time
  against the one-group run.
- A child session (``env --session``: the shared session joined, ``createUserSession``, left)
  against joining the shared session (``get_conn`` + ``close``), same profile, same run.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _util import median_pair, print_table

REPEAT = int(os.environ.get("BENCH_REPEAT", "30"))
PROCESSES = int(os.environ.get("BENCH_PROCESSES", "64"))
WORKER = """
import time
import omeroprofiles.connection  # omero-py imported before the clock: only connecting is timed
from omeroprofiles import connect
started = time.perf_counter()
with connect({name!r}) as conn:
    conn.getUser()
print(time.perf_counter() - started)
"""


def _profiles(server, tmp: Path) -> None:
    pw = server.users["alice"].password
    plain = f'{{ source = "plain", username = "alice", password = "{pw}" }}'
    path = tmp / "profiles.toml"
    path.write_text(
        f'[defaults]\nhost = "{server.host}"\nport = {server.ssl_port}\nkeepalive = 0\ntimeout = 120\n'
        f'[profiles.plain]\ncredentials = {plain}\n'
        f'[profiles.shared]\nshare_session = true\ncredentials = {plain}\n'
        '[profiles.stored]\ncredentials = { source = "omero-login", username = "alice" }\n')
    os.environ.update(OMERO_PROFILES_FILE=str(path), XDG_STATE_HOME=str(tmp / "state"),
                      OMERO_SESSIONDIR=str(tmp / "sessions"), OMERO_PROFILES_SYSTEM_FILE=str(tmp / "none.toml"))


def _cleanup(server) -> None:
    from omeroprofiles.sessionstore import SessionStore

    store = SessionStore()
    for stored in store.sessions(server.host, "alice"):
        server.close_session(stored.key)
        store.remove(stored)


def join_vs_login(server, delay: float) -> None:
    from omeroprofiles import get_conn, load_profile
    from omeroprofiles.fetch import forget_all
    from omeroprofiles.sessions import login

    def run(name: str):
        def once() -> None:
            forget_all()
            conn = get_conn(name)
            conn.getUser()
            conn.close()
        return once

    login(load_profile("plain"))
    for warm in (run("plain"), run("stored")):
        warm()
    before = server.counters()
    base, ours = median_pair(run("plain"), run("stored"), REPEAT)
    counted = server.counters()
    logins = counted["logins"] - before["logins"] - REPEAT
    print_table(f"get_conn + getUser + close, password check {delay * 1000:.0f} ms (median of {REPEAT}, in turns)", [
        ("fresh login (source = plain)", base, "1.00x (baseline)"),
        (f"join the stored session (source = omero-login): {logins} logins", ours, f"{ours / base:.2f}x"),
    ])
    _cleanup(server)


def many_processes(server, delay: float, queued: bool = False) -> None:
    def wave(name: str) -> tuple[float, int, float]:
        before = server.counters()["logins"]
        started = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-c", WORKER.format(name=name)], stdout=subprocess.PIPE, text=True)
                 for _ in range(PROCESSES)]
        outputs = [p.communicate()[0] for p in procs]
        elapsed = time.perf_counter() - started
        failed = sum(p.returncode != 0 for p in procs)
        assert not failed, f"{failed} processes failed"
        connect = statistics.median(float(out) for out in outputs)
        return elapsed, server.counters()["logins"] - before, connect

    base, base_logins, base_connect = wave("plain")
    ours, our_logins, our_connect = wave("shared")
    title = (f"{PROCESSES} processes at once, get_conn + getUser + close; password check {delay * 1000:.0f} ms"
             + (", one at a time" if queued else ""))
    print_table(title + " (wall time)", [
        (f"share_session = false: {base_logins} logins", base, "1.00x (baseline)"),
        (f"share_session = true: {our_logins} login(s)", ours, f"{ours / base:.2f}x"),
    ])
    print_table(title + " (median connect time inside each process)", [
        ("share_session = false", base_connect, "1.00x (baseline)"),
        ("share_session = true", our_connect, f"{our_connect / base_connect:.2f}x"),
    ])
    _cleanup(server)


def user_of(_: int) -> str:
    from omeroprofiles.dask import conn

    return conn().getAdminService().getEventContext().userName  # a server call every time (getUser is cached)


def own_connection(_: int) -> str:
    from omeroprofiles import connect

    with connect("plain") as conn:
        return conn.getAdminService().getEventContext().userName


def dask(server) -> None:
    from distributed import Client, LocalCluster

    from omeroprofiles.dask import OmeroPlugin

    tasks = 200
    with LocalCluster(n_workers=4, processes=True, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.gather(client.map(lambda i: i, range(8)))  # workers up
        before = server.counters()["logins"]
        started = time.perf_counter()
        assert client.gather(client.map(own_connection, range(tasks))) == ["alice"] * tasks
        base = time.perf_counter() - started
        base_logins = server.counters()["logins"] - before
        client.register_plugin(OmeroPlugin("plain"))
        before = server.counters()["logins"]
        started = time.perf_counter()
        assert client.gather(client.map(user_of, range(tasks, 2 * tasks))) == ["alice"] * tasks
        ours = time.perf_counter() - started
        our_logins = server.counters()["logins"] - before
        print_table(f"Dask, 4 workers x {tasks} tasks (getEventContext each)", [
            (f"get_conn per task: {tasks / base:.0f} tasks/s, {base_logins} logins", base, "1.00x (baseline)"),
            (f"OmeroPlugin: {tasks / ours:.0f} tasks/s, {our_logins} login(s)", ours, f"{base / ours:.1f}x faster"),
        ])
        from omeroprofiles.sessionstore import SessionStore

        [stored] = SessionStore().sessions(server.host, "alice", server.ssl_port)
        server.expire_session(stored.key)
        before = server.counters()["logins"]
        futures = client.map(user_of, range(2 * tasks, 3 * tasks))
        results = client.gather(futures, errors="skip")
        errors = sum(f.status == "error" for f in futures)
        print(f"\nshared session expired mid-run: {server.counters()['logins'] - before} login(s) afterwards, "
              f"{errors} task errors, {len(results)} of {tasks} tasks succeeded")
    _cleanup(server)


GROUPS = ["g1", "g2", "g3", "g4"]
GROUP_USERS = {
    "groups": {g: {"permissions": "rw----"} for g in GROUPS},
    "users": {"alice": {"password": "alice-pw", "groups": GROUPS}},
}


def _group_profiles(server, tmp: Path) -> None:
    plain = '{ source = "plain", username = "alice", password = "alice-pw" }'
    path = tmp / "groups.toml"
    path.write_text(f'[defaults]\nhost = "{server.host}"\nport = {server.ssl_port}\nkeepalive = 0\ntimeout = 120\n'
                    + "".join(f'[profiles.{g}]\nshare_session = true\ngroup = "{g}"\ncredentials = {plain}\n'
                              for g in GROUPS))
    os.environ.update(OMERO_PROFILES_FILE=str(path), XDG_STATE_HOME=str(tmp / "group-state"),
                      OMERO_SESSIONDIR=str(tmp / "group-sessions"))


def _end_all(server) -> None:
    for session in server.sessions():
        server.close_session(session["uuid"])


def groups_sharing(server) -> None:
    rows = []
    base = None
    warm = [subprocess.Popen([sys.executable, "-c", WORKER.format(name=GROUPS[0])], stdout=subprocess.DEVNULL)
            for _ in range(4)]  # byte-code and disk caches warm, and the first group's session made, for every row
    for p in warm:
        p.wait()
    _end_all(server)
    for n in (1, 2, 4):
        names = [GROUPS[i % n] for i in range(PROCESSES)]
        before = server.counters()["logins"]
        started = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-c", WORKER.format(name=name)], stdout=subprocess.PIPE,
                                  text=True) for name in names]
        for p in procs:
            p.communicate()
        elapsed = time.perf_counter() - started
        assert all(p.returncode == 0 for p in procs)
        logins = server.counters()["logins"] - before
        base = base or elapsed
        rows.append((f"{n} group(s): {logins} login(s)", elapsed, "1.00x (baseline)" if n == 1 else
                     f"{elapsed / base:.2f}x"))
        _end_all(server)
    print_table(f"{PROCESSES} processes at once over 1, 2 and 4 share_session profiles (one per group), wall time",
                rows)


def child_vs_join(server) -> None:
    from omeroprofiles import get_conn, load_profile
    from omeroprofiles.sessions import child_session

    profile = load_profile("shared")

    def join() -> None:
        get_conn("shared").close()

    def child() -> None:
        child_session(profile)

    join()  # the shared session exists: both join it
    base, ours = median_pair(join, child, REPEAT)
    print_table(f"a child session (env --session) against a join of the shared session (median of {REPEAT})", [
        ("get_conn('shared') + close: join", base, "1.00x (baseline)"),
        ("child_session('shared'): join + createUserSession + leave", ours, f"{ours / base:.2f}x"),
    ])
    _end_all(server)


def main() -> None:
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")  # the workers inherit it: no log noise
    from omero_standin import running_server

    with tempfile.TemporaryDirectory() as tmp:
        with running_server(ws=False, wss=False) as server:
            _profiles(server, Path(tmp))
            join_vs_login(server, 0.0)
            many_processes(server, 0.0)
            child_vs_join(server)
            dask(server)
        with running_server(GROUP_USERS, ws=False, wss=False) as server:
            _group_profiles(server, Path(tmp))
            groups_sharing(server)
        with running_server(ws=False, wss=False, login_delay=0.2) as server:
            _profiles(server, Path(tmp))
            join_vs_login(server, 0.2)
            many_processes(server, 0.2)
            print(f"\nsessions left open on the server: {server.session_count()}")
        with running_server(ws=False, wss=False, login_delay=0.2, login_concurrency=1) as server:
            _profiles(server, Path(tmp))
            many_processes(server, 0.2, queued=True)
            print(f"\nsessions left open on the server: {server.session_count()}")


if __name__ == "__main__":
    sys.exit(main())
