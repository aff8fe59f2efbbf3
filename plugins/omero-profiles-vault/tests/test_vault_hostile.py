"""Vault answers that redirect, are malformed or too large, and secret values that are not one line.

Redirects and broken answers come from an HTTP front on a loopback port (``vault_helpers.http_front``)
in front of the real OpenBao: it passes every answer on except the one a test redirects, rewrites or
replaces. Where the oddity is OpenBao's own (a key name or a user name with a newline), the secret is
simply written to the real OpenBao. A redirect target records whatever reaches it: the token, the
secret id and every other request must never be among it.
"""

from __future__ import annotations

import importlib
import json
import threading
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import pytest
from conftest import Profiles, VaultWorld
from omeroprofiles import CredentialError, get_conn
from vault_helpers import Reply, Seen, assert_fails, exception_texts, http_front, run_cli, where

CANARY_TOKEN = "canary-redirected-token-93d1"
CANARY_SECRET = "canary-secret-value-0b7e"
MALFORMED_HINT = ("check url / $VAULT_ADDR: it must point at Vault itself, not at another service or at a proxy "
                  "that changes its answers")
VALUE_HINT = "correct the value in Vault: a user name or a session key is one line of visible text"


@pytest.fixture
def forbidden(vault: VaultWorld, omero_server: Any) -> list[str]:
    """Everything that must never be shown: tokens, secret ids, the role id, passwords, canaries."""
    return [*vault.secrets(), vault.role_id, CANARY_TOKEN, CANARY_SECRET,
            *(user.password for user in omero_server.users.values() if len(user.password) > 5)]


def fails(name: str, forbidden: list[str]) -> CredentialError:
    """get_conn's CredentialError (exit code 4), checked to hold no secret anywhere in its chain."""
    with pytest.raises(CredentialError) as info:
        get_conn(name)
    assert info.value.exit_code == 4
    chain = exception_texts(info.value)
    for secret in filter(None, forbidden):
        assert secret not in chain, "a secret is in the exception chain"
    return info.value


def connects_as(name: str) -> str:
    conn = get_conn(name)
    try:
        return conn.getUser().getName()
    finally:
        conn.close()


# -- redirects -----------------------------------------------------------------------------------
@pytest.fixture
def elsewhere(omero_server: Any) -> Iterator[tuple[str, list[Seen]]]:
    """Another address, as a redirect names it: it answers every request as a Vault would (a login and
    a secret with alice's real password), so a client that follows the redirect works, and logs in as
    alice, with whatever it sent there."""
    answer = {"auth": {"client_token": "s.forged"}, "lease_duration": 0,
              "data": {"data": {"username": "alice", "password": omero_server.users["alice"].password},
                       "metadata": {"version": 1}}}
    with http_front(respond=lambda seen, upstream: Reply(200, json.dumps(answer).encode())) as front:
        yield front


def redirecting(path: str, target: str, status: int = 307) -> Callable[[Seen, Callable[[], Reply]], Reply]:
    """Pass every answer on, but answer requests for ``path`` with a redirect to the same path at ``target``."""
    def respond(seen: Seen, upstream: Callable[[], Reply]) -> Reply:
        if seen.path.split("?")[0] == path:
            return Reply(status, b"", {"Location": target + seen.path})
        return upstream()
    return respond


def redirect_message(name: str, address: str, path: str, method: str, requested: str, target: str,
                     status: int = 307, mount: str = "secret") -> str:
    return where(name, address, path, mount) + (f": Vault answered {method} {requested} with a redirect (HTTP "
                                                f"{status}) to {target}{requested}: not followed, so nothing was "
                                                "sent there")


