"""Files that must not be damaged are never damaged, and nothing hangs or reads without end.

Real files, FIFOs, character devices, symlink loops, over-long names, read-only files and
directories, a lock held by another process, and writers killed mid-write, through the real CLI.
Every refusal is exit 2 with the path and the reason, and leaves the disk as it was. Cases where
a regression could hang or exhaust memory run the installed script as a subprocess with a
timeout (and a memory limit).

These tests run as root here. The kernel lets root write a 0444 file and into a 0555 directory,
so those rules are enforced by the code from the mode bits, and the tests below check the refusal
as root too (they do not rely on EACCES). Real OS refusals are exercised with errors root gets as
well: ENOTDIR, ELOOP, ENAMETOOLONG, and EPERM from an immutable directory (``chattr +i``).
"""

from __future__ import annotations

import os
import random
import re
import resource
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from file_helpers import OLD_MTIME_NS, snapshot, write_file
from timing_helpers import Pace

from omeroprofiles import writing
from omeroprofiles.files import tomllib
from omeroprofiles.filesystem import MAX_BYTES

GOOD = '# mine\n[profiles.a]\nhost = "a.example.org"\nport = 4064\n'

READS = [("validate",), ("list",), ("show", "a"), ("current",)]
EDITS = [("add", "z", "--host", "z.example.org"), ("set", "a", "port", "4063"), ("unset", "a", "port"),
         ("remove", "a"), ("init",), ("use", "a")]


def _write(path: Path, text: str = GOOD, mode: int = 0o644) -> Path:
    return write_file(path, text, mode)


_snapshot = snapshot


def _clean(result) -> str:
    out = result.stdout + result.stderr
    assert "Traceback" not in out and "internal error" not in out, out
    return out


def _script() -> str:
    script = Path(sys.executable).with_name("omero-profile")
    assert script.exists(), f"the omero-profile console script is not installed next to {sys.executable}"
    return str(script)


def _cli(*args: str, timeout: float = 60, memory: int | None = None) -> tuple[int, str]:
    """Run the installed script; a hang fails the test after ``timeout`` s instead of blocking the suite
    (a hang guard, not a speed claim: the messages say that a file was refused before it was read)."""
    def limit() -> None:
        if memory is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    try:
        proc = subprocess.run([_script(), *args], capture_output=True, text=True, timeout=timeout,
                              preexec_fn=limit)
    except subprocess.TimeoutExpired:
        pytest.fail(f"omero-profile {' '.join(args)} still running after {timeout} s")
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out and "internal error" not in out, out
    return proc.returncode, out


# -- not a regular file ---------------------------------------------------------------------------
def _null_device(tmp_path: Path) -> Path:
    """A character device of our own with /dev/null's numbers, so a regression replaces it, not /dev/null.

    Without root (mknod refused) the real /dev/null is used: a non-root user cannot replace it anyway.
    """
    node = tmp_path / "dev" / "null"
    node.parent.mkdir()
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        return Path("/dev/null")
    return node


def _is_null_device(path: Path) -> bool:
    st = os.lstat(path)
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)


@pytest.mark.parametrize("through_symlink", [False, True], ids=["device", "symlink-to-device"])
def test_character_device_is_never_read_as_a_file_nor_replaced(through_symlink: bool, tmp_path: Path, run) -> None:
    device = _null_device(tmp_path)
    config = device
    if through_symlink:
        config = tmp_path / "profiles.toml"
        config.symlink_to(device)
    for args in READS + EDITS:
        result = run("--config", str(config), *args)
        out = _clean(result)
        assert result.exit_code == 2, (args, out)
        assert f"{config}: is a character device, not a regular file" in out, (args, out)
        assert _is_null_device(device), f"{args} replaced the device node"
    if device != Path("/dev/null"):
        assert sorted(os.listdir(device.parent)) == ["null"]
    assert _is_null_device(Path("/dev/null"))


