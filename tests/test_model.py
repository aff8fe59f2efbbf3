"""The profile schema: hosts, ports, groups, names."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from omeroprofiles.model import ProfileTable, parse_host


@pytest.mark.parametrize(
    ("value", "hostname", "port", "transport", "path"),
    [
        ("omero.example.org", "omero.example.org", None, None, ""),
        ("localhost", "localhost", None, None, ""),
        ("192.168.0.10", "192.168.0.10", None, None, ""),
        ("[::1]", "::1", None, None, ""),
        ("fe80::1", "fe80::1", None, None, ""),
        ("ssl://omero.example.org:4064", "omero.example.org", 4064, "ssl", ""),
        ("tcp://omero.example.org", "omero.example.org", None, "tcp", ""),
        ("wss://idr.openmicroscopy.org/omero-ws", "idr.openmicroscopy.org", None, "wss", "/omero-ws"),
        ("ws://127.0.0.1:8080/omero-ws", "127.0.0.1", 8080, "ws", "/omero-ws"),
    ],
)
def test_parse_host_accepts(value, hostname, port, transport, path):
    parsed = parse_host(value)
    assert (parsed.hostname, parsed.port, parsed.transport, parsed.path) == (hostname, port, transport, path)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "must not be empty"),
        ("omero.example.org:4064", "contains a port"),
        ("http://omero.example.org", "unsupported URL scheme"),
        ("[::1", "IPv6"),
        ("[nothex]", "not an IPv6 address"),
        ("bad host", "must not contain spaces"),
        ("bad_host!", "not a valid host name"),
        ("wss://user:pw@host/omero-ws", "user name or password"),
        ("alice:secret@omero.example.org", "user name or password"),
        ("alice@omero.example.org", "user name or password"),
        ("ssl://host:99999", "invalid port"),
        ("ssl://host/path", "take no path"),
    ],
)
def test_parse_host_rejects(value, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_host(value)


def test_table_rejects_unknown_keys_and_coercion():
    with pytest.raises(ValidationError) as info:
        ProfileTable.model_validate({"hots": "x", "port": "4064", "secure": "yes"})
    kinds = {(e["loc"][0], e["type"]) for e in info.value.errors()}
    assert ("hots", "extra_forbidden") in kinds
    assert ("port", "int_type") in kinds
    assert ("secure", "bool_type") in kinds


@pytest.mark.parametrize("group", ["Lab A", 0, 53, -1])
def test_group_forms(group):
    assert ProfileTable.model_validate({"group": group}).group == group


@pytest.mark.parametrize("group", [-2, "", "  ", 1.5, True])
def test_group_rejects(group):
    with pytest.raises(ValidationError):
        ProfileTable.model_validate({"group": group})


def test_timeout_accepts_integers_and_floats():
    assert ProfileTable.model_validate({"timeout": 2}).timeout == 2
    assert ProfileTable.model_validate({"timeout": 2.5}).timeout == 2.5
