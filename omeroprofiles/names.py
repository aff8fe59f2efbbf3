"""What a profile may be called. No pydantic: the fast paths (`current`, completion) check names too."""

from __future__ import annotations

import re

RESERVED_NAMES = ("defaults",)
"""Names the CLI reads as something else: ``set defaults KEY VALUE`` edits the ``[defaults]`` table,
so a profile called 'defaults' could never be edited by name."""

NAME_PATTERN = r"^(?!(?:defaults)\Z)[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z"
r"""Profile names: a letter or digit, then letters, digits, '.', '_' or '-'; at most 64 chars;
not one of ``RESERVED_NAMES`` (spelled out in the pattern, which resolve and ``extends`` use). ``\Z``, not
``$``: ``$`` also matches before a trailing newline, so ``[profiles."p\n"]`` would pass."""

_NAME = re.compile(NAME_PATTERN)


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a profile name, in words; None if it can."""
    if name in RESERVED_NAMES:
        return f"'{name}' is reserved ('omero-profile set {name} KEY VALUE' edits the [{name}] table)"
    if not _NAME.fullmatch(name):
        return ("invalid profile name: use letters, digits, '.', '_' or '-' "
                "(starting with a letter or digit, at most 64 characters)")
    return None
