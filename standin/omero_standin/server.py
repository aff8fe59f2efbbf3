"""Run the stand-in OMERO server: ``python -m omero_standin.server``.

A small, pure-Python OMERO server on the real Ice 3.6 runtime, for tests and demos: the
real omero-py client (``omero.client``, ``BlitzGateway``) logs in to it over real sockets.
It serves the Glacier2 router ``OMERO.Glacier2/router`` and the services the client uses to
log in, inspect the user and groups, switch groups, sudo and manage sessions, from one
adapter on 127.0.0.1 with SSL and TCP (and optionally WS and WSS) endpoints. Users come from
a TOML file (see ``omero_standin.users``; default: the built-in set).

    python -m omero_standin.server [--users FILE] [--ssl PORT] [--tcp PORT]
        [--ws PORT] [--wss PORT] [--control PORT] [--session-timeout SECONDS] [--login-delay SECONDS]
        [--login-concurrency N] [--cert PEMFILE]
        [--verbose]

Port 0 picks a free port; WS and WSS are off unless given. When ready it prints exactly one
JSON line on stdout::

    {"host": "127.0.0.1", "ssl": 40123, "tcp": 40124, "ws": null, "wss": null,
     "control": 40125, "pid": 4242, "session_timeout": 600.0}

``control`` is the HTTP control endpoint (see ``omero_standin.control``). SIGTERM or
SIGINT (and, with ``--watch-stdin``, end of stdin) stop it cleanly with exit status 0.
``--verbose`` logs every call (transport, identity, operation) to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

HOST = "127.0.0.1"
# Ice endpoint type codes (Ice.TCPEndpointType, IceSSL.EndpointType, Ice.WSEndpointType, ...)
_ENDPOINT_TYPES = {1: "tcp", 2: "ssl", 4: "ws", 5: "wss"}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m omero_standin.server",
        description="Stand-in OMERO server for tests (Glacier2 router + session services on Ice 3.6).",
    )
    p.add_argument("--users", metavar="FILE", help="users TOML file (default: the built-in set)")
    p.add_argument("--ssl", metavar="PORT", type=int, default=0, help="SSL port (default 0 = free port)")
    p.add_argument("--tcp", metavar="PORT", type=int, default=0, help="TCP port (default 0 = free port)")
    p.add_argument("--ws", metavar="PORT", type=int, default=None, help="WebSocket port (default: off)")
    p.add_argument("--wss", metavar="PORT", type=int, default=None, help="TLS WebSocket port (default: off)")
    p.add_argument("--control", metavar="PORT", type=int, default=0, help="HTTP control port (default 0)")
    p.add_argument(
        "--session-timeout", metavar="SECONDS", type=float, default=600.0,
        help="idle timeout of sessions (default 600, as OMERO; 0 = never)",
    )
    p.add_argument(
        "--login-delay", metavar="SECONDS", type=float, default=0.0,
        help="time a password check takes (a real server's LDAP bind or password hash; default 0)",
    )
    p.add_argument(
        "--login-concurrency", metavar="N", type=int, default=0,
        help="password checks at once, the rest queue (a directory's connection pool; default 0 = no limit)",
    )
    p.add_argument(
        "--cert", metavar="PEMFILE", default=None,
        help="TLS certificate and its private key, one PEM file (default: the shipped test-only localhost one)",
    )
    p.add_argument("--verbose", action="store_true", help="log every call to stderr")
    p.add_argument("--watch-stdin", action="store_true", help="stop when stdin reaches end of file")
    return p


def endpoints(args: argparse.Namespace) -> str:
    parts = [f"ssl -h {HOST} -p {args.ssl}", f"tcp -h {HOST} -p {args.tcp}"]
    if args.ws is not None:
        parts.append(f"ws -h {HOST} -p {args.ws}")
    if args.wss is not None:
        parts.append(f"wss -h {HOST} -p {args.wss}")
    return ":".join(parts)


def ice_properties(args: argparse.Namespace) -> Any:
    import Ice

    from .certs import CERT_FILE

    props = Ice.createProperties([])
    for key, value in {
        "Ice.Plugin.IceSSL": "IceSSL:createIceSSL",
        "IceSSL.CertFile": str(args.cert or CERT_FILE),
        "IceSSL.VerifyPeer": "0",
        "Ice.ThreadPool.Server.Size": "4",
        "Ice.ThreadPool.Server.SizeMax": "16",
        "Ice.ThreadPool.Server.SizeWarn": "0",
        # Keep idle client connections open, as OMERO's Glacier2 does for live sessions.
        "Ice.ACM.Server.Close": "0",
        "Ice.ACM.Server.Heartbeat": "0",
        "Ice.MessageSizeMax": "65536",
        "Ice.Warn.Connections": "0",
        "OMERO.Glacier2.Endpoints": endpoints(args),
    }.items():
        props.setProperty(key, value)
    return props


def _ports(adapter: Any) -> dict[str, int]:
    ports: dict[str, int] = {}
    for ep in adapter.getEndpoints():
        info = ep.getInfo()
        name = _ENDPOINT_TYPES.get(info.type())
        if name:
            ports[name] = info.port
    return ports


def _register_object_factories(ic: Any) -> None:
    """Let the server unmarshal omero.model objects and rtypes sent by clients, as omero.client does."""
    import omero.ObjectFactoryRegistrar as ofr
    import omero.rtypes

    ofr.registerObjectFactory(ic, None)
    for factory in omero.rtypes.ObjectFactories.values():
        factory.register(ic)


def run(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    from .users import UsersFileError, load_users

    try:
        users = load_users(args.users)
    except UsersFileError as exc:
        print(f"stand-in server: {exc}", file=sys.stderr)
        return 2

    import Ice
    import omero.all  # noqa: F401 - registers every Slice type the client may send or expect

    from . import control
    from .context import StandIn
    from .directory import Directory
    from .glacier import Locator
    from .state import Registry

    directory = Directory.from_spec(users)
    registry = Registry(directory, tti_ms=int(args.session_timeout * 1000), login_delay=args.login_delay,
                        login_concurrency=args.login_concurrency)
    si = StandIn(directory, registry, verbose=args.verbose)
    if users.data:
        from .errors import StandInError
        from .seeding import seed_store

        try:
            seed_store(si, users.data)
        except StandInError as exc:
            print(f"stand-in server: {users.source}: [data]: {exc}", file=sys.stderr)
            return 2
    init = Ice.InitializationData()
    init.properties = ice_properties(args)
    ic = Ice.initialize(init)
    try:
        _register_object_factories(ic)
        adapter = ic.createObjectAdapter("OMERO.Glacier2")
        si.adapter = adapter
        adapter.addServantLocator(Locator(si), "")
        adapter.activate()
        si.ports = _ports(adapter)
        httpd = control.serve(registry, args.control, si.store)

        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        if args.watch_stdin:

            def watch() -> None:
                # os.read, not sys.stdin: a daemon thread blocked inside a buffered reader
                # aborts the interpreter at exit.
                try:
                    while os.read(0, 4096):
                        pass
                except OSError:
                    pass
                stop.set()

            threading.Thread(target=watch, name="standin-stdin", daemon=True).start()

        ready = {
            "host": HOST,
            "ssl": si.ports.get("ssl"),
            "tcp": si.ports.get("tcp"),
            "ws": si.ports.get("ws"),
            "wss": si.ports.get("wss"),
            "control": httpd.server_address[1],
            "pid": os.getpid(),
            "session_timeout": args.session_timeout,
        }
        print(json.dumps(ready), flush=True)
        while not stop.wait(1.0):
            pass
        httpd.shutdown()
        httpd.server_close()
    finally:
        ic.destroy()
    return 0


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
