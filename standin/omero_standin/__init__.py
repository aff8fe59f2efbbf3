"""A stand-in OMERO server for tests and demos, and pytest fixtures for it.

No real OMERO.server can run everywhere tests run, so this package ships a small, pure-Python
server on the real Ice 3.6 runtime; the real, unmodified omero-py client talks to it over
real sockets. Importing this package does not import Ice or omero; the server runs in a
subprocess (``python -m omero_standin.server``, or the ``omero-standin`` script).

    from omero_standin import running_server, DEFAULT_USERS

    with running_server() as srv:
        conn = BlitzGateway(**srv.gateway_args("alice"))     # SSL, as secure=True
        assert conn.connect()
        ...
        conn.close()
        assert srv.session_count() == 0

Data: the server holds projects, datasets, images (metadata, no pixels), screens, plates,
annotations and ROIs in memory, with OMERO's group permissions. A users file's ``[data]``
section (``dataspec``) seeds them; ``omero_standin.seeding.seed_via_api(srv, spec)`` makes them
through the real client; ``srv.data()`` and ``srv.ids(kind, name=...)`` list what is held.

pytest: installing the distribution registers ``omero_standin.fixtures`` as a plugin, giving the
fixtures ``omero_server`` (session-scoped), ``start_omero_server`` (factory),
``no_leaked_sessions``, ``silent_port``, ``hung_router_port`` and ``freezing_proxy`` (factory).
See README.md.

Built-in users (``DEFAULT_USERS``; TEST DATA, the passwords are public):

============  ===============  ================  ========================================
user          password         role              groups (default first)
============  ===============  ================  ========================================
root          root-pw          full admin        system, user
alice         alice-pw         user              lab-shared, alice-private (owner), user
bob           bob-pw           user              bob-private (owner), lab-shared (owner), user
helpdesk      helpdesk-pw      restricted admin  lab-shared, system, user; privileges
                                                 ModifyUser, ModifyGroup,
                                                 ModifyGroupMembership, ReadSession (no Sudo)
sudoer        sudoer-pw        restricted admin  lab-shared, system, user; privileges Sudo,
                                                 ReadSession
guest         guest            guest             guest
============  ===============  ================  ========================================

Group ids: system 0, user 1, guest 2, lab-shared 3, alice-private 4, bob-private 5.
User ids: root 0, guest 1, alice 2, bob 3, helpdesk 4, sudoer 5.
"""

from __future__ import annotations

from .leaks import SessionLeakCheck
from .process import StandInServer, StandInServerError, running_server, start_server
from .proxy import FreezingProxy, freezing_proxy
from .silent import hung_router, silent_port
from .users import (
    ALL_PRIVILEGES,
    DEFAULT_USERS,
    GroupSpec,
    UserDirectory,
    UsersFileError,
    UserSpec,
    load_users,
)

__all__ = [
    "ALL_PRIVILEGES",
    "DEFAULT_USERS",
    "FreezingProxy",
    "GroupSpec",
    "SessionLeakCheck",
    "StandInServer",
    "StandInServerError",
    "UserDirectory",
    "UserSpec",
    "UsersFileError",
    "load_users",
    "freezing_proxy",
    "running_server",
    "hung_router",
    "silent_port",
    "start_server",
]