def test_dev_null_itself_is_refused(tmp_path: Path, run) -> None:
    # A private node first: if writes were not refused, this fails before /dev/null is ever offered.
    private = _null_device(tmp_path)
    assert run("--config", str(private), "add", "z", "--host", "z.example.org").exit_code == 2
    assert _is_null_device(private)
    for args in [*READS, ("add", "z", "--host", "z.example.org"), ("init",)]:
        result = run("--config", "/dev/null", *args)
        out = _clean(result)
        assert result.exit_code == 2, (args, out)
        assert "/dev/null: is a character device, not a regular file" in out
    assert _is_null_device(Path("/dev/null"))


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "conf" / "profiles.toml"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    for args in [("validate",), ("show", "a"), ("add", "z", "--host", "z.example.org"), ("set", "a", "port", "1"),
                 ("init",), ("use", "a")]:
        code, out = _cli("--config", str(fifo), *args)
        assert code == 2, (args, out)
        assert f"{fifo}: is a FIFO (named pipe), not a regular file" in out, (args, out)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and os.listdir(fifo.parent) == ["profiles.toml"]


def test_fifo_as_the_state_file_is_neither_read_nor_replaced(tmp_path: Path, isolated_env: Path) -> None:
    config = _write(tmp_path / "profiles.toml", 'default = "a"\n' + GOOD)
    state = isolated_env / ".local" / "state" / "omero-profiles" / "state.toml"
    state.parent.mkdir(parents=True)
    os.mkfifo(state)
    code, out = _cli("--config", str(config), "current")
    assert code == 0 and out.startswith("a    (default in"), out  # an unreadable state means "nothing chosen"
    code, out = _cli("--config", str(config), "use", "a")
    assert code == 2 and f"{state}: is a FIFO (named pipe), not a regular file; nothing was written" in out, out
    assert stat.S_ISFIFO(os.lstat(state).st_mode)


def test_dev_zero_is_refused_without_reading(tmp_path: Path) -> None:
    for args in [("validate",), ("add", "z", "--host", "z.example.org")]:
        code, out = _cli("--config", "/dev/zero", *args, memory=2 << 30)
        assert code == 2, (args, out)
        assert "/dev/zero: is a character device, not a regular file" in out
    assert stat.S_ISCHR(os.stat("/dev/zero").st_mode)


# -- too big, too deep ----------------------------------------------------------------------------
def test_huge_regular_file_is_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "profiles.toml"
    with open(big, "wb") as handle:
        handle.truncate(2 << 30)  # 2 GiB, sparse: nothing is written to disk
    os.utime(big, ns=(OLD_MTIME_NS, OLD_MTIME_NS))
    for args in [("validate",), ("add", "z", "--host", "z.example.org")]:
        code, out = _cli("--config", str(big), *args, memory=1 << 30)
        assert code == 2, (args, out)
        assert f"{big}: is too large to be a profiles file (2048.0 MiB; the limit is 4.0 MiB)" in out, out
    assert big.stat().st_size == 2 << 30 and big.stat().st_mtime_ns == OLD_MTIME_NS


def test_size_limit_boundary(tmp_path: Path, run) -> None:
    at_limit = tmp_path / "at.toml"
    at_limit.write_bytes(GOOD.encode() + b"#" * (MAX_BYTES - len(GOOD) - 1) + b"\n")
    assert at_limit.stat().st_size == MAX_BYTES
    result = run("--config", str(at_limit), "validate")
    assert result.exit_code == 0, result.stdout + result.stderr
    over = tmp_path / "over.toml"
    over.write_bytes(at_limit.read_bytes() + b"\n")
    result = run("--config", str(over), "validate")
    assert result.exit_code == 2 and f"{over}: is too large to be a profiles file" in result.stdout


def test_deeply_nested_value_is_located_and_never_edited(tmp_path: Path, run) -> None:
    deep = tmp_path / "profiles.toml"
    _write(deep, GOOD + "description = " + "[" * 500 + "]" * 500 + "\n")
    before = _snapshot(deep)
    for args in [("validate",), ("show", "a"), ("add", "z", "--host", "z.example.org"), ("set", "a", "port", "1"),
                 ("remove", "a")]:
        result = run("--config", str(deep), *args)
        out = _clean(result)
        assert result.exit_code == 2, (args, out)
        assert f"{deep}:5:115: TOML value nested more than 100 levels deep" in out, (args, out)
    assert _snapshot(deep) == before


