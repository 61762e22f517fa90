"""`Idempotency-Key` for creating POSTs (SPEC §7).

Creating endpoints serialise their answer themselves (`create` returns status and JSON-ready body),
so the stored body is byte for byte what the first client received. The first successful response
for (user, key) is stored in the same transaction as the change it
reports, so a retry after a timeout replays it instead of creating twice. The same key with a
different request is refused with 422. Error responses are not stored: nothing was created, so a
retry simply runs again. Two concurrent requests with one key: the loser's transaction is rolled
back by the unique constraint and it replays the winner's response.
"""

import hashlib
import json
import re
from collections.abc import Callable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from reviewapp.models import IdempotencyRecord
from reviewapp.workflow import Invalid, WorkflowError

KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
RETENTION = timedelta(hours=24)
HEADER_DOC = (
    "Any string of 1-255 visible ASCII characters, unique per logical request. Retrying with the same "
    "key replays the first successful response (header Idempotent-Replayed: true) for 24 hours; "
    "the same key with a different body gets 422."
)


def _fingerprint(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b"\0" + request.path.encode() + b"\0")
    digest.update(request.body)
    return digest.hexdigest()


def run(request: HttpRequest, key: str | None, create: Callable[[], tuple[int, dict]]) -> HttpResponse:
    """Run `create` once per key and answer with its (status, JSON body); replays answer the same bytes."""
    if key is None:
        return _respond(*create())
    if not KEY_PATTERN.match(key):
        raise WorkflowError(
            "Idempotency-Key must be 1-255 visible ASCII characters.", code="bad_idempotency_key", status=400
        )
    fingerprint = _fingerprint(request)
    try:
        with transaction.atomic():
            replay = _replay(request, key, fingerprint)
            if replay is not None:
                return _respond(*replay, replayed=True)
            status, body = create()
            IdempotencyRecord.objects.create(
                user=request.user,
                key=key,
                method=request.method,
                path=request.path,
                request_sha256=fingerprint,
                status_code=status,
                response=body,
            )
            return _respond(status, body)
    except (IntegrityError, WorkflowError):
        # A concurrent request with the same key may have won while this one waited for a lock (its
        # check then saw the state the winner left, e.g. "already approved"): answer as the winner did.
        replay = _replay(request, key, fingerprint)
        if replay is None:
            raise
        return _respond(*replay, replayed=True)


def prune() -> int:
    """Delete records past their retention: they hold whole responses (copy, brief fields). Scheduled
    hourly by `manage.py setup_schedules`."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - RETENTION).delete()
    return deleted


def _replay(request: HttpRequest, key: str, fingerprint: str) -> tuple[int, dict] | None:
    record = IdempotencyRecord.objects.filter(
        user=request.user, key=key, created_at__gte=timezone.now() - RETENTION
    ).first()
    if record is None:
        IdempotencyRecord.objects.filter(user=request.user, key=key).delete()  # expired
        return None
    if record.request_sha256 != fingerprint:
        raise Invalid(
            "This Idempotency-Key was already used with a different request; use a new key.",
            code="idempotency_key_reused",
        )
    return record.status_code, record.response


def _respond(status: int, body: dict, *, replayed: bool = False) -> HttpResponse:
    response = HttpResponse(json.dumps(body), status=status, content_type="application/json; charset=utf-8")
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return response
