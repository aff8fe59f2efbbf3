"""Offline CLI speed: `omero-profile list` / `show` on a 1,000-profile file.

Baselines measured in the same run: `python -c pass` (interpreter start) and
`python -c "import pydantic, click, pluggy"` (the libraries we cannot avoid loading).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from _util import median_seconds, print_table, run_command

REPEAT = int(os.environ.get("BENCH_REPEAT", "9"))


def main() -> None:
    bin_dir = Path(sys.executable).parent
    script = str(bin_dir / "omero-profile")
    with tempfile.TemporaryDirectory() as tmp:
        profiles = Path(tmp) / "profiles.toml"
        profiles.write_text("".join(
            f'[profiles.p{i}]\nhost = "host{i}.example.org"\ngroup = "Lab {i % 7}"\n'
            f'credentials = {{ source = "env" }}\n' for i in range(1000)))
        env = {**os.environ, "OMERO_PROFILES_FILE": str(profiles), "XDG_STATE_HOME": tmp,
               "OMERO_PROFILES_SYSTEM_FILE": str(Path(tmp) / "none.toml")}
        python_pass = median_seconds(run_command([sys.executable, "-c", "pass"]), REPEAT)
        imports = median_seconds(run_command([sys.executable, "-c", "import pydantic, click, pluggy"]), REPEAT)
        rows = [("python -c pass", python_pass, "1.00x (baseline)"),
                ("python -c 'import pydantic, click, pluggy'", imports, f"{imports / python_pass:.2f}x")]
        for args in (["list"], ["list", "--json"], ["show", "p500"], ["validate"]):
            t = median_seconds(run_command([script, *args], env), REPEAT)
            rows.append((f"omero-profile {' '.join(args)} (1,000 profiles)", t,
                         f"{t / python_pass:.2f}x pass, {t / imports:.2f}x imports"))
    print_table(f"Offline CLI (median of {REPEAT})", rows)


if __name__ == "__main__":
    main()
