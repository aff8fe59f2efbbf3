"""Map what omero-py and Ice raise to our failure classes, with messages a person can act on.

The OMERO CLI's session code (omero/plugins/sessions.py) draws the same lines. Messages name
the profile, the server and the user, never a password or session key.
"""

from __future__ import annotations

from .errors import AccessDenied, AuthenticationFailed, ProfileError, ServerUnreachable
from .model import Profile


def where(profile: Profile) -> str:
    return f"profile '{profile.name}' ({profile.url})"


def no_answer(profile: Profile, *, user: str | None, timeout: float) -> ServerUnreachable:
    """The failure for a server that did not answer within the profile's timeout."""
    who = f" as '{user}'" if user else ""
    return ServerUnreachable(f"{where(profile)}{who}: no answer within {timeout:g} s (profile timeout); the "
                             "server is down, overloaded, or something on that port is not an OMERO router")


def classify(exc: BaseException, profile: Profile, *, user: str | None, timeout: float,
             joining: bool = False) -> ProfileError | None:
    """The ProfileError for an exception raised while connecting; None if it is not a known kind."""
    # isort: off
    import omero  # before Glacier2: otherwise Ice builds Glacier2's exceptions as other classes
    import omero.clients  # noqa: F401  (registers omero.WrappedCreateSessionException)
    import Glacier2
    import Ice
    # isort: on

    if isinstance(exc, ProfileError):
        return exc
    who = f" as '{user}'" if user else ""
    at = where(profile) + who
    name = type(exc).__name__

    if isinstance(exc, Ice.ConnectionRefusedException):
        return ServerUnreachable(f"{at}: connection refused; is an OMERO server listening on that port?")
    if isinstance(exc, Ice.DNSException):
        return ServerUnreachable(f"{at}: cannot resolve host name '{profile.hostname}'")
    if isinstance(exc, Ice.TimeoutException | Ice.CommunicatorDestroyedException):
        return no_answer(profile, user=user, timeout=timeout)
    if isinstance(exc, Ice.SecurityException | Ice.ProtocolException):
        return ServerUnreachable(f"{at}: TLS/protocol handshake failed ({name}); check the port and transport")
    if isinstance(exc, Ice.ConnectionLostException):
        return ServerUnreachable(f"{at}: the connection was closed during connect ({name}); check the port "
                                 "and transport (ssl/tcp/ws/wss)")
    if isinstance(exc, Ice.SocketException):
        return ServerUnreachable(f"{at}: network error ({name})")
    if isinstance(exc, Ice.EndpointParseException):
        return ServerUnreachable(f"{at}: cannot build a router address from the host ({name})")
    if joining and isinstance(exc, Ice.ObjectNotExistException | Glacier2.PermissionDeniedException
                              | Glacier2.CannotCreateSessionException | omero.RemovedSessionException
                              | omero.SessionTimeoutException):
        return AuthenticationFailed(f"{at}: the session key was rejected (the session is closed, expired or "
                                    "unknown); log in again or refresh the key")
    if isinstance(exc, Glacier2.PermissionDeniedException):
        return AuthenticationFailed(f"{at}: the server rejected the username or password")
    if isinstance(exc, omero.WrappedCreateSessionException):
        kind = getattr(exc, "type", "") or ""
        if "SecurityViolation" in kind or "ApiUsage" in kind or "Validation" in kind:
            return AccessDenied(f"{at}: the server refused to create a session ({kind})")
        return ServerUnreachable(f"{at}: the server could not create a session ({kind or name})")
    if isinstance(exc, Glacier2.CannotCreateSessionException):
        return ServerUnreachable(f"{at}: the server could not create a session ({name})")
    if isinstance(exc, omero.SecurityViolation):
        return AccessDenied(f"{at}: access denied ({name})")
    if isinstance(exc, omero.ClientError) and "null object prox" in str(exc):
        return no_answer(profile, user=user, timeout=timeout)
    if isinstance(exc, Ice.LocalException | omero.ServerError):
        return ServerUnreachable(f"{at}: connection failed ({name})")
    return None
