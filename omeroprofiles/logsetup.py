"""The command line's logging: library log lines only with ``--debug``, and every session key masked.

omero-py logs retries and warnings to stderr via ``logging.basicConfig()``; the CLI reports
failures itself, so library logging is shown only with --debug. omero-py's debug log prints the
session key (``Setting 'omero.session.uuid' to ...``), a UUID: each line is masked before it is
written.
"""

from __future__ import annotations

import logging
import sys

from .text import mask_uuids


class _MaskingFormatter(logging.Formatter):
    """Library log lines with every UUID masked (an OMERO session key is one; anyone holding it is you)."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_uuids(super().format(record))


def configure_logging(debug: bool) -> None:
    """Show library logging on stderr, masked, with ``debug``; else keep it quiet."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_omero_profiles", False)]:
        root.removeHandler(handler)  # a previous in-process invocation's (its stream may be gone)
    if debug:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_MaskingFormatter("%(levelname)s %(name)s: %(message)s"))
        handler._omero_profiles = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
    elif not root.handlers:
        root.addHandler(logging.NullHandler())
