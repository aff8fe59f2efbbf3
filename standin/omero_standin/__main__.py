"""``python -m omero_standin``: run the stand-in server, as the ``omero-standin`` script does."""

from .server import main

if __name__ == "__main__":
    main()
