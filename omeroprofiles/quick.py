"""Answer `current` and profile-name completion from the TOML alone: no click, pydantic or plugins.

A shell prompt may run ``omero-profile current`` before every command line, and TAB runs the
completion; both need names only (``catalog``, kept between runs by ``namecache``), not
validated profiles. Each answer here is what the full click command would print (stdout, stderr
and exit status, its errors included: the same ``select`` words them from the same catalog), or
None whenever it cannot be given cheaply and exactly: an option or a form of the command line it
does not know, ``--debug`` with an error (the full command adds a traceback), shell quoting,
output that is not plain ASCII. The caller then runs the full command, which has the last word.
tests/test_quick.py runs both on the same inputs and compares their output.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from . import namecache
from .active import select
from .constants import PROG
from .errors import ProfileError, report_lines
from .locations import locate
from .text import printable

COMPLETE_VAR = "_OMERO_PROFILE_COMPLETE"
"""Click's completion instruction variable for the program name 'omero-profile'."""

PROFILE_COMMANDS = frozenset({
    ("show",), ("use",), ("test",), ("groups",), ("login",), ("logout",), ("env",), ("remove",), ("set",),
    ("unset",), ("password", "set"), ("password", "delete"), ("password", "check"), ("status",), ("doctor",),
})
"""Commands whose first argument is a profile name (a test checks this against the click commands)."""

_FORMATS = {"bash_complete": "plain,{}", "zsh_complete": "plain\n{}\n_", "fish_complete": "plain,{}"}
"""How click writes one completion for each shell (``ShellComplete.format_completion``)."""

_SHELL_WORDS = re.compile(r"[^'\"\\]*")
"""Text that click's shell-like splitting (shlex) splits on whitespace alone: no quotes, no escapes."""

_SPACE = re.compile(r"[ \t\r\n]+")
_PARTIAL_NAME = re.compile(r"[A-Za-z0-9._][A-Za-z0-9._-]*|")


class Answer(NamedTuple):
    """What the command prints and its exit status."""

    out: str
    err: str = ""
    status: int = 0


def answer(argv: Sequence[str], environ: Mapping[str, str]) -> Answer | None:
    """The result of ``omero-profile ARGV``, if it is ``current`` or name completion; else None.

    ``environ`` carries the completion request; the files and the active profile are found from
    the process environment, as the click command finds them.
    """
    try:
        if environ.get(COMPLETE_VAR):
            text = complete(environ)
            return None if text is None else Answer(text)
        return current(argv)
    except Exception:  # anything unexpected: the full command answers (and reports it properly)
        return None


class _Options(NamedTuple):
    config: str | None
    debug: bool
    rest: list[str]


def _global_options(args: Sequence[str]) -> _Options | None:
    """``--config PATH`` and ``--debug`` before the command, and the rest; None for anything else."""
    config: str | None = None
    debug = False
    rest = list(args)
    while rest and rest[0].startswith("-"):
        option = rest.pop(0)
        if option == "--debug":
            debug = True
            continue
        if option == "--config" and rest and rest[0] and not rest[0].startswith("-"):
            config = rest.pop(0)
        elif option.startswith("--config=") and len(option) > len("--config="):
            config = option[len("--config="):]
        else:
            return None
    return _Options(config, debug, rest)


def current(argv: Sequence[str]) -> Answer | None:
    """``current`` and ``current --json``: the active profile, or the error the full command reports."""
    parsed = _global_options(argv)
    if parsed is None or parsed.rest not in (["current"], ["current", "--json"]):
        return None
    try:
        selection = select(namecache.load(locate(parsed.config)))
    except ProfileError as exc:
        if parsed.debug:
            return None  # the full command also prints the traceback
        err = "".join(line + "\n" for line in report_lines(exc, PROG))
        return Answer("", err, exc.exit_code) if err.isascii() else None
    if parsed.rest[-1] == "--json":
        import json  # only --json needs it

        text = json.dumps({"name": selection.name, "reason": selection.reason, "detail": selection.detail},
                          indent=2)
    else:
        text = printable(f"{selection.name}    ({selection.detail})")
    return Answer(text + "\n") if text.isascii() else None


def complete(environ: Mapping[str, str]) -> str | None:
    """Click's completion output when the word being completed is a command's profile NAME; else None."""
    line = _FORMATS.get(environ.get(COMPLETE_VAR, ""))
    words_text, cword_text = environ.get("COMP_WORDS", ""), environ.get("COMP_CWORD", "")
    if line is None or not _SHELL_WORDS.fullmatch(words_text) or not _SHELL_WORDS.fullmatch(cword_text):
        return None
    if any(c.isspace() and c not in " \t\r\n" for c in words_text + cword_text):
        return None  # whitespace that str.split and shlex treat differently
    words = [w for w in _SPACE.split(words_text) if w]
    if environ[COMPLETE_VAR] == "fish_complete":
        partial = [w for w in _SPACE.split(cword_text) if w]
        if cword_text and not partial:
            return None
        incomplete = partial[0] if partial else ""
        args = words[1:]
        if incomplete and args and args[-1] == incomplete:
            args.pop()
    else:
        if not cword_text.isdigit():
            return None
        cword = int(cword_text)
        args = words[1:cword]
        incomplete = words[cword] if cword < len(words) else ""
    parsed = _global_options(args)
    if parsed is None or tuple(parsed.rest) not in PROFILE_COMMANDS or not _PARTIAL_NAME.fullmatch(incomplete):
        return None
    names = namecache.load(locate(parsed.config)).names()
    return "\n".join(line.format(name) for name in names if name.startswith(incomplete)) + "\n"
