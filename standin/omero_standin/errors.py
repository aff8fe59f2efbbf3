"""The stand-in's own failure kinds, free of Ice, raised by the rules and mapped to OMERO's exceptions.

The rules (``directory``, ``security``, ``state``, ``hql``) are plain Python and testable without
Ice; the servants translate these into the ``omero.*`` exceptions a real server sends
(``faults.from_error``), with OMERO's Java class names.
"""

from __future__ import annotations


class StandInError(Exception):
    """Base: the message is what the client sees."""


class Denied(StandInError):
    """The security system refuses (omero.SecurityViolation)."""


class Invalid(StandInError):
    """The request breaks a data rule, e.g. a duplicate name (omero.ValidationException)."""


class BadUsage(StandInError):
    """The call is malformed or names something that does not exist (omero.ApiUsageException)."""


class IllegalQuery(BadUsage):
    """An HQL query the server cannot run (omero.QueryException, a kind of ApiUsageException)."""
