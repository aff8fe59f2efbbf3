"""Offline CLI speed: what a shell prompt, TAB completion and `list`/`show`/`validate` cost.

Baselines measured in the same run: `python -c pass` (interpreter start; the target for
`current` and name completion is 2x) and `python -c "import pydantic, click, pluggy, tomllib"`
(the import floor: the libraries the CLI is built on; the target for `list`/`show`/`validate`
at 1,000 profiles is 1.5x). Every command runs once per round, in turn with the baselines, so a
busy machine slows them all alike; figures are medians over the rounds.

Files: 5, 1,000 and 10,000 flat profiles, and a chain of 10,000 profiles each extending the
previous one; for every outcome of `current` and TAB, also 5 profiles with no default (nothing
active), an unknown $OMERO_PROFILE, and a file with a syntax error. The caches (the validated
index; the names `current` and TAB use) live in a temporary XDG_CACHE_HOME and are filled by a
warm-up round, as they are after a user's first command; "cache off" rows set
OMERO_PROFILES_NO_CACHE.
``BENCH_OMERO_PROFILE=PATH`` measures another ``omero-profile`` script (e.g. an older checkout's);
``BENCH_ONLY=current,TAB`` runs only the rows naming one of those words (and the baselines).
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

REPEAT = int(os.environ.get("BENCH_REPEAT", "9"))
SETTLE = 3.5
"""Seconds to wait after writing the files: the cache does not store files changed more recently."""


def _flat(count: int) -> str:
    return 'default = "p0"\n' + "".join(
        f'[profiles.p{i}]\nhost = "host{i}.example.org"\ngroup = "Lab {i % 7}"\n'
        f'credentials = {{ source = "env" }}\n' for i in range(count))


def _deep(count: int) -> str:
    return 'default = "p0"\n[profiles.p0]\nhost = "h.example.org"\ncredentials = { source = "env" }\n' + "".join(
        f'[profiles.p{i}]\nextends = "p{i - 1}"\n' for i in range(1, count))


def _complete(words: str) -> dict[str, str]:
    """Click's completion protocol, as the bash script it generates calls us on TAB."""
    return {"_OMERO_PROFILE_COMPLETE": "bash_complete", "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - 1)}


def _time(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def main() -> None:
    script = os.environ.get("BENCH_OMERO_PROFILE") or str(Path(sys.executable).parent / "omero-profile")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = {"5": _flat(5), "1,000": _flat(1000), "10,000": _flat(10_000), "10,000-deep": _deep(10_000),
                 "5, none active": _flat(5).replace('default = "p0"\n', ""),
                 "5, broken": _flat(5) + "[profiles.oops\n"}
        paths = {}
        for label, text in files.items():
            paths[label] = root / f"profiles-{label.replace(',', '').replace(' ', '-')}.toml"
            paths[label].write_text(text)
        base_env = {**os.environ, "XDG_STATE_HOME": str(root / "state"), "XDG_CACHE_HOME": str(root / "cache"),
                    "OMERO_PROFILES_SYSTEM_FILE": str(root / "none.toml")}
        for name in ("OMERO_PROFILE", "OMERO_PROFILES_NO_CACHE", "PYTHONDONTWRITEBYTECODE"):
            base_env.pop(name, None)  # byte-code is written and used, as in any installation

        def on(label: str, **extra: str) -> dict[str, str]:
            return {**base_env, "OMERO_PROFILES_FILE": str(paths[label]), **extra}

        cases: list[tuple[str, list[str], dict[str, str]]] = [
            ("python -c pass", [sys.executable, "-c", "pass"], base_env),
            ("import floor: python -c 'import pydantic, click, pluggy, tomllib'",
             [sys.executable, "-c", "import pydantic, click, pluggy, tomllib"], base_env),
            ("omero-profile current (5 profiles)", [script, "current"], on("5")),
            ("omero-profile current (1,000 profiles)", [script, "current"], on("1,000")),
            ("omero-profile current (5 profiles, none active: exit 3)", [script, "current"], on("5, none active")),
            ("omero-profile current (5 profiles, unknown $OMERO_PROFILE: exit 3)", [script, "current"],
             on("5", OMERO_PROFILE="p9")),
            ("omero-profile current (5 profiles, broken file: exit 2)", [script, "current"], on("5, broken")),
            ("TAB: omero-profile show p<TAB> (5 profiles)", [script], on("5", **_complete("omero-profile show p"))),
            ("TAB: omero-profile show p<TAB> (5 profiles, none active)", [script],
             on("5, none active", **_complete("omero-profile show p"))),
            ("TAB: omero-profile show zz<TAB> (5 profiles, no such name)", [script],
             on("5", **_complete("omero-profile show zz"))),
            ("TAB: omero-profile show p<TAB> (5 profiles, broken file)", [script],
             on("5, broken", **_complete("omero-profile show p"))),
            ("TAB: omero-profile show p<TAB> (1,000 profiles)", [script],
             on("1,000", **_complete("omero-profile show p"))),
            ("omero-profile current (1,000 profiles), cache off", [script, "current"],
             on("1,000", OMERO_PROFILES_NO_CACHE="1")),
            ("TAB: omero-profile show p<TAB> (1,000 profiles), cache off", [script],
             on("1,000", OMERO_PROFILES_NO_CACHE="1", **_complete("omero-profile show p"))),
            ("omero-profile current (10,000 profiles)", [script, "current"], on("10,000")),
            ("omero-profile list (5 profiles)", [script, "list"], on("5")),
            ("omero-profile list (1,000 profiles)", [script, "list"], on("1,000")),
            ("omero-profile list --json (1,000 profiles)", [script, "list", "--json"], on("1,000")),
            ("omero-profile show p500 (1,000 profiles)", [script, "show", "p500"], on("1,000")),
            ("omero-profile validate (1,000 profiles)", [script, "validate"], on("1,000")),
            ("omero-profile list (1,000 profiles), cache off", [script, "list"],
             on("1,000", OMERO_PROFILES_NO_CACHE="1")),
            ("omero-profile list (10,000 profiles)", [script, "list"], on("10,000")),
            ("omero-profile list (10,000 profiles), cache off", [script, "list"],
             on("10,000", OMERO_PROFILES_NO_CACHE="1")),
            ("omero-profile list (10,000-deep extends chain)", [script, "list"], on("10,000-deep")),
            ("omero-profile list (10,000-deep extends chain), cache off", [script, "list"],
             on("10,000-deep", OMERO_PROFILES_NO_CACHE="1")),
        ]
        only = [word for word in os.environ.get("BENCH_ONLY", "").split(",") if word]
        if only:  # e.g. BENCH_ONLY=current,TAB: those rows and the baselines
            cases = [c for c in cases if c[0].startswith(("python -c pass", "import floor")) or
                     any(word in c[0] for word in only)]
        time.sleep(SETTLE)
        for _, argv, env in cases:  # warm-up: fills the cache and the OS file cache
            _time(argv, env)
        times: dict[str, list[float]] = {what: [] for what, _, _ in cases}
        for _ in range(REPEAT):
            for what, argv, env in cases:
                times[what].append(_time(argv, env))
    t = {what: statistics.median(values) for what, values in times.items()}
    python_pass = t["python -c pass"]
    floor = t["import floor: python -c 'import pydantic, click, pluggy, tomllib'"]
    rows = []
    for what, seconds in t.items():
        if what == "python -c pass":
            ratio = "1.00x (baseline)"
        elif what.startswith(("omero-profile current", "TAB")):
            ratio = f"{seconds / python_pass:.2f}x pass" + (" (the file parsed each time)" if what.endswith("cache off")
                                                            else " (target <= 2x)")
        elif what.startswith("import floor"):
            ratio = f"{seconds / python_pass:.2f}x pass; 1.00x floor (baseline)"
        else:
            ratio = f"{seconds / python_pass:.2f}x pass, {seconds / floor:.2f}x floor"
            if "(1,000 profiles)" in what and not what.endswith("cache off"):
                ratio += " (target <= 1.5x floor)"
            if "10,000" in what and "deep" not in what:
                thousand = t[what.replace("10,000", "1,000")]
                ratio += f"; {seconds / thousand:.1f}x the 1,000-profile run (linear: <= 10x)"
            if "deep" in what:
                ratio += f"; {seconds:.2f} s (target < 2 s)"
        rows.append((what, seconds, ratio))
    print_table(f"Offline CLI (median of {REPEAT} interleaved rounds)", rows)


if __name__ == "__main__":
    main()
