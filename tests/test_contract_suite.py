"""The plugin contract suite passes a good source and fails each kind of bad one (it can fail)."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

HEADER = '''
from pydantic import SecretStr
from omeroprofiles import CredentialError
from omeroprofiles.contract import CredentialSourceContract
from omeroprofiles.credentials import Credentials, CredentialSource, SourceConfig


class EnvPasswordConfig(SourceConfig):
    username: str
    password_env: str


class Good(CredentialSource):
    name = "contract-good"
    config_model = EnvPasswordConfig

    def fetch(self, profile, config):
        import os
        value = os.environ.get(config.password_env)
        if not value:
            raise CredentialError(f"profile '{profile.name}': ${config.password_env} is not set")
        return Credentials(username=config.username, password=value)


class Base(CredentialSourceContract):
    def working_table(self, ctx):
        ctx.monkeypatch.setenv("CONTRACT_PW", ctx.password)
        return {"source": self.source_class.name, "username": ctx.user, "password_env": "CONTRACT_PW"}

    def failing_table(self, ctx):
        return {"source": self.source_class.name, "username": ctx.user, "password_env": "CONTRACT_UNSET"}
'''

BAD = {
    # the error message quotes the secret
    "leaky_error": '''
class Bad(Good):
    name = "contract-bad"
    def fetch(self, profile, config):
        raise CredentialError(f"profile '{profile.name}': rejected {profile.registry and 'alice-pw'}")
''',
    # a plugin's own exception quoting the secret, chained by the plugin into a CredentialError
    "leaky_chain": '''
class Bad(Good):
    name = "contract-bad"
    def fetch(self, profile, config):
        try:
            raise ValueError("token alice-pw expired")
        except ValueError as exc:
            raise CredentialError(f"profile '{profile.name}': token expired") from exc
''',
    # describe() shows the password
    "leaky_describe": '''
class Bad(Good):
    name = "contract-bad"
    def describe(self, config):
        import os
        return os.environ.get(config.password_env, "")
''',
    # the password is written in the table as a plain str field
    "str_secret": '''
class PlainStrConfig(SourceConfig):
    username: str
    pw: str

class Bad(Good):
    name = "contract-bad"
    config_model = PlainStrConfig
    def fetch(self, profile, config):
        return Credentials(username=config.username, password=config.pw)

class TestBad(Base):
    source_class = Bad
    def working_table(self, ctx):
        return {"source": "contract-bad", "username": ctx.user, "pw": ctx.password}
    def failing_table(self, ctx):
        return None
''',
    # fetch gives the wrong user: cannot log in as ctx.user
    "wrong_user": '''
class Bad(Good):
    name = "contract-bad"
    def fetch(self, profile, config):
        return Credentials(username="bob", password="bob-pw")
''',
    # no fetch: an abstract class
    "abstract": '''
class Bad(CredentialSource):
    name = "contract-bad"
    config_model = EnvPasswordConfig
''',
    # a config model that lets typos through
    "allows_unknown_keys": '''
class LaxConfig(EnvPasswordConfig):
    model_config = EnvPasswordConfig.model_config | {"extra": "allow"}

class Bad(Good):
    name = "contract-bad"
    config_model = LaxConfig
''',
}


def _run(pytester: pytest.Pytester, body: str) -> pytest.RunResult:
    source = HEADER + textwrap.dedent(body)
    if "class Bad" in source and "class TestBad" not in source:
        source += "\n\nclass TestBad(Base):\n    source_class = Bad\n"
    pytester.makepyfile(test_contract_case=source)
    return pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")


def test_a_good_source_passes_every_check(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "class TestGood(Base):\n    source_class = Good\n")
    result.assert_outcomes(passed=10, skipped=1)  # only the entry-point check: Good is not installed


@pytest.mark.parametrize(("case", "failing"), [
    ("leaky_error", "test_failure_is_a_credential_error_without_secrets"),
    ("leaky_chain", "test_failure_is_a_credential_error_without_secrets"),
    ("leaky_describe", "test_secrets_never_in_str_repr_json_show_or_describe"),
    ("str_secret", "test_secrets_in_the_table_are_secret_fields"),
    ("wrong_user", "test_connects_to_the_stand_in_and_leaves_no_session"),
    ("abstract", "test_source_class_is_complete"),
    ("allows_unknown_keys", "test_unknown_keys_are_rejected"),
])
def test_each_kind_of_bad_source_fails_the_contract(pytester: pytest.Pytester, case: str, failing: str) -> None:
    result = _run(pytester, BAD[case])
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 1, result.stdout.str()
    result.stdout.fnmatch_lines([f"*FAILED*TestBad::{failing}*"])
