"""Ask the person at the terminal: what ``source = "prompt"`` uses, offered to plugins as ``ask``.

Public and stable: ``from omeroprofiles.credentials import ask``. A plugin that needs a one-time
code, a passphrase or a user name it cannot know calls it from ``fetch``; without a terminal it
fails the same way ``prompt`` does (exit 4, at once, never waiting on a pipe).
"""

from __future__ import annotations

import getpass
import sys
from typing import Any

from ..errors import CredentialError


def ask(profile: Any, question: str, *, secret: bool = False) -> str:
    """The answer typed at the terminal to ``question`` (e.g. ``"OMERO password for alice@host:4064"``).

    The question goes to the terminal (``secret``: typed without echo, via ``getpass``) or to
    stderr, never to stdout, which may be a pipe the caller reads. A visible answer is stripped of
    surrounding blanks; a secret is kept as typed. Raises ``CredentialError`` (exit 4), naming
    the profile and its credential source but never the answer, when standard input is not a
    terminal (a script, a pipeline, a batch job), when input ends or is interrupted, or when the
    answer is empty. Call it from ``fetch`` only: ``list``, ``show`` and ``validate`` never ask.
    """
    where = f"profile '{profile.name}': credentials source '{profile.source}'"
    if not (sys.stdin and sys.stdin.isatty()):
        raise CredentialError(
            f"{where} needs a terminal to ask for {question}, and standard input is not one (use "
            "source = \"env\" or \"keyring\" for scripts and pipelines)"
        )
    try:
        if secret:
            answer = getpass.getpass(f"{question}: ")
        else:
            sys.stderr.write(f"{question}: ")
            sys.stderr.flush()
            line = sys.stdin.readline()
            if not line:
                raise EOFError
            answer = line.strip()
    except (EOFError, KeyboardInterrupt):
        raise CredentialError(f"{where}: nothing entered for {question}") from None
    if not answer:
        raise CredentialError(f"{where}: nothing entered for {question}")
    return answer
