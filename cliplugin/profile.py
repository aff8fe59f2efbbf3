"""`omero profile`: omero-profiles inside the OMERO CLI.

The OMERO CLI runs every module in an ``omero/plugins`` directory on its path, with ``register``
in its globals, as it does for omero-cli-zarr and omero-metadata. Installing omero-profiles puts
this file there (as ``omero/plugins/profile.py``; pyproject.toml maps it). The command itself is
``omeroprofiles.omero_cli``. In a development checkout: ``omero --path cliplugin profile ...``.
"""

from omeroprofiles.omero_cli import HELP, ProfileControl

register("profile", ProfileControl, HELP)  # noqa: F821 - given by the OMERO CLI when it loads plugins
