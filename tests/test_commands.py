"""Operator commands (add_user, seed_demo, verify_audit) and the one-command CI entry point."""

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, transaction
from django.test import Client

from reviewapp import accounts, workflow
from reviewapp.models import ApiToken, AuditEvent, Draft, Flag, FlagStatus, User, sha256_hex
from tests.conftest import RISKY_COPY, alter_audit_row, make_user, submit

ROOT = Path(__file__).resolve().parent.parent


def run(command: str, *args, **options) -> str:
    out = io.StringIO()
    call_command(command, *args, stdout=out, **options)
    return out.getvalue()


def api_get(path: str, token: str):
    return Client().get(f"/api/v1{path}", headers={"Authorization": f"Bearer {token}"})


def can_sign_in(username: str, password: str) -> bool:
    response = Client().post("/login/", {"username": username, "password": password})
    return response.status_code == 302 and response["Location"] == "/"


# --- add_user -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_add_user_parses_roles_and_stores_the_name():
    out = run("add_user", "casey", role=" Copywriter , reviewer ", name="Casey Park")

    user = User.objects.get(username="casey")
    assert user.roles == {"copywriter", "reviewer"}
    assert user.name == "Casey Park"
    assert not user.has_usable_password()
    assert not user.is_staff
    assert "Created casey" in out
    assert AuditEvent.objects.filter(action="user.created", object_id=str(user.pk)).exists()


@pytest.mark.django_db
def test_add_user_admin_role_gives_staff_access():
    run("add_user", "ada", role="admin")
    user = User.objects.get(username="ada")
    assert user.is_staff and user.roles == {"admin"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("editor", "Unknown role(s) editor"),
        ("copywriter,superhero", "Unknown role(s) superhero"),
        (" , ", "(none given)"),
        ("integration,reviewer", "never be a reviewer"),
    ],
)
def test_add_user_refuses_bad_roles(role, expected):
    with pytest.raises(CommandError, match=re.escape(expected)):
        run("add_user", "someone", role=role)
    assert not User.objects.filter(username="someone").exists()


@pytest.mark.django_db
def test_add_user_refuses_a_duplicate_username():
    make_user(roles=["copywriter"], username="maya")
    with pytest.raises(CommandError, match="already exists"):
        run("add_user", "maya", role="reviewer")
    assert User.objects.get(username="maya").roles == {"copywriter"}


@pytest.mark.django_db
def test_add_user_refuses_an_invalid_username():
    with pytest.raises(CommandError, match="Cannot create"):
        run("add_user", "no spaces allowed!", role="copywriter")
    assert not User.objects.exists()


@pytest.mark.django_db
def test_add_user_token_is_alone_on_the_last_line_and_authenticates():
    out = run("add_user", "campaign-tool", role="integration", name="Campaign Tool", token=True)

    token = out.rstrip("\n").splitlines()[-1]
    assert token == token.strip() and " " not in token
    assert token.startswith("rva_")
    response = api_get("/drafts", token)
    assert response.status_code == 200, response.content
    assert api_get("/drafts", token + "x").status_code == 401
    assert AuditEvent.objects.filter(action="token.created").count() == 1


@pytest.mark.django_db
def test_add_user_reads_a_password_from_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("copper-kettle-meadow-17\n"))

    run("add_user", "theo", role="copywriter", password_stdin=True)

    user = User.objects.get(username="theo")
    assert user.has_usable_password()
    assert user.check_password("copper-kettle-meadow-17")
    assert can_sign_in("theo", "copper-kettle-meadow-17")


# --- seed_demo ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_seed_demo_is_refused_without_debug_unless_forced(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG=true or --force"):
        run("seed_demo")
    assert not User.objects.exists() and not Draft.objects.exists()


def _printed_logins(out: str) -> tuple[str, list[str]]:
    password = re.search(r"password for all: (\S+)\)", out).group(1)
    block = out.split("Demo logins", 1)[1].split("\n\n", 1)[0]
    usernames = [line.split()[0] for line in block.splitlines()[1:] if line.strip()]
    return password, usernames


def _assert_gate_holds(draft: Draft) -> None:
    current, approval = draft.current_version, draft.approval
    assert draft.approved_version_id == current.pk
    assert approval is not None and approval.kind == "approve"
    assert approval.version_id == current.pk
    assert approval.sha256 == current.sha256 == sha256_hex(current.body)
    assert approval.reviewer.has_role("reviewer")
    assert not workflow.wrote_any_version(draft, approval.reviewer)
    for flag in current.flags.filter(severity="blocker"):
        assert flag.status == FlagStatus.OVERRIDDEN and flag.overridden_by_id == approval.reviewer_id


