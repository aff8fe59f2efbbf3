"""Build a zeroc-ice 3.6.5 wheel that works on Python >= 3.11, and cache it.

omero-py needs zeroc-ice>=3.6.5,<3.7. PyPI has 3.6.5 only as a source archive whose C code
predates Python 3.11 (and whose Python code predates 3.12). We apply the three small fixes
described in the README's set-up section, build a wheel once, and keep it in the user's cache
so that every later set-up installs it in seconds.

Usage: python scripts/build_zeroc_ice.py CACHE_DIR   (prints the wheel path)
"""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys
import tarfile
import tempfile

VERSION = "3.6.5"


def patch_sources(src: pathlib.Path) -> None:
    """Apply the Python >= 3.11 / 3.12 fixes; each is a no-op if already applied."""
    slice_cpp = src / "src" / "Slice.cpp"
    text = slice_cpp.read_text()
    slice_cpp.write_text(text.replace("#include <eval.h>\n", ""))

    util_cpp = src / "src" / "Util.cpp"
    text = util_cpp.read_text()
    util_cpp.write_text(text.replace("PyThreadState_GET()->frame", "PyEval_GetFrame()"))

    ice_py = src / "lib" / "Ice.py"
    text = ice_py.read_text()
    text = re.sub(r"^import sys, string, imp, os,", "import sys, string, types, os,", text, flags=re.M)
    text = text.replace("imp.new_module(", "types.ModuleType(")
    ice_py.write_text(text)


def main() -> int:
    cache = pathlib.Path(sys.argv[1])
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="zeroc-ice-build-") as tmp:
        work = pathlib.Path(tmp)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
             f"zeroc-ice=={VERSION}", "-d", str(work)],
            check=True,
        )
        archive = next(work.glob("zeroc-ice-*.tar.gz"))
        with tarfile.open(archive) as tar:
            tar.extractall(work, filter="data") if sys.version_info >= (3, 12) else tar.extractall(work)
        src = work / f"zeroc-ice-{VERSION}"
        patch_sources(src)
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
             "-w", str(cache), str(src)],
            check=True,
        )
    wheels = sorted(cache.glob(f"zeroc_ice-{VERSION}-*.whl"))
    if not wheels:
        print("zeroc-ice build produced no wheel", file=sys.stderr)
        return 1
    print(wheels[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
