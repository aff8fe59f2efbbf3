"""Small shared helpers for the benchmarks: timing medians and table printing."""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable, Sequence


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def median_pair(base: Callable[[], object], ours: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Medians of ``base`` and ``ours`` measured in turns, so a change in machine load hits both alike."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for fn, into in ((base, times[0]), (ours, times[1])):
            started = time.perf_counter()
            fn()
            into.append(time.perf_counter() - started)
    return statistics.median(times[0]), statistics.median(times[1])


def run_command(argv: Sequence[str], env: dict[str, str] | None = None) -> Callable[[], object]:
    def call() -> object:
        return subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return call


def print_table(title: str, rows: list[tuple[str, float, str]]) -> None:
    """rows: (what, median seconds, ratio text)."""
    print(f"\n## {title}")
    width = max(len(r[0]) for r in rows)
    print(f"{'measurement'.ljust(width)}  {'median':>10}  ratio")
    for what, seconds, ratio in rows:
        print(f"{what.ljust(width)}  {seconds * 1000:>8.1f}ms  {ratio}")


def run_threads(count: int, work: Callable[[int], object]) -> float:
    """Run ``work(i)`` in ``count`` threads at once; return the wall time until all finish."""
    import threading

    workers = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - started
