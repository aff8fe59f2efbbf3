"""Text from Vault or the environment, made safe to put in a one-line message.

The CLI prints each line of a message as an ``error:`` line of its own, so a newline in a key name
or an address forges a line, and an escape sequence reaches the terminal. Such characters are shown
escaped (``\\n``, ``\\x1b``, ``\\u202e``) and long text is cut.
"""

from __future__ import annotations

import unicodedata

_UNSHOWABLE = {"Cc", "Cf", "Zl", "Zp", "Cs"}
"""Control and format characters, line and paragraph separators, lone surrogates (JSON can carry them)."""

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _unshowable(char: str) -> bool:
    return unicodedata.category(char) in _UNSHOWABLE


def control_character(text: str) -> str | None:
    """The first character of ``text`` that cannot be shown on one line, escaped; None if there is none."""
    if text.isascii() and text.isprintable():  # the common case, checked in C
        return None
    return next((_escaped(char) for char in text if _unshowable(char)), None)


def one_line(text: str, limit: int = 200) -> str:
    """``text`` cut to ``limit`` characters (then ``...``), with every such character escaped."""
    cut = text[:limit]
    if not (cut.isascii() and cut.isprintable()):
        cut = "".join(_escaped(char) if _unshowable(char) else char for char in cut)
    return cut if len(text) <= limit else cut + "..."
