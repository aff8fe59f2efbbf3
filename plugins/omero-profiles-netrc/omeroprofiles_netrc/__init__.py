"""``source = "netrc"``: credentials from a netrc file, looked up by the profile's host.

A small, real third-party plugin: it ships as its own distribution and is found through the
``omeroprofiles`` entry-point group, exactly as any plugin on PyPI would be.
"""

from __future__ import annotations

import netrc
import os

from omeroprofiles import CredentialError, hookimpl
from omeroprofiles.credentials import Credentials, CredentialSource, SourceConfig


class NetrcConfig(SourceConfig):
    file: str | None = None
    """Path of the netrc file; default $NETRC, else ~/.netrc."""
    machine: str | None = None
    """The machine entry to use; default the profile's host name."""


class NetrcSource(CredentialSource):
    name = "netrc"
    config_model = NetrcConfig
    summary = "a netrc file (machine HOST login USER password PASSWORD)"

    def fetch(self, profile, config: NetrcConfig) -> Credentials:
        path = os.path.expanduser(config.file or os.environ.get("NETRC") or "~/.netrc")
        machine = config.machine or profile.hostname
        try:
            entry = netrc.netrc(path).authenticators(machine)
        except FileNotFoundError:
            raise CredentialError(f"profile '{profile.name}': netrc file {path} does not exist") from None
        except netrc.NetrcParseError as exc:
            raise CredentialError(f"profile '{profile.name}': {path} line {exc.lineno}: cannot be parsed") \
                from None
        if entry is None or not entry[0] or not entry[2]:
            raise CredentialError(f"profile '{profile.name}': no login/password for machine '{machine}' in {path}")
        return Credentials(username=entry[0], password=entry[2])

    def describe(self, config: NetrcConfig) -> str:
        return f"netrc:{config.machine}" if config.machine else "netrc"


@hookimpl
def omeroprofiles_credential_sources():
    return [NetrcSource]
