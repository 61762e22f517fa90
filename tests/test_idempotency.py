"""Idempotency-Key under concurrency and across time (reviewapp/api/idempotency.py).

One request per (user, key) claims the key by inserting its record first; everyone else replays the
winner's stored response or gets 409 `idempotency_in_progress`. Records are deleted only when they are
expired. The concurrency tests need PostgreSQL (SQLite serialises writers) and follow tests/test_races.py:
real threads with their own connections, released together, many rounds.
"""

import random
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reviewapp import accounts, workflow
from reviewapp.api import idempotency
from reviewapp.models import AuditEvent, Draft, IdempotencyRecord, Status
from tests.conftest import SAFE_COPY, ApiClient, api_as, assert_problem, make_user, submit
from tests.test_races import PLAIN_COPY, THREAD_TIMEOUT, race

ROUNDS = 50
REQUESTS = 8
MAX_DELAY_SECONDS = 0.05


@pytest.fixture
def no_rate_limit(settings):
    """400 requests from one token in a few seconds: the per-token limit is not what is under test."""
    settings.API_RATE_LIMIT = "1000000/min"


@pytest.fixture
def short_wait(monkeypatch):
    """A duplicate waits this long for the winner before answering 409 (2 s in production)."""
    monkeypatch.setattr(idempotency, "WAIT_FOR_WINNER_SECONDS", 0.2)


def draft_payload(title: str) -> dict:
    # No external_id on purpose: its unique constraint would hide a duplicate the key let through.
    return {"title": title, "body": PLAIN_COPY, "channel": "email"}


def assert_in_progress(response) -> None:
    assert_problem(response, 409, "idempotency_in_progress")
    assert int(response["Retry-After"]) >= 1


# --- concurrency (PostgreSQL) -----------------------------------------------------------------------


def test_eight_identical_submits_at_once_create_one_draft_per_key(postgres, no_rate_limit):
    tool = make_user(roles=["integration"])
    token = accounts.issue_token(tool)
    clients = [ApiClient(token) for _ in range(REQUESTS)]  # one test client per thread
    workflow.compute_flags(PLAIN_COPY, language="en")  # parse once, outside the threads
    statuses: Counter = Counter()
    jitter = random.Random(12)

    for round_number in range(ROUNDS):
        title = f"Spring mail {round_number}"
        key = {"Idempotency-Key": f"spring-mail-{round_number}"}

        def send(client, delay, title=title, key=key):
            time.sleep(delay)
            return client.post("/drafts", draft_payload(title), headers=key)

        # Released together, then spread over a few milliseconds as retries over a network arrive:
        # some duplicates then reach the server while the winner is committing.
        delays = [jitter.uniform(0, MAX_DELAY_SECONDS) for _ in clients]
        outcomes = race(*[lambda c=c, d=d: send(c, d) for c, d in zip(clients, delays, strict=True)])
        responses = [outcome.value for outcome in outcomes]

        statuses.update(response.status_code for response in responses)
        drafts = Draft.objects.filter(title=title).count()
        answers = sorted((r.status_code, r.json().get("code", "")) for r in responses)
        assert drafts == 1 and all(r.status_code in (201, 409) for r in responses), (drafts, answers)
        created = [r for r in responses if r.status_code == 201]
        first = [r for r in created if "Idempotent-Replayed" not in r]
        assert len(first) == 1, [r.content for r in responses]
        assert all(r.json() == first[0].json() for r in created)
        assert all(r["Idempotent-Replayed"] == "true" for r in created if r is not first[0])
        for response in responses:
            if response.status_code == 409:
                assert_in_progress(response)
        assert list(Draft.objects.filter(title=title).values_list("pk", flat=True)) == [first[0].json()["id"]]
        record = IdempotencyRecord.objects.get(user=tool, key=key["Idempotency-Key"])
        assert record.status_code == 201 and record.response == first[0].json()

    assert Draft.objects.filter(author=tool).count() == ROUNDS
    assert AuditEvent.objects.filter(action="draft.submitted", actor=tool).count() == ROUNDS
    assert set(statuses) <= {201, 409}, statuses


