"""Benchmark the stand-in OMERO server with the real omero-py client; prints a table.

    .venv/bin/python benchmarks/bench_standin.py [--runs 50] [--starts 5] [--json]

Figures (medians of repeated runs; absolute times on shared machines are noise, so each has
a same-run baseline to compare against):

- start-up to the READY line, vs ``python -c pass`` and ``python -c "import omero.clients"``
- ``BlitzGateway.connect()`` + ``getUser()`` + ``close()`` over SSL (secure=True) and insecure
  (secure=False, which re-joins over TCP), vs a bare ``omero.client`` login/logout
- server memory: VmRSS idle and after the load, VmHWM (peak)
- 16 threads x 20 gateway connects: errors, wall time, connects/s, sessions left afterwards
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from _util import run_threads
from omero_standin import StandInServer, running_server, start_server


def _median_ms(fn: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def _proc_status(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def bench_startup(starts: int) -> dict[str, float]:
    def ready_only() -> float:
        t0 = time.perf_counter()
        srv = start_server(ws=False, wss=False)
        elapsed = time.perf_counter() - t0
        srv.stop()
        return elapsed

    ready = statistics.median(ready_only() for _ in range(starts)) * 1000
    py = _median_ms(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), starts)
    omero = _median_ms(
        lambda: subprocess.run([sys.executable, "-c", "import omero.clients"], check=True), starts
    )
    return {"ready_ms": ready, "python_pass_ms": py, "import_omero_ms": omero}


def bench_connect(srv: StandInServer, runs: int) -> dict[str, float]:
    import omero.clients
    from omero.gateway import BlitzGateway

    def gateway(secure: bool) -> None:
        conn = BlitzGateway(**srv.gateway_args("alice", secure=secure))
        assert conn.connect(), conn.getLastError()
        assert conn.getUser().getName() == "alice"
        conn.close()

    def raw_client() -> None:
        client = omero.client(host=srv.host, port=srv.ssl_port)
        client.createSession("alice", srv.users["alice"].password)
        client.killSession()

    for fn in (lambda: gateway(True), lambda: gateway(False), raw_client):  # warm up
        fn()
    return {
        "ssl_ms": _median_ms(lambda: gateway(True), runs),
        "insecure_ms": _median_ms(lambda: gateway(False), runs),
        "raw_client_ms": _median_ms(raw_client, runs),
    }


def bench_concurrency(srv: StandInServer, threads: int = 16, per_thread: int = 20) -> dict[str, float]:
    from omero.gateway import BlitzGateway

    errors: list[str] = []
    users = ["alice", "bob", "helpdesk", "sudoer"]

    def work(i: int) -> None:
        user = users[i % len(users)]
        for _ in range(per_thread):
            try:
                conn = BlitzGateway(**srv.gateway_args(user))
                if not conn.connect():
                    errors.append(f"connect: {conn.getLastError()!r}")
                    continue
                if conn.getUser().getName() != user:
                    errors.append("wrong user")
                conn.close()
            except Exception as exc:
                errors.append(repr(exc))

    wall = run_threads(threads, work)
    return {
        "connects": threads * per_thread,
        "errors": len(errors),
        "wall_s": wall,
        "connects_per_s": threads * per_thread / wall,
        "sessions_left": srv.session_count(),
        "first_error": errors[0] if errors else "",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="connects per median (default 50)")
    parser.add_argument("--starts", type=int, default=5, help="server starts per median (default 5)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)

    results: dict[str, Any] = {"startup": bench_startup(args.starts)}
    with running_server(ws=False, wss=False) as srv:
        results["rss_idle_kb"] = _proc_status(srv.pid, "VmRSS")
        results["connect"] = bench_connect(srv, args.runs)
        results["concurrency"] = bench_concurrency(srv)
        results["rss_after_kb"] = _proc_status(srv.pid, "VmRSS")
        results["rss_peak_kb"] = _proc_status(srv.pid, "VmHWM")

    if args.json:
        print(json.dumps(results, indent=2))
        return 0 if results["concurrency"]["errors"] == 0 else 1
    s, c, k = results["startup"], results["connect"], results["concurrency"]
    rows = [
        (f"start-up to READY (median of {args.starts})", f"{s['ready_ms']:.0f} ms",
         f"{s['ready_ms'] / s['python_pass_ms']:.1f}x python -c pass ({s['python_pass_ms']:.0f} ms); "
         f"{s['ready_ms'] / s['import_omero_ms']:.1f}x import omero.clients ({s['import_omero_ms']:.0f} ms)"),
        (f"connect+getUser+close, SSL (median of {args.runs})", f"{c['ssl_ms']:.1f} ms",
         f"{c['ssl_ms'] / c['raw_client_ms']:.1f}x bare omero.client login+kill "
         f"({c['raw_client_ms']:.1f} ms)"),
        (f"connect+getUser+close, insecure (median of {args.runs})", f"{c['insecure_ms']:.1f} ms",
         f"{c['insecure_ms'] / c['ssl_ms']:.2f}x SSL"),
        ("server VmRSS idle / after load / peak",
         f"{results['rss_idle_kb'] / 1024:.0f} / {results['rss_after_kb'] / 1024:.0f} / "
         f"{results['rss_peak_kb'] / 1024:.0f} MiB", ""),
        (f"{k['connects'] // 20} threads x 20 connects", f"{k['errors']} errors",
         f"{k['wall_s']:.2f} s total, {k['connects_per_s']:.0f} connects/s, "
         f"{k['sessions_left']} sessions left {k['first_error']}"),
    ]
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    header = ("figure", "value", "baseline / notes")
    print("  ".join(h.ljust(w) for h, w in zip(header, width, strict=True)).rstrip())
    print("  ".join("-" * w for w in width).rstrip())
    for row in rows:
        print("  ".join(col.ljust(w) for col, w in zip(row, width, strict=True)).rstrip())
    return 0 if k["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
