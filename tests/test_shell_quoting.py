"""`env` and `use --shell` print lines for `eval`: every value comes back exactly, in every shell, never as code.

The shell that evaluates a line is unknowable (``$SHELL`` is the login shell: fish started from a
bash login says bash), so every line the tool can print is evaluated by every shell: the line
meant for it must give back exactly the value, and a line meant for another shell must set
nothing and run nothing. Values are not all ours: a session key comes from the server, a group
or user name and a ws/wss path are free text. Each hostile value tries to run ``pwned`` (a
program on PATH that writes a marker file) the way some shell would run it.

bash, zsh, dash and fish run for real (``scripts/test.sh`` installs them as root on Debian; a
missing one fails the test with that reason). PowerShell is not in Debian, PyPI or npm in a form
that runs here (npm's ``pwsh`` downloads a build at install time; PyPI's ``pwsh`` holds only
reference assemblies), so its lines are checked without it: the pwsh syntax through the
tree-sitter PowerShell grammar (it must parse as one assignment of literal strings, which are
then read by PowerShell's documented quoting rules), the sh syntax by those rules alone.

To cover a new exported value (the lead's OMERO_USER, OMERO_GROUP, ...), add rows to HOSTILE:
every export goes through ``export_line``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest

from omeroprofiles.active import export_line


class Hostile(NamedTuple):
    field: str
    """Where such a value comes from."""
    value: str


HOSTILE = [
    Hostile("profile name", "prod"),
    Hostile("profile name", "a-b.c_9"),
    Hostile("host URL (ws path)", "wss://h.example.org:443/omero-ws"),
    Hostile("host URL (ws path)", "ws://h.example.org:8080/$(pwned);pwned;&pwned&*"),
    Hostile("host URL (ws path)", "wss://h.example.org/omero-ws/~!$&()*+,;=@%27`"),
    Hostile("session key (server)", "\\';\";pwned;#"),  # ended shlex.quote's quoting under fish
    Hostile("session key (server)", "\\';pwned;#"),  # balanced quotes for fish inside a pwsh string
    Hostile("session key (server)", "x\u2019; pwned; \u2018"),  # typographic quotes end a PowerShell string
    Hostile("session key (server)", "\u201c$(pwned)\u201d \u201e;pwned;\u201d"),  # typographic double quotes
    Hostile("session key (server)", "$(pwned) `pwned` (pwned) $HOME ${HOME} %PATH% @(pwned) `$(pwned)"),
    Hostile("session key (server)", "'; pwned; '"),
    Hostile("session key (server)", "\"; pwned; \""),
    Hostile("session key (server)", "a\\"),
    Hostile("session key (server)", "\\"),
    Hostile("session key (server)", "\\\\'"),
    Hostile("session key (server)", "'"),
    Hostile("session key (server)", "''"),
    Hostile("session key (server)", "\"'\""),
    Hostile("session key (server)", "-n"),
    Hostile("session key (server)", "--"),
    Hostile("session key (server)", "-e \\c"),
    Hostile("session key (server)", "*"),
    Hostile("session key (server)", "~"),
    Hostile("session key (server)", "!!"),
    Hostile("session key (server)", "{a,b}"),
    Hostile("session key (server)", "a=b=c"),
    Hostile("session key (server)", "a:~/x"),  # bash expands ~ after ':' in an unquoted assignment
    Hostile("session key (server)", "0a1b2c3d-0000-4000-8000-00000000abcd"),
    Hostile("user", "o'brien"),
    Hostile("user", "DOMAIN\\alice"),
    Hostile("user", "alice smith"),
    Hostile("group name", "Lab A"),
    Hostile("group name", "  two  spaces  "),
    Hostile("group name", "Lab \u2019B\u2019"),
    Hostile("group name", "Lab \u00fcn\u00ef \u65e5\u672c \U0001f9ea"),
    Hostile("group name", ""),
    Hostile("group name", "-1"),
]

REAL_SHELLS = ("bash", "zsh", "dash", "fish")
SYNTAXES = ("sh", "pwsh")
PWSH_SINGLE = "'\u2018\u2019\u201a\u201b"
PWSH_DOUBLE = "\"\u201c\u201d\u201e"


def _shell(name: str) -> str:
    program = shutil.which(name)
    assert program, f"{name} is not installed: scripts/test.sh installs bash, zsh, dash and fish (as root, apt-get)"
    return program


@pytest.fixture
def trap(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose PATH starts with a ``pwned`` program, and the marker file it writes."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "PWNED"
    program = bin_dir / "pwned"
    program.write_text(f'#!/bin/sh\necho "pwned $*" >> "{marker}"\n')
    program.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not re.fullmatch(r"V\d+|OMERO_\w+", k)}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", LC_ALL="C.UTF-8")
    return env, marker


def evaluate(shell: str, lines: list[str], env: dict[str, str], workdir: Path) -> dict[str, str | None]:
    """Each of ``lines`` evaluated on its own, as its shell's documentation says (``eval "$(...)"``;
    fish: ``... | source``), in one ``shell`` process; what each variable V<i> then holds (None: unset)."""
    for i, line in enumerate(lines):
        (workdir / f"line{i}").write_text(line + "\n", encoding="utf-8")
    if shell == "fish":
        script = "".join(
            f"source '{workdir}/line{i}' 2>/dev/null\n"
            f"if set -q V{i}; printf '%s<set>%s\\n' {i} \"$V{i}\"; else; printf '%s<unset>\\n' {i}; end\n"
            for i in range(len(lines)))
    else:  # each in a subshell: dash exits on an eval syntax error, which must not hide the next line
        script = "".join(
            f"( eval \"$(cat '{workdir}/line{i}')\" 2>/dev/null; "
            f"if [ -n \"${{V{i}+set}}\" ]; then printf '%s<set>%s\\n' {i} \"$V{i}\"; "
            f"else printf '%s<unset>\\n' {i}; fi )\n"
            for i in range(len(lines)))
    result = subprocess.run([_shell(shell), "-c", script], env=env, capture_output=True, timeout=120, cwd=workdir)
    found: dict[str, str | None] = {}
    for row in result.stdout.decode("utf-8").split("\n")[:-1]:
        index, state, value = re.fullmatch(r"(\d+)<(set|unset)>(.*)", row).groups()  # type: ignore[union-attr]
        found[f"V{index}"] = value if state == "set" else None
    assert len(found) == len(lines), result.stderr.decode(errors="replace")
    return found


@pytest.mark.parametrize("shell", REAL_SHELLS)
@pytest.mark.parametrize("syntax", SYNTAXES)
def test_every_shell_reads_every_syntax_exactly_or_not_at_all(shell, syntax, trap, tmp_path):
    """The sh syntax: bash, zsh, dash and fish get exactly the value. The pwsh syntax: they set nothing."""
    env, marker = trap
    lines = [export_line(f"V{i}", h.value, syntax) for i, h in enumerate(HOSTILE)]
    found = evaluate(shell, lines, env, tmp_path)
    assert not marker.exists(), f"{shell} ran a command from a value: {marker.read_text()}"
    for i, hostile in enumerate(HOSTILE):
        expected = hostile.value if syntax == "sh" else None
        assert found[f"V{i}"] == expected, (hostile.field, hostile.value, lines[i])


def test_the_line_does_not_depend_on_SHELL(monkeypatch):
    """fish started from a bash login has SHELL=/bin/bash: the output must not change with it."""
    lines = set()
    for login_shell in ("/bin/bash", "/usr/bin/fish", "/bin/zsh", "/usr/bin/pwsh", ""):
        monkeypatch.setenv("SHELL", login_shell)
        lines.add(tuple(export_line("V", h.value) for h in HOSTILE))
    assert len(lines) == 1


# -- PowerShell, without PowerShell -----------------------------------------------------------
def _pwsh_arguments(line: str) -> list[tuple[str, str]]:
    """PowerShell's reading of a command line in argument mode (about_Parsing, about_Quoting_Rules):
    (kind, text) pieces, kind 'bare', 'verbatim' (single quotes: literal) or 'expandable' (double
    quotes: ``$`` and the backtick are live). Raises AssertionError on anything that would run code
    outside quotes: a statement separator, a sub-expression, a variable, a script block."""
    pieces: list[tuple[str, str]] = []
    i = 0
    while i < len(line):
        c = line[i]
        if c in PWSH_SINGLE or c in PWSH_DOUBLE:
            closing = PWSH_SINGLE if c in PWSH_SINGLE else PWSH_DOUBLE
            i += 1
            text = []
            while True:
                assert i < len(line), f"unterminated string in {line!r}"
                if line[i] in closing:
                    if i + 1 < len(line) and line[i + 1] in closing:
                        text.append(line[i + 1])
                        i += 2
                        continue
                    break
                if closing is PWSH_DOUBLE and line[i] == "`":
                    text.append(line[i:i + 2])
                    i += 2
                    continue
                text.append(line[i])
                i += 1
            i += 1
            pieces.append(("verbatim" if closing is PWSH_SINGLE else "expandable", "".join(text)))
        else:
            assert c not in ";|&(){}$@`#<>,", f"PowerShell would read {c!r} outside quotes as code in {line!r}"
            pieces.append(("bare", c))
            i += 1
    return pieces


def test_powershell_reads_the_sh_syntax_as_literal_text():
    """A line for sh, pasted into PowerShell: ``export`` is not a command there; every piece after it is
    literal text (no ``$`` or backtick inside double quotes), so nothing runs whatever the value."""
    for hostile in HOSTILE:
        line = export_line("V", hostile.value, "sh")
        pieces = _pwsh_arguments(line)
        assert "".join(t for k, t in pieces if k == "bare").startswith("export V=")
        for kind, text in pieces:
            if kind == "expandable":
                assert "$" not in text and "`" not in text, (hostile, line)


@pytest.fixture(scope="module")
def powershell_grammar():
    """The tree-sitter PowerShell grammar (a test extra): a parser that knows PowerShell, standing in for it."""
    try:
        import tree_sitter
        import tree_sitter_powershell
    except ImportError as exc:
        pytest.fail(f"{exc.name} is missing: it is a test extra (pip install -e '.[test]'; scripts/setup.sh does)")
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))


_LITERAL_EXPRESSION = {
    "pipeline", "pipeline_chain", "logical_expression", "bitwise_expression", "comparison_expression",
    "additive_expression", "multiplicative_expression", "format_expression", "range_expression",
    "array_literal_expression", "unary_expression", "string_literal", "verbatim_string_characters",
    "expression_with_unary_operator", "cast_expression", "type_literal", "type_spec", "type_name",
    "type_identifier", "integer_literal", "decimal_integer_literal", "+", "[", "]",
}
"""Node types of an expression made of quoted literal strings and ``[char]92``, and nothing else."""


def _nodes(node):
    yield node
    for child in node.children:
        yield from _nodes(child)


def _pwsh_value(node, source: bytes) -> str:
    """What PowerShell assigns: verbatim strings (a doubled quote is one) joined with ``[char]92``."""
    out = []
    for n in _nodes(node):
        if n.type == "string_literal":
            text = source[n.start_byte:n.end_byte].decode("utf-8")
            pieces = _pwsh_arguments(text)
            assert [k for k, _ in pieces] == ["verbatim"], text
            out.append(pieces[0][1])
        elif n.type == "cast_expression":
            assert source[n.start_byte:n.end_byte] == b"[char]92"
            out.append("\\")
    return "".join(out)


def test_powershell_grammar_reads_the_pwsh_syntax_back(powershell_grammar):
    for hostile in HOSTILE:
        line = export_line("V", hostile.value, "pwsh")
        source = line.encode("utf-8")
        tree = powershell_grammar.parse(source)
        assert not tree.root_node.has_error, line
        assignments = [n for n in _nodes(tree.root_node) if n.type == "assignment_expression"]
        assert len(assignments) == 1, line
        target = assignments[0].children[0]
        assert source[target.start_byte:target.end_byte] == b"$env:V"
        value = assignments[0].child_by_field_name("value")
        assert {n.type for n in _nodes(value)} <= _LITERAL_EXPRESSION, line
        assert _pwsh_value(value, source) == hostile.value, (hostile, line)


# -- refusals ---------------------------------------------------------------------------------
@pytest.mark.parametrize("char", ["\n", "\r", "\t", "\x1b", "\x00", "\x7f", "\x85", "\u2028", "\u202e", "\u200b"])
def test_values_no_shell_reads_back_are_refused_without_showing_them(char):
    from omeroprofiles.exports import UnsafeShellValue

    for syntax in SYNTAXES:
        with pytest.raises(UnsafeShellValue) as info:
            export_line("OMERO_SESSION_KEY", f"secret-part{char}rest", syntax)
        assert info.value.exit_code == 2
        assert "OMERO_SESSION_KEY" in str(info.value) and "secret-part" not in str(info.value)


# -- through the command line -----------------------------------------------------------------
def _as_evaluated(output: str, shell: str, env, workdir: Path) -> dict[str, str | None]:
    """The exports a command printed, evaluated by ``shell``; keyed by the variable names printed."""
    lines = output.strip().splitlines()
    names = [re.match(r"(?:export |\$env:)(\w+)", line).group(1) for line in lines]  # type: ignore[union-attr]
    renamed = [line.replace(name, f"V{i}", 1) for i, (line, name) in enumerate(zip(lines, names, strict=True))]
    found = evaluate(shell, renamed, env, workdir)
    return {name: found[f"V{i}"] for i, name in enumerate(names)}


@pytest.mark.parametrize("shell", REAL_SHELLS)
def test_use_shell_and_env_evaluate_to_the_profile_name(shell, write_user, run, trap, tmp_path):
    env, marker = trap
    write_user('[profiles."a-b.c_9"]\nhost = "ws://h.example.org/$(pwned);pwned;&pwned&"\n'
               'credentials = { source = "env" }\n')
    for args in (("use", "a-b.c_9", "--shell"), ("env", "a-b.c_9"), ("env", "a-b.c_9", "--shell", shell)):
        result = run(*args, env={"SHELL": "/bin/bash"})
        assert result.exit_code == 0, result.output
        assert _as_evaluated(result.stdout, shell, env, tmp_path) == {"OMERO_PROFILE": "a-b.c_9"}
    assert not marker.exists()


def test_env_session_exports_evaluate_exactly_in_every_shell(start_omero_server, write_user, run, trap, tmp_path):
    """The whole ``env --session`` output, host path and server-chosen session key included, in every shell
    and both syntaxes: each variable the sh lines set is the same in every shell; the pwsh lines set none.
    A private server: the session ``env --session`` hands out is meant to outlive the command."""
    env, marker = trap
    omero_server = start_omero_server()
    host = f"ws://{omero_server.host}:{omero_server.ws_port}/omero-ws/$(pwned);pwned;&pwned&"
    write_user(f'[profiles.job]\nhost = "{host}"\ntimeout = 10\nkeepalive = 0\n'
               'credentials = { source = "plain", username = "alice", password = "alice-pw" }\n')
    seen: dict[str, dict[str, str | None]] = {}
    for syntax in SYNTAXES:
        result = run("env", "job", "--session", "--shell", syntax)
        assert result.exit_code == 0, result.output
        for shell in REAL_SHELLS:
            found = _as_evaluated(result.stdout, shell, env, tmp_path)
            if syntax == "pwsh":
                assert set(found.values()) == {None}, (shell, found)
            else:
                seen[shell] = found
    assert not marker.exists(), marker.read_text()
    first = seen["bash"]
    assert all(found == first for found in seen.values()), seen
    assert first["OMERO_PROFILE"] == "job" and first["OMERO_HOST"] == host
    assert first["OMERO_PORT"] == str(omero_server.ws_port)
    assert re.fullmatch(r"[0-9a-f-]{36}", first["OMERO_SESSION_KEY"] or "")
