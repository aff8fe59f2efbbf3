"""Broken profiles files, one kind per case, through the real CLI.

Every case must give: the documented exit code, one located line per problem
(``<file>: profile '<name>': <key>: <problem>``, or ``<file>:<line>:<col>: ...`` for syntax),
no traceback, and a file that is left exactly as it was (bytes and mtime).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from file_helpers import OLD_MTIME_NS, snapshot, write_file

"""Files are back-dated to this, so any rewrite (even of identical bytes) shows."""


@dataclass(frozen=True)
class Case:
    id: str
    text: str | bytes
    message: str
    """A fragment of the problem text that must be on the located line."""
    profile: str | None = "a"
    key: str | None = None
    line: int | None = None
    """Where the problem is reported (syntax errors, undecodable bytes); ``column``: a column follows."""
    column: bool = False
    show: str = "a"
    show_exit: int = 2
    list_exit: int = 2

    def pattern(self, path: Path, lead: str = "") -> re.Pattern[str]:
        """The located line: ``<file>[:line[:col]]: [profile 'x': ][key: ]...message...``."""
        parts = [re.escape(str(path)) + ("" if self.line is None else f":{self.line}")
                 + (r":\d+" if self.column else "")]
        if self.profile is not None:
            parts.append(re.escape(f"profile '{self.profile}'"))
        if self.key is not None:
            parts.append(re.escape(self.key))
        return re.compile("^" + re.escape(lead) + ": ".join(parts) + ": .*" + re.escape(self.message), re.M)


def syntax(id: str, text: str, line: int, message: str = "TOML syntax error") -> Case:
    return Case(id, text, message, profile=None, line=line, column=True)


def top(id: str, text: str, key: str | None, message: str, **kw) -> Case:
    return Case(id, text, message, profile=None, key=key, **kw)


def key(id: str, body: str, key: str, message: str, *, profile: str = "a", **kw) -> Case:
    return Case(id, body, message, profile=profile, key=key, **kw)


H = '[profiles.a]\nhost = "omero.example.org"\n'
"""A healthy start of a profile, to which a case adds one bad line."""

CASES = [
    # -- TOML syntax: nothing in the file can be trusted, so everything fails ----------------------
    syntax("unclosed-string", '[profiles.a]\nhost = "omero.example.org\nport = 4064\n', 2),
    syntax("duplicate-key", H + 'host = "other.example.org"\n', 3),
    syntax("duplicate-table", H + '\n[profiles.a]\nport = 4064\n', 4),
    syntax("bad-table-header", '[profiles.a\nhost = "omero.example.org"\n', 1),
    syntax("missing-equals", '[profiles.a]\nhost "omero.example.org"\n', 2),
    syntax("bare-word-value", "[profiles.a]\nhost = omero.example.org\n", 2),
    syntax("byte-order-mark", "\ufeff" + H, 1, "byte-order mark"),
    Case("not-utf8", b'[profiles.a]\nhost = "caf\xe9.example.org"\n', "is not UTF-8 text", profile=None, line=2),
    # -- the top level --------------------------------------------------------------------------
    top("unknown-top-level-key", '[profile.a]\nhost = "omero.example.org"\n', "profile",
        "unknown top-level key (did you mean 'profiles'?)"),
    top("profile-key-at-top-level", 'host = "omero.example.org"\n' + H, "host",
        "profile settings belong in a [profiles.NAME] table"),
    top("profiles-not-a-table", 'profiles = "a"\n', "profiles", "must be a table of profiles"),
    top("profiles-array-of-tables", '[[profiles]]\nhost = "omero.example.org"\n', "profiles",
        "must be a table of profiles"),
    Case("profile-not-a-table", '[profiles]\na = "omero.example.org"\n', "must be a table: [profiles.NAME]"),
    top("default-not-a-string", "default = 1\n" + H, "default", "must be a profile name"),
    top("default-names-missing-profile", 'default = "b"\n' + H + '[profiles.bb]\nhost = "h.example.org"\n',
        "default", "names profile 'b', which is not defined (did you mean 'bb'?)", show_exit=0, list_exit=2),
    top("defaults-not-a-table", "defaults = 5\n" + H, "defaults", "must be a table: [defaults]"),
    top("defaults-unknown-key", "[defaults]\ntimeot = 5\n" + H, "defaults.timeot",
        "unknown key (did you mean 'timeout'?)"),
    top("defaults-extends", '[defaults]\nextends = "a"\n' + H, "defaults.extends",
        "unknown key (not allowed in [defaults])"),
    top("defaults-description", '[defaults]\ndescription = "x"\n' + H, "defaults.description",
        "unknown key (not allowed in [defaults])"),
    top("defaults-wrong-type", '[defaults]\nport = "x"\n' + H, "defaults.port",
        "valid integer (got a string)"),
    top("defaults-bad-host", '[defaults]\nhost = "bad host"\n[profiles.a]\nport = 4064\n', "defaults.host",
        "must not contain spaces"),
    Case("profile-name-with-space", '[profiles."a b"]\nhost = "omero.example.org"\n', "invalid profile name",
         profile="a b"),
    Case("profile-name-with-slash", '[profiles."a/b"]\nhost = "omero.example.org"\n', "invalid profile name",
         profile="a/b"),
    Case("profile-named-defaults", '[profiles.defaults]\nhost = "omero.example.org"\n' + H, "'defaults' is reserved",
         profile="defaults"),  # reserved: 'set defaults KEY VALUE' edits [defaults]
    # -- values nested deeper than any parser should recurse (500 levels: RecursionError, exit 1) ----
    Case("nested-500-arrays", H + "description = " + "[" * 500 + "]" * 500 + "\n",
         "TOML value nested more than 100 levels deep", profile=None, line=3, column=True),
    Case("nested-300-inline-tables", H + "credentials = " + "{ a = " * 300 + "1" + " }" * 300 + "\n",
         "TOML value nested more than 100 levels deep", profile=None, line=3, column=True),
    # -- keys of one profile -------------------------------------------------------------------
    key("typo-key", '[profiles.a]\nhots = "omero.example.org"\n', "hots", "unknown key (did you mean 'host'?)"),
    key("unknown-sub-table", H + "[profiles.a.extra]\nx = 1\n", "extra", "unknown key"),
    key("port-string", H + 'port = "4064"\n', "port", "valid integer (got a string)"),
    key("port-float", H + "port = 4064.0\n", "port", "valid integer (got a number)"),
    key("port-zero", H + "port = 0\n", "port", "greater than or equal to 1"),
    key("port-too-big", H + "port = 70000\n", "port", "less than or equal to 65535"),
    key("secure-string", H + 'secure = "yes"\n', "secure", "valid boolean (got a string)"),
    key("secure-integer", H + "secure = 1\n", "secure", "valid boolean (got an integer)"),
    key("timeout-negative", H + "timeout = -1\n", "timeout", "greater than 0"),
    key("timeout-zero", H + "timeout = 0\n", "timeout", "greater than 0"),
    key("timeout-huge", H + "timeout = 99999\n", "timeout", "less than or equal to 3600"),
    key("keepalive-negative", H + "keepalive = -5\n", "keepalive", "greater than or equal to 0"),
    key("group-float", H + "group = 1.5\n", "group", "group name (a string), a group id (an integer) or -1 "
        "(got a number)"),
    key("group-boolean", H + "group = true\n", "group", "(got a boolean)"),
    key("group-minus-two", H + "group = -2\n", "group", "non-negative integer, or -1 for all groups"),
    key("group-empty-name", H + 'group = "  "\n', "group", "group name must not be empty"),
    key("su-empty", H + 'su = ""\n', "su", "at least 1 character"),
    key("description-not-text", H + "description = 5\n", "description", "valid string (got an integer)"),
    key("host-missing", '[profiles.a]\nport = 4064\n', "host", "required key is missing"),
    key("host-empty", '[profiles.a]\nhost = ""\n', "host", "must not be empty"),
    key("host-not-text", "[profiles.a]\nhost = 4064\n", "host", "valid string (got an integer)"),
    key("host-with-port", '[profiles.a]\nhost = "omero.example.org:4064"\n', "host",
        "contains a port; put the port in 'port'"),
    key("host-http-scheme", '[profiles.a]\nhost = "http://omero.example.org"\n', "host",
        "unsupported URL scheme 'http://'"),
    key("host-url-port-conflict", '[profiles.a]\nhost = "ssl://omero.example.org:4064"\nport = 4063\n', "port",
        "4063 conflicts with port 4064 in host URL"),
    key("host-url-bad-port", '[profiles.a]\nhost = "ssl://omero.example.org:99999"\n', "host",
        "invalid port in URL"),
    key("host-url-path-on-ssl", '[profiles.a]\nhost = "ssl://omero.example.org/omero"\n', "host",
        "'ssl://' URLs take no path"),
    key("host-url-no-hostname", '[profiles.a]\nhost = "wss://:443/omero-ws"\n', "host", "no host name"),
    key("host-bad-ipv6", '[profiles.a]\nhost = "[::zz]"\n', "host", "'::zz' is not an IPv6 address"),
    key("host-ipv6-with-port", '[profiles.a]\nhost = "[::1]:4064"\n', "host",
        "must be written as [address], with no port"),
    key("host-invalid-characters", '[profiles.a]\nhost = "omero!.example.org"\n', "host",
        "is not a valid host name"),
    key("host-with-space", '[profiles.a]\nhost = "omero example.org"\n', "host",
        "must not contain spaces or control characters (found U+0020)"),
    # -- extends -------------------------------------------------------------------------------
    key("extends-cycle", H + 'extends = "b"\n[profiles.b]\nextends = "a"\n', "extends",
        "extends cycle: a -> b -> a"),
    key("extends-self", H + 'extends = "a"\n', "extends", "extends cycle: a -> a"),
    key("extends-unknown", H + 'extends = "prdo"\n[profiles.prod]\nhost = "h.example.org"\n', "extends",
        "extends unknown profile 'prdo' (did you mean 'prod'?)"),
    key("extends-not-text", H + "extends = 1\n", "extends", "valid string (got an integer)"),
    key("extends-reserved-name", H + 'extends = "defaults"\n', "extends", "string should match pattern"),
    key("extends-broken-parent", '[profiles.p]\nhots = "x"\n[profiles.a]\nextends = "p"\nhost = "h.example.org"\n',
        "hots", "unknown key (did you mean 'host'?)", profile="p"),
    # -- credentials (each source validates its own table) -----------------------------------
    key("credentials-not-a-table", H + 'credentials = "env"\n', "credentials", "valid dictionary (got a string)"),
    key("credentials-without-source", H + 'credentials = { username = "alice" }\n', "credentials",
        "missing 'source'"),
    key("credentials-source-not-text", H + "credentials = { source = 3 }\n", "credentials.source",
        "must be the name of a credential source"),
    key("credentials-unknown-source", H + 'credentials = { source = "keyrng" }\n', "credentials.source",
        "unknown credential source 'keyrng' (did you mean 'keyring'?); installed: "),
    key("env-unknown-key", H + 'credentials = { source = "env", usernme_var = "ME" }\n', "credentials.usernme_var",
        "unknown key (did you mean 'username_var'?)"),
    key("env-wrong-type", H + 'credentials = { source = "env", username_var = 5 }\n', "credentials.username_var",
        "valid string (got an integer)"),
    key("plain-without-password", H + 'credentials = { source = "plain", username = "u" }\n',
        "credentials.password", "required key is missing"),
    key("session-key-and-key-var", H + 'credentials = { source = "session", key = "k", key_var = "V" }\n',
        "credentials", "set exactly one of 'key' or 'key_var'"),
    key("session-neither", H + 'credentials = { source = "session" }\n', "credentials",
        "set exactly one of 'key' or 'key_var'"),
    key("command-wrong-type", H + 'credentials = { source = "command", command = 3 }\n', "credentials.command",
        "valid string"),
    key("command-negative-timeout", H + 'credentials = { source = "command", command = "pass", timeout = -1 }\n',
        "credentials.timeout", "greater than 0"),
    key("keyring-without-username", H + 'credentials = { source = "keyring" }\n', "credentials.username",
        "required key is missing"),
    key("prompt-unknown-key", H + 'credentials = { source = "prompt", user = "alice" }\n', "credentials.user",
        "unknown key (did you mean 'username'?)"),
    key("credentials-sub-table-typo", H + '[profiles.a.credentials]\nsource = "env"\nusernam = "alice"\n',
        "credentials.usernam", "unknown key (did you mean 'username'?)"),
]

SECRET = "s3cr3t-Pa55"


def _write(path: Path, content: str | bytes) -> None:
    write_file(path, content)


_snapshot = snapshot


def _clean(result) -> None:
    """No traceback and no 'internal error' however the command ended."""
    for stream in (result.stdout, result.stderr):
        assert "Traceback" not in stream
        assert "internal error" not in stream


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_broken_file_is_reported_and_left_alone(case: Case, tmp_path: Path, run) -> None:
    path = tmp_path / "conf" / "profiles.toml"
    _write(path, case.text)
    before = _snapshot(path)

    result = run("--config", str(path), "validate")
    _clean(result)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert case.pattern(path).search(result.stdout), f"want /{case.pattern(path).pattern}/ in\n{result.stdout}"
    assert "problem(s) found" in result.stderr

    shown = run("--config", str(path), "show", case.show)
    _clean(shown)
    assert shown.exit_code == case.show_exit, shown.stderr
    if case.show_exit == 2 and case.profile in (None, case.show):
        assert case.pattern(path, "omero-profile: error: ").search(shown.stderr), shown.stderr

    listed = run("--config", str(path), "list")
    _clean(listed)
    assert listed.exit_code == case.list_exit, listed.stderr
    if case.list_exit:
        # a file-level problem is printed in full; a broken profile is named ("1 profile(s) are invalid: a")
        assert str(path) in listed.stderr or f"invalid: {case.profile}" in listed.stderr, listed.stderr

    assert _snapshot(path) == before, "a read-only command changed the file or its directory"


def test_case_kinds_are_distinct_and_many() -> None:
    assert len({c.id for c in CASES}) == len(CASES) >= 30
    assert len({c.text for c in CASES}) == len(CASES)


def test_validate_json_locates_each_problem(tmp_path: Path, run) -> None:
    path = tmp_path / "profiles.toml"
    _write(path, '[profiles.a]\nhots = "h"\n[profiles.b]\nhost = "h.example.org"\nport = "x"\n')
    result = run("--config", str(path), "validate", "--json")
    _clean(result)
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["valid"] is False
    found = {(p["file"], p["profile"], p["key"]) for p in report["problems"]}
    assert found == {(str(path), "a", "hots"), (str(path), "b", "port")}


def test_syntax_error_json_has_line_and_column(tmp_path: Path, run) -> None:
    path = tmp_path / "profiles.toml"
    _write(path, '[profiles.a]\nhost = "x\n')
    report = json.loads(run("--config", str(path), "validate", "--json").stdout)
    [problem] = report["problems"]
    assert (problem["file"], problem["line"], problem["column"]) == (str(path), 2, 10)


def test_directory_instead_of_file(tmp_path: Path, run) -> None:
    path = tmp_path / "profiles.toml"
    path.mkdir()
    for args in (("validate",), ("show", "a"), ("list",), ("add", "a", "--host", "h.example.org"),
                 ("set", "a", "port", "1")):
        result = run("--config", str(path), *args)
        _clean(result)
        assert result.exit_code == 2, (args, result.stderr)
        assert f"{path}: is a directory, not a file" in result.stdout + result.stderr
    assert path.is_dir() and not any(path.iterdir())


def test_missing_config_file_is_an_error_not_an_empty_config(tmp_path: Path, run) -> None:
    path = tmp_path / "nope" / "profiles.toml"
    for args in (("validate",), ("show", "a"), ("list",)):
        result = run("--config", str(path), *args)
        _clean(result)
        assert result.exit_code == 2, (args, result.stderr)
        assert f"{path}: file not found (given with --config)" in result.stdout + result.stderr
    assert not path.exists() and not path.parent.exists()


def test_not_utf8_file_cannot_be_edited_either(tmp_path: Path, run) -> None:
    path = tmp_path / "profiles.toml"
    _write(path, b'[profiles.a]\nhost = "h.example.org"\ndescription = "\xff"\n')
    before = _snapshot(path)
    for args in (("add", "b", "--host", "h.example.org"), ("set", "a", "port", "1"), ("remove", "a"),
                 ("use", "a")):
        result = run("--config", str(path), *args)
        _clean(result)
        assert result.exit_code == 2, (args, result.stderr)
        assert f"{path}:3: is not UTF-8 text" in result.stderr
    assert _snapshot(path) == before


def test_site_file_problem_names_the_site_file(write_site, write_user, user_file: Path, run) -> None:
    site = write_site('[profiles.shared]\nhots = "omero.example.org"\n')
    write_user('[profiles.mine]\nhost = "omero.example.org"\n')
    os.utime(site, ns=(OLD_MTIME_NS, OLD_MTIME_NS))
    before = _snapshot(site), _snapshot(user_file)

    result = run("validate")
    _clean(result)
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [f"{site}: profile 'shared': hots: unknown key (did you mean 'host'?)"]
    assert str(user_file) not in result.stdout
    shared = run("show", "shared")
    assert shared.exit_code == 2 and f"{site}: profile 'shared': hots" in shared.stderr
    assert run("show", "mine").exit_code == 0  # the site's broken profile does not block the user's
    assert (_snapshot(site), _snapshot(user_file)) == before


def test_site_file_syntax_error_names_the_site_file_and_blocks_everything(write_site, write_user, run) -> None:
    site = write_site('[profiles.shared\nhost = "omero.example.org"\n')
    write_user('[profiles.mine]\nhost = "omero.example.org"\n')
    result = run("validate")
    _clean(result)
    assert result.exit_code == 2
    assert result.stdout.startswith(f"{site}:1:")
    mine = run("show", "mine")
    _clean(mine)
    assert mine.exit_code == 2 and f"{site}:1:" in mine.stderr


def test_validate_reports_every_problem_one_line_each(tmp_path: Path, run) -> None:
    path = tmp_path / "profiles.toml"
    _write(path, """\