def test_an_old_claim_of_a_request_still_running_is_never_taken_over(postgres, short_wait):
    """A claim past CLAIM_EXPIRY whose request is still working (it holds the claim's row lock) is
    skipped by the expiry: a retry gets 409 in progress and creates nothing, and the claim survives."""
    writer = make_user(roles=["copywriter"])
    api = api_as(writer)
    key = {"Idempotency-Key": "slow-one"}
    payload = draft_payload("Slow launch")
    assert api.post("/drafts", payload, headers=key).status_code == 201
    record = IdempotencyRecord.objects.get(user=writer)
    # Back to a claim older than CLAIM_EXPIRY: as if its request had been running for three minutes.
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        status_code=None, response=None, created_at=timezone.now() - timedelta(minutes=3)
    )
    Draft.objects.filter(title="Slow launch").update(title="Slow launch (first)")
    locked, release = threading.Event(), threading.Event()

    def running_winner():
        try:
            with transaction.atomic():
                IdempotencyRecord.objects.select_for_update().get(pk=record.pk)
                locked.set()
                release.wait(THREAD_TIMEOUT)
        finally:
            connection.close()

    winner = threading.Thread(target=running_winner)
    winner.start()
    try:
        assert locked.wait(THREAD_TIMEOUT)
        retry = api.post("/drafts", payload, headers=key)
        assert_in_progress(retry)
        assert idempotency.prune() == 0
    finally:
        release.set()
        winner.join(THREAD_TIMEOUT)
    assert IdempotencyRecord.objects.filter(pk=record.pk, status_code__isnull=True).exists()
    assert not Draft.objects.filter(title="Slow launch").exists()


# --- expiry: deleted only when expired ----------------------------------------------------------------


def test_an_expired_response_is_replaced_by_a_new_run(db):
    writer = make_user(roles=["copywriter"])
    api = api_as(writer)
    key = {"Idempotency-Key": "monthly-mail"}
    payload = draft_payload("Monthly mail")
    first = api.post("/drafts", payload, headers=key)
    old = IdempotencyRecord.objects.get(user=writer)
    IdempotencyRecord.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=25))

    again = api.post("/drafts", payload, headers=key)

    assert again.status_code == 201 and "Idempotent-Replayed" not in again
    assert again.json()["id"] != first.json()["id"]
    record = IdempotencyRecord.objects.get(user=writer)
    assert record.pk != old.pk and record.response == again.json()


def test_a_response_within_its_retention_is_replayed_and_kept(db):
    writer = make_user(roles=["copywriter"])
    api = api_as(writer)
    key = {"Idempotency-Key": "monthly-mail"}
    payload = draft_payload("Monthly mail")
    first = api.post("/drafts", payload, headers=key)
    old = IdempotencyRecord.objects.get(user=writer)
    IdempotencyRecord.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=23))

    again = api.post("/drafts", payload, headers=key)

    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert list(IdempotencyRecord.objects.filter(user=writer).values_list("pk", flat=True)) == [old.pk]
    assert idempotency.prune() == 0
    assert Draft.objects.filter(title="Monthly mail").count() == 1


def test_the_claim_of_a_crashed_request_expires_and_the_key_runs_again(db):
    writer = make_user(roles=["copywriter"])
    api = api_as(writer)
    key = {"Idempotency-Key": "crashed"}
    payload = draft_payload("Crashed launch")
    api.post("/drafts", payload, headers=key)
    # The worker died after claiming the key: its draft was rolled back, its claim stayed behind.
    Draft.objects.filter(title="Crashed launch").update(title="Crashed launch (gone)")
    IdempotencyRecord.objects.filter(user=writer).update(
        status_code=None,
        response=None,
        created_at=timezone.now() - idempotency.CLAIM_EXPIRY - timedelta(seconds=1),
    )

    again = api.post("/drafts", payload, headers=key)

    assert again.status_code == 201 and "Idempotent-Replayed" not in again
    assert Draft.objects.filter(title="Crashed launch").count() == 1
    assert IdempotencyRecord.objects.get(user=writer).status_code == 201


