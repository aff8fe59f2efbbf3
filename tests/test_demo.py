"""The README's main command: the live demo runs end to end and leaves no session open."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parents[1] / "scripts" / "demo.py"


def test_demo_runs_against_the_stand_in(tmp_path):
    done = subprocess.run([sys.executable, str(DEMO)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "user:     bob (id" in done.stdout and "via su by root" in done.stdout
    assert "connected as alice in group lab-shared" in done.stdout
    assert "Sessions left open on the server: 0" in done.stdout
    assert "Demo OK." in done.stdout
    assert "alice-pw" not in done.stdout.replace('password = "alice-pw"', "")