@pytest.mark.django_db
def test_seed_demo_creates_working_logins_and_drafts_in_every_status(settings):
    settings.DEBUG = False
    out = run("seed_demo", force=True)

    password, usernames = _printed_logins(out)
    assert len(usernames) >= 5
    for username in usernames:
        assert can_sign_in(username, password), username
    token = out.rstrip("\n").splitlines()[-1].strip()
    assert api_get("/drafts", token).status_code == 200

    drafts = Draft.objects.select_related("current_version", "approval__reviewer")
    assert drafts.count() >= 12
    statuses = set(drafts.values_list("status", flat=True))
    assert {"in_review", "changes_requested", "approved", "published", "rejected"} <= statuses
    categories = set(Flag.objects.values_list("category", flat=True))
    assert {"exaggeration", "unverifiable", "manipulation"} <= categories
    for draft in drafts.filter(status__in=["approved", "published"]):
        _assert_gate_holds(draft)
    assert "intact" in run("verify_audit")

    # Running it again (now with DEBUG on, no --force) adds no users or drafts, and prints a fresh
    # token, since the first one was shown only once.
    settings.DEBUG = True
    counts = (User.objects.count(), Draft.objects.count())
    again = run("seed_demo")
    assert "already present" in again
    assert _printed_logins(again) == (password, usernames)
    assert (User.objects.count(), Draft.objects.count()) == counts
    second_token = again.rstrip("\n").splitlines()[-1].strip()
    assert second_token != token and api_get("/drafts", second_token).status_code == 200


# --- issue_token ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_issue_token_replaces_a_revoked_token_and_prints_it_alone_on_the_last_line():
    first = run("add_user", "mailer", role="integration", token=True).rstrip("\n").splitlines()[-1]
    accounts.revoke_token(ApiToken.objects.get(user__username="mailer"), actor=None)
    assert api_get("/drafts", first).status_code == 401

    out = run("issue_token", "mailer", name="Mail platform")

    token = out.rstrip("\n").splitlines()[-1]
    assert token.startswith("rva_") and " " not in token
    assert api_get("/drafts", token).status_code == 200
    assert ApiToken.objects.get(user__username="mailer", revoked_at__isnull=True).name == "Mail platform"
    assert AuditEvent.objects.filter(action="token.created").count() == 2


@pytest.mark.django_db
def test_issue_token_refuses_unknown_users_and_users_without_a_role():
    with pytest.raises(CommandError, match="No user 'nobody'"):
        run("issue_token", "nobody")
    make_user(username="idle", roles=[])
    with pytest.raises(CommandError, match="no role"):
        run("issue_token", "idle")
    assert not ApiToken.objects.exists()


# --- verify_audit ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_verify_audit_passes_on_an_intact_chain(copywriter, reviewer):
    draft = submit(author=copywriter, body=RISKY_COPY)
    workflow.decide(draft, reviewer=reviewer, kind="request_changes", version=1, comment="Tone it down.")
    total = AuditEvent.objects.count()

    assert f"Audit chain intact: {total} events verified." in run("verify_audit")


@pytest.mark.django_db
def test_verify_audit_names_the_first_altered_event(copywriter, reviewer):
    draft = submit(author=copywriter, body=RISKY_COPY)
    workflow.decide(draft, reviewer=reviewer, kind="request_changes", version=1, comment="Tone it down.")
    events = list(AuditEvent.objects.order_by("seq"))
    tampered, later = events[len(events) // 2], events[-1]
    alter_audit_row(later.pk, '{"tampered": true}')
    alter_audit_row(tampered.pk, '{"version": 99}')

    with pytest.raises(CommandError) as broken:
        run("verify_audit")

    assert broken.value.returncode == 1
    assert f"event seq {tampered.seq} (id {tampered.pk})" in str(broken.value)
    assert "altered" in str(broken.value)
    # Tampering went around the append-only trigger, which is still in place for everyone else.
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=later.pk).update(action="edited")


# --- CI entry point and Makefile ------------------------------------------------------------------


def test_ci_runs_make_test_and_nothing_else():
    script = (ROOT / ".ci" / "run").read_text()
    assert script.startswith("#!")
    commands = []
    for line in script.splitlines()[1:]:
        line = line.strip()
        if not line or line.startswith("#") or line.startswith("set ") or line.startswith("cd "):
            continue
        commands.append(line)
    assert commands in (["make test"], ["exec make test"])
    assert os.access(ROOT / ".ci" / "run", os.X_OK)


def test_make_test_runs_lint_both_databases_and_check_deploy():
    makefile = (ROOT / "Makefile").read_text()
    prerequisites = re.search(r"^test:(.*)$", makefile, re.MULTILINE).group(1).split()
    assert {"lint", "test-sqlite", "test-postgres", "check-deploy"} <= set(prerequisites)

    env = {key: value for key, value in os.environ.items() if key not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    dry_run = subprocess.run(
        ["make", "-n", "test"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "ruff check" in dry_run and "ruff format --check" in dry_run
    assert re.search(r"env -u DATABASE_URL \S*pytest", dry_run)
    assert re.search(r"DATABASE_URL=postgres://\S+ \S*pytest", dry_run)
    assert 'if [ -n "$CI" ]' in dry_run  # PostgreSQL unreachable on CI fails the run
    assert re.search(r"DEBUG=false .*manage\.py check --deploy --fail-level WARNING", dry_run)
