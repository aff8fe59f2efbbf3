"""Turn plain Python methods into complete Ice servants for OMERO's Slice interfaces.

OMERO services are AMD in Slice: Ice calls ``op_async(cb, *args, current)`` and expects
``cb.ice_response(...)``. Writing that by hand for every operation is noise, and leaving an
operation out makes Ice answer with an opaque error. So a servant class is written with plain
methods marked ``@amd`` (or ``@amd(void=True)``), and the ``@servant`` class decorator

- installs an ``op_async`` wrapper for each marked method, and
- installs, for every other operation of the interface (including inherited ones), a stub
  that raises ``omero.ApiUsageException`` naming the interface and operation.
"""

from __future__ import annotations

import inspect
import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import Ice
import omero

T = TypeVar("T", bound=type)
_MARK = "_standin_amd"


def amd(func: Callable[..., Any] | None = None, *, void: bool = False) -> Any:
    """Mark ``func(self, *args, current=None)`` as the implementation of AMD operation ``func``."""

    def mark(f: Callable[..., Any]) -> Callable[..., Any]:
        setattr(f, _MARK, {"void": void})
        return f

    return mark(func) if func is not None else mark


def not_implemented(interface: str, operation: str) -> omero.ApiUsageException:
    """The error every unimplemented operation raises."""
    return omero.ApiUsageException(
        serverStackTrace="",
        serverExceptionClass="ome.conditions.ApiUsageException",
        message=f"{interface}.{operation} is not implemented by the omero-profiles stand-in server",
    )


def as_ice_error(exc: BaseException) -> Exception:
    """Pass Ice exceptions through, map the stand-in's own failure kinds to OMERO's exceptions,
    and report a bug in the stand-in as omero.InternalException."""
    from . import faults
    from .errors import StandInError

    if isinstance(exc, Ice.Exception):
        return exc
    if isinstance(exc, StandInError):
        return faults.from_error(exc)
    traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    return omero.InternalException(
        serverStackTrace="".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        serverExceptionClass="ome.conditions.InternalException",
        message=f"stand-in server bug: {exc!r}",
    )


def _generated_operations(cls: type) -> dict[str, Callable[..., Any]]:
    """Abstract operation methods from Slice-generated base classes, by Python name."""
    ops: dict[str, Callable[..., Any]] = {}
    for klass in reversed(cls.__mro__):
        for name, func in vars(klass).items():
            if (
                inspect.isfunction(func)
                and func.__code__.co_filename.endswith("_ice.py")
                and not name.startswith(("_", "ice_"))
            ):
                ops[name] = func
    return ops


def _amd_wrapper(impl: Callable[..., Any], void: bool) -> Callable[..., None]:
    def dispatch(self: Any, cb: Any, *args: Any) -> None:
        try:
            result = impl(self, *args)
        except BaseException as exc:  # noqa: B036 - every failure must reach the client
            cb.ice_exception(as_ice_error(exc))
            return
        if void:
            cb.ice_response()
        else:
            cb.ice_response(result)

    dispatch.__name__ = impl.__name__ + "_async"
    return dispatch


def _sync_stub(interface: str, operation: str) -> Callable[..., Any]:
    def stub(self: Any, *args: Any) -> Any:
        raise not_implemented(interface, operation)

    stub.__name__ = operation
    return stub


def _async_stub(interface: str, operation: str) -> Callable[..., None]:
    def stub(self: Any, cb: Any, *args: Any) -> None:
        cb.ice_exception(not_implemented(interface, operation))

    stub.__name__ = operation + "_async"
    return stub


def servant(cls: T) -> T:
    """Complete ``cls`` (a subclass of a generated Slice servant class); see module docstring."""
    ops = _generated_operations(cls)
    interface = next(
        (
            f"{k.__module__}.{k.__name__}"
            for k in cls.__mro__
            if any(f in ops.values() for f in vars(k).values())
        ),
        cls.__name__,
    )
    marked: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):  # marked methods of base classes count too
        for name, member in vars(klass).items():
            if getattr(member, _MARK, None) is not None:
                marked[name] = member
    for name, member in marked.items():
        mark = getattr(member, _MARK)
        if name + "_async" not in ops:
            raise TypeError(f"{cls.__name__}.{name}: {interface} has no AMD operation {name!r}")
        setattr(cls, name + "_async", _amd_wrapper(member, mark["void"]))
    for name, func in ops.items():
        if getattr(cls, name) is not func:
            continue  # implemented (directly or via a wrapper installed above)
        if name.endswith("_async"):
            setattr(cls, name, _async_stub(interface, name[: -len("_async")]))
        else:
            setattr(cls, name, _sync_stub(interface, name))
    return cls