default = "nosuch"
colour = "blue"

[defaults]
timeot = 10

[profiles.a]
hots = "omero.example.org"

[profiles.b]
host = "omero.example.org:4064"
port = "x"

[profiles.c]
host = "omero.example.org"
credentials = { source = "env", usernme_var = "U" }

[profiles.d]
extends = "e"
[profiles.e]
extends = "d"

[profiles.ok]
host = "omero.example.org"
""")
    result = run("--config", str(path), "validate")
    _clean(result)
    assert result.exit_code == 2
    p = str(path)
    expected = [
        f"{p}: colour: unknown top-level key",
        f"{p}: defaults.timeot: unknown key (did you mean 'timeout'?)",
        f"{p}: default: names profile 'nosuch', which is not defined",
        f"{p}: profile 'a': hots: unknown key (did you mean 'host'?)",
        f"{p}: profile 'b': host: 'omero.example.org:4064' contains a port",
        f"{p}: profile 'b': port: input should be a valid integer (got a string)",
        f"{p}: profile 'c': credentials.usernme_var: unknown key (did you mean 'username_var'?)",
        f"{p}: profile 'd': extends: extends cycle: d -> e -> d",
        f"{p}: profile 'e': extends: extends cycle: e -> d -> e",
    ]
    lines = result.stdout.splitlines()
    assert len(lines) == len(expected), result.stdout
    for want in expected:
        assert sum(line.startswith(want) for line in lines) == 1, (want, result.stdout)
    assert "profile 'ok'" not in result.stdout
    assert f"{len(expected)} problem(s) found" in result.stderr


def test_broken_profile_does_not_block_a_healthy_one(tmp_path: Path, run) -> None:
    path = tmp_path / "profiles.toml"
    _write(path, '[profiles.good]\nhost = "omero.example.org"\n\n[profiles.bad]\nport = "x"\n')
    good = run("--config", str(path), "show", "good", "--json")
    _clean(good)
    assert good.exit_code == 0, good.stderr
    assert json.loads(good.stdout)["host"] == "omero.example.org"
    bad = run("--config", str(path), "show", "bad")
    assert bad.exit_code == 2
    assert f"{path}: profile 'bad': port: input should be a valid integer" in bad.stderr
    assert "profile 'good'" not in bad.stderr
    listed = run("--config", str(path), "list", "--json")
    assert listed.exit_code == 2
    rows = {r["name"]: r["valid"] for r in json.loads(listed.stdout)}
    assert rows == {"good": True, "bad": False}


def test_syntax_error_blocks_every_profile(tmp_path: Path, run) -> None:
    path = tmp_path / "profiles.toml"
    _write(path, '[profiles.good]\nhost = "omero.example.org"\n\n[profiles.bad]\nport = = 1\n')
    for args in (("show", "good"), ("list",), ("use", "good"), ("current",), ("validate",)):
        result = run("--config", str(path), *args)
        _clean(result)
        assert result.exit_code == 2, (args, result.stderr)
        assert f"{path}:5:" in result.stdout + result.stderr


def test_unknown_profile_is_exit_3_with_a_suggestion(tmp_path: Path, run) -> None:
    path = tmp_path / "profiles.toml"
    _write(path, '[profiles.prod]\nhost = "omero.example.org"\n[profiles.dev]\nhost = "dev.example.org"\n')
    result = run("--config", str(path), "show", "prdo")
    _clean(result)
    assert result.exit_code == 3
    assert "profile 'prdo' (given as an argument) is not defined in" in result.stderr
    assert "did you mean 'prod'?" in result.stderr and "Available: prod, dev." in result.stderr
    unrelated = run("--config", str(path), "show", "zzz")
    assert unrelated.exit_code == 3
    assert f"is not defined in {path}. Available: prod, dev." in unrelated.stderr
    from_env = run("--config", str(path), "show", env={"OMERO_PROFILE": "staging"})
    assert from_env.exit_code == 3 and "(from $OMERO_PROFILE)" in from_env.stderr


def test_default_naming_a_missing_profile_is_exit_3_when_used(tmp_path: Path, run) -> None:
    path = tmp_path / "profiles.toml"
    _write(path, 'default = "prdo"\n[profiles.prod]\nhost = "omero.example.org"\n')
    result = run("--config", str(path), "show")
    _clean(result)
    assert result.exit_code == 3
    assert "profile 'prdo' (default in" in result.stderr and "did you mean 'prod'?" in result.stderr


def test_url_password_is_rejected_without_echoing_it(tmp_path: Path, run) -> None:
    path = tmp_path / "profiles.toml"
    _write(path, f'[profiles.a]\nhost = "ssl://alice:{SECRET}@omero.example.org"\n'
                 f'[profiles.b]\nhost = "ssl://alice:{SECRET}@omero.example.org:99999"\n')
    for args in (("validate",), ("show", "a"), ("show", "b"), ("validate", "--json"), ("use", "b")):
        result = run("--config", str(path), *args)
        _clean(result)
        assert result.exit_code == 2
        if args == ("validate",):
            for name in "ab":
                assert f"{path}: profile '{name}': host: must not contain a user name or password" in result.stdout
        assert SECRET not in result.stdout + result.stderr, args
