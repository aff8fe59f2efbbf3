"""Resolution: site < user, [defaults], extends chains, origins, URL ports, load_profile."""

from __future__ import annotations

import pytest

from omeroprofiles import ConfigError, ProfileNotFound, load_profile
from omeroprofiles.resolve import Config

BASE = """
[defaults]
timeout = 7

[profiles.prod]
host = "omero.example.org"
group = "Lab A"
credentials = { source = "env" }

[profiles.staging]
extends = "prod"
host = "staging.example.org"

[profiles.staging-b]
extends = "staging"
group = 12
"""


def test_defaults_and_extends_chain(write_user):
    path = write_user(BASE)
    config = Config.load()
    profile = config.resolve("staging-b")
    assert profile.host == "staging.example.org"
    assert profile.group == 12
    assert profile.timeout == 7
    assert profile.port == 4064 and profile.secure is True and profile.keepalive == 300
    assert profile.source == "env"
    origin = profile.origin
    assert str(origin["group"]) == f"{path} [profiles.staging-b]"
    assert str(origin["host"]) == f"{path} [profiles.staging] via extends"
    assert str(origin["credentials"]) == (f"{path} [profiles.prod] via extends "
                                          "(username_var, password_var: defaults of source 'env')")
    assert str(origin["timeout"]) == f"{path} [defaults]"
    assert str(origin["port"]) == "built-in default"


def test_user_profile_replaces_site_profile_whole(write_user, write_site):
    site = write_site('[defaults]\nkeepalive = 60\n[profiles.prod]\nhost = "site.example.org"\ngroup = "x"\n'
                      '[profiles.shared]\nhost = "shared.example.org"\n')
    user = write_user('[profiles.prod]\nhost = "mine.example.org"\n')
    config = Config.load()
    prod = config.resolve("prod")
    assert prod.host == "mine.example.org"
    assert prod.group is None  # replaced, not merged
    assert prod.keepalive == 60 and str(prod.origin["keepalive"]) == f"{site} [defaults]"
    assert config.resolve("shared").host == "shared.example.org"
    assert config.file_of("prod").path == user
    assert config.file_of("shared").path == site


def test_user_defaults_win_over_site_defaults(write_user, write_site):
    write_site("[defaults]\ntimeout = 5\nkeepalive = 10\n")
    write_user('[defaults]\ntimeout = 9\n[profiles.a]\nhost = "a.example.org"\n')
    profile = Config.load().resolve("a")
    assert (profile.timeout, profile.keepalive) == (9, 10)


def test_url_host_sets_port_and_conflict_is_an_error(write_user):
    write_user('[profiles.w]\nhost = "wss://h.example.org/omero-ws"\n'
               '[profiles.x]\nhost = "ssl://h.example.org:4444"\n'
               '[profiles.y]\nhost = "ssl://h.example.org:4444"\nport = 4064\n'
               '[profiles.z]\nhost = "wss://h.example.org/omero-ws"\nport = 8443\n')
    config = Config.load()
    assert config.resolve("w").port == 443
    assert config.resolve("w").transport == "wss"
    assert config.resolve("x").port == 4444
    assert config.resolve("z").port == 8443
    with pytest.raises(ConfigError, match="port: 4064 conflicts with port 4444"):
        config.resolve("y")


def test_a_port_from_a_less_specific_layer_never_overrides_a_url_host(write_user, write_site):
    """host and port layer together: [defaults], the site file and an extends parent lose to the URL."""
    site = write_site('[defaults]\nport = 4063\n')
    path = write_user('[defaults]\nport = 4064\n'
                      '[profiles.w]\nhost = "wss://h.example.org/omero-ws"\n'
                      '[profiles.w443]\nhost = "wss://h.example.org:443/omero-ws"\n'
                      '[profiles.parent]\nhost = "omero.example.org"\nport = 14064\n'
                      '[profiles.child]\nextends = "parent"\nhost = "ssl://other.example.org"\n'
                      '[profiles.child-port]\nextends = "w"\nport = 8443\n'
                      '[profiles.plain]\nhost = "omero.example.org"\n')
    config = Config.load()
    w = config.resolve("w")
    assert w.port == 443 and str(w.origin["port"]) == "built-in default (the wss:// default port)"
    w443 = config.resolve("w443")  # not a conflict with [defaults] port = 4064
    assert w443.port == 443
    assert str(w443.origin["port"]) == f"{path} [profiles.w443] (the port in the host URL)"
    assert config.resolve("child").port == 4064  # ssl:// default, not the parent's 14064
    assert config.resolve("child-port").port == 8443  # a more specific port still wins
    plain = config.resolve("plain")  # a plain host takes the layered port as before
    assert plain.port == 4064 and str(plain.origin["port"]) == f"{path} [defaults]"
    assert site.exists()


def test_extends_cycle_names_the_chain(write_user):
    write_user('[profiles.a]\nextends = "b"\nhost = "h"\n[profiles.b]\nextends = "c"\n[profiles.c]\nextends = "a"\n')
    with pytest.raises(ConfigError, match=r"extends cycle: a -> b -> c -> a"):
        Config.load().resolve("a")


