"""Shared factories. Each test names the facts it depends on: make_user(roles=[...]), submit(...)."""

import contextlib
import itertools
import json
import re

import pytest
from django.db import connection
from django.test import Client

from reviewapp import accounts, workflow
from reviewapp.models import Draft, User

_counter = itertools.count(1)

RISKY_COPY = (
    "The best serum in the world. 73% of users saw results in a week. "
    "Only 3 left, so hurry: offer ends tonight!"
)
SAFE_COPY = "A lightweight serum with hyaluronic acid and niacinamide, in a 30 ml glass bottle."


def make_user(
    *, roles: list[str], username: str | None = None, name: str = "", password: str | None = None
) -> User:
    username = username or f"{'-'.join(roles)}-{next(_counter)}"
    return accounts.create_user(username, roles=roles, name=name or username.title(), password=password)


class ApiClient:
    """Django's test client speaking JSON with a real bearer token."""

    def __init__(self, token: str | None):
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def _send(self, method, path, body=None, *, raw: bytes | None = None, headers=None):
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        return getattr(self.client, method)(
            f"/api/v1{path}",
            data=data,
            content_type="application/json",
            headers={**self.headers, **(headers or {})},
        )

    def get(self, path, **kwargs):
        return self.client.get(
            f"/api/v1{path}", headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs
        )

    def post(self, path, body=None, **kwargs):
        return self._send("post", path, body, **kwargs)


def assert_problem(response, status: int, code: str) -> dict:
    """An RFC 9457 problem with the given status and code, saying what went wrong."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert problem["code"] == code
    assert problem["title"] and problem["detail"]
    return problem


def api_as(user: User | None) -> ApiClient:
    return ApiClient(accounts.issue_token(user) if user else None)


def submit(*, author: User, body: str = RISKY_COPY, title: str = "Serum launch", **kwargs):
    return workflow.submit(author=author, title=title, body=body, **kwargs)


@pytest.fixture
def copywriter(db):
    return make_user(roles=["copywriter"], name="Cora Copywriter")


@pytest.fixture
def reviewer(db):
    return make_user(roles=["reviewer"], name="Rhea Reviewer")


@pytest.fixture
def integration(db):
    return make_user(roles=["integration"], name="Campaign Tool")


@pytest.fixture(autouse=True, scope="session")
def _flush_past_the_history_triggers():
    """SQLite has no TRUNCATE: the test runner empties tables with DELETE, which the gate's history
    triggers refuse except while `reviewapp_flushing()` says a flush is under way."""
    from django.core.management.commands import flush

    from reviewapp import sqlfunctions

    handle = flush.Command.handle

    def handle_while_flushing(self, *args, **options):
        with sqlfunctions.flushing():
            return handle(self, *args, **options)

    flush.Command.handle = handle_while_flushing
    yield
    flush.Command.handle = handle


@pytest.fixture(autouse=True)
def _audit_checkpoints_of_its_own(settings, tmp_path):
    """Each test's audit checkpoints go to a directory of its own, never a shared one."""
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "audit-checkpoints"


@pytest.fixture
def postgres(transactional_db):
    """For tests of row locking under real concurrency: SQLite serialises writers by design."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/reviewapp (make test does)"
        )


_AUDIT_TRIGGERS = {
    "postgresql": ["reviewapp_auditevent_append_only"],
    # SQLite triggers fire on one event each: the UPDATE one and the DELETE one of migration 0010.
    "sqlite": ["reviewapp_auditevent_append_only", "reviewapp_gate_auditevent_delete"],
}
# The approval trigger is one per event on SQLite; the UPDATE one is what ORM updates meet.
APPROVAL_TRIGGER = {"postgresql": "reviewapp_draft_approval", "sqlite": "reviewapp_draft_approval_update"}


@contextlib.contextmanager
def behind_trigger(table: str, *triggers: str):
    """A cursor that writes as a database superuser would, around triggers that refuse it; the
    triggers are put back afterwards. Works inside a test's transaction."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # ALTER TABLE refuses while this transaction has deferred FK checks queued: run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for trigger in triggers:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
            yield cursor
            for trigger in triggers:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        else:
            creates = []
            for trigger in triggers:
                cursor.execute(
                    "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = %s", [trigger]
                )
                creates += [row[0] for row in cursor.fetchall()]
                cursor.execute(f"DROP TRIGGER IF EXISTS {trigger}")
            yield cursor
            for create in creates:
                cursor.execute(create)


def gate_triggers(table: str) -> list[str]:
    """The gate's triggers on `table` (migration 0010), as the database lists them."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger "
                "WHERE tgrelid = %s::regclass AND tgname LIKE 'reviewapp_gate_%%'",
                [table],
            )
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s "
                "AND name LIKE 'reviewapp_gate_%%'",
                [table],
            )
        return [row[0] for row in cursor.fetchall()]


def behind_the_gate(table: str):
    """Write past the gate's triggers on `table`, so that a test can show a constraint refusing on its
    own (the triggers would refuse the same writes first)."""
    return behind_trigger(table, *gate_triggers(table))


def behind_the_audit_trigger():
    return behind_trigger("reviewapp_auditevent", *_AUDIT_TRIGGERS[connection.vendor])


def alter_audit_row(pk: int, data: str) -> None:
    """Tamper with one audit event's data behind the trigger."""
    with behind_the_audit_trigger() as cursor:
        cursor.execute("UPDATE reviewapp_auditevent SET data = %s WHERE id = %s", [data, pk])


def stored_risk_is_current(draft: Draft) -> bool:
    """Draft.risk, the queue's stored sort key, against the current version's flags counted now."""
    draft = Draft.objects.get(pk=draft.pk)
    flags = list(draft.current_version.flags.all())
    blockers = sum(f.severity == "blocker" and f.status == "open" for f in flags)
    warnings = sum(f.severity == "warning" for f in flags)
    return draft.risk == blockers * 1_000_000 + warnings


_PUBLISH_SHA256_FIELD = re.compile(r'<input type="hidden" name="sha256" value="([0-9a-f]{64})">')


def publish_form_sha256(client: Client, draft: Draft) -> str:
    """The approved text's sha256 that the draft page's publish form sends (its hidden field)."""
    page = client.get(f"/drafts/{draft.pk}").content.decode()
    found = _PUBLISH_SHA256_FIELD.findall(page)
    assert len(found) == 1, "the draft page has no publish form"
    return found[0]
