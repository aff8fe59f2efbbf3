"""`env` and `use --shell` print lines for `eval`: every value must come back exactly, never as code.

Values are not all ours: a session key comes from the server, a ws/wss host's path is free text.
Each shell has its own single-quote rules: fish also reads \\' and \\\\ inside single quotes, and
PowerShell takes the typographic quotes ‘ ’ ‚ ‛ as single quotes too.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from omeroprofiles.active import export_line

HOSTILE = [
    "plain",
    "it's",
    "\\';\"; echo PWNED; #",  # breaks out of shlex.quote's quoting in fish
    "a\\",
    "back\\\\slash\\'",
    "x\u2019; Write-Output PWNED; \u2018",  # typographic quotes end a PowerShell string
    "$(echo PWNED) `echo PWNED` $HOME",
    "new\nline",
]
PWSH_QUOTES = "'\u2018\u2019\u201a\u201b"


def _fish_single_quoted(text: str) -> str:
    """fish's reading of one single-quoted word (the only escapes inside are \\' and \\\\), or a bare safe one."""
    if text.isalnum():
        return text
    assert text[0] == "'" and text[-1] == "'"
    out, i, body = [], 0, text[1:-1]
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body) and body[i + 1] in "'\\":
            out.append(body[i + 1])
            i += 2
            continue
        assert c != "'", f"an unescaped quote ends the word early: {text!r}"
        out.append(c)
        i += 1
    return "".join(out)


def _pwsh_single_quoted(text: str) -> str:
    """PowerShell's reading of one single-quoted string (any of ' ‘ ’ ‚ ‛, doubled, is one literal)."""
    assert text[0] == "'" and text[-1] == "'"
    out, i, body = [], 0, text[1:-1]
    while i < len(body):
        c = body[i]
        if c in PWSH_QUOTES:
            assert i + 1 < len(body) and body[i + 1] in PWSH_QUOTES, f"a quote ends the string early: {text!r}"
            out.append(c)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


@pytest.mark.parametrize("value", HOSTILE)
def test_fish_reads_back_the_value(value):
    line = export_line("X", value, "fish")
    assert line.startswith("set -gx X ")
    assert _fish_single_quoted(line[len("set -gx X "):]) == value


@pytest.mark.parametrize("value", HOSTILE)
def test_powershell_reads_back_the_value(value):
    line = export_line("X", value, "pwsh")
    assert line.startswith("$env:X = ")
    assert _pwsh_single_quoted(line[len("$env:X = "):]) == value


@pytest.mark.parametrize("shell", ["sh", "bash", "fish"])
def test_real_shells_read_back_every_value(shell):
    """The same through the real shells: sh and bash are everywhere; fish where installed (the rule test
    above holds it to fish's documented rules everywhere)."""
    program = shutil.which(shell)
    if program is None:
        assert shell == "fish", f"{shell} is not installed"
        pytest.skip("fish is not installed (scripts/test.sh installs it when it can: root with apt-get)")
    for value in HOSTILE:
        script = export_line("X", value, shell) + "\nprintf '%s' \"$X\"\n"
        result = subprocess.run([program, "-c", script], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        assert result.stdout == value
