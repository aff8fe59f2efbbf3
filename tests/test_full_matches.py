"""Every pattern that validates input matches the WHOLE value.

``re.match(r"...$")`` also accepts the value followed by a newline (``$`` matches before a
trailing newline), so a name, duration or address with a trailing newline would pass and then
misbehave elsewhere (fake lines of output, a second Ice endpoint, a header in an HTTP request).
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from omeroprofiles.durations import parse_duration
from omeroprofiles.model import ProfileTable, parse_host
from omeroprofiles.names import name_problem
from omeroprofiles.plugins import LOOKS_SECRET


@pytest.mark.parametrize("name", ["prod\n", "p\n", "defaults\n", "a" * 64 + "\n"])
def test_a_name_with_a_trailing_newline_is_refused(name):
    assert name_problem(name) is not None
    with pytest.raises(ValidationError):
        ProfileTable.model_validate({"extends": name})


def test_validate_refuses_a_profile_name_ending_in_a_newline(write_user, run):
    write_user('[profiles."p\\n"]\nhost = "h"\ncredentials = { source = "env" }\n'
               '[profiles.q]\nextends = "prod\\n"\nhost = "h"\ncredentials = { source = "env" }\n')
    result = run("validate")
    assert result.exit_code == 2, result.output
    assert "profile 'p\\n': invalid profile name" in result.stdout
    assert "profile 'q': extends:" in result.stdout


@pytest.mark.parametrize("value", ["example.org\n", "192.0.2.1\n", "ws://h.example.org/x\n"])
def test_a_host_with_a_trailing_newline_is_refused(value):
    with pytest.raises(ValueError, match="U[+]000A"):
        parse_host(value)


@pytest.mark.parametrize("text", ["2h\nx", "\u0663h", "1e3", "-5", ""])
def test_durations_match_whole_ascii_text(text):
    from omeroprofiles.errors import ConfigError

    with pytest.raises(ConfigError):
        parse_duration(text)


@pytest.mark.parametrize("text", ["0", "0s", "0.0000001", "0.5", "0.99s", "0.001m"])
def test_durations_under_one_second_are_refused(text):
    """The server counts whole milliseconds and reads 0 as "no limit": the opposite of what was asked."""
    from omeroprofiles.errors import ConfigError

    with pytest.raises(ConfigError, match="shorter than one second"):
        parse_duration(text)


@pytest.mark.parametrize(("text", "seconds"), [("1", 1), ("1s", 1), ("1.5", 1.5), (" 2h ", 7200), ("0.02m", 1.2)])
def test_durations_from_one_second_are_accepted(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("option", ["--ttl", "--idle"])
def test_login_refuses_a_sub_second_duration_before_connecting(option, write_user, run):
    write_user('[profiles.p]\nhost = "127.0.0.1"\nport = 9\ntimeout = 1\n'
               'credentials = { source = "plain", username = "u", password = "p" }\n')
    result = run("login", "p", option, "0.0000001")
    assert result.exit_code == 2, result.output
    assert "shorter than one second" in result.stderr
    assert "no time limit" not in result.output


@pytest.mark.parametrize("key", ["password", "api_token", "token\n", "KEY"])
def test_looks_secret_still_masks_keys_with_trailing_blanks(key):
    """The one pattern where matching more is the safe direction: it decides what to mask."""
    assert LOOKS_SECRET.search(key)


def test_looks_secret_is_anchored_at_the_end():
    assert not LOOKS_SECRET.search("password_file\nx")