def test_broken_parent_breaks_child_but_not_siblings(write_user):
    write_user('[profiles.p]\nhost = "h"\nport = "x"\n[profiles.c]\nextends = "p"\n[profiles.ok]\nhost = "h"\n')
    config = Config.load()
    with pytest.raises(ConfigError, match="profile 'p': port"):
        config.resolve("c")
    assert config.resolve("ok").host == "h"


def test_load_profile_with_overrides_and_no_network(write_user):
    write_user(BASE)
    profile = load_profile("prod", group="Lab B", su="bob", timeout=3)
    assert (profile.group, profile.su, profile.timeout) == ("Lab B", "bob", 3)
    assert str(profile.origin["su"]) == "override"
    with pytest.raises(ConfigError, match="unknown override"):
        load_profile("prod", colour="red")
    with pytest.raises(ConfigError, match="override: profile 'prod': port"):
        load_profile("prod", port="abc")


def test_unknown_profile_suggests(write_user):
    write_user(BASE)
    with pytest.raises(ProfileNotFound, match="did you mean 'prod'"):
        load_profile("prdo")


def test_credentials_validated_by_source_model(write_user):
    write_user('[profiles.a]\nhost = "h"\ncredentials = { source = "keyring" }\n'
               '[profiles.b]\nhost = "h"\ncredentials = { source = "nosource", path = "x" }\n')
    config = Config.load()
    with pytest.raises(ConfigError, match="profile 'a': credentials.username: required key is missing"):
        config.resolve("a")
    with pytest.raises(ConfigError, match="unknown credential source 'nosource'.*installed: command, env, keyring"):
        config.resolve("b")


def test_plain_password_is_secret(write_user):
    write_user('[profiles.a]\nhost = "h"\ncredentials = { source = "plain", username = "u", password = "s3cr3t-pw" }\n')
    profile = Config.load().resolve("a")
    assert "s3cr3t-pw" not in repr(profile)
    assert "s3cr3t-pw" not in str(profile.redacted())
    assert profile.credentials.password.get_secret_value() == "s3cr3t-pw"


def test_thousand_profiles_resolve(write_user):
    body = "".join(f'[profiles.p{i}]\nhost = "h{i}.example.org"\ncredentials = {{ source = "env" }}\n'
                   for i in range(1000))
    write_user(body)
    config = Config.load()
    assert config.problems() == []
    assert [config.resolve(f"p{i}").hostname for i in (0, 999)] == ["h0.example.org", "h999.example.org"]


def _chain(count: int) -> str:
    """p0 defines the host; p1 extends p0, p2 extends p1, ... (one level deeper each)."""
    return '[profiles.p0]\nhost = "h.example.org"\ngroup = "Lab A"\ncredentials = { source = "env" }\n' + "".join(
        f'[profiles.p{i}]\nextends = "p{i - 1}"\n' + (f"timeout = {i % 50 + 1}\n" if i % 3 == 0 else "")
        for i in range(1, count))


def test_a_10000_deep_extends_chain_lists_in_linear_work(run, tmp_path, monkeypatch):
    """Linear resolution: each table is merged once, over its parent's merged layer; no recursion.

    (A 10,000-deep chain once took over 10 minutes: each profile re-merged its whole ancestry.)
    Work is counted, not timed, so a busy machine cannot fail it (the time is measured in
    benchmarks/bench_cli.py): how often a table is merged, and every Python function call that
    `list` makes for a 400- and a 2,000-deep chain: 5x the profiles is 5x the calls when the work
    is linear, 25x when it is quadratic. With the cache off, so everything is validated.
    """
    import json
    import sys

    monkeypatch.setenv("OMERO_PROFILES_NO_CACHE", "1")
    merges: list[str] = []
    merge = Config._merge

    def counted_merge(self, name, parent, extra):
        merges.append(name)
        return merge(self, name, parent, extra)

    monkeypatch.setattr(Config, "_merge", counted_merge)

    def listed(count: int) -> list[dict]:
        path = tmp_path / f"chain-{count}.toml"
        path.write_text(_chain(count))
        merges.clear()
        result = run("--config", str(path), "list", "--json")
        assert result.exit_code == 0, result.stderr
        assert sorted(merges, key=lambda name: int(name[1:])) == [f"p{i}" for i in range(count)]  # each once
        return json.loads(result.stdout)

    listed(10)  # the CLI's imports and first-use set-up, not counted below
    calls = {}
    for count in (400, 2000):
        made = [0]

        def profiler(frame, event, arg, made=made):
            if event == "call":
                made[0] += 1

        sys.setprofile(profiler)
        try:
            listed(count)
        finally:
            sys.setprofile(None)
        calls[count] = made[0]
    assert calls[2000] < 6 * calls[400], calls  # linear: 5x; quadratic: 25x

    rows = listed(10_000)
    assert len(rows) == 10_000 and {r["host"] for r in rows} == {"h.example.org"}
    path = tmp_path / "chain-10000.toml"
    shown = json.loads(run("--config", str(path), "show", "p9999", "--json").stdout)
    assert shown["origin"]["host"]["text"] == f"{path} [profiles.p0] via extends"
    assert shown["timeout"] == 50.0 and shown["origin"]["timeout"]["table"] == "profiles.p9999"
    assert run("--config", str(path), "validate").stdout.startswith("ok: 10000 profile(s)")
