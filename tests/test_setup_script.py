"""scripts/setup.sh's interpreter pick and scripts/build_zeroc_ice.py's cache writes and patches."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
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


def test_pick_finds_python3_13_when_it_is_the_only_one(tmp_path: Path) -> None:
    """Debian 13 and current Fedora ship 3.13; a python3 too old beside it must not hide it."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    executable(bindir / "python3", 'echo "Python 3.9" >&2; exit 1')  # what a too-old python3 amounts to here
    executable(bindir / "python3.13", f'exec "{sys.executable}" "$@"')
    result = run_pick(bindir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(bindir / "python3.13")


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
    others = ["zeroc_ice-3.6.5-cp310-cp310-linux_x86_64.whl", "zeroc_ice-3.6.5-cp313-cp313-linux_x86_64.whl"]
    for name in others:  # other Python versions' wheels stay
        (cache / name).write_bytes(b"another version")

    cached = build_zeroc_ice.cache_atomically(wheel, cache)

    assert cached == cache / wheel.name
    assert cached.read_bytes() == wheel.read_bytes()
    assert sorted(p.name for p in cache.iterdir()) == sorted([wheel.name, *others])
    assert all((cache / name).read_bytes() == b"another version" for name in others)


def _fake_ice_wheel(cache: Path, python_tag: str) -> Path:
    """A minimal valid zeroc-ice 3.6.5 wheel for ``python_tag`` on this platform (metadata only)."""
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    tag = f"{python_tag}-{python_tag}-{platform}"
    path = cache / f"zeroc_ice-3.6.5-{tag}.whl"
    info = "zeroc_ice-3.6.5.dist-info"
    files = {f"{info}/METADATA": "Metadata-Version: 2.1\nName: zeroc-ice\nVersion: 3.6.5\n",
             f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\nTag: {tag}\n"}
    files[f"{info}/RECORD"] = "".join(f"{name},,\n" for name in [*files, f"{info}/RECORD"])
    with zipfile.ZipFile(path, "w") as whl:
        for name, text in files.items():
            whl.writestr(name, text)
    return path


def test_the_cache_holds_a_wheel_per_python_and_pip_picks_this_ones(tmp_path: Path) -> None:
    """What setup.sh runs to install from the cache, as a dry run: the wheel of the running Python wins."""
    cache = tmp_path / "wheels"
    cache.mkdir()
    wheels = {tag: _fake_ice_wheel(cache, tag) for tag in ("cp310", "cp311", "cp312", "cp313")}
    mine = "cp{}{}".format(*sys.version_info[:2])
    assert mine in wheels, "a Python this project does not support"
    report = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report", "-", "--ignore-installed",
         "--no-index", "--find-links", str(cache), "zeroc-ice==3.6.5"],
        capture_output=True, text=True, timeout=300)
    assert report.returncode == 0, report.stderr
    [chosen] = json.loads(report.stdout)["install"]
    assert Path(chosen["download_info"]["url"]).name == wheels[mine].name


