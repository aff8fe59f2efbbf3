"""The netrc plugin keeps the credential-source contract (omeroprofiles.contract)."""

from __future__ import annotations

from omeroprofiles.contract import ContractContext, CredentialSourceContract

from omeroprofiles_netrc import NetrcSource


def _netrc(ctx: ContractContext, body: str) -> str:
    path = ctx.tmp_path / "netrc"
    path.write_text(body, encoding="utf-8")
    path.chmod(0o600)
    return str(path)


class TestNetrcSource(CredentialSourceContract):
    source_class = NetrcSource
    entry_point = "netrc"

    def working_table(self, ctx: ContractContext) -> dict:
        file = _netrc(ctx, f"machine {ctx.server.host} login {ctx.user} password {ctx.password}\n")
        return {"source": "netrc", "file": file}

    def failing_table(self, ctx: ContractContext) -> dict:
        file = _netrc(ctx, f"machine other.example.org login {ctx.user} password {ctx.password}\n")
        return {"source": "netrc", "file": file}
