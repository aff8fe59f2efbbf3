"""A host value reaches Ice as part of an endpoint string: what validates must connect, or be refused.

omero-py writes a URL host verbatim into ``ws -p PORT -h HOST -r PATH``; Ice splits that string on
blanks (options), on ':' outside double quotes (another endpoint) and reads quotes and '\\'. So
``validate`` refuses (exit 2) every host that would otherwise fail at connect time as an internal
error (exit 1) or connect somewhere else, and a path made of every character it does accept
reaches the stand-in's WebSocket endpoint intact.
"""

from __future__ import annotations

import json

import pytest

from omeroprofiles.api import get_conn, load_profile
from omeroprofiles.model import parse_host

UNSAFE_HOSTS = [
    ("ws://127.0.0.1:{port}/a b", "spaces or control characters"),
    ("ws://127.0.0.1:{port}/a\tb", "U+0009"),
    ("ws://127.0.0.1:{port}/a\nb", "U+000A"),
    ("ws://127.0.0.1:{port}/a'b", "percent-encode it (%27"),
    ('ws://127.0.0.1:{port}/a"b', "percent-encode it (%22"),
    ("ws://127.0.0.1:{port}/a:b", "percent-encode it (%3A"),
    ("ws://127.0.0.1:{port}/a\\b", "percent-encode it (%5C"),
    ("ws://127.0.0.1:{port}/100%", "%25"),
    ("ws://127.0.0.1:{port}/caf\u00e9", "UTF-8 bytes as %XX"),
    ("ws://127.0.0.1:{port}/x?y=1", "no query"),
    ("ws://127.0.0.1:{port}/x#top", "no query"),
    ("WS://127.0.0.1:{port}/x", "lower case"),
    ("ws://127.0.0.1:/x", "invalid port"),
    (" ws://127.0.0.1:{port}/x", "spaces"),
    ("ws://[::1]:{port}/x", "IPv6 address written in a URL"),
    ("ssl://127.0.0.1:{port}/", "take no path"),
    ("ws://-h:{port}/x", "not a valid host name"),
    ("example.org\n", "U+000A"),
    ("exa mple.org", "spaces"),
]


@pytest.mark.parametrize(("host", "problem"), UNSAFE_HOSTS)
def test_validate_refuses_what_ice_cannot_carry(host, problem, write_user, run):
    write_user(f'[profiles.w]\nhost = {json.dumps(host.format(port=4065))}\ncredentials = {{ source = "env" }}\n')
    result = run("validate")
    assert result.exit_code == 2, result.output
    assert "profile 'w': host:" in result.stdout and problem in result.stdout, result.stdout
    assert len(result.stdout.strip().splitlines()) == 1, "one problem, one line"


SAFE_PATH = "/omero-ws/A-z_0.9~!$&()*+,;=@%3A%20%e9"
"""Every character class a ws/wss path may hold, percent-escapes included."""


def test_a_path_of_every_accepted_character_reaches_the_server(omero_server, no_leaked_sessions, write_user, run):
    host = f"ws://{omero_server.host}:{omero_server.ws_port}{SAFE_PATH}"
    write_user(f'[profiles.w]\nhost = "{host}"\ntimeout = 10\nkeepalive = 0\n'
               f'credentials = {{ source = "plain", username = "alice", password = "alice-pw" }}\n')
    assert run("validate").exit_code == 0
    result = run("test", "w")
    assert result.exit_code == 0, result.output
    assert "over ws" in result.stdout
    conn = get_conn("w")
    try:
        endpoints = conn.c.getCommunicator().getDefaultRouter().ice_getEndpoints()
        assert [(e.getInfo().host, e.getInfo().resource) for e in endpoints] == [(omero_server.host, SAFE_PATH)]
        assert conn.getUser().getName() == "alice"
    finally:
        conn.close()


@pytest.mark.parametrize("value", ["[::1]", "fe80::1", "omero.example.org", "192.0.2.7", "ws://h.example.org/x"])
def test_client_host_is_one_ice_host_option(value, write_user):
    """The bare host omero-py writes into ``-h``: an IPv6 address must be double-quoted, or Ice splits it at ':'."""
    import omero
    import omero.clients  # noqa: F401

    write_user(f'[profiles.h]\nhost = "{value}"\ncredentials = {{ source = "env" }}\n')
    profile = load_profile("h")
    client = omero.client(host=profile.client_host, port=4064)
    try:
        endpoints = client.getCommunicator().getDefaultRouter().ice_getEndpoints()
        assert [e.getInfo().host for e in endpoints] == [profile.hostname]
    finally:
        client.getCommunicator().destroy()


@pytest.mark.parametrize("value", ["ws://h/a%3Ab", "wss://h:8443/omero-ws/", "ws://h.example.org./x-y_z~"])
def test_parse_host_keeps_the_path_as_written(value):
    assert value.endswith(parse_host(value).path)