def test_source_patches_apply_once_and_setup_py_stays_valid(tmp_path: Path) -> None:
    src = tmp_path / "zeroc-ice-3.6.5"
    (src / "src").mkdir(parents=True)
    (src / "lib").mkdir()
    (src / "src" / "Slice.cpp").write_text('#include <eval.h>\n#include "x.h"\n')
    (src / "src" / "Util.cpp").write_text("PyFrameObject* f = PyThreadState_GET()->frame;\n"
                                          "return PyEval_CallObject(type, args.get());\n")
    (src / "src" / "Types.cpp").write_text(
        "#include <list>\nusing namespace std;\nusing namespace IceUtilInternal;\n\nnamespace IcePy\n{\n"
        "PyObjectHandle sd = PyEval_CallObject(_slicedDataType, args.get());\n"
        "if(PyObject_AsReadBuffer(p, &buf, &sz) == 0)\n"
        "PyErr_Clear(); // PyObject_AsReadBuffer sets an exception on failure.\n}\n")
    (src / "lib" / "Ice.py").write_text("import sys, string, imp, os, threading\nm = imp.new_module(name)\n")
    (src / "setup.py").write_text(
        "from setuptools import setup\nextra_compile_args = []\nextra_compile_args.append('-w')\n"
    )

    build_zeroc_ice.patch_sources(src, jobs=2)
    build_zeroc_ice.patch_sources(src, jobs=2)

    assert "eval.h" not in (src / "src" / "Slice.cpp").read_text()
    util_cpp = (src / "src" / "Util.cpp").read_text()
    assert "PyEval_GetFrame()" in util_cpp and "PyObject_CallObject(type, args.get())" in util_cpp
    types_cpp = (src / "src" / "Types.cpp").read_text()
    # Python 3.13 removed both; what replaces them exists in every Python from 3.10 on
    assert "PyEval_CallObject(" not in types_cpp and "PyObject_AsReadBuffer(" not in types_cpp
    assert types_cpp.count("static int\nomeroProfilesAsReadBuffer(PyObject* obj") == 1
    assert types_cpp.index("using namespace IceUtilInternal;") < types_cpp.index("omeroProfilesAsReadBuffer(PyObject*")
    assert "if(omeroProfilesAsReadBuffer(p, &buf, &sz) == 0)" in types_cpp
    assert "imp" not in re.findall(r"\w+", (src / "lib" / "Ice.py").read_text())
    setup_py = (src / "setup.py").read_text()
    assert setup_py.count("_parallel_compile(self") == 1
    assert "max_workers=2" in setup_py
    assert "extra_compile_args.extend(['-w', '-g0'])" in setup_py
    compile(setup_py, "setup.py", "exec")


SMOKE_SLICE = """
#include <Ice/BuiltinSequences.ice>
module OmeroProfilesIceSmoke {
  exception Oops { string why; };
  interface Echo {
    int sum(Ice::IntSeq values);
    int size(Ice::ByteSeq data);
    void fail(string why) throws Oops;
  };
};
"""


def test_the_installed_ice_runs_the_patched_calls(tmp_path: Path) -> None:
    """The code the build patches, run for real over a loopback connection: sequences passed as
    buffers (PyObject_AsReadBuffer's replacement) and exceptions made on the way back
    (PyEval_CallObject's), for a user exception and an Ice one."""
    import array

    import Ice

    slice_file = tmp_path / "smoke.ice"
    slice_file.write_text(SMOKE_SLICE)
    Ice.loadSlice(f"-I{Ice.getSliceDir()} {slice_file}")
    import OmeroProfilesIceSmoke as smoke

    class Echo(smoke.Echo):
        def sum(self, values, current=None):
            return sum(values)

        def size(self, data, current=None):
            return len(data)

        def fail(self, why, current=None):
            raise smoke.Oops(why)

    communicator = Ice.initialize()
    try:
        adapter = communicator.createObjectAdapterWithEndpoints("smoke", "tcp -h 127.0.0.1")
        echo = smoke.EchoPrx.uncheckedCast(adapter.addWithUUID(Echo()))
        adapter.activate()
        assert echo.sum(array.array("i", [1, 2, 3, 40])) == 46  # a buffer
        assert echo.sum([1, 2, 3]) == 6  # not a buffer: the sequence path
        assert echo.size(b"\x00" * 100_000) == 100_000 and echo.size(bytearray(b"xyz")) == 3
        with pytest.raises(ValueError):
            echo.sum("not a sequence")
        with pytest.raises(smoke.Oops, match="on purpose"):
            echo.fail("on purpose")
        with pytest.raises(Ice.ObjectNotExistException):
            smoke.EchoPrx.uncheckedCast(communicator.stringToProxy(f"nobody:{adapter.getEndpoints()[0]}")).sum([1])
    finally:
        communicator.destroy()
