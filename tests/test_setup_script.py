"""scripts/setup.sh's interpreter pick and scripts/build_zeroc_ice.py's cache writes and patches."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"

spec = importlib.util.spec_from_file_location("build_zeroc_ice", SCRIPTS / "build_zeroc_ice.py")
build_zeroc_ice = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_zeroc_ice)


def pick_python_functions() -> str:
    """The bash functions that choose the interpreter, cut out of setup.sh."""
    text = (SCRIPTS / "setup.sh").read_text()
    one_liners = re.findall(r"^(?:log|usable_python)\(\) .*$", text, flags=re.M)
    pick = re.search(r"^pick_python\(\) \{$.*?^\}$", text, flags=re.M | re.S)
    assert len(one_liners) == 2 and pick
    return "\n".join([*one_liners, pick.group(0)])


def run_pick(bindir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    script = pick_python_functions() + "\npick_python"
    bash = shutil.which("bash")
    return subprocess.run([bash, "-c", script], env={"PATH": str(bindir), **env}, capture_output=True, text=True)


def executable(path: Path, body: str) -> Path:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def bindir(tmp_path: Path) -> Path:
    """A PATH of its own: a python3.11 that fails like an inactive pyenv shim, and a working python3."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    executable(bindir / "python3.11", 'echo "pyenv: python3.11: command not found" >&2; exit 127')
    executable(bindir / "python3", f'exec "{sys.executable}" "$@"')
    return bindir


def test_pick_skips_a_candidate_that_does_not_run(bindir: Path) -> None:
    result = run_pick(bindir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(bindir / "python3")


def test_pick_says_clearly_when_nothing_runs(bindir: Path) -> None:
    (bindir / "python3").unlink()
    result = run_pick(bindir)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "no usable Python found" in result.stderr and "OMERO_PROFILES_PYTHON" in result.stderr


def test_pick_checks_an_explicit_interpreter_too(bindir: Path) -> None:
    result = run_pick(bindir, OMERO_PROFILES_PYTHON=str(bindir / "python3.11"))
    assert result.returncode == 1
    assert "does not run" in result.stderr


def test_wheel_reaches_the_cache_whole_and_nothing_else_is_left(tmp_path: Path) -> None:
    wheel = tmp_path / "build" / "zeroc_ice-3.6.5-cp311-cp311-linux_x86_64.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(b"wheel" * 100_000)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / wheel.name).write_bytes(b"half-written")  # an older, broken copy is replaced

    cached = build_zeroc_ice.cache_atomically(wheel, cache)

    assert cached == cache / wheel.name
    assert cached.read_bytes() == wheel.read_bytes()
    assert [p.name for p in cache.iterdir()] == [wheel.name]


def test_source_patches_apply_once_and_setup_py_stays_valid(tmp_path: Path) -> None:
    src = tmp_path / "zeroc-ice-3.6.5"
    (src / "src").mkdir(parents=True)
    (src / "lib").mkdir()
    (src / "src" / "Slice.cpp").write_text('#include <eval.h>\n#include "x.h"\n')
    (src / "src" / "Util.cpp").write_text("PyFrameObject* f = PyThreadState_GET()->frame;\n")
    (src / "lib" / "Ice.py").write_text("import sys, string, imp, os, threading\nm = imp.new_module(name)\n")
    (src / "setup.py").write_text(
        "from setuptools import setup\nextra_compile_args = []\nextra_compile_args.append('-w')\n"
    )

    build_zeroc_ice.patch_sources(src, jobs=2)
    build_zeroc_ice.patch_sources(src, jobs=2)

    assert "eval.h" not in (src / "src" / "Slice.cpp").read_text()
    assert "PyEval_GetFrame()" in (src / "src" / "Util.cpp").read_text()
    assert "imp" not in re.findall(r"\w+", (src / "lib" / "Ice.py").read_text())
    setup_py = (src / "setup.py").read_text()
    assert setup_py.count("_parallel_compile(self") == 1
    assert "max_workers=2" in setup_py
    assert "extra_compile_args.extend(['-w', '-g0'])" in setup_py
    compile(setup_py, "setup.py", "exec")