def test_brackets_inside_strings_and_comments_are_not_nesting(tmp_path: Path, run) -> None:
    text = (GOOD + 'description = "' + "[" * 300 + '"\n' + "# " + "{" * 300 + "\n"
            + "[profiles.b]\nhost = 'b.example.org'\ndescription = '''\n" + "[" * 300 + "\n'''\n")
    path = _write(tmp_path / "profiles.toml", text)
    result = run("--config", str(path), "validate")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert run("--config", str(path), "set", "b", "port", "4063").exit_code == 0


# -- paths the OS refuses ------------------------------------------------------------------------
def _loop(tmp_path: Path) -> Path:
    loop = tmp_path / "loop.toml"
    loop.symlink_to(loop)
    return loop


def _through_a_file(tmp_path: Path) -> Path:
    (tmp_path / "a-file").write_text("x")
    return tmp_path / "a-file" / "profiles.toml"


def _long_name(tmp_path: Path) -> Path:
    return tmp_path / ("n" * 300 + ".toml")


@pytest.mark.parametrize(("make", "why"), [
    (_loop, "too many levels of symbolic links (a symlink loop?)"),
    (_through_a_file, "a part of the path is not a directory"),
    (_long_name, "the file name is too long"),
], ids=["symlink-loop", "path-through-a-file", "300-char-name"])
def test_paths_the_os_refuses_are_classified(make, why: str, tmp_path: Path, run) -> None:
    path = make(tmp_path)
    listing = sorted(os.listdir(tmp_path))
    for args in READS + EDITS:
        result = run("--config", str(path), *args)
        out = _clean(result)
        assert result.exit_code == 2, (args, out)
        assert f"{path}: {why}" in out, (args, out)
    assert sorted(os.listdir(tmp_path)) == listing


def test_state_directory_through_a_file_is_classified(tmp_path: Path, run, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _write(tmp_path / "profiles.toml")
    blocker = tmp_path / "state-is-a-file"
    blocker.write_text("x")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocker))
    result = run("--config", str(config), "use", "a")
    out = _clean(result)
    assert result.exit_code == 2
    assert f"{blocker}/omero-profiles" in out and "a part of the path is not a directory" in out, out
    assert blocker.read_text() == "x"


# -- read-only files and directories --------------------------------------------------------------
@pytest.mark.parametrize("mode", [0o444, 0o400, 0o555])
def test_file_without_write_bits_is_not_rewritten_even_by_root(mode: int, tmp_path: Path, run) -> None:
    path = _write(tmp_path / "conf" / "profiles.toml", mode=mode)
    if os.geteuid() == 0:
        assert os.access(path, os.W_OK)  # the kernel would let us: the refusal must come from the code
    before = _snapshot(path)
    for args in [("set", "a", "port", "4063"), ("add", "z", "--host", "z.example.org"), ("unset", "a", "port"),
                 ("remove", "a")]:
        result = run("--config", str(path), *args)
        out = _clean(result)
        assert result.exit_code == 2, (args, out)
        assert f"{path}: the file is read-only (mode {mode:04o}); nothing was written" in out, out
        assert f"chmod u+w '{path}'" in out
    assert _snapshot(path) == before
    path.chmod(0o644)
    assert run("--config", str(path), "set", "a", "port", "4063").exit_code == 0  # the same edit, allowed


def test_read_only_file_behind_a_symlink_is_named(tmp_path: Path, run) -> None:
    real = _write(tmp_path / "dotfiles" / "omero.toml", mode=0o444)
    link = tmp_path / "profiles.toml"
    link.symlink_to(real)
    before = _snapshot(real)
    result = run("--config", str(link), "set", "a", "port", "4063")
    assert result.exit_code == 2 and f"{real}: the file is read-only (mode 0444)" in _clean(result)
    assert _snapshot(real) == before and link.is_symlink()


