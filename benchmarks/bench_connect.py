"""Connection speed against the bundled stand-in server, with same-run baselines.

- get_conn (profile file read + validation + connect + getUser + close) against raw
  ``BlitzGateway(...).connect()`` doing the same, over SSL and insecure;
- a silent port (accepts TCP, never answers): get_conn with ``timeout = 2`` against raw
  BlitzGateway, which has no overall bound;
- 8 threads borrowing from a ConnectionPool against 8 threads that each open a connection per task.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from _util import median_seconds, print_table, run_threads

REPEAT = int(os.environ.get("BENCH_REPEAT", "30"))
RAW_SILENT = os.environ.get("BENCH_RAW_SILENT", "1") == "1"


def main() -> None:
    import logging

    logging.getLogger("omero").setLevel(logging.ERROR)  # the raw baselines' own retry warnings
    from omero.gateway import BlitzGateway
    from omero_standin import running_server
    from omero_standin.silent import hung_router, silent_port

    from omeroprofiles import get_conn
    from omeroprofiles.pool import ConnectionPool

    with running_server(ws=False, wss=False) as server, tempfile.TemporaryDirectory() as tmp, \
            silent_port() as quiet, hung_router() as hung:
        pw = server.users["alice"].password
        profiles = Path(tmp) / "profiles.toml"
        profiles.write_text(
            f'[profiles.ssl]\nhost = "{server.host}"\nport = {server.ssl_port}\nkeepalive = 0\n'
            f'credentials = {{ source = "plain", username = "alice", password = "{pw}" }}\n'
            '[profiles.insecure]\nextends = "ssl"\nsecure = false\n'
            f'[profiles.silent]\nextends = "ssl"\nport = {quiet}\ntimeout = 2\n'
            f'[profiles.hung]\nhost = "tcp://{server.host}:{hung}"\ntimeout = 2\n'
            f'credentials = {{ source = "plain", username = "alice", password = "{pw}" }}\n')
        os.environ.update(OMERO_PROFILES_FILE=str(profiles), XDG_STATE_HOME=tmp,
                          OMERO_PROFILES_SYSTEM_FILE=str(Path(tmp) / "none.toml"))

        def raw(secure: bool, port: int = server.ssl_port):
            def run():
                conn = BlitzGateway("alice", pw, host=server.host, port=port, secure=secure)
                assert conn.connect()
                conn.getUser()
                conn.close()
            return run

        def profile(name: str):
            def run():
                conn = get_conn(name)
                conn.getUser()
                conn.close()
            return run

        for warm in (raw(True), profile("ssl")):
            warm()
        rows = []
        for label, secure, name in (("SSL", True, "ssl"), ("insecure", False, "insecure")):
            base = median_seconds(raw(secure), REPEAT)
            ours = median_seconds(profile(name), REPEAT)
            rows.append((f"raw BlitzGateway.connect()+getUser, {label}", base, "1.00x (baseline)"))
            rows.append((f"get_conn('{name}')+getUser, {label}", ours, f"{ours / base:.2f}x"))
        print_table(f"Connect + getUser + close (median of {REPEAT})", rows)

        started = time.perf_counter()
        try:
            get_conn("silent")
        except Exception as exc:  # ServerUnreachable
            kind = type(exc).__name__
        ours = time.perf_counter() - started
        rows = [(f"get_conn, timeout = 2 -> {kind}", ours, "")]
        if RAW_SILENT:
            started = time.perf_counter()
            ok = BlitzGateway("alice", pw, host=server.host, port=quiet, secure=True).connect()
            base = time.perf_counter() - started
            rows.insert(0, (f"raw BlitzGateway.connect() -> {ok!r}", base, "1.00x (baseline)"))
            rows[1] = (rows[1][0], ours, f"{ours / base:.3f}x")
        print_table("Silent port (accepts, never answers)", rows)

        started = time.perf_counter()
        try:
            get_conn("hung")
        except Exception as exc:  # ServerUnreachable
            kind = type(exc).__name__
        ours = time.perf_counter() - started
        blocked = threading.Event()

        def raw_hung() -> None:
            try:
                BlitzGateway("alice", pw, host=f"tcp://{server.host}:{hung}", secure=True).connect()
            except Exception:  # noqa: BLE001 - the baseline ends when the hung router closes at the end
                pass
            blocked.set()
        threading.Thread(target=raw_hung, daemon=True).start()
        waited = 10.0
        finished = blocked.wait(waited)
        print_table("Router that connects, then never replies", [
            (f"raw BlitzGateway.connect() {'returned' if finished else f'still blocked after {waited:g} s'}",
             waited, "baseline: unbounded"),
            (f"get_conn, timeout = 2 -> {kind}", ours, ""),
        ])

        threads, per_thread = 8, 25
        def throughput(task) -> float:
            errors: list[BaseException] = []

            def worker(_: int) -> None:
                try:
                    for _ in range(per_thread):
                        task()
                except BaseException as exc:  # noqa: BLE001
                    errors.append(exc)
            elapsed = run_threads(threads, worker)
            assert not errors, errors[:1]
            return elapsed

        def per_task_connection():
            conn = get_conn("ssl")
            conn.getEventContext()
            conn.close()

        pool = ConnectionPool("ssl", size=threads)
        def pooled():
            with pool.connection() as conn:
                conn.getAdminService().getEventContext()
        throughput(pooled)  # fill the pool
        base = throughput(per_task_connection)
        ours = statistics.median(throughput(pooled) for _ in range(3))
        pool.close()
        n = threads * per_thread
        print_table(f"{threads} threads x {per_thread} tasks (getEventContext each)", [
            (f"connect per task: {n / base:.0f} tasks/s", base, "1.00x (baseline)"),
            (f"ConnectionPool(size={threads}): {n / ours:.0f} tasks/s", ours, f"{base / ours:.1f}x faster"),
        ])
        print(f"\nsessions left open on the server: {server.session_count()}")


if __name__ == "__main__":
    sys.exit(main())
