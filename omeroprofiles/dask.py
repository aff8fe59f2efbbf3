"""Dask: every worker gets its OMERO connection from a profile, joined to one shared session.

    from distributed import Client
    from omeroprofiles.dask import OmeroPlugin, conn

    client = Client(cluster)
    client.register_plugin(OmeroPlugin("prod"))

    def thumbnail_size(image_id):
        return conn().getObject("Image", image_id).getSizeX()    # inside a task

    client.gather(client.map(thumbnail_size, ids))

The plugin carries only the profile's name (and non-secret overrides): no password or session
key travels through the task graph. Each worker reads the profiles file and the OMERO CLI
session store itself, so both must be on a filesystem the workers share (``$HOME`` on most
clusters). The profile is used with ``share_session = true`` and ``reconnect=True``: the first
connection on the cluster logs in once and stores the session, every other joins it, and when it
expires one worker logs in again while the others join the new one. A BlitzGateway must not be
used by two threads at once, so a worker has one connection per worker thread (one with
``threads_per_worker=1``), opened on first use and detached (never killed) when the worker closes.

Needs the optional extra: ``pip install omero-profiles[dask]``.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

try:
    from distributed import WorkerPlugin, get_worker
except ImportError as exc:  # the optional extra: say how to get it, not just which module is missing
    raise ImportError("omeroprofiles.dask needs Dask's distributed: pip install 'omero-profiles[dask]'",
                      name=exc.name) from exc

if TYPE_CHECKING:
    from .gateway import ProfileGateway

PLUGIN_NAME = "omero-profiles"


class OmeroPlugin(WorkerPlugin):
    """``client.register_plugin(OmeroPlugin("prod"))``: an OMERO connection for every worker."""

    name = PLUGIN_NAME

    def __init__(self, profile: str | None = None, *, config_file: str | None = None, **overrides: Any) -> None:
        from .api import check_overrides

        if "credentials" in overrides:
            raise ValueError("OmeroPlugin takes no credentials (they would travel through the task graph); "
                             "put them in the profile")
        self.profile = profile
        self.config_file = config_file
        self.overrides = check_overrides(overrides)

    def __repr__(self) -> str:
        return f"<OmeroPlugin profile={self.profile!r}>"

    def setup(self, worker: Any) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[ProfileGateway] = []

    def teardown(self, worker: Any) -> None:
        with self._lock:
            opened, self._open = self._open, []
        for gateway in opened:
            try:
                gateway.close()  # detaches: the shared session lives on for the others
            except Exception:  # noqa: BLE001 - a worker closing must not fail on a dead connection
                pass

    def connection(self) -> ProfileGateway:
        """This worker thread's connection, opened on first use."""
        gateway = getattr(self._local, "gateway", None)
        if gateway is None:
            from .api import get_conn

            gateway = get_conn(self.profile, config_file=self.config_file, reconnect=True,
                               share_session=True, **self.overrides)
            self._local.gateway = gateway
            with self._lock:
                self._open.append(gateway)
        return gateway


def conn() -> ProfileGateway:
    """Inside a task: the worker's connection (a ProfileGateway, i.e. a BlitzGateway)."""
    worker = get_worker()
    plugin = worker.plugins.get(PLUGIN_NAME)
    if plugin is None:
        raise RuntimeError("no OMERO connection on this worker: register one first with "
                           "client.register_plugin(omeroprofiles.dask.OmeroPlugin('PROFILE'))")
    return plugin.connection()