@pytest.mark.parametrize("exists", [True, False], ids=["edit", "create"])
def test_directory_without_write_bits_is_refused_even_for_root(exists: bool, tmp_path: Path, run) -> None:
    directory = tmp_path / "conf"
    directory.mkdir()
    path = directory / "profiles.toml"
    if exists:
        _write(path)
    directory.chmod(0o555)
    try:
        listing = sorted(os.listdir(directory))
        before = _snapshot(path) if exists else None
        commands = [("set", "a", "port", "4063"), ("add", "z", "--host", "z.example.org"), ("remove", "a")] \
            if exists else [("init",), ("add", "z", "--host", "z.example.org")]
        for args in commands:
            result = run("--config", str(path), *args)
            out = _clean(result)
            assert result.exit_code == 2, (args, out)
            assert f"{directory}: the directory is read-only (mode 0555), so {path} cannot be written" in out, out
        assert sorted(os.listdir(directory)) == listing
        if exists:
            assert _snapshot(path) == before
    finally:
        directory.chmod(0o755)


def test_read_only_state_directory_is_refused_by_use(run, isolated_env: Path, tmp_path: Path) -> None:
    config = _write(tmp_path / "profiles.toml")
    state_dir = isolated_env / ".local" / "state" / "omero-profiles"
    state_dir.mkdir(parents=True)
    state_dir.chmod(0o555)
    try:
        for args in [("use", "a"), ("use", "--clear")]:
            result = run("--config", str(config), *args)
            out = _clean(result)
            assert result.exit_code == 2, (args, out)
            assert f"{state_dir}: the directory is read-only (mode 0555)" in out, out
        assert os.listdir(state_dir) == []
    finally:
        state_dir.chmod(0o755)


def _immutable(directory: Path) -> bool:
    """Make ``directory`` immutable (even root then gets EPERM); False if chattr cannot here."""
    chattr = shutil.which("chattr")
    if chattr is None or os.geteuid() != 0:
        return False
    return subprocess.run([chattr, "+i", str(directory)], capture_output=True).returncode == 0


def _mutable(directory: Path) -> None:
    subprocess.run([shutil.which("chattr") or "chattr", "-i", str(directory)], check=True)


def test_immutable_directory_gives_the_real_os_error(tmp_path: Path, run, isolated_env: Path) -> None:
    """The OS, not our mode check, refuses here: a 0755 directory that even root cannot write into."""
    directory = tmp_path / "conf"
    path = _write(directory / "profiles.toml")
    state_dir = isolated_env / ".local" / "state" / "omero-profiles"
    state_dir.mkdir(parents=True)
    if not _immutable(directory):
        pytest.skip("chattr +i is not available here (needs root and a file system that supports it); "
                    "real OS refusals are still covered by test_paths_the_os_refuses_are_classified")
    try:
        before = _snapshot(path)
        result = run("--config", str(path), "set", "a", "port", "4063")
        out = _clean(result)
        assert result.exit_code == 2, out
        assert (f"{path}: cannot create a temporary file in {directory}: operation not permitted "
                "(is the file or directory immutable?); nothing was written") in out, out
        assert _snapshot(path) == before
    finally:
        _mutable(directory)
    assert (state_dir / "locks").is_dir()  # made by the edit above; now the state file itself cannot be written
    assert _immutable(state_dir)
    try:
        result = run("--config", str(path), "use", "a")
        out = _clean(result)
        assert result.exit_code == 2, out
        assert (f"{state_dir}/state.toml: cannot create a temporary file in {state_dir}: operation not permitted"
                in out), out
        assert not (state_dir / "state.toml").exists()
    finally:
        _mutable(state_dir)


