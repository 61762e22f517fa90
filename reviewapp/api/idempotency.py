"""`Idempotency-Key` for creating POSTs (SPEC §7).

Creating endpoints serialise their answer themselves (`create` returns status and JSON-ready body),
so the stored body is byte for byte what the first client received.

One request per (user, key) does the work, decided by the database, not by timing:

1. **Claim.** In its own short transaction a request inserts the key's record without a response (a
   claim). The unique (user, key) constraint lets exactly one insert win; every other request gets an
   IntegrityError and reads the row instead. (The API runs without ATOMIC_REQUESTS, so this commits
   before the work starts.)
2. **Work.** The winner locks its claim row, runs `create`, and stores status and body on the row in
   the same transaction as the change it reports. Error responses are not stored: the claim is
   released (deleted) and a retry simply runs again.
3. **Everyone else** with the same request waits briefly for the winner and replays its stored
   response (header Idempotent-Replayed: true), or gets 409 `idempotency_in_progress` with
   Retry-After while it is still running. The same key with a different request is 422.

Records expire: a response after RETENTION, a claim whose request never answered (a crashed worker)
after CLAIM_EXPIRY. Only expired rows are ever deleted, and the age condition is in the DELETE
itself, so a record another request has just written is never removed. A claim locked by a request
that is still working is skipped, never waited for and never deleted.
"""

import contextlib
import hashlib
import json
import re
import time
from collections.abc import Callable
from datetime import timedelta

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from reviewapp.api.problems import problem
from reviewapp.models import IdempotencyRecord
from reviewapp.workflow import Invalid, WorkflowError

KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
RETENTION = timedelta(hours=24)
# Longer than any request runs (gunicorn's default worker timeout is 30 s); a live winner holds a row lock on
# its claim, so even a slower one is never displaced, this only frees the key of a crashed one.
CLAIM_EXPIRY = timedelta(minutes=2)
WAIT_FOR_WINNER_SECONDS = 2.0  # how long a concurrent duplicate waits for the winner's response
POLL_SECONDS = 0.05
RETRY_AFTER_SECONDS = 1
CLAIM_ATTEMPTS = 3  # a claim can vanish under a waiting request (the winner failed): claim again
HEADER_DOC = (
    "Any string of 1-255 visible ASCII characters, unique per logical request. Retrying with the same "
    "key replays the first successful response (header Idempotent-Replayed: true) for 24 hours; "
    "while the first request is still running, a retry gets 409 idempotency_in_progress with "
    "Retry-After; the same key with a different body gets 422."
)


def _fingerprint(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b"\0" + request.path.encode() + b"\0")
    digest.update(request.body)
    return digest.hexdigest()


def expired(now=None) -> Q:
    """Records past their time: a response after RETENTION, an unanswered claim after CLAIM_EXPIRY."""
    now = now or timezone.now()
    return Q(status_code__isnull=False, created_at__lt=now - RETENTION) | Q(
        status_code__isnull=True, created_at__lt=now - CLAIM_EXPIRY
    )


def run(request: HttpRequest, key: str | None, create: Callable[[], tuple[int, dict]]) -> HttpResponse:
    """Run `create` once per key and answer with its (status, JSON body); replays answer the same bytes."""
    if key is None:
        return _respond(*create())
    if not KEY_PATTERN.match(key):
        raise WorkflowError(
            "Idempotency-Key must be 1-255 visible ASCII characters.", code="bad_idempotency_key", status=400
        )
    fingerprint = _fingerprint(request)
    for _ in range(CLAIM_ATTEMPTS):
        record, won = _claim(request, key, fingerprint)
        if won:
            return _work(request, record, create)
        if record is None:
            continue  # the claim vanished between our insert and our read: the winner failed
        if record.request_sha256 != fingerprint:
            raise Invalid(
                "This Idempotency-Key was already used with a different request; use a new key.",
                code="idempotency_key_reused",
            )
        record = _await_response(record)
        if record is None:
            continue  # the winner failed and released its claim: this request may run now
        if record.status_code is None:
            return _in_progress(request)
        return _respond(record.status_code, record.response, replayed=True)
    return _in_progress(request)


def prune() -> int:
    """Delete records past their time: they hold whole responses (copy, brief fields). Scheduled
    hourly by `manage.py setup_schedules`. Claims locked by a running request are skipped."""
    with transaction.atomic():
        pks = list(
            IdempotencyRecord.objects.filter(expired())
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)
        )
        deleted, _ = IdempotencyRecord.objects.filter(expired(), pk__in=pks).delete()
    return deleted


def _claim(request: HttpRequest, key: str, fingerprint: str) -> tuple[IdempotencyRecord | None, bool]:
    """Insert the key's claim in a transaction of its own. Returns (the claim, True) to the one request
    that inserted it, and (the record that is there, or None if it is gone again, False) to the rest."""
    with transaction.atomic():
        # An expired record of this key makes way, but only if it still is expired when deleted and no
        # running request holds it (the age condition is in the DELETE; locked rows are skipped).
        stale = list(
            IdempotencyRecord.objects.filter(expired(), user=request.user, key=key)
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)
        )
        if stale:
            IdempotencyRecord.objects.filter(expired(), pk__in=stale).delete()
        try:
            with transaction.atomic():
                claim = IdempotencyRecord.objects.create(
                    user=request.user,
                    key=key,
                    method=request.method,
                    path=request.path,
                    request_sha256=fingerprint,
                    status_code=None,
                    response=None,
                )
            return claim, True
        except IntegrityError:
            pass  # another request holds the key; its row is committed (the insert waited for it)
    return IdempotencyRecord.objects.filter(user=request.user, key=key).first(), False


def _work(request: HttpRequest, claim: IdempotencyRecord, create) -> HttpResponse:
    """Run `create` holding the claim's row lock, and store its answer with the change it reports."""
    try:
        with transaction.atomic():
            held = (
                IdempotencyRecord.objects.select_for_update()
                .filter(pk=claim.pk, status_code__isnull=True)
                .values_list("pk", flat=True)
                .first()
            )
            if held is None:  # expired and taken over before we could lock it: the key is someone else's
                return _in_progress(request)
            status, body = create()
            IdempotencyRecord.objects.filter(pk=claim.pk).update(status_code=status, response=body)
    except BaseException:
        _release(claim)
        raise
    return _respond(status, body)


def _release(claim: IdempotencyRecord) -> None:
    """Nothing was created: free the key, so a retry runs again. If this fails (the database went
    away), the claim expires after CLAIM_EXPIRY instead."""
    with contextlib.suppress(DatabaseError):
        IdempotencyRecord.objects.filter(pk=claim.pk, status_code__isnull=True).delete()


def _await_response(record: IdempotencyRecord) -> IdempotencyRecord | None:
    """The record once it has a response, or still a claim after WAIT_FOR_WINNER_SECONDS, or None when
    the claim was released."""
    deadline = time.monotonic() + WAIT_FOR_WINNER_SECONDS
    while record is not None and record.status_code is None and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        record = IdempotencyRecord.objects.filter(pk=record.pk).first()
    return record


def _in_progress(request: HttpRequest) -> HttpResponse:
    response = problem(
        request,
        409,
        "A request with this Idempotency-Key is still running; retry shortly to get its response.",
        code="idempotency_in_progress",
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _respond(status: int, body: dict, *, replayed: bool = False) -> HttpResponse:
    response = HttpResponse(json.dumps(body), status=status, content_type="application/json; charset=utf-8")
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return response
