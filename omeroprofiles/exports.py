"""``VARIABLE=value`` lines for ``eval``: every value comes back exactly, in whichever shell reads it.

``env`` and ``use --shell`` print lines that a person pastes into ``eval "$(...)"`` (bash, zsh,
dash), ``... | source`` (fish) or ``Invoke-Expression`` (PowerShell). The shell that evaluates
them is unknowable: ``$SHELL`` is the login shell, and fish started from a bash login still says
bash. So the syntax is never guessed from it. Values are not all ours (a session key comes from
the server, a group name or a ws/wss path is free text), so each line must be safe under every
shell, not only the one it is meant for:

- ``sh`` (the default; bash, zsh, dash and fish all read it the same, fish through its own
  ``export`` function): ``export NAME=value`` for values of letters, digits and ``_./:-``, else
  ``export NAME='...'``. Inside single quotes POSIX shells take every
  character literally; fish also reads ``\\'`` and ``\\\\``, and PowerShell ends a single-quoted
  string at any of ``' ‘ ’ ‚ ‛``. So those characters (and ``\\``) are never put inside single
  quotes: each stands alone in double quotes (``"'"``, ``"\\\\"``), where all of these shells read
  it literally and nothing else is inside for them to expand. PowerShell, given this line, fails
  on ``export`` without running anything: every piece is a literal string to it too.
- ``pwsh``: ``$env:NAME = '...'`` with PowerShell's own doubling of its five single quotes, and
  ``\\`` written as ``[char]92`` (outside the quotes), so a POSIX shell or fish that reads the
  line by mistake finds only literal text inside quotes and fails on ``$env:NAME``.

Values holding a control or other non-printable character (newline, tab, escape, bidi marks) are
refused: no form is read back the same everywhere, and they have no place in these values.
"""

from __future__ import annotations

import re
import sys

from .errors import ConfigError

SYNTAXES = ("sh", "pwsh")
"""What ``export_line`` can print."""

SHELLS = {"sh": "sh", "bash": "sh", "zsh": "sh", "dash": "sh", "ksh": "sh", "fish": "sh",
          "pwsh": "pwsh", "powershell": "pwsh"}
"""Shell names the CLI accepts (``env --shell``) and the syntax each gets."""

_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OWN_PIECE = "'\\\u2018\u2019\u201a\u201b"
"""Characters never put inside single quotes: POSIX ends a quoted string at ', fish reads \\' and \\\\,
PowerShell ends it at any of ' ‘ ’ ‚ ‛."""
_PWSH_QUOTES = "'\u2018\u2019\u201a\u201b"
_BARE = re.compile(r"[A-Za-z0-9_./:-]+")
"""Values no shell reads as anything but themselves unquoted (no ``~``: bash expands it after ':' in an assignment)."""


class UnsafeShellValue(ConfigError):
    """A value no shell syntax can carry exactly (exit 2); the message names the variable, never the value."""


def default_syntax() -> str:
    """``pwsh`` on Windows, ``sh`` elsewhere: from the platform, never from ``$SHELL`` (the login shell)."""
    return "pwsh" if sys.platform == "win32" else "sh"


def export_line(variable: str, value: str, shell: str | None = None) -> str:
    """The line that sets ``variable`` to exactly ``value``; ``shell`` is a name from ``SHELLS`` (None: the default).

    Every export goes through here. Raises ``UnsafeShellValue`` for a value holding a character
    that is not printable (the message says which variable and which character, not the value).
    """
    if not _VARIABLE.fullmatch(variable):
        raise ValueError(f"not an environment variable name: {variable!r}")
    syntax = SHELLS.get(shell or default_syntax())
    if syntax is None:
        raise ValueError(f"unknown shell {shell!r} (one of: {', '.join(SHELLS)})")
    bad = next((c for c in value if not c.isprintable()), None)
    if bad is not None:
        raise UnsafeShellValue(f"cannot write {variable} for a shell: its value holds U+{ord(bad):04X}, a control "
                               "or invisible character that shells do not all read back the same way")
    if syntax == "pwsh":
        return f"$env:{variable} = {_pwsh_word(value)}"
    return f"export {variable}={_sh_word(value)}"


def _sh_word(value: str) -> str:
    """One word that bash, zsh, dash and fish read as ``value`` (and PowerShell as literal text)."""
    if _BARE.fullmatch(value):  # a profile name, a port, a UUID: readable as it is, in every shell
        return value
    pieces: list[str] = []
    run: list[str] = []
    for char in value:
        if char in _OWN_PIECE:
            if run:
                pieces.append("'" + "".join(run) + "'")
                run = []
            pieces.append('"\\\\"' if char == "\\" else f'"{char}"')
        else:
            run.append(char)
    if run or not pieces:
        pieces.append("'" + "".join(run) + "'")
    return "".join(pieces)


def _pwsh_word(value: str) -> str:
    """A PowerShell expression for ``value``: quoted text joined by ``[char]92`` where ``\\`` was."""
    parts = ["'" + "".join(c * 2 if c in _PWSH_QUOTES else c for c in text) + "'" for text in value.split("\\")]
    return " + [char]92 + ".join(parts)
