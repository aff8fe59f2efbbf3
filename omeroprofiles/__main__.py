"""``python -m omeroprofiles``: the same command line as ``omero-profile``."""

from .console import main

if __name__ == "__main__":
    main()
