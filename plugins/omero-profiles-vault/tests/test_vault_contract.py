"""The vault source keeps the credential-source contract (omeroprofiles.contract), against a real OpenBao."""

from __future__ import annotations

import pytest
from conftest import VaultWorld
from omeroprofiles.contract import ContractContext, CredentialSourceContract

from omeroprofiles_vault import VaultSource


class TestVaultSource(CredentialSourceContract):
    """KV v2 at secret/, the token in $VAULT_TOKEN (a reader token, not root)."""

    source_class = VaultSource
    entry_point = "vault"

    @pytest.fixture(autouse=True)
    def _vault(self, vault: VaultWorld) -> None:
        self.vault = vault

    def working_table(self, ctx: ContractContext) -> dict:
        ctx.monkeypatch.setenv("VAULT_TOKEN", self.vault.reader_token)
        return {"source": "vault", "url": self.vault.address, "path": f"omero/{ctx.user}"}

    def failing_table(self, ctx: ContractContext) -> dict:
        ctx.monkeypatch.setenv("VAULT_TOKEN", self.vault.reader_token)
        return {"source": "vault", "url": self.vault.address, "path": "omero/denied"}

    def secrets(self, ctx: ContractContext) -> list[str]:
        return [ctx.password, *self.vault.secrets()]


class TestVaultSourceAppRoleKV1(TestVaultSource):
    """KV v1 at kv1/, an AppRole login (role_id in the table, the secret id in an environment variable)."""

    def working_table(self, ctx: ContractContext) -> dict:
        ctx.monkeypatch.setenv("OMERO_VAULT_SECRET_ID", self.vault.secret_id())
        return {"source": "vault", "url": self.vault.address, "mount": "kv1", "kv_version": 1,
                "path": f"omero/{ctx.user}", "role_id": self.vault.role_id, "secret_id_env": "OMERO_VAULT_SECRET_ID"}

    def failing_table(self, ctx: ContractContext) -> dict:
        ctx.monkeypatch.setenv("OMERO_VAULT_SECRET_ID", "canary-wrong-secret-id")
        return {**self.working_table(ctx), "secret_id_env": "OMERO_VAULT_SECRET_ID_UNSET"}

    def secrets(self, ctx: ContractContext) -> list[str]:
        return [*super().secrets(ctx), "canary-wrong-secret-id"]