# -- the writers' lock --------------------------------------------------------------------------
def _hold_lock(path: Path) -> subprocess.Popen[str]:
    """Another process holding the writers' lock of ``path`` until its stdin is closed."""
    code = ("import sys\nfrom pathlib import Path\nfrom omeroprofiles.writing import locked\n"
            "with locked(Path(sys.argv[1])):\n    print('held', flush=True)\n    sys.stdin.read()\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    return holder


def _release(holder: subprocess.Popen[str]) -> None:
    assert holder.stdin is not None and holder.stdout is not None
    holder.stdin.close()
    assert holder.wait(timeout=30) == 0
    holder.stdout.close()


def test_busy_file_names_the_process_that_holds_the_lock(tmp_path: Path, run,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path / "profiles.toml")
    before = _snapshot(path)
    monkeypatch.setattr(writing, "LOCK_TIMEOUT", 1.0)
    holder = _hold_lock(path)
    try:
        started = time.monotonic()
        result = run("--config", str(path), "set", "a", "port", "4063")
        elapsed = time.monotonic() - started
        out = _clean(result)
        assert result.exit_code == 2, out
        assert re.search(rf"{re.escape(str(path))} is busy: process {holder.pid} \(python, since \d\d:\d\d:\d\d\) "
                         r"is changing it \(waited 1 s for it to finish\); nothing was written", out), out
        assert "lock file: " in out
        assert elapsed >= 1.0  # it waited LOCK_TIMEOUT...
        assert _snapshot(path) == before
    finally:
        _release(holder)
    pace = Pace()
    assert pace.measure(lambda: run("--config", str(path), "set", "a", "port", "4063")).exit_code == 0  # free again
    pace.check(elapsed, limit=1.0, idle_slack=9, what="a write to a busy file")  # ...and gave up then


def test_a_killed_lock_holder_does_not_block_the_next_writer(tmp_path: Path, run,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path / "profiles.toml")
    monkeypatch.setattr(writing, "LOCK_TIMEOUT", 60.0)  # waiting for it would show: no writer takes that long
    holder = _hold_lock(path)
    holder.kill()
    holder.wait(timeout=30)
    for stream in (holder.stdin, holder.stdout):
        assert stream is not None
        stream.close()
    started = time.monotonic()
    assert run("--config", str(path), "set", "a", "port", "4063").exit_code == 0
    assert time.monotonic() - started < writing.LOCK_TIMEOUT  # did not wait for the dead holder's lock


# -- writers killed mid-write --------------------------------------------------------------------
_STALLED_WRITER = """
import os, sys, time
from pathlib import Path
from omeroprofiles import writing

def stall(fd):
    print("writing", flush=True)
    time.sleep(120)

writing.os.fsync = stall
path = Path(sys.argv[1])
with writing.locked(path):
    writing.atomic_write(path, "half written\\n")
"""


def test_temp_file_of_a_killed_writer_is_removed_by_the_next(tmp_path: Path, run) -> None:
    path = _write(tmp_path / "conf" / "profiles.toml")
    writer = subprocess.Popen([sys.executable, "-c", _STALLED_WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None and writer.stdout.readline() == "writing\n"
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    writer.stdout.close()
    leftovers = [n for n in os.listdir(path.parent) if n != "profiles.toml"]
    assert len(leftovers) == 1 and re.fullmatch(r"\.profiles\.toml\.[a-z0-9_]{8}\.tmp", leftovers[0]), leftovers
    assert path.read_text() == GOOD  # the kill left the old file whole
    keep = [".other.toml.abcdefgh.tmp", "notes.tmp", ".profiles.toml.bak"]
    for name in keep:
        (path.parent / name).write_text("not ours")

    assert run("--config", str(path), "set", "a", "port", "4063").exit_code == 0
    assert sorted(os.listdir(path.parent)) == sorted(["profiles.toml", *keep])
    assert tomllib.loads(path.read_text())["profiles"]["a"]["port"] == 4063


def test_killed_writers_leave_a_whole_file_and_the_next_writer_cleans_up(tmp_path: Path) -> None:
    path = _write(tmp_path / "conf" / "profiles.toml")
    rng = random.Random(157)
    for i in range(12):
        writer = subprocess.Popen([_script(), "--config", str(path), "set", "a", "port", str(5000 + i)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, 0.6))
        writer.kill()
        writer.wait(timeout=30)
        data = tomllib.loads(path.read_text())  # old or new, never half
        assert data["profiles"]["a"]["host"] == "a.example.org"
    code, out = _cli("--config", str(path), "set", "a", "port", "4063")
    assert code == 0, out
    assert os.listdir(path.parent) == ["profiles.toml"]
