"""``omeroprofiles.credentials.ask``: the builtins' terminal prompt, public for plugins.

Driven through a real pseudo-terminal (``pty``): the question appears, a secret is not echoed,
and without a terminal the answer is a CredentialError (exit 4) at once, never a wait on a pipe.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from omeroprofiles import CredentialError
from omeroprofiles.credentials import ask

ASKER = """
from types import SimpleNamespace
from omeroprofiles.credentials import ask
from omeroprofiles.errors import CredentialError
profile = SimpleNamespace(name="vaulted", source="keepass")
try:
    user = ask(profile, "KeePass entry for host")
    secret = ask(profile, "KeePass master password", secret=True)
    print("ANSWERS", repr(user), repr(secret), flush=True)
except CredentialError as exc:
    print("ERROR", exc, flush=True)
"""


def _read_until(fd: int, marker: bytes, deadline: float) -> bytes:
    seen = b""
    while marker not in seen:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"no {marker!r} from the terminal; got {seen!r}"
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    return seen


def _on_a_terminal(answers: list[bytes]) -> bytes:
    """Run ASKER on a pseudo-terminal, typing ``answers`` as the questions appear; everything it showed."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: stdin, stdout and stderr are the terminal
        os.execv(sys.executable, [sys.executable, "-c", ASKER])
    deadline = time.monotonic() + 60
    shown = b""
    try:
        for question, answer in zip((b"KeePass entry for host: ", b"KeePass master password: "), answers,
                                    strict=False):
            shown += _read_until(fd, question, deadline)
            os.write(fd, answer)
        shown += _read_until(fd, b"\n", deadline) if answers else b""
        shown += _read_until(fd, b"ERROR" if len(answers) < 2 else b"ANSWERS", deadline)
        shown += _read_until(fd, b"\n", deadline)
    finally:
        os.waitpid(pid, 0)
        os.close(fd)
    return shown


def test_ask_asks_on_the_terminal_and_hides_a_secret():
    shown = _on_a_terminal([b"  ann  \n", b" s3 cret \n"])
    assert b"ANSWERS 'ann' ' s3 cret '" in shown, shown
    assert shown.count(b"s3 cret") == 1, f"the secret was echoed: {shown!r}"


def test_an_empty_answer_or_end_of_input_is_a_credential_error():
    shown = _on_a_terminal([b"\n"])
    assert b"ERROR profile 'vaulted': credentials source 'keepass': nothing entered for KeePass entry for host" \
        in shown, shown
    shown = _on_a_terminal([b"ann\n", b"\x04"])  # Ctrl-D at the hidden prompt
    assert b"ERROR profile 'vaulted': credentials source 'keepass': nothing entered for KeePass master password" \
        in shown, shown


@pytest.mark.parametrize("secret", [False, True])
def test_without_a_terminal_it_fails_at_once_naming_the_profile_and_source(secret):
    """A batch job has no one to answer: exit 4 straight away (a pipe that never closes must not hang it)."""
    reader, writer = os.pipe()  # never written to, never closed by us until the end: a read would block
    try:
        done = subprocess.run([sys.executable, "-c", ASKER.replace("secret=True", f"secret={secret}")],
                              stdin=reader, capture_output=True, text=True, timeout=60)
    finally:
        os.close(reader)
        os.close(writer)
    assert done.stdout.startswith("ERROR profile 'vaulted': credentials source 'keepass' needs a terminal"), done


def test_in_process_it_is_the_same_function_the_prompt_source_uses(monkeypatch):
    from omeroprofiles.credentials import prompt

    assert prompt.ask is ask
    with pytest.raises(CredentialError, match="needs a terminal") as info:
        ask(SimpleNamespace(name="p", source="mine"), "Token")  # pytest's stdin is not a terminal
    assert info.value.exit_code == 4
