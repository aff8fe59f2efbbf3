"""Small text helpers shared by messages and output: suggestions and safe display of values."""

from __future__ import annotations

from collections.abc import Iterable

_CONTROL = {i: f"\\x{i:02x}" for i in (*range(0x20), 0x7F)}
_CONTROL.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"})
_CONTROL.update({i: f"\\u{i:04x}" for i in (*range(0x80, 0xA0), 0x2028, 0x2029, 0x202E, 0x200E, 0x200F)})


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to ``word``, if one is close enough to be a likely typo."""
    import difflib  # only error messages need it; ``current`` imports this module and must start fast

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or '' when none is close."""
    close = closest(word, choices)
    return f" (did you mean '{close}'?)" if close else ""


def printable(value: object) -> str:
    """``str(value)`` with control characters escaped, so a value cannot fake lines or rows of output."""
    text = str(value)
    if text.isascii() and text.isprintable():  # the common case, checked in C: nothing to escape
        return text
    return text.translate(_CONTROL)


def has_control(text: str) -> bool:
    """Whether ``text`` holds a control character (``printable`` would escape it): never a profile name."""
    return printable(text) != text


_UUID = None


def mask_uuids(text: str) -> str:
    """``text`` with every UUID replaced by ``<uuid>``: an OMERO session key is one, and anyone holding it is you."""
    global _UUID
    if _UUID is None:  # compiled on first use: ``current`` imports this module and must start fast
        import re

        _UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
    return _UUID.sub("<uuid>", text)
