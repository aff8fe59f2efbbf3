"""The public names of the package resolve to the documented functions, whatever was imported first."""

from __future__ import annotations

import subprocess
import sys


def test_public_names_are_functions_even_after_every_submodule_is_imported():
    code = (
        "import importlib, pkgutil, omeroprofiles\n"
        "for m in pkgutil.walk_packages(omeroprofiles.__path__, 'omeroprofiles.'):\n"
        "    if '.testing.server' not in m.name and not m.name.endswith('.demo'):\n"
        "        importlib.import_module(m.name)\n"
        "from omeroprofiles import connect, get_conn, load_profile\n"
        "import inspect\n"
        "assert all(inspect.isfunction(f) for f in (connect, get_conn, load_profile)), (connect, get_conn)\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr


def test_load_profile_does_not_import_omero_or_ice(write_user):
    write_user('[profiles.p]\nhost = "omero.example.org"\ncredentials = { source = "env" }\n')
    code = (
        "import sys\n"
        "from omeroprofiles import load_profile, get_conn, connect\n"
        "from omeroprofiles.pool import ConnectionPool\n"
        "assert load_profile('p').host == 'omero.example.org'\n"
        "heavy = ('Ice', 'IcePy', 'Glacier2', 'omero')\n"
        "loaded = sorted(m for m in sys.modules if m in heavy or m.startswith('omero.'))\n"
        "print(loaded)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
