"""The profiles.toml schema as pydantic v2 models.

Two layers: ``ProfileTable`` validates one ``[profiles.NAME]`` or ``[defaults]`` table exactly as
written (every key optional, unknown keys rejected), so errors point at the file that has them;
``Profile`` is the resolved result after defaults and ``extends`` are applied.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from .constants import DEFAULT_PORT
from .names import NAME_PATTERN
from .origin import Origin

URL_SCHEMES = {"ssl": DEFAULT_PORT, "tcp": 4063, "ws": 80, "wss": 443}
"""Transports an OMERO host URL may name, with the port used when the URL gives none."""

BUILTIN_DEFAULTS: dict[str, Any] = {
    "port": DEFAULT_PORT,
    "secure": True,
    "timeout": 30.0,
    "call_timeout": 300.0,
    "keepalive": 300,
    "share_session": False,
    "credentials": {"source": "prompt"},
}
"""What a profile gets for keys that no file sets."""

Transport = Literal["ssl", "tcp", "ws", "wss"]


class HostAddress(BaseModel):
    """A parsed ``host`` value: where to connect and over which transport."""

    model_config = ConfigDict(frozen=True)

    hostname: str
    port: int | None = None
    transport: Transport | None = None
    path: str = ""


_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}\Z){_LABEL}(?:\.{_LABEL})*\.?")
"""A DNS name; always ``fullmatch``ed (``$`` would accept a trailing newline). Never starts with '-',
so it cannot be read as an option where omero-py writes it into Ice's ``-h HOST``."""

_URL = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<netloc>[^/?#]*)(?P<path>[^?#]*)(?P<rest>.*)", re.S)
_URL_PATH = re.compile(r"(?:[A-Za-z0-9\-._~!$&()*+,;=@/]|%[0-9A-Fa-f]{2})*")
"""What a ws/wss path may hold: RFC 3986 path characters less those Ice's endpoint syntax reads
(``:`` starts another endpoint, quotes and ``\\`` are Ice quoting, blanks split options: omero-py
writes the path unquoted into ``-r PATH``); anything else percent-encoded. Ice sends the path
as is in the WebSocket request line, so %XX reaches the server as the URL says."""
_PORT = re.compile(r"[0-9]{1,5}")


@functools.lru_cache(maxsize=4096)
def parse_host(value: str) -> HostAddress:
    """Parse a host name, IPv4, ``[IPv6]`` or ``scheme://host[:port]/path`` URL.

    Raises ValueError with a message a person can act on. Refuses what omero-py and Ice cannot
    carry as written (the URL is handed to omero-py verbatim, which writes it into an Ice endpoint
    string): blanks and control characters anywhere, a query or fragment, and path characters
    outside ``_URL_PATH``. Cached: resolving a profile, and ``address``/``url``/``hostname`` on it,
    parse the same value several times (``HostAddress`` is frozen).
    """
    if not value.strip():
        raise ValueError("must not be empty")
    if "@" in value.split("://", 1)[-1].split("/", 1)[0]:  # first: every later message quotes the value
        raise ValueError("must not contain a user name or password (user:password@host); use credentials")
    blank = next((c for c in value if c.isspace() or not c.isprintable()), None)
    if blank is not None:
        raise ValueError(f"must not contain spaces or control characters (found {_char_name(blank)})")
    if "://" in value:
        return _parse_url(value)
    if value.startswith("["):
        if not value.endswith("]"):
            raise ValueError("an IPv6 address must be written as [address], with no port (use 'port')")
        inner = value[1:-1]
        try:
            ipaddress.IPv6Address(inner)
        except ValueError as exc:
            raise ValueError(f"'{inner}' is not an IPv6 address") from exc
        return HostAddress(hostname=inner)
    if value.count(":") >= 2:
        try:
            ipaddress.IPv6Address(value)
        except ValueError as exc:
            raise ValueError(f"'{value}' is neither a host name nor an IP address") from exc
        return HostAddress(hostname=value)
    if ":" in value:
        raise ValueError(f"'{value}' contains a port; put the port in 'port' or write a URL such as ssl://{value}")
    _check_hostname(value, value)
    return HostAddress(hostname=value)


def _parse_url(value: str) -> HostAddress:
    """``scheme://host[:port][/path]``, exactly as omero-py's own URL pattern reads it."""
    found = _URL.fullmatch(value)
    scheme = value.split("://", 1)[0]
    if found is None or scheme.lower() not in URL_SCHEMES:
        raise ValueError(
            f"unsupported URL scheme '{scheme}://' (use one of: " + ", ".join(f"{s}://" for s in URL_SCHEMES) + ")"
        )
    if scheme not in URL_SCHEMES:  # omero-py passes it to Ice as written, and Ice knows lower case only
        raise ValueError(f"write the URL scheme in lower case: '{scheme.lower()}://'")
    netloc, path = found["netloc"], found["path"]
    if found["rest"]:
        raise ValueError(f"a host URL takes no query ('?') or fragment ('#'): '{value}'")
    if netloc.startswith("["):
        raise ValueError(f"omero-py cannot connect to an IPv6 address written in a URL ('{value}'): "
                         "use a host name" + (", or host = \"[address]\" with port" if scheme in ("ssl", "tcp")
                                              else ""))
    hostname, colon, port_text = netloc.partition(":")
    if colon and not _PORT.fullmatch(port_text):
        raise ValueError(f"invalid port in URL '{value}'")
    port = int(port_text) if colon else None
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"invalid port in URL '{value}'")
    _check_hostname(hostname, value)
    if scheme in ("ssl", "tcp") and path:  # omero-py would pass even '/' on as '-r /', which they do not take
        raise ValueError(f"'{scheme}://' URLs take no path (not even a trailing '/')")
    if not _URL_PATH.fullmatch(path):
        bad = next(c for c in path if not _URL_PATH.fullmatch(c))
        hint = "%25 for '%' not followed by two hex digits" if bad == "%" else \
            f"%{ord(bad):02X} for {_char_name(bad)}" if ord(bad) < 128 else "UTF-8 bytes as %XX"
        raise ValueError(f"the path in '{value}' holds {_char_name(bad)}, which Ice's endpoint syntax cannot "
                         f"carry: percent-encode it ({hint})")
    return HostAddress(hostname=hostname.lower(), port=port, transport=scheme, path=path)  # type: ignore[arg-type]


