"""Names and numbers several modules share: the program's name and OMERO's default port.

No imports: the quick path (``current``, TAB completion) reads it too.
"""

PROG = "omero-profile"
"""The console script's name, as messages and hints spell it."""

DEFAULT_PORT = 4064
"""OMERO's SSL port (``omero.constants.GLACIER2PORT``): a profile's port when nothing sets one, and the
port of a stored session whose file names none."""
