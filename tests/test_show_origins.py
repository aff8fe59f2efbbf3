"""`show` says where each value came from, truthfully: a source's own defaults are not the file's,
and a source whose plugin is not loaded gets no invented key in its table."""

from __future__ import annotations

import json

import pytest


def test_a_source_default_is_said_to_be_a_default(write_user, run):
    path = write_user('[profiles.e]\nhost = "h"\ncredentials = { source = "env", password_var = "MY_PW" }\n')
    text = run("show", "e").stdout
    line = next(li for li in text.splitlines() if li.startswith("credentials"))
    assert 'username_var = "OMERO_USER"' in line and 'password_var = "MY_PW"' in line
    assert line.endswith(f"# {path} [profiles.e] (username_var: default of source 'env')"), line
    origin = json.loads(run("show", "e", "--json").stdout)["origin"]["credentials"]
    assert (origin["kind"], origin["detail"]) == ("file", "username_var: default of source 'env'")


def test_a_table_that_sets_every_shown_key_has_no_note(write_user, run):
    path = write_user('[profiles.p]\nhost = "h"\ncredentials = { source = "plain", username = "u", password = "x" }\n')
    line = next(li for li in run("show", "p").stdout.splitlines() if li.startswith("credentials"))
    assert line.endswith(f"# {path} [profiles.p]"), line


@pytest.mark.parametrize("table", ['{ source = "vault", path = "omero/alice" }',
                                   '{ source = "vault", path = "omero/alice", reason = "mine" }'])
def test_a_source_left_out_by_the_plugins_variable_gets_no_invented_key(table, write_user, run, monkeypatch):
    monkeypatch.setenv("OMERO_PROFILES_PLUGINS", "")  # the vault plugin is installed, but not loaded
    write_user(f'[profiles.v]\nhost = "h"\ncredentials = {table}\n')
    shown = run("show", "v", "--json")
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    written = [key.strip().split(" =")[0] for key in table.strip("{} ").split(",")]
    assert list(data["credentials"]) == written, data["credentials"]  # only the keys written, values masked
    assert set(data["credentials"].values()) == {"vault", "**********"}
    assert data["origin"]["credentials"]["detail"].startswith("source 'vault' is not loaded: "
                                                              "$OMERO_PROFILES_PLUGINS='' leaves out")
    line = next(li for li in run("show", "v").stdout.splitlines() if li.startswith("credentials"))
    assert "(source 'vault' is not loaded: " in line.split("#", 1)[1]
    failed = run("test", "v")
    assert failed.exit_code == 4 and "leaves out the installed plugin(s)" in failed.stderr
