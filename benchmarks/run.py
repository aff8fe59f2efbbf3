"""Run every benchmark and print their tables: `.venv/bin/python benchmarks/run.py`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["bench_cli.py", "bench_connect.py", "bench_sessions.py", "bench_vault.py", "bench_standin.py",
              "bench_checks.py"]


def main() -> int:
    failed = 0
    for name in BENCHMARKS:
        path = HERE / name
        if not path.exists():
            continue
        print(f"\n# {name}", flush=True)
        failed += subprocess.run([sys.executable, str(path)], cwd=HERE).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
