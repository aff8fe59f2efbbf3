"""Where a resolved value came from: a file's table, a built-in default, or an override.

Its own module, without pydantic, so the validated-index cache can rebuild origins for `show`
without loading the schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class Origin:
    """Where a resolved value came from: a file's table, a built-in default, or an override."""

    kind: Literal["file", "builtin", "override"]
    file: str | None = None
    table: str | None = None
    """``defaults`` or ``profiles.NAME``."""
    via_extends: bool = False
    detail: str | None = None
    """A note on how the value was derived, e.g. the port of a host URL."""

    def __str__(self) -> str:
        if self.kind == "builtin":
            text = "built-in default"
        elif self.kind == "override":
            text = "override"
        else:
            text = f"{self.file} [{self.table}]" + (" via extends" if self.via_extends else "")
        return f"{text} ({self.detail})" if self.detail else text

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "file": self.file, "table": self.table, "via_extends": self.via_extends,
                "detail": self.detail, "text": str(self)}


BUILTIN = Origin("builtin")
OVERRIDE = Origin("override")
