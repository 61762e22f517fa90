"""Settings come from the environment, fail loudly on nonsense and default to a safe production setup;
system checks stop a misconfigured deployment. Whole-process behaviour is tested in subprocesses with
a cleaned environment, exactly as a server would start."""

import json
import os
import secrets
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

from reviewapp import checks
from reviewapp.env import env_bool, env_int, env_list
from reviewapp.flagging import RulePackError, load_rules

ROOT = Path(__file__).resolve().parent.parent
SECRET = "test-settings-" + "k" * 50


def run_python(args: list[str], **env: str) -> subprocess.CompletedProcess:
    """Run the project's Python with only PATH and the given variables set."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def settings_values(names: list[str], **env: str) -> dict:
    code = (
        "import json, reviewapp.settings as s; "
        f"print(json.dumps({{name: getattr(s, name) for name in {names!r}}}, default=str))"
    )
    result = run_python(["-c", code], **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- Environment helpers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        (" on ", True),
        ("false", False),
        ("False", False),
        ("0", False),
        ("no", False),
        ("off", False),
    ],
)
def test_env_bool_reads_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("REVIEWAPP_TEST_FLAG", raw)
    assert env_bool("REVIEWAPP_TEST_FLAG", not expected) is expected


def test_env_bool_uses_the_default_when_unset(monkeypatch):
    monkeypatch.delenv("REVIEWAPP_TEST_FLAG", raising=False)
    assert env_bool("REVIEWAPP_TEST_FLAG", True) is True
    assert env_bool("REVIEWAPP_TEST_FLAG", False) is False


@pytest.mark.parametrize("raw", ["ture", "2", "enabled", "y e s"])
def test_env_bool_refuses_a_typo(monkeypatch, raw):
    monkeypatch.setenv("REVIEWAPP_TEST_FLAG", raw)
    with pytest.raises(ImproperlyConfigured, match=r"REVIEWAPP_TEST_FLAG=.* is not a boolean"):
        env_bool("REVIEWAPP_TEST_FLAG", False)


def test_env_int(monkeypatch):
    monkeypatch.delenv("REVIEWAPP_TEST_INT", raising=False)
    assert env_int("REVIEWAPP_TEST_INT", 7) == 7
    monkeypatch.setenv("REVIEWAPP_TEST_INT", "")
    assert env_int("REVIEWAPP_TEST_INT", 7) == 7
    monkeypatch.setenv("REVIEWAPP_TEST_INT", " 42 ")
    assert env_int("REVIEWAPP_TEST_INT", 7, minimum=1) == 42
    monkeypatch.setenv("REVIEWAPP_TEST_INT", "abc")
    with pytest.raises(ImproperlyConfigured, match="is not a whole number"):
        env_int("REVIEWAPP_TEST_INT", 7)
    monkeypatch.setenv("REVIEWAPP_TEST_INT", "4.5")
    with pytest.raises(ImproperlyConfigured, match="is not a whole number"):
        env_int("REVIEWAPP_TEST_INT", 7)
    monkeypatch.setenv("REVIEWAPP_TEST_INT", "0")
    with pytest.raises(ImproperlyConfigured, match="below the minimum of 1"):
        env_int("REVIEWAPP_TEST_INT", 7, minimum=1)


def test_env_list(monkeypatch):
    monkeypatch.delenv("REVIEWAPP_TEST_LIST", raising=False)
    assert env_list("REVIEWAPP_TEST_LIST", ["localhost"]) == ["localhost"]
    monkeypatch.setenv("REVIEWAPP_TEST_LIST", " review.example.com, ,cms.example.com ,")
    assert env_list("REVIEWAPP_TEST_LIST", ["localhost"]) == ["review.example.com", "cms.example.com"]
    monkeypatch.setenv("REVIEWAPP_TEST_LIST", "")
    assert env_list("REVIEWAPP_TEST_LIST", ["localhost"]) == []


# --- The settings module in a clean process -------------------------------------------------------


def test_settings_refuse_to_load_without_a_secret_key():
    result = run_python(["-c", "import reviewapp.settings"])
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY is not set" in result.stderr


def test_settings_refuse_a_misspelt_debug():
    result = run_python(["-c", "import reviewapp.settings"], SECRET_KEY=SECRET, DEBUG="ture")
    assert result.returncode != 0
    assert "DEBUG='ture' is not a boolean" in result.stderr


def test_without_debug_the_defaults_are_production_safe():
    values = settings_values(
        [
            "DEBUG",
            "SESSION_COOKIE_SECURE",
            "CSRF_COOKIE_SECURE",
            "SESSION_COOKIE_HTTPONLY",
            "SECURE_SSL_REDIRECT",
            "SECURE_HSTS_SECONDS",
            "SECURE_HSTS_INCLUDE_SUBDOMAINS",
            "ALLOWED_HOSTS",
        ],
        SECRET_KEY=SECRET,
    )
    assert values["DEBUG"] is False
    assert values["SESSION_COOKIE_SECURE"] is True and values["CSRF_COOKIE_SECURE"] is True
    assert values["SESSION_COOKIE_HTTPONLY"] is True
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 31_536_000
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["ALLOWED_HOSTS"] == ["127.0.0.1", "localhost"]


def test_debug_true_runs_locally_without_a_secret_key():
    values = settings_values(
        ["DEBUG", "SECRET_KEY", "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE"], DEBUG="true"
    )
    assert values["DEBUG"] is True
    assert values["SECRET_KEY"]
    assert values["SECURE_SSL_REDIRECT"] is False and values["SESSION_COOKIE_SECURE"] is False


def test_database_url_selects_postgresql():
    values = settings_values(
        ["DATABASES"],
        SECRET_KEY=SECRET,
        DATABASE_URL="postgres://review:s3cret@db.example.com:6543/reviewapp",
    )
    database = values["DATABASES"]["default"]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["NAME"], database["USER"], database["PASSWORD"]) == ("reviewapp", "review", "s3cret")
    assert (database["HOST"], int(database["PORT"])) == ("db.example.com", 6543)
    assert database["CONN_HEALTH_CHECKS"] is True


def test_without_database_url_sqlite_takes_the_write_lock_at_begin_and_uses_wal(tmp_path):
    path = tmp_path / "review.sqlite3"
    values = settings_values(["DATABASES"], SECRET_KEY=SECRET, SQLITE_PATH=str(path))
    database = values["DATABASES"]["default"]
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert database["NAME"] == str(path)
    assert database["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in database["OPTIONS"]["init_command"]


@pytest.mark.slow
def test_a_migrated_sqlite_database_is_in_wal_mode(tmp_path):
    path = tmp_path / "review.sqlite3"
    result = run_python(
        ["manage.py", "migrate", "--no-input", "-v0"],
        SECRET_KEY=SECRET,
        SQLITE_PATH=str(path),
        WEBHOOK_SECRET_KEY=Fernet.generate_key().decode(),
        AUDIT_KEY=secrets.token_urlsafe(32),
    )
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"reviewapp_draft", "reviewapp_auditevent", "reviewapp_cache"} <= tables


def test_task_queue_kills_a_task_before_handing_it_to_another_worker():
    conf = django_settings.Q_CLUSTER
    assert 0 < conf["timeout"] < conf["retry"]
    assert isinstance(conf["max_attempts"], int) and 1 <= conf["max_attempts"] <= 10
    assert checks.check_task_queue(None) == []


# --- System checks --------------------------------------------------------------------------------


def _ids(errors) -> list[str]:
    return [error.id for error in errors]


def test_the_real_configuration_passes_every_check():
    assert checks.check_task_queue(None) == []
    assert checks.check_spacy_model(None) == []
    assert checks.check_rule_packs(None) == []
    assert checks.check_limits(None) == []
    assert checks.check_webhook_secret_key(None) == []
    assert checks.check_audit_key(None) == []


@pytest.mark.parametrize(
    ("key", "expected"),
    [("", "WEBHOOK_SECRET_KEY is not set"), ("not-a-fernet-key", "not a valid Fernet key")],
    ids=["missing", "invalid"],
)
def test_check_webhook_secret_key_refuses_a_missing_or_invalid_key(settings, key, expected):
    settings.WEBHOOK_SECRET_KEY = key
    errors = checks.check_webhook_secret_key(None)
    assert _ids(errors) == ["reviewapp.E071"]
    assert expected in errors[0].msg and "Fernet.generate_key()" in errors[0].hint


def test_webhook_secret_key_takes_several_keys_to_rotate_it(settings):
    from reviewapp import webhooks

    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.WEBHOOK_SECRET_KEY = old_key
    stored = webhooks.encrypt_secret("whsec_c2VjcmV0")
    settings.WEBHOOK_SECRET_KEY = f"{new_key},{old_key}"
    assert checks.check_webhook_secret_key(None) == []
    assert webhooks.decrypt_secret(stored) == "whsec_c2VjcmV0"
    settings.WEBHOOK_SECRET_KEY = new_key
    with pytest.raises(ImproperlyConfigured, match="cannot be decrypted"):
        webhooks.decrypt_secret(stored)


def test_debug_derives_a_local_webhook_secret_key_and_production_has_none():
    local = settings_values(["WEBHOOK_SECRET_KEY"], DEBUG="true")["WEBHOOK_SECRET_KEY"]
    Fernet(local)  # a valid key
    assert settings_values(["WEBHOOK_SECRET_KEY"], SECRET_KEY=SECRET)["WEBHOOK_SECRET_KEY"] == ""


@pytest.mark.parametrize(("timeout", "retry"), [(120, 120), (300, 120), (None, 120), (90, None)])
def test_check_task_queue_timeout_must_be_below_retry(settings, timeout, retry):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": timeout, "retry": retry}
    assert _ids(checks.check_task_queue(None)) == ["reviewapp.E001"]


@pytest.mark.parametrize("max_attempts", [0, None, -1])
def test_check_task_queue_needs_finite_attempts(settings, max_attempts):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "max_attempts": max_attempts}
    assert _ids(checks.check_task_queue(None)) == ["reviewapp.E002"]


def test_check_spacy_model_refuses_a_missing_model(settings):
    settings.SPACY_MODEL = "no_such_model"
    errors = checks.check_spacy_model(None)
    assert _ids(errors) == ["reviewapp.E003"]
    assert "no_such_model" in errors[0].msg


def test_check_limits_refuses_copy_that_cannot_fit_in_a_request(settings):
    settings.COPY_MAX_CHARS = 100_000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024
    errors = checks.check_limits(None)
    assert _ids(errors) == ["reviewapp.E005"]
    assert "COPY_MAX_CHARS=100000" in errors[0].msg


@pytest.mark.parametrize("rate", ["lots", "600/minute", "0/min", "/min", "-5/s"])
def test_check_rate_limit_refuses_what_is_not_a_rate(settings, rate):
    settings.API_RATE_LIMIT = rate
    errors = checks.check_rate_limit(None)
    assert _ids(errors) == ["reviewapp.E008"]
    assert repr(rate) in errors[0].msg and "600/min" in errors[0].msg


@pytest.mark.parametrize("rate", ["600/min", "10/s", "5000/hour", "1/day"])
def test_check_rate_limit_takes_a_rate(settings, rate):
    settings.API_RATE_LIMIT = rate
    assert checks.check_rate_limit(None) == []


# --- Rule packs -----------------------------------------------------------------------------------


def _rule(**changes) -> dict:
    rule = {
        "id": "exaggeration.test_rule",
        "category": "exaggeration",
        "severity": "warning",
        "message": "A message a copywriter understands.",
        "reference": "UK CAP Code 3.7",
        "phrases": ["best ever"],
    }
    rule.update(changes)
    return rule


def _write_pack(directory: Path, name: str, rules: list[dict], **top) -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump({"pack": path.stem, "rules": rules, **top}), encoding="utf-8")
    return path


def test_a_valid_pack_loads(tmp_path):
    _write_pack(tmp_path, "good.yaml", [_rule(patterns=[[{"LOWER": "only"}, {"LIKE_NUM": True}]])])
    (rule,) = load_rules(tmp_path)
    assert rule.id == "exaggeration.test_rule"


@pytest.mark.parametrize(
    ("rules", "top", "expected"),
    [
        ([_rule(colour="red")], {}, "colour: Extra inputs are not permitted"),
        ([_rule()], {"author": "someone"}, "author: Extra inputs are not permitted"),
        ([_rule(severity="critical")], {}, "severity: Input should be 'blocker'"),
        ([_rule(category="rudeness")], {}, "category: Input should be"),
        ([_rule(id="NoDots")], {}, "id: String should match pattern"),
        (
            [_rule(patterns=[[{"LOWER": {"BOGUS": ["x"]}}]])],
            {},
            "patterns: Value error, invalid token",
        ),
        (
            [_rule(patterns=[[{"NOT_AN_ATTRIBUTE": "x"}]])],
            {},
            "NOT_AN_ATTRIBUTE] Extra inputs are not permitted",
        ),
        (
            [_rule(phrases=[])],
            {},
            "has no phrases, patterns, dependency_patterns or regex",
        ),
        ([_rule(phrases=["  "])], {}, "phrases: Value error, phrases must not be blank"),
        ([_rule(), _rule()], {}, "rule id exaggeration.test_rule is defined in both"),
    ],
    ids=[
        "unknown-rule-key",
        "unknown-pack-key",
        "bad-severity",
        "bad-category",
        "bad-id",
        "bad-pattern-operator",
        "bad-pattern-attribute",
        "no-matcher",
        "blank-phrase",
        "duplicate-id-in-one-file",
    ],
)
def test_a_broken_pack_raises_naming_the_file(tmp_path, rules, top, expected):
    _write_pack(tmp_path, "broken_pack.yaml", rules, **top)
    with pytest.raises(RulePackError) as error:
        load_rules(tmp_path)
    assert "broken_pack.yaml" in str(error.value)
    assert expected in str(error.value)


def test_a_rule_id_defined_in_two_packs_names_both_files(tmp_path):
    _write_pack(tmp_path, "first.yaml", [_rule()])
    _write_pack(tmp_path, "second.yaml", [_rule(message="Another message for the same id.")])
    with pytest.raises(
        RulePackError, match=r"exaggeration\.test_rule is defined in both first\.yaml and second\.yaml"
    ):
        load_rules(tmp_path)


def test_a_yaml_syntax_error_names_the_file(tmp_path):
    (tmp_path / "typo.yaml").write_text("pack: typo\nrules:\n  - id: [unclosed\n    severity: warning\n")
    with pytest.raises(RulePackError, match=r"rule pack typo\.yaml: cannot read it"):
        load_rules(tmp_path)


def test_a_pack_that_is_not_a_mapping_names_the_file(tmp_path):
    (tmp_path / "list.yaml").write_text("- just\n- a list\n")
    with pytest.raises(RulePackError, match=r"rule pack list\.yaml is invalid"):
        load_rules(tmp_path)


def test_an_empty_rule_directory_is_an_error(tmp_path):
    with pytest.raises(RulePackError, match="no rule packs"):
        load_rules(tmp_path)


# --- check --deploy -------------------------------------------------------------------------------


def _production_env(tmp_path: Path, **changes: str) -> dict[str, str]:
    return {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "review.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://review.example.com",
        "SQLITE_PATH": str(tmp_path / "deploy.sqlite3"),
        "WEBHOOK_SECRET_KEY": Fernet.generate_key().decode(),
        "AUDIT_KEY": secrets.token_urlsafe(32),
        **changes,
    }


@pytest.mark.slow
def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = run_python(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **_production_env(tmp_path)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.slow
def test_check_deploy_fails_on_a_weak_secret_key_or_debug(tmp_path):
    weak = run_python(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        **_production_env(tmp_path, SECRET_KEY="short"),
    )
    assert weak.returncode != 0
    assert "security.W009" in weak.stderr
    debug = run_python(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        **_production_env(tmp_path, DEBUG="true"),
    )
    assert debug.returncode != 0
    assert "security.W018" in debug.stderr


@pytest.mark.slow
def test_a_misconfigured_environment_stops_manage_py(tmp_path):
    result = run_python(["manage.py", "check"], **_production_env(tmp_path, SPACY_MODEL="no_such_model"))
    assert result.returncode != 0
    assert "reviewapp.E003" in result.stderr


@pytest.mark.slow
def test_production_without_a_webhook_secret_key_stops_manage_py(tmp_path):
    result = run_python(["manage.py", "check"], **_production_env(tmp_path, WEBHOOK_SECRET_KEY=""))
    assert result.returncode != 0
    assert "reviewapp.E071" in result.stderr and "WEBHOOK_SECRET_KEY is not set" in result.stderr


@pytest.mark.slow
def test_production_without_an_audit_key_stops_manage_py(tmp_path):
    result = run_python(["manage.py", "check"], **_production_env(tmp_path, AUDIT_KEY=""))
    assert result.returncode != 0
    assert "reviewapp.E090" in result.stderr and "AUDIT_KEY is not set" in result.stderr


def test_debug_derives_a_local_audit_key_and_production_has_none():
    local = settings_values(["AUDIT_KEY"], DEBUG="true")["AUDIT_KEY"]
    assert local.startswith("local-development-only-not-for-production:") and len(local) > 64
    assert settings_values(["AUDIT_KEY"], SECRET_KEY=SECRET)["AUDIT_KEY"] == ""
