"""Start the stand-in server in a subprocess and hand back a handle to it.

A subprocess, not a thread: the server gets its own Ice communicator and GIL, tests measure
the real client against a real separate process, and a crash cannot take the tests down.
The child watches its stdin, so it exits when the parent dies without stopping it.
Nothing here imports Ice or omero.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .users import UserDirectory, load_users, parse_users

UsersArg = UserDirectory | Mapping[str, Any] | str | os.PathLike[str] | None


class StandInServerError(RuntimeError):
    """The stand-in server did not start (the message carries its stderr) or misbehaved."""


@dataclass
class StandInServer:
    """A running stand-in server: where it listens, who can log in, and what sessions it holds."""

    host: str
    ssl_port: int
    tcp_port: int
    ws_port: int | None
    wss_port: int | None
    control_port: int
    pid: int
    session_timeout: float
    users: UserDirectory = field(repr=False)
    _proc: subprocess.Popen[bytes] = field(repr=False)
    _stderr: IO[bytes] = field(repr=False)
    _tempdir: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    # -- where ------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The SSL port: what ``BlitzGateway(..., port=)`` takes (as 4064 on a real server)."""
        return self.ssl_port

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:PORT/omero-ws``, a BlitzGateway ``host`` (use ``secure=True``)."""
        if self.ws_port is None:
            raise StandInServerError("this server was started without a WS endpoint")
        return f"ws://{self.host}:{self.ws_port}/omero-ws"

    @property
    def wss_url(self) -> str:
        """``wss://127.0.0.1:PORT/omero-ws``, a BlitzGateway ``host`` (use ``secure=True``)."""
        if self.wss_port is None:
            raise StandInServerError("this server was started without a WSS endpoint")
        return f"wss://{self.host}:{self.wss_port}/omero-ws"

    def gateway_args(self, user: str, *, secure: bool = True, **extra: Any) -> dict[str, Any]:
        """Keyword arguments for ``BlitzGateway(**...)`` logging in as ``user`` over SSL."""
        return {
            "username": user, "passwd": self.users[user].password, "host": self.host,
            "port": self.ssl_port, "secure": secure, **extra,
        }

    # -- inspecting (asks the running server over its HTTP control endpoint) ----------------

    def _control(self, method: str, path: str) -> tuple[int, Any]:
        import urllib.error
        import urllib.request

        req = urllib.request.Request(f"http://{self.host}:{self.control_port}{path}", method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")
        except OSError as exc:
            raise StandInServerError(
                f"stand-in control endpoint unreachable: {exc}\n{self.stderr()}"
            ) from exc

    def sessions(self) -> list[dict[str, Any]]:
        """Live sessions: uuid, user, group, sudoer, refcount, agent, idle time, clients (+transport)."""
        return self._control("GET", "/sessions")[1]

    def session_count(self, user: str | None = None) -> int:
        """Number of live (not closed, not timed-out) sessions, optionally of one user."""
        return sum(1 for s in self.sessions() if user is None or s["user"] == user)

    def counters(self) -> dict[str, int]:
        """Since start: ``logins`` (password), ``failed_logins``, ``joins`` (by session key),
        ``failed_joins``, ``sessions_created`` (logins, su, createUserSession)."""
        return self._control("GET", "/counters")[1]

    def data(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Every object the server holds now (kind, id, name, owner, group; parent/child of links),
        optionally only those of one entity (``"Project"``, ``"TagAnnotation"``...)."""
        return [o for o in self._control("GET", "/data")[1] if kind is None or o["kind"] == kind]

    def ids(self, kind: str, **where: Any) -> list[int]:
        """Ids of the objects of ``kind`` whose fields match ``where`` (``name="P1"``, ``owner="alice"``)."""
        return [o["id"] for o in self.data(kind) if all(o.get(k) == v for k, v in where.items())]

    def expire_session(self, session_uuid: str) -> bool:
        """Make a session time out now (its next call gets SessionTimeoutException)."""
        return self._control("POST", f"/sessions/{session_uuid}/expire")[0] == 200

    def close_session(self, session_uuid: str) -> bool:
        """Remove a session now, as if an admin had killed it."""
        return self._control("POST", f"/sessions/{session_uuid}/close")[0] == 200

    def stderr(self) -> str:
        """Everything the server wrote to stderr so far (the call log with ``verbose=True``)."""
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    # -- life -------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._proc.poll() is None

    def stop(self, timeout: float = 10.0) -> int:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout``); return its exit status."""
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None
        return self._proc.returncode

    def __enter__(self) -> StandInServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _users_file(users: UsersArg, tmp: Path) -> tuple[Path | None, UserDirectory]:
    """Where the child reads users from, and the same data parsed here."""
    if users is None:
        return None, load_users()
    if isinstance(users, (str, os.PathLike)):
        return Path(users), load_users(users)
    import tomli_w

    directory = users if isinstance(users, UserDirectory) else parse_users(users)
    path = tmp / "users.toml"
    path.write_text(tomli_w.dumps(directory.to_toml_dict()), encoding="utf-8")
    return path, load_users(path)


def _read_line(proc: subprocess.Popen[bytes], deadline: float) -> bytes | None:
    assert proc.stdout is not None
    buf = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if sel.select(min(left, 0.5)):
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    return buf or None
                buf += chunk
            elif proc.poll() is not None:
                return None
    return buf


def start_server(
    users: UsersArg = None,
    *,
    session_timeout: float = 600.0,
    login_delay: float = 0.0,
    login_concurrency: int = 0,
    ws: bool = True,
    wss: bool = True,
    verbose: bool = False,
    ssl_port: int = 0,
    tcp_port: int = 0,
    cert_file: str | os.PathLike[str] | None = None,
    startup_timeout: float = 30.0,
) -> StandInServer:
    """Start a stand-in server on loopback ports (0 = a free one) and wait until it is ready.

    ``users``: None (the built-in set), a users TOML file, a mapping shaped like that file, or a
    ``UserDirectory``. ``session_timeout``: idle timeout in seconds (OMERO's default 600).
    ``login_delay``: seconds each password check takes (model a real server's LDAP bind);
    ``login_concurrency``: at most this many checks at once, the rest queue (0: no limit).
    ``ws``/``wss``: also serve WebSocket endpoints. ``verbose``: log every call to the server's
    stderr (see ``StandInServer.stderr()``). ``cert_file``: serve this TLS certificate (one PEM file
    with the certificate and its private key) instead of the shipped localhost one, e.g. an
    expired or wrong-name certificate a test generated. Raises ``StandInServerError`` with the server's
    stderr if it does not start.
    """
    tempdir = tempfile.TemporaryDirectory(prefix="omero-standin-")
    users_path, directory = _users_file(users, Path(tempdir.name))
    cmd = [sys.executable, "-m", "omero_standin.server", "--watch-stdin",
           "--session-timeout", str(session_timeout), "--ssl", str(ssl_port), "--tcp", str(tcp_port),
           "--login-delay", str(login_delay), "--login-concurrency", str(login_concurrency)]
    if users_path is not None:
        cmd += ["--users", str(users_path)]
    if ws:
        cmd += ["--ws", "0"]
    if wss:
        cmd += ["--wss", "0"]
    if cert_file is not None:
        cmd += ["--cert", str(Path(cert_file).resolve())]
    if verbose:
        cmd.append("--verbose")
    env = {k: v for k, v in os.environ.items() if k != "ICE_CONFIG"}
    package_root = str(Path(__file__).resolve().parents[1])  # the directory holding omero_standin
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    stderr = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=env,
                            cwd=tempdir.name)
    line = _read_line(proc, time.monotonic() + startup_timeout)

    def fail(why: str) -> StandInServerError:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        stderr.seek(0)
        log = stderr.read().decode(errors="replace")
        tempdir.cleanup()
        return StandInServerError(
            f"stand-in OMERO server {why} (exit status {proc.returncode}); command: {' '.join(cmd)}\n"
            f"--- server stderr ---\n{log}"
        )

    if line is None:
        raise fail(f"did not report ready within {startup_timeout:g} s")
    try:
        ready = json.loads(line)
    except ValueError:
        raise fail(f"printed {line!r} instead of its JSON ready line") from None
    return StandInServer(
        host=ready["host"], ssl_port=ready["ssl"], tcp_port=ready["tcp"], ws_port=ready["ws"],
        wss_port=ready["wss"], control_port=ready["control"], pid=ready["pid"],
        session_timeout=ready["session_timeout"], users=directory,
        _proc=proc, _stderr=stderr, _tempdir=tempdir,
    )


@contextmanager
def running_server(users: UsersArg = None, **options: Any) -> Iterator[StandInServer]:
    """``with running_server() as srv:`` a stand-in server for the block; see ``start_server``."""
    server = start_server(users, **options)
    try:
        yield server
    finally:
        server.stop()