def _char_name(char: str) -> str:
    """``'x'`` for a visible character, ``U+0009`` for anything else (a message must stay one line)."""
    if not char.isprintable() or char.isspace():
        return f"U+{ord(char):04X}"
    return f'"{char}"' if char == "'" else f"'{char}'"


def _check_hostname(hostname: str, original: str) -> None:
    if not hostname:
        raise ValueError(f"no host name in '{original}'")
    if _HOSTNAME.fullmatch(hostname):  # first: most hosts are names, and a failed ip_address() is slow
        return
    try:
        ipaddress.IPv4Address(hostname)
    except ValueError:
        raise ValueError(f"'{hostname}' is not a valid host name") from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


Group = int | str


class ProfileTable(_Strict):
    """One table as written in a file: every key optional, none unknown."""

    model_config = _Strict.model_config | ConfigDict(regex_engine="python-re")  # NAME_PATTERN's look-ahead

    description: str | None = None
    extends: str | None = Field(default=None, pattern=NAME_PATTERN)
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    secure: bool | None = None
    group: Group | None = None
    su: str | None = Field(default=None, min_length=1)
    timeout: float | None = Field(default=None, gt=0, le=3600, allow_inf_nan=False)
    call_timeout: float | None = Field(default=None, ge=0, le=86400, allow_inf_nan=False)
    keepalive: int | None = Field(default=None, ge=0, le=86400)
    share_session: bool | None = None
    credentials: dict[str, Any] | None = None

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        if value is not None:
            parse_host(value)
        return value

    @field_validator("group", mode="before")
    @classmethod
    def _group_type(cls, value: Any) -> Any:
        # Without this, 1.5 or true is reported by the union's first member: "should be a valid integer".
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | str)):
            kind = {bool: "a boolean", float: "a number", list: "an array", dict: "a table"}.get(
                type(value), f"a {type(value).__name__}")
            raise ValueError(f"must be a group name (a string), a group id (an integer) or -1 (got {kind})")
        return value

    @field_validator("keepalive")
    @classmethod
    def _keepalive(cls, value: int | None) -> int | None:
        if value is not None and 0 < value < 5:
            raise ValueError("must be 0 (off) or at least 5 seconds (omero-py's shortest keep-alive interval)")
        return value

    @field_validator("group")
    @classmethod
    def _group(cls, value: Group | None) -> Group | None:
        if isinstance(value, int) and value < -1:
            raise ValueError("a group id is a non-negative integer, or -1 for all groups")
        if isinstance(value, str) and not value.strip():
            raise ValueError("a group name must not be empty")
        return value

    @field_validator("credentials")
    @classmethod
    def _credentials(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and "source" not in value:
            raise ValueError("missing 'source' (which credential source to use, e.g. source = \"env\")")
        return value


PROFILE_KEYS = tuple(ProfileTable.model_fields)
DEFAULTS_KEYS = tuple(k for k in PROFILE_KEYS if k not in ("extends", "description"))


class Profile(BaseModel):
    """A resolved profile: defaults and ``extends`` applied, credentials validated by their source.

    Holds no secret that was fetched (nothing is fetched to build it); a ``plain`` password
    written in the file stays a ``SecretStr``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str | None = None
    host: str
    port: int = Field(ge=1, le=65535)
    secure: bool
    group: Group | None = None
    su: str | None = None
    timeout: float
    call_timeout: float
    keepalive: int
    share_session: bool = False
    credentials: Any
    """The credential source's own config model instance (has at least ``source``)."""

    _origin: dict[str, Origin] = PrivateAttr(default_factory=dict)
    _file: str | None = PrivateAttr(default=None)
    _registry: Any = PrivateAttr(default=None)

    @property
    def origin(self) -> dict[str, Origin]:
        """Where each key's value came from (file and table, defaults, extends, built-in, override)."""
        return dict(self._origin)

    @property
    def registry(self) -> Any:
        """The plugin registry that validated ``credentials`` (and so must fetch them); None if unknown."""
        return self._registry

    @property
    def file(self) -> str | None:
        """The file that defines this profile (None when built purely from overrides)."""
        return self._file

    @property
    def address(self) -> HostAddress:
        return parse_host(self.host)

    @property
    def hostname(self) -> str:
        return self.address.hostname

    @property
    def transport(self) -> str:
        """ssl, tcp, ws or wss: what the first connection uses."""
        return self.address.transport or "ssl"

    @property
    def source(self) -> str:
        return str(self.credentials.source)

    def display_address(self) -> str:
        """``host:port`` (``[v6]:port`` for IPv6), as people write it."""
        host = self.hostname
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    @property
    def client_host(self) -> str:
        """The ``host`` to give ``omero.client``: a URL as written (omero-py reads it), else the bare host,
        double-quoted when it holds ':' (IPv6), since omero-py writes it unquoted into Ice's ``-h HOST``
        and Ice reads an unquoted ':' as the start of another endpoint."""
        if self.address.transport:
            return self.host
        return f'"{self.hostname}"' if ":" in self.hostname else self.hostname

    @property
    def url(self) -> str:
        """``transport://host:port[/path]``: where the first connection goes, in one string."""
        return f"{self.transport}://{self.display_address()}{self.address.path}"

    def redacted(self) -> dict[str, Any]:
        """A JSON-ready dict of the profile's keys, every secret shown as '**********'."""
        data = self.model_dump(mode="json", exclude={"credentials"})
        data["credentials"] = self.credentials.model_dump(mode="json")
        return data
