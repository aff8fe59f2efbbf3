"""A tiny HTTP control endpoint on 127.0.0.1, so tests can see inside the stand-in server.

Tests must be able to assert "no leaked sessions" from outside the server process without
logging in (a login would itself be a session). Plain HTTP + JSON needs nothing but the
standard library on both sides, and works for any test process (``curl`` too):

- ``GET  /sessions``               live sessions: uuid, user, group, refcount, clients, ...
- ``POST /sessions/<uuid>/expire`` make a session time out now
- ``POST /sessions/<uuid>/close``  remove a session now, as ``ISession.closeSession`` would
- ``GET  /counters``               logins, failed logins, joins by key, failed joins, sessions created
- ``GET  /data``                   every object held (not enums): kind, id, name, owner, group, a
                                   well's row and column, the ids it refers to (parent, child, image...)
- ``GET  /health``                 ``{"ok": true}``
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .datastore import Ref, Store
from .directory import Directory
from .state import Registry


def data_snapshot(store: Store, directory: Directory) -> list[dict[str, Any]]:
    """Every stored object as plain data, by table and id."""
    out = []
    with store.lock:
        for rec in sorted(store.all_records(), key=lambda r: (r.table, r.id)):
            owner, group = directory.user(rec.owner_id), directory.group(rec.group_id)
            item: dict[str, Any] = {
                "kind": rec.kind, "id": rec.id, "owner": owner.name if owner else rec.owner_id,
                "group": group.name if group else rec.group_id,
            }
            for key in ("name", "textValue"):
                if isinstance(rec.fields.get(key), str):
                    item["name"] = rec.fields[key]
            for key in ("row", "column"):
                if isinstance(rec.fields.get(key), int):
                    item[key] = rec.fields[key]
            for key in ("parent", "child", "image", "roi", "plate", "well"):
                if isinstance(rec.fields.get(key), Ref):
                    item[key] = rec.fields[key].id
            out.append(item)
    return out


def serve(registry: Registry, port: int = 0, store: Store | None = None) -> ThreadingHTTPServer:
    """Start serving in a daemon thread; the bound port is ``server.server_address[1]``."""

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            if self.path == "/sessions":
                self._reply(200, registry.snapshot())
            elif self.path == "/counters":
                with registry.lock:
                    self._reply(200, dict(registry.counters))
            elif self.path == "/data" and store is not None:
                self._reply(200, data_snapshot(store, registry.directory))
            elif self.path == "/health":
                self._reply(200, {"ok": True})
            else:
                self._reply(404, {"error": f"no such path {self.path}"})

        def do_POST(self) -> None:  # noqa: N802
            parts = self.path.strip("/").split("/")
            if len(parts) == 3 and parts[0] == "sessions" and parts[2] in ("expire", "close"):
                action = registry.expire if parts[2] == "expire" else registry.kill
                done = action(parts[1])
                self._reply(200 if done else 404, {"ok": done})
            else:
                self._reply(404, {"error": f"no such path {self.path}"})

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, args=(0.05,), name="standin-control", daemon=True).start()
    return httpd