def test_a_fresh_claim_is_never_deleted_and_its_duplicates_are_told_to_retry(db, short_wait):
    writer = make_user(roles=["copywriter"])
    api = api_as(writer)
    key = {"Idempotency-Key": "running"}
    payload = draft_payload("Running launch")
    api.post("/drafts", payload, headers=key)
    Draft.objects.filter(title="Running launch").update(title="Running launch (first)")
    young = timezone.now() - idempotency.CLAIM_EXPIRY + timedelta(seconds=30)
    IdempotencyRecord.objects.filter(user=writer).update(status_code=None, response=None, created_at=young)
    claim = IdempotencyRecord.objects.get(user=writer)

    for _ in range(3):
        assert_in_progress(api.post("/drafts", payload, headers=key))
    assert idempotency.prune() == 0

    assert list(IdempotencyRecord.objects.filter(user=writer).values_list("pk", "status_code")) == [
        (claim.pk, None)
    ]
    assert not Draft.objects.filter(title="Running launch").exists()
    # The same key with another request is still refused as a reused key, claim or not.
    other = api.post("/drafts", draft_payload("Another launch"), headers=key)
    assert_problem(other, 422, "idempotency_key_reused")


def test_expired_records_are_deleted_by_a_delete_that_carries_the_age_condition(db):
    """The age condition belongs in the DELETE itself: a check made before it (as the replay path once
    did) can be stale by the time the DELETE runs and remove a record another request just wrote."""
    writer = make_user(roles=["copywriter"])
    api = api_as(writer)
    key = {"Idempotency-Key": "aged"}
    api.post("/drafts", draft_payload("Aged launch"), headers=key)
    IdempotencyRecord.objects.filter(user=writer).update(created_at=timezone.now() - timedelta(hours=25))

    with CaptureQueriesContext(connection) as queries:
        assert api.post("/drafts", draft_payload("Aged launch"), headers=key).status_code == 201
    deletes = [q["sql"] for q in queries if q["sql"].startswith("DELETE") and "idempotencyrecord" in q["sql"]]
    assert deletes, [q["sql"] for q in queries]
    assert all("created_at" in sql and "status_code" in sql for sql in deletes), deletes

    IdempotencyRecord.objects.filter(user=writer).update(created_at=timezone.now() - timedelta(hours=25))
    with CaptureQueriesContext(connection) as queries:
        assert idempotency.prune() == 1
    deletes = [q["sql"] for q in queries if q["sql"].startswith("DELETE")]
    assert deletes and all("created_at" in sql for sql in deletes), deletes


def test_prune_deletes_expired_claims_and_responses_only(db):
    writer = make_user(roles=["copywriter"])
    api = api_as(writer)
    now = timezone.now()
    ages = {
        "response-25h": (201, timedelta(hours=25)),  # expired
        "response-23h": (201, timedelta(hours=23)),
        "claim-3min": (None, timedelta(minutes=3)),  # expired: a crashed request's claim
        "claim-1min": (None, timedelta(minutes=1)),
    }
    for key, (status, age) in ages.items():
        api.post("/drafts", draft_payload(key), headers={"Idempotency-Key": key})
        record = IdempotencyRecord.objects.filter(user=writer, key=key)
        if status is None:
            record.update(status_code=None, response=None)
        record.update(created_at=now - age)

    assert idempotency.prune() == 2
    assert sorted(IdempotencyRecord.objects.values_list("key", flat=True)) == ["claim-1min", "response-23h"]


def test_a_refused_request_releases_its_key_so_a_retry_runs_again(db):
    """Errors are not stored: publishing before the approval is 409, the same key works once approved."""
    writer = make_user(roles=["copywriter"])
    draft = submit(author=writer, body=SAFE_COPY)
    api = api_as(make_user(roles=["integration"]))
    key = {"Idempotency-Key": "publish-when-approved"}

    assert_problem(api.post(f"/drafts/{draft.pk}/publish", headers=key), 409, "not_approved")
    assert not IdempotencyRecord.objects.filter(key="publish-when-approved").exists()

    workflow.decide(draft, reviewer=make_user(roles=["reviewer"]), kind="approve", version=1)
    published = api.post(f"/drafts/{draft.pk}/publish", headers=key)
    assert published.status_code == 200 and published.json()["status"] == Status.PUBLISHED
    assert IdempotencyRecord.objects.get(key="publish-when-approved").status_code == 200
