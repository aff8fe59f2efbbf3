"""Map what omero-py and Ice raise to our failure classes, with messages a person can act on.

Two moments, two functions: ``classify`` while a session is being opened, ``classify_call``
for a call on a session that is open (a server that stops answering or dies mid-call is exit
5, never a bare Ice exception, which the CLI would have to call a bug). The OMERO CLI's session
code (omero/plugins/sessions.py) draws the same lines. Messages name the profile, the server
and the user, never a password or session key; callers raise them ``from None``, since an
Ice exception's text can hold a session key (the identity of the session's ServiceFactory).
"""

from __future__ import annotations

from .errors import AccessDenied, AuthenticationFailed, ProfileError, ServerUnreachable
from .model import Profile
from .text import mask_uuids, printable


def where(profile: Profile, user: str | None = None) -> str:
    """``profile 'x' (ssl://host:port)``, and `` as 'user'`` when the user is known: how messages start."""
    return f"profile '{profile.name}' ({profile.url})" + (f" as '{user}'" if user else "")


def server_reason(exc: BaseException) -> str:
    """The server's own words for a refusal, safe to show: its first line, session keys (any UUID) masked."""
    message = str(getattr(exc, "message", "") or "").strip().splitlines()
    reason = mask_uuids(message[0] if message else "")
    return printable(reason[:300])


def server_refusal(exc: BaseException, profile: Profile, *, user: str | None, action: str) -> ProfileError:
    """The ProfileError for a server that refused ``action`` (an OMERO ServerError), with its reason.

    A refusal (SecurityViolation; ApiUsage/Validation for a bad user, group or value; the user
    removed meanwhile) is exit 7; anything else is classified as any call's failure."""
    import omero

    name = type(exc).__name__
    if isinstance(exc, omero.SecurityViolation | omero.ApiUsageException | omero.ValidationException
                  | omero.RemovedSessionException):
        reason = server_reason(exc)
        return AccessDenied(f"{where(profile, user)}: the server refused {action}"
                            + (f": {reason}" if reason else "") + f" ({name})")
    mapped = classify_call(exc, profile, user=user, timeout=profile.call_timeout)
    return mapped if mapped is not None else ServerUnreachable(f"{where(profile, user)}: {action} failed ({name})")


def no_answer(profile: Profile, *, user: str | None, timeout: float) -> ServerUnreachable:
    """The failure for a server that did not answer within the profile's timeout."""
    return ServerUnreachable(f"{where(profile, user)}: no answer within {timeout:g} s (profile timeout); the "
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
    at = where(profile, user)
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


def classify_call(exc: BaseException, profile: Profile, *, user: str | None,
                  timeout: float) -> ProfileError | None:
    """The ProfileError for a call on an open session that failed; None if it is not a known kind.

    Every call has an Ice invocation timeout (``call_timeout``, see ``login.new_client``), passed
    here as ``timeout``, so a server that stopped answering shows up as a timeout, and one that
    died as a lost or refused connection.
    """
    # isort: off
    import omero  # before Glacier2 (see classify)
    import omero.clients  # noqa: F401
    import Ice
    # isort: on

    if isinstance(exc, ProfileError):
        return exc
    at = where(profile, user)
    name = type(exc).__name__
    if isinstance(exc, Ice.TimeoutException):
        return ServerUnreachable(f"{at}: the server stopped answering (no reply within {timeout:g} s)")
    if isinstance(exc, Ice.ConnectionRefusedException):
        return ServerUnreachable(f"{at}: the connection to the server was lost and it refuses new ones; "
                                 "the server is down or restarting")
    if isinstance(exc, Ice.SocketException | Ice.CloseConnectionException | Ice.ForcedCloseConnectionException):
        return ServerUnreachable(f"{at}: the connection to the server was lost ({name})")
    if isinstance(exc, omero.SessionTimeoutException | omero.RemovedSessionException | Ice.ObjectNotExistException):
        return AuthenticationFailed(f"{at}: the session ended on the server (expired or closed); connect again")
    if isinstance(exc, omero.SecurityViolation):
        reason = server_reason(exc)
        return AccessDenied(f"{at}: access denied ({name})" + (f": {reason}" if reason else ""))
    if isinstance(exc, Ice.CommunicatorDestroyedException):
        return None  # the connection was closed here, then used: a caller's mistake, not the server
    if isinstance(exc, Ice.LocalException):
        return ServerUnreachable(f"{at}: the call failed on the way to or in the server ({name})")
    return None
