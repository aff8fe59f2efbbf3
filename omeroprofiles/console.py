"""The ``omero-profile`` console script: a quick answer when there is one, else the click command line.

``current`` (its errors too) and profile-name completion run on every prompt and every TAB, so they
are answered without importing click, pydantic or the plugins when ``quick`` can (``python -X importtime``
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
    done = answer(args, os.environ)
    if done is not None:
        sys.stdout.write(done.out)
        sys.stdout.flush()
        sys.stderr.write(done.err)
        sys.stderr.flush()
        sys.exit(done.status)
    from .cli import main as cli_main  # the full command line: click, and what each command needs

    cli_main(None if argv is None else list(argv))
