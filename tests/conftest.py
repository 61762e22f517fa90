"""Shared factories. Each test names the facts it depends on: make_user(roles=[...]), submit(...)."""

import contextlib
import itertools
import json

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


@pytest.fixture
def postgres(transactional_db):
    """For tests of row locking under real concurrency: SQLite serialises writers by design."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/reviewapp (make test does)"
        )


_AUDIT_TRIGGER = "reviewapp_auditevent_append_only"
# The approval trigger is one per event on SQLite; the UPDATE one is what ORM updates meet.
APPROVAL_TRIGGER = {"postgresql": "reviewapp_draft_approval", "sqlite": "reviewapp_draft_approval_update"}


@contextlib.contextmanager
def behind_trigger(table: str, trigger: str):
    """A cursor that writes as a database superuser would, around a trigger that refuses it; the
    trigger is put back afterwards. Works inside a test's transaction."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # ALTER TABLE refuses while this transaction has deferred FK checks queued: run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
            yield cursor
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        else:
            cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = %s", [trigger])
            (create,) = cursor.fetchone()
            cursor.execute(f"DROP TRIGGER {trigger}")
            yield cursor
            cursor.execute(create)


def behind_the_audit_trigger():
    return behind_trigger("reviewapp_auditevent", _AUDIT_TRIGGER)


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