def redirect_hint(target: str) -> str:
    return (f"if {target} is your Vault (a standby node redirects to the active node), set url to it; otherwise "
            "check url / $VAULT_ADDR")


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirected_kv2_read_is_not_followed(status: int, vault: VaultWorld, profiles: Profiles,
                                               forbidden: list[str], elsewhere: tuple[str, list[Seen]],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: requests followed the redirect with X-Vault-Token (it strips only Authorization across
    hosts), and the answer from there was used: exit 0, logged in as whoever that address chose."""
    target, reached = elsewhere
    monkeypatch.setenv("VAULT_TOKEN", vault.reader_token)
    requested = "/v1/secret/data/omero/bob"
    with http_front(vault.address, redirecting(requested, target, status)) as (address, _):
        profiles.add("moved", {"source": "vault", "url": address, "path": "omero/bob"})
        error = fails("moved", forbidden)
    assert reached == [], "a request reached the address the redirect named"
    assert str(error) == redirect_message("moved", address, "omero/bob", "GET", requested, target, status)
    assert error.hint == redirect_hint(target)


def test_a_redirect_through_the_cli_shows_no_token(vault: VaultWorld, profiles: Profiles, forbidden: list[str],
                                                  elsewhere: tuple[str, list[Seen]],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """`omero-profile test NAME`, plain and with --debug, with a canary token: exit 4, one error line
    naming the target, and the token in no output and in no part of the traceback chain."""
    target, reached = elsewhere
    monkeypatch.setenv("VAULT_TOKEN", CANARY_TOKEN)
    requested = "/v1/secret/data/omero/alice"
    with http_front(vault.address, redirecting(requested, target)) as (address, _):
        profiles.add("moved", {"source": "vault", "url": address, "path": "omero/alice"})
        assert_fails("moved", redirect_message("moved", address, "omero/alice", "GET", requested, target),
                     redirect_hint(target), forbidden)
    assert reached == []


def test_a_redirected_kv1_read_with_token_env_is_not_followed(vault: VaultWorld, profiles: Profiles,
                                                              forbidden: list[str],
                                                              elsewhere: tuple[str, list[Seen]],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    target, reached = elsewhere
    monkeypatch.setenv("LAB_TOKEN", vault.reader_token)
    requested = "/v1/kv1/omero/bob"
    with http_front(vault.address, redirecting(requested, target)) as (address, _):
        profiles.add("moved", {"source": "vault", "url": address, "path": "omero/bob", "mount": "kv1",
                               "kv_version": 1, "token_env": "LAB_TOKEN"})
        error = fails("moved", forbidden)
    assert reached == []
    assert str(error) == redirect_message("moved", address, "omero/bob", "GET", requested, target, mount="kv1")


def test_a_redirected_approle_login_is_not_followed(vault: VaultWorld, profiles: Profiles, forbidden: list[str],
                                                    elsewhere: tuple[str, list[Seen]],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A 307 keeps the method and the body: following it would post the secret id to the other address."""
    target, reached = elsewhere
    monkeypatch.setenv("VAULT_SECRET_ID", vault.secret_id())
    requested = "/v1/auth/approle/login"
    with http_front(vault.address, redirecting(requested, target)) as (address, _):
        profiles.add("moved", {"source": "vault", "url": address, "path": "omero/bob", "role_id": vault.role_id})
        error = fails("moved", forbidden)
    assert reached == []
    assert str(error) == redirect_message("moved", address, "omero/bob", "POST", requested, target)


def test_a_redirected_token_lookup_after_a_refusal_is_not_followed(vault: VaultWorld, profiles: Profiles,
                                                                   forbidden: list[str], isolated: Any,
                                                                   elsewhere: tuple[str, list[Seen]]) -> None:
    """After a 403 the plugin asks Vault about the token (auth/token/lookup-self, token from
    ~/.vault-token): that request may not go elsewhere either; the refusal is still reported."""
    target, reached = elsewhere
    vault.write("omero/denied", {"username": "alice", "password": CANARY_SECRET})
    (isolated / ".vault-token").write_text(vault.reader_token + "\n")
    with http_front(vault.address, redirecting("/v1/auth/token/lookup-self", target)) as (address, seen):
        profiles.add("denied", {"source": "vault", "url": address, "path": "omero/denied"})
        error = fails("denied", forbidden)
    assert [request.path for request in seen] == ["/v1/secret/data/omero/denied", "/v1/auth/token/lookup-self"]
    assert reached == []
    assert str(error) == where("denied", address, "omero/denied") + (
        ": permission denied (the token's policies do not allow reading secret/data/omero/denied) (or the token "
        "is no longer valid)")


def test_a_redirected_mount_lookup_after_not_found_is_not_followed(vault: VaultWorld, profiles: Profiles,
                                                                   forbidden: list[str],
                                                                   elsewhere: tuple[str, list[Seen]],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """After a 404 the plugin asks which engine the mount is (sys/internal/ui/mounts): not elsewhere."""
    target, reached = elsewhere
    monkeypatch.setenv("VAULT_TOKEN", vault.server.root_token)
    with http_front(vault.address, redirecting("/v1/sys/internal/ui/mounts/kv1", target)) as (address, seen):
        profiles.add("as-v2", {"source": "vault", "url": address, "path": "omero/alice", "mount": "kv1"})
        error = fails("as-v2", forbidden)
    assert "/v1/sys/internal/ui/mounts/kv1" in [request.path for request in seen]
    assert reached == []
    assert str(error) == where("as-v2", address, "omero/alice", "kv1") + \
        ": secret not found (nothing at kv1/data/omero/alice)"


def test_a_redirected_token_revocation_is_not_followed(vault: VaultWorld, profiles: Profiles,
                                                       elsewhere: tuple[str, list[Seen]],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The read worked; the AppRole token's revocation is redirected: the token stays here (it ends at
    its TTL), the connection works."""
    target, reached = elsewhere
    monkeypatch.setenv("VAULT_SECRET_ID", vault.secret_id())
    with http_front(vault.address, redirecting("/v1/auth/token/revoke-self", target)) as (address, seen):
        profiles.add("revoke", {"source": "vault", "url": address, "path": "omero/bob", "role_id": vault.role_id})
        assert connects_as("revoke") == "bob"
    assert "/v1/auth/token/revoke-self" in [request.path for request in seen]
    assert reached == []


# -- malformed answers ---------------------------------------------------------------------------
def rewrite(path: str, change: Callable[[Reply], Reply | Callable[[BinaryIO], None]]):
    """Pass every answer on, but change the real answer to requests for ``path``."""
    def respond(seen: Seen, upstream: Callable[[], Reply]) -> Reply | Callable[[BinaryIO], None]:
        real = upstream()
        return change(real) if seen.path.split("?")[0] == path else real
    return respond


def with_json(edit: Callable[[Any], Any]) -> Callable[[Reply], Reply]:
    """The real answer's JSON, edited: ``edit`` gets the parsed answer and returns the new one."""
    def change(real: Reply) -> Reply:
        return Reply(real.status, json.dumps(edit(json.loads(real.body))).encode(), real.headers)
    return change


def body(status: int, text: bytes, content_type: str | None = "application/json") -> Callable[[Reply], Reply]:
    return lambda real: Reply(status, text, {"Content-Type": content_type} if content_type else {})


def setting(keys: tuple[str, ...], value: Any) -> Callable[[Any], Any]:
    def edit(answer: Any) -> Any:
        node = answer
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
        return answer
    return edit


KV1_ALICE = {"mount": "kv1", "kv_version": 1, "path": "omero/leased"}
KV2_BOB = {"path": "omero/bob"}
NESTED = b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"

MALFORMED = {
    # name: (profile keys, request path, change, what)
    "huge lease": (KV1_ALICE, "/v1/kv1/omero/leased", with_json(setting(("lease_duration",), 10**400)),
                   "'lease_duration' is not a whole number of seconds from 0 to 292 years"),
    "lease true": (KV1_ALICE, "/v1/kv1/omero/leased", with_json(setting(("lease_duration",), True)),
                   "'lease_duration' is not a whole number of seconds from 0 to 292 years"),
    "negative lease": (KV1_ALICE, "/v1/kv1/omero/leased", with_json(setting(("lease_duration",), -1)),
                       "'lease_duration' is not a whole number of seconds from 0 to 292 years"),
    "lease as text": (KV1_ALICE, "/v1/kv1/omero/leased", with_json(setting(("lease_duration",), "3600")),
                      "'lease_duration' is not a whole number of seconds from 0 to 292 years"),
    "a JSON list": (KV2_BOB, "/v1/secret/data/omero/bob", body(200, b"[]"),
                    "the answer is a JSON list where Vault sends a JSON object"),
    "kv2 data as a string": (KV2_BOB, "/v1/secret/data/omero/bob", with_json(setting(("data",), "x")),
                             "'data' is a JSON string where Vault sends a JSON object"),
    "kv1 data as a string": (KV1_ALICE, "/v1/kv1/omero/leased", with_json(setting(("data",), "x")),
                             "'data' is a JSON string where Vault sends a JSON object"),
    "kv2 secret as a list": (KV2_BOB, "/v1/secret/data/omero/bob", with_json(setting(("data", "data"), [1])),
                             "'data.data' is a JSON list where Vault sends a JSON object"),
    "metadata as a string": (KV2_BOB, "/v1/secret/data/omero/bob",
                             with_json(lambda a: {**a, "data": {"data": None, "metadata": "x"}}),
                             "'data.metadata' is a JSON string where Vault sends a JSON object"),
    "deeply nested": (KV2_BOB, "/v1/secret/data/omero/bob", body(200, NESTED), "JSON nested too deeply"),
    "not JSON": (KV2_BOB, "/v1/secret/data/omero/bob", body(200, b"<html>hello</html>", "text/html"),
                 "not JSON (HTTP 200, Content-Type text/html)"),
    "no body": (KV2_BOB, "/v1/secret/data/omero/bob", body(204, b""),
                "no JSON object (HTTP 204 with an empty body)"),
    "an error as a list": (KV2_BOB, "/v1/secret/data/omero/bob", body(403, b"[1]"),
                           "the answer is a JSON list where Vault sends a JSON object"),
    "errors not strings": (KV2_BOB, "/v1/secret/data/omero/bob", body(403, b'{"errors": [1, 2]}'),
                           "'errors' is not a list of strings"),
    "not found, data as a string": (KV2_BOB, "/v1/secret/data/omero/bob", body(404, b'{"data": "x"}'),
                                    "'data' is a JSON string where Vault sends a JSON object"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_read_answer_is_exit_4_naming_where(case: str, vault: VaultWorld, profiles: Profiles,
                                                        forbidden: list[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: OverflowError, AttributeError, TypeError or RecursionError (exit 1, nothing named), or a
    lease that was quietly taken (or ignored); now a CredentialError naming address, mount, path."""
    keys, requested, change, what = MALFORMED[case]
    monkeypatch.setenv("VAULT_TOKEN", vault.reader_token)
    with http_front(vault.address, rewrite(requested, change)) as (address, _):
        profiles.add("odd", {"source": "vault", "url": address, **keys})
        error = fails("odd", forbidden)
    assert str(error) == where("odd", address, keys["path"], keys.get("mount", "secret")) + \
        f": malformed answer: {what} (GET {requested})"
    assert error.hint == MALFORMED_HINT


def test_a_malformed_deleted_version_answer_puts_no_line_of_its_own(vault: VaultWorld, profiles: Profiles,
                                                                     forbidden: list[str],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: the version number from the answer went into the message and hint as it was, a newline
    and all (a second 'error:' line)."""
    vault.write("omero/gone", {"username": "alice", "password": CANARY_SECRET})
    vault.server.cli("kv", "delete", "-mount=secret", "omero/gone")
    monkeypatch.setenv("VAULT_TOKEN", vault.reader_token)
    requested = "/v1/secret/data/omero/gone"
    forged = with_json(setting(("data", "metadata", "version"), "1\nomero-profile: error: forged"))
    with http_front(vault.address, rewrite(requested, forged)) as (address, _):
        profiles.add("gone", {"source": "vault", "url": address, "path": "omero/gone"})
        error = fails("gone", forbidden)
        done = run_cli("test", "gone")
    assert str(error) == where("gone", address, "omero/gone") + \
        f": malformed answer: 'data.metadata.version' is not a version number (GET {requested})"
    assert done.returncode == 4
    assert [line.split(":")[1] for line in done.stderr.splitlines()] == [" error", " hint"]


@pytest.mark.parametrize(("answer", "what"), [
    ({"auth": None}, "'auth' is null where Vault sends a JSON object"),
    ({"auth": {"client_token": 5}}, "'auth.client_token' is not a Vault token"),
    ({"auth": {"client_token": "s.abc\r\nX-Evil: 1"}}, "'auth.client_token' is not a Vault token"),
], ids=["auth null", "token a number", "token with a newline"])
def test_a_malformed_approle_login_answer(answer: dict, what: str, vault: VaultWorld, profiles: Profiles,
                                          forbidden: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_SECRET_ID", vault.secret_id())
    requested = "/v1/auth/approle/login"
    with http_front(vault.address, rewrite(requested, with_json(lambda real: answer))) as (address, _):
        profiles.add("login", {"source": "vault", "url": address, "path": "omero/bob", "role_id": vault.role_id})
        error = fails("login", forbidden)
    assert str(error) == where("login", address, "omero/bob") + f": malformed answer: {what} (POST {requested})"
    assert error.hint == MALFORMED_HINT


@pytest.mark.parametrize("mounts", [{"data": "x"}, {"data": {"type": "kv\nomero-profile: error: forged",
                                                             "options": {"version": "1"}}}],
                         ids=["data a string", "type with a newline"])
def test_a_malformed_mount_description_only_loses_the_hint(mounts: dict, vault: VaultWorld, profiles: Profiles,
                                                          forbidden: list[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The mount lookup after a 404 is a best-effort hint: an odd answer to it drops the hint (before:
    AttributeError, exit 1; or the answer's text as a line of its own)."""
    monkeypatch.setenv("VAULT_TOKEN", vault.server.root_token)
    requested = "/v1/sys/internal/ui/mounts/kv1"
    with http_front(vault.address, rewrite(requested, with_json(lambda real: mounts))) as (address, _):
        profiles.add("as-v2", {"source": "vault", "url": address, "path": "omero/alice", "mount": "kv1"})
        error = fails("as-v2", forbidden)
    assert str(error) == where("as-v2", address, "omero/alice", "kv1") + \
        ": secret not found (nothing at kv1/data/omero/alice)"


# -- answers too large ---------------------------------------------------------------------------
MiB = 1024 * 1024
START = b'{"data": {"data": {"username": "alice", "password": "'


class Flood:
    """A scripted answer of about 100 MiB, counting the bytes it managed to send before the client hung up."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.sent = 0
        self.done = threading.Event()

    def __call__(self, seen: Seen, upstream: Callable[[], Reply]) -> Callable[[BinaryIO], None]:
        return self.write

    def pieces(self) -> Iterator[bytes]:
        chunk = b"a" * (64 * 1024)
        yield START
        for _ in range(100 * 16):
            yield chunk

    def write(self, out: BinaryIO) -> None:
        try:
            if self.kind == "gzip":  # 100 MiB that travel as about 100 KiB
                packer = zlib.compressobj(9, zlib.DEFLATED, 31)
                packed = b"".join(packer.compress(piece) for piece in self.pieces()) + packer.flush()
                out.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                          b"Content-Length: %d\r\n\r\n" % len(packed))
                out.write(packed)
                self.sent = len(packed)
                return
            length = b"Content-Length: %d\r\n" % (100 * MiB + len(START)) if self.kind == "declared" else b""
            out.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n" + length +
                      b"\r\n")
            for piece in self.pieces():
                out.write(piece)
                out.flush()
                self.sent += len(piece)
        except OSError:
            return
        finally:
            self.done.set()


@pytest.mark.parametrize("kind", ["declared", "undeclared", "gzip"])
def test_an_answer_above_one_mebibyte_is_refused_unread(kind: str, profiles: Profiles, forbidden: list[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: a 100 MiB answer was read whole (and held in memory several times over). Now: a
    Content-Length above 1 MiB is refused before any of the body is read; without one (or compressed),
    reading stops after 1 MiB. Measured: the bytes the server got out, and the fetch's peak memory."""
    monkeypatch.setenv("VAULT_TOKEN", CANARY_TOKEN)
    flood = Flood(kind)
    with http_front(respond=flood) as (address, _):
        profiles.add("big", {"source": "vault", "url": address, "path": "omero/alice"}, timeout=30)
        for module in ("omeroprofiles.connection", "omeroprofiles_vault.reader"):
            importlib.import_module(module)  # imported first: the fetch's memory is measured, not hvac's import
        tracemalloc.start()
        try:
            error = fails("big", forbidden)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        flood.done.wait(10)
    what = (f"an answer of {100 * MiB + len(START)} bytes (its Content-Length), more than the 1 MiB allowed: not read"
            if kind == "declared" else "an answer larger than the 1 MiB allowed: reading stopped there")
    assert str(error) == where("big", address, "omero/alice") + \
        f": malformed answer: {what} (GET /v1/secret/data/omero/alice)"
    assert peak < 16 * MiB, f"the fetch held {peak / MiB:.0f} MiB"
    if kind != "gzip":
        assert flood.sent < 50 * MiB, f"the client read {flood.sent / MiB:.0f} MiB"


# -- values and key names that are not one line (written to the real OpenBao as they are) ----------
def test_a_user_name_with_a_newline_is_refused_on_one_line(vault: VaultWorld, profiles: Profiles,
                                                           forbidden: list[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: the name went to the server and came back in the rejection, as two 'error:' lines."""
    vault.write("omero/two-lines", {"username": "alice\nomero-profile: error: forged", "password": CANARY_SECRET})
    monkeypatch.setenv("VAULT_TOKEN", vault.reader_token)
    profiles.add("lines", {"source": "vault", "url": vault.address, "path": "omero/two-lines"})
    assert_fails("lines", where("lines", vault.address, "omero/two-lines") +
                 ": key 'username' (the OMERO username) contains a control character (\\n)", VALUE_HINT, forbidden)


def test_a_session_key_with_a_control_character_is_refused(vault: VaultWorld, profiles: Profiles,
                                                           forbidden: list[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    vault.write("omero/escape", {"session": "\x1b[2J" + CANARY_SECRET})
    monkeypatch.setenv("VAULT_TOKEN", vault.reader_token)
    profiles.add("esc", {"source": "vault", "url": vault.address, "path": "omero/escape", "session_key_key": "session"})
    error = fails("esc", forbidden)
    assert str(error) == where("esc", vault.address, "omero/escape") + \
        ": key 'session' (the OMERO session key) contains a control character (\\x1b)"
    assert error.hint == VALUE_HINT


def test_key_names_are_listed_escaped_and_at_most_twenty(vault: VaultWorld, profiles: Profiles,
                                                         forbidden: list[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: a key name with a newline made a second 'error:' line, and every key was listed."""
    vault.write("omero/odd-names", {"user\nomero-profile: error: forged": "alice", "pass": CANARY_SECRET})
    vault.write("omero/many", {f"k{i:03}": "x" for i in range(100)})
    monkeypatch.setenv("VAULT_TOKEN", vault.reader_token)
    profiles.add("odd", {"source": "vault", "url": vault.address, "path": "omero/odd-names"})
    profiles.add("many", {"source": "vault", "url": vault.address, "path": "omero/many"})
    error = fails("odd", forbidden)
    assert str(error) == where("odd", vault.address, "omero/odd-names") + \
        ": key 'username' (the OMERO username) not found in the secret (its keys: pass, " \
        "user\\nomero-profile: error: forged)"
    done = run_cli("test", "odd")
    assert done.returncode == 4
    assert [line.split(":")[1] for line in done.stderr.splitlines()] == [" error", " hint"]
    listed = ", ".join(f"k{i:03}" for i in range(20))
    assert str(fails("many", forbidden)) == where("many", vault.address, "omero/many") + \
        f": key 'username' (the OMERO username) not found in the secret (its keys: {listed} and 80 more)"


def test_a_password_that_is_not_unicode_text_is_refused(vault: VaultWorld, profiles: Profiles, forbidden: list[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """JSON can carry a lone surrogate ("\\ud800"; OpenBao itself would store U+FFFD), which no server
    can take. A password may hold any character, but it must be text."""
    monkeypatch.setenv("VAULT_TOKEN", vault.reader_token)
    requested = "/v1/secret/data/omero/bob"
    broken = with_json(setting(("data", "data", "password"), "pw\ud800"))
    with http_front(vault.address, rewrite(requested, broken)) as (address, _):
        profiles.add("surrogate", {"source": "vault", "url": address, "path": "omero/bob"})
        error = fails("surrogate", forbidden)
    assert str(error) == where("surrogate", address, "omero/bob") + \
        ": key 'password' (the OMERO password) is not valid Unicode text"
    assert error.hint == "store the OMERO password in the secret under 'password', as text"
