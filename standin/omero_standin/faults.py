"""The exceptions the stand-in sends, filled in the way the real server fills them.

OMERO's ``ServerError`` subclasses carry the Java class name in ``serverExceptionClass``;
clients (and the OMERO CLI) print it, so it is set to what OMERO.server would send.
"""

from __future__ import annotations

import Glacier2
import omero

from .errors import BadUsage, Denied, IllegalQuery, Invalid, StandInError
from .state import SessionGone


def _server_error(cls: type, java: str, message: str) -> omero.ServerError:
    return cls(serverStackTrace="", serverExceptionClass=f"ome.conditions.{java}", message=message)


def security_violation(message: str) -> omero.SecurityViolation:
    return _server_error(omero.SecurityViolation, "SecurityViolation", message)


def api_usage(message: str) -> omero.ApiUsageException:
    return _server_error(omero.ApiUsageException, "ApiUsageException", message)


def validation(message: str) -> omero.ValidationException:
    return _server_error(omero.ValidationException, "ValidationException", message)


def from_error(exc: StandInError) -> omero.ServerError:
    """The OMERO exception for one of the stand-in's own failure kinds."""
    if isinstance(exc, Denied):
        kind = type(exc).__name__
        if kind == "GroupViolation":
            return _server_error(omero.GroupSecurityViolation, "GroupSecurityViolation", str(exc))
        if kind == "ReadOnlyGroupViolation":
            return _server_error(omero.ReadOnlyGroupSecurityViolation, "ReadOnlyGroupSecurityViolation", str(exc))
        return security_violation(str(exc))
    if isinstance(exc, Invalid):
        return validation(str(exc))
    if isinstance(exc, IllegalQuery):
        return omero.QueryException(serverStackTrace="", serverExceptionClass="ome.services.query.QueryException",
                                    message=str(exc))
    if isinstance(exc, BadUsage):
        return api_usage(str(exc))
    return internal(str(exc))


def internal(message: str) -> omero.InternalException:
    return _server_error(omero.InternalException, "InternalException", message)


def session_gone(gone: SessionGone) -> omero.SessionException:
    """SessionTimeoutException the first time an expired session is used, then RemovedSession."""
    rec = gone.session
    if gone.kind == "timeout" and rec is not None:
        return _server_error(
            omero.SessionTimeoutException,
            "SessionTimeoutException",
            f"Session (uuid={rec.uuid}, hits={rec.hits}) exceeded timeToIdle ({rec.tti_ms} ms) "
            f"or timeToLive ({rec.ttl_ms} ms)",
        )
    return removed_session(rec.uuid if rec is not None else "unknown")


def removed_session(session_uuid: str) -> omero.RemovedSessionException:
    return removed_session_message(f"No context for {session_uuid}")


def removed_session_message(message: str) -> omero.RemovedSessionException:
    return _server_error(omero.RemovedSessionException, "RemovedSessionException", message)


def permission_denied(reason: str) -> Glacier2.PermissionDeniedException:
    return Glacier2.PermissionDeniedException(reason=reason)


def cannot_create_session(
    reason: str, kind: str = "ome.conditions.ApiUsageException"
) -> omero.WrappedCreateSessionException:
    """What OMERO's SessionManagerI sends when the session cannot be made (e.g. unknown group).

    ``concurrency=False`` so omero.client does not retry.
    """
    return omero.WrappedCreateSessionException(reason=reason, concurrency=False, backOff=0, type=kind)
