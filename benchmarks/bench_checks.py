"""What `status`, `doctor` and the `omero profile` plugin cost, against the stand-in.

- `status --offline` against `status` (online) with N stored sessions serving a profile, and
  `python -c pass` (interpreter start) and `omero-profile current` as baselines: what a status
  line in a shell prompt would cost, and what checking each session on the server adds.
- `doctor`: the median time of each step over the runs (in-process, so interpreter start and
  imports are not in it: the router step reports omero-py's import apart).
- the OMERO CLI with and without the `omero profile` plugin (`omero version`, in-process
  `CLI().loadplugins()`): what installing omero-profiles adds to every `omero` command.

Every command runs once per round, in turn with its baselines; figures are medians.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _util import print_table

REPEAT = int(os.environ.get("BENCH_REPEAT", "7"))
ROOT = Path(__file__).resolve().parents[1]


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMERO_", "XDG_"))}
    env.update(HOME=str(tmp / "home"), XDG_CONFIG_HOME=str(tmp / "config"), XDG_STATE_HOME=str(tmp / "state"),
               XDG_CACHE_HOME=str(tmp / "cache"), OMERO_SESSIONDIR=str(tmp / "sessions"),
               OMERO_PROFILES_SYSTEM_FILE=str(tmp / "none.toml"))
    return env


def _timed(argv: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode not in ok:
        raise SystemExit(f"{argv} exited {done.returncode}: {done.stderr}")
    return elapsed


def main() -> None:
    from omero_standin import running_server

    cli = [sys.executable, "-m", "omeroprofiles"]
    with tempfile.TemporaryDirectory() as name, running_server(ws=False, wss=False) as server:
        tmp = Path(name)
        env = _env(tmp)
        config = tmp / "config" / "omero-profiles" / "profiles.toml"
        config.parent.mkdir(parents=True)
        config.write_text(f"""
default = "alice"
[profiles.alice]
host = "{server.host}"
port = {server.ssl_port}
timeout = 10
keepalive = 0
credentials = {{ source = "plain", username = "alice", password = "{server.users['alice'].password}" }}

[profiles.stored]
host = "{server.host}"
port = {server.ssl_port}
timeout = 10
credentials = {{ source = "omero-login", username = "alice" }}
""")
        rows: list[tuple[str, float, str]] = []
        for sessions in (1, 4):
            while len(list((tmp / "sessions").glob("*/alice/[!.]*"))) < sessions:
                _timed([*cli, "login", "alice"], env)
            times: dict[str, list[float]] = {k: [] for k in ("pass", "current", "offline", "online")}
            for _ in range(REPEAT):
                times["pass"].append(_timed([sys.executable, "-c", "pass"], env))
                times["current"].append(_timed([*cli, "current"], env))
                times["offline"].append(_timed([*cli, "status", "stored", "--offline"], env))
                times["online"].append(_timed([*cli, "status", "stored"], env))
            med = {k: statistics.median(v) for k, v in times.items()}
            if sessions == 1:
                rows += [("python -c pass", med["pass"], "1.00x"),
                         ("omero-profile current", med["current"], f"{med['current'] / med['pass']:.2f}x pass")]
            rows += [(f"status --offline ({sessions} stored)", med["offline"],
                      f"{med['offline'] / med['pass']:.2f}x pass"),
                     (f"status online ({sessions} stored)", med["online"],
                      f"{med['online'] / med['offline']:.2f}x offline")]
        print_table("status: offline vs online (subprocess, wall time)", rows)

        os.environ.update(env)
        from omeroprofiles import load_profile
        from omeroprofiles.doctor import run_doctor

        steps: dict[str, list[float]] = {}
        for _ in range(REPEAT):
            report = run_doctor(lambda: load_profile("alice"))
            for step in report.steps:
                if step.ms is not None:
                    steps.setdefault(step.title, []).append(step.ms / 1000)
        total = sum(statistics.median(v) for v in steps.values())
        print_table("doctor alice: each step (in-process, median)",
                    [(title, statistics.median(v), f"{statistics.median(v) / total:.0%} of the steps")
                     for title, v in steps.items()])

        print_table("OMERO CLI start: plugins loaded in-process (CLI().loadplugins())", _plugin_cost())


def _plugin_cost() -> list[tuple[str, float, str]]:
    code = ("import sys, time; sys.path.append({site!r}) if {site!r} else None\n"
            "from omero.cli import CLI\nt = time.perf_counter(); c = CLI(); c.loadplugins()\n"
            "print(time.perf_counter() - t, 'profile' in c.controls)")
    import zipfile

    with tempfile.TemporaryDirectory() as work:
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", work,
                        str(ROOT)], check=True, capture_output=True)
        site = str(Path(work) / "site")
        zipfile.ZipFile(next(Path(work).glob("*.whl"))).extractall(site)
        times: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(REPEAT):
            for with_plugin in (False, True):
                out = subprocess.run([sys.executable, "-c", code.format(site=site if with_plugin else "")],
                                     capture_output=True, text=True, check=True).stdout.split()
                assert out[1] == str(with_plugin), out
                times[with_plugin].append(float(out[0]))
    without, with_ = statistics.median(times[False]), statistics.median(times[True])
    return [("loadplugins() without omero-profiles", without, "1.00x"),
            ("loadplugins() with `omero profile`", with_, f"{with_ / without:.2f}x")]


if __name__ == "__main__":
    main()
