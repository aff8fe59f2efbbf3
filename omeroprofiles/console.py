"""The ``omero-profile`` console script: a quick answer when there is one, else the click command line.

``current`` and profile-name completion run on every prompt and every TAB, so they are answered
without importing click, pydantic or the plugins when ``quick`` can (``python -X importtime``
shows those imports alone cost several times the interpreter start). Everything else, and every
case ``quick`` declines, is ``cli.main``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point; exits with the command's exit code."""
    from .quick import answer

    args = sys.argv[1:] if argv is None else list(argv)
    text = answer(args, os.environ)
    if text is not None:
        sys.stdout.write(text)
        sys.stdout.flush()
        sys.exit(0)
    from .cli import main as cli_main  # the full command line: click, and what each command needs

    cli_main(None if argv is None else list(argv))
