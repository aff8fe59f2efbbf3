"""``source = "vault"``: OMERO credentials from HashiCorp Vault or OpenBao.

A separately installed plugin distribution (``omero-profiles-vault``), found through the
``omeroprofiles`` entry-point group. It reads one KV v2 (default) or KV v1 secret holding the
OMERO username and password, or an OMERO session key. The Vault token comes from
``$VAULT_TOKEN``/``~/.vault-token``, a variable named by ``token_env``, or an AppRole login whose
secret id is in an environment variable; nothing secret is written in profiles.toml.

hvac (and requests) are imported only when credentials are fetched, so ``omero-profile list``
stays fast with this plugin installed. The keys, failure messages and lease handling are
documented in this distribution's README.md.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from omeroprofiles import hookimpl
from omeroprofiles.credentials import Credentials, CredentialSource

from .config import VaultConfig

try:
    __version__ = version("omero-profiles-vault")
except PackageNotFoundError:  # pragma: no cover - running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["VaultConfig", "VaultSource", "__version__"]


class VaultSource(CredentialSource):
    name = "vault"
    config_model = VaultConfig
    summary = "a KV v1/v2 secret in HashiCorp Vault or OpenBao (token or AppRole)"

    def fetch(self, profile, config: VaultConfig) -> Credentials:
        from .reader import fetch

        return fetch(profile, config)

    def describe(self, config: VaultConfig) -> str:
        if config.username:
            return config.username
        return f"vault:{config.mount}/{config.path}"


@hookimpl
def omeroprofiles_credential_sources():
    return [VaultSource]
