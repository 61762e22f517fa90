"""System checks that fail loudly on misconfiguration (run by runserver, migrate and `check --deploy`)."""

from pathlib import Path

import spacy.util
from django.conf import settings
from django.core.checks import Error, Tags, register
from django.core.exceptions import ImproperlyConfigured

from reviewapp.flagging import RulePackError, load_rules


@register(Tags.compatibility)
def check_task_queue(app_configs, **kwargs):
    conf = settings.Q_CLUSTER
    errors = []
    timeout, retry = conf.get("timeout"), conf.get("retry")
    if not timeout or not retry or timeout >= retry:
        errors.append(
            Error(
                f"Q_CLUSTER timeout ({timeout}) must be set and smaller than retry ({retry}), "
                "or a slow task would be handed to a second worker while the first still runs.",
                id="reviewapp.E001",
            )
        )
    if not conf.get("max_attempts") or conf["max_attempts"] < 1:
        errors.append(Error("Q_CLUSTER max_attempts must be a finite number ≥ 1.", id="reviewapp.E002"))
    return errors


@register()
def check_spacy_model(app_configs, **kwargs):
    name = settings.SPACY_MODEL
    if spacy.util.is_package(name) or Path(name).is_dir():
        return []
    return [
        Error(
            f"SPACY_MODEL={name!r} is neither an installed spaCy pipeline package nor a directory.",
            hint="Install it (make install does) or point SPACY_MODEL at an installed pipeline.",
            id="reviewapp.E003",
        )
    ]


@register()
def check_rule_packs(app_configs, **kwargs):
    try:
        load_rules()
    except RulePackError as exc:
        return [Error(str(exc), id="reviewapp.E004")]
    return []


@register()
def check_limits(app_configs, **kwargs):
    # A UTF-8 character takes up to 4 bytes; the request must be able to carry the longest copy.
    if settings.COPY_MAX_CHARS * 4 + 4096 > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        return [
            Error(
                f"COPY_MAX_CHARS={settings.COPY_MAX_CHARS} cannot fit in MAX_REQUEST_BYTES="
                f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE}: raise MAX_REQUEST_BYTES or lower COPY_MAX_CHARS.",
                id="reviewapp.E005",
            )
        ]
    return []


@register()
def check_generation(app_configs, **kwargs):
    from generation.client import ClientConfig

    config = ClientConfig(
        api_key="",
        base_url=None,
        model=settings.OPENAI_MODEL,
        timeout=settings.OPENAI_TIMEOUT_SECONDS,
        max_retries=settings.OPENAI_MAX_RETRIES,
        backoff=settings.OPENAI_RETRY_BACKOFF_SECONDS,
    )
    worst = config.worst_case_seconds()
    timeout = settings.Q_CLUSTER.get("timeout") or 0
    errors = []
    if worst >= timeout:
        errors.append(
            Error(
                f"A generation call may take {worst:.0f} s with its retries (OPENAI_TIMEOUT_SECONDS, "
                f"OPENAI_MAX_RETRIES, OPENAI_RETRY_BACKOFF_SECONDS) but tasks are killed after {timeout} s.",
                hint="Lower the retries or the timeout, or raise Q_CLUSTER['timeout'].",
                id="reviewapp.E006",
            )
        )
    if not timeout < settings.GENERATION_CLAIM_SECONDS < (settings.Q_CLUSTER.get("retry") or 0):
        errors.append(
            Error(
                "GENERATION_CLAIM_SECONDS must lie between Q_CLUSTER timeout and retry, or a retried "
                "generation task could run beside a live one or never take over a dead one.",
                id="reviewapp.E007",
            )
        )
    return errors


@register()
def check_rate_limit(app_configs, **kwargs):
    from reviewapp.api.auth import parse_rate  # the API imports models: only once the apps are ready

    try:
        parse_rate(settings.API_RATE_LIMIT)
    except ValueError as exc:
        # Caught here, not on the first API request (which would fail with a server error).
        return [Error(str(exc), id="reviewapp.E008")]
    return []


@register()
def check_webhook_secret_key(app_configs, **kwargs):
    from reviewapp import webhooks  # imports models: only once the apps are ready

    try:
        webhooks.secret_box()
    except ImproperlyConfigured as exc:
        return [
            Error(
                str(exc),
                hint="Generate one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())' and keep it beside SECRET_KEY.",
                id="reviewapp.E071",
            )
        ]
    return []


@register()
def check_second_factor_roles(app_configs, **kwargs):
    from reviewapp.models import Role  # models: only once the apps are ready

    unknown = sorted(set(settings.REQUIRE_2FA_FOR) - set(Role.values))
    if unknown:
        return [
            Error(
                f"REQUIRE_2FA_FOR names unknown role(s) {', '.join(unknown)}; the roles are "
                f"{', '.join(Role.values)} (comma-separated, or empty for none).",
                id="reviewapp.E080",
            )
        ]
    return []


def database_role_notice(connection) -> str:
    """What to tell an operator whose `migrate` runs as the owner of the tables (or a superuser) on
    PostgreSQL: right for migrating, wrong for running the app, since the owner can disable, drop or
    bypass the gate's triggers. Empty when the role owns no table of the app (or on SQLite)."""
    if connection.vendor != "postgresql":
        return ""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user), "
            "EXISTS (SELECT 1 FROM pg_tables "
            "        WHERE tablename LIKE 'reviewapp\\_%%' AND tableowner = current_user)"
        )
        user, superuser, owner = cursor.fetchone()
    if not (owner or superuser):
        return ""
    what = "the owner of the tables" + (" and a superuser" if superuser else "") if owner else "a superuser"
    return (
        f"NOTICE: migrations ran as {user}, {what}. That is right for migrating; the app itself must run "
        "as a role that owns no tables and is no superuser, so that it cannot disable, drop or bypass the "
        "gate's triggers. See the README, 'Database roles'.\n"
    )


@register()
def check_audit_key(app_configs, **kwargs):
    from reviewapp import audit  # imports models: only once the apps are ready

    try:
        audit.keyring()
    except ImproperlyConfigured as exc:
        return [
            Error(
                str(exc),
                hint="Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))' and "
                "keep it outside the database, beside SECRET_KEY (README: Security, audit chain).",
                id="reviewapp.E090",
            )
        ]
    return []
