"""The audit trail: append events to a hash chain, and verify the chain.

Appending must happen inside the transaction of the change it records (SPEC §3 invariant 6). The
chain's head row is locked while appending, so concurrent transactions queue up instead of forking
the chain; on SQLite the IMMEDIATE transaction already serialises writers.
"""

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from reviewapp.models import AuditEvent, AuditHead, Draft, User

GENESIS_HASH = "0" * 64


# The columns an event's hash covers, in the form the database returns them.
HASHED_FIELDS = ("seq", "created_at", "actor_id", "action", "object_type", "object_id", "draft_id", "data")


def _canonical(fields: dict) -> str:
    payload = {name: fields[name] for name in HASHED_FIELDS}
    payload["created_at"] = payload["created_at"].isoformat()
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _chain_hash(prev_hash: str, canonical: str) -> str:
    return hashlib.sha256((prev_hash + canonical).encode("ascii")).hexdigest()


def record(
    action: str,
    *,
    actor: User | None,
    obj=None,
    draft: Draft | None = None,
    data: dict | None = None,
) -> AuditEvent:
    """Append one event. `data` must be JSON of ids, numbers, hashes and labels — never copy text."""
    if not connection.in_atomic_block:
        raise RuntimeError("audit.record() must run inside the transaction of the change it records")
    data = json.loads(json.dumps(data or {}, default=_refuse))  # the stored form is what gets hashed
    if _has_float(data):
        # PostgreSQL's jsonb may print floats differently from Python, which would break the chain.
        raise TypeError("audit data must not contain floats; store integers (e.g. milliseconds)")
    head = _locked_head()
    fields = {
        "seq": head.seq + 1,
        "created_at": timezone.now(),
        "actor_id": actor.pk if actor else None,
        "action": action,
        "object_type": obj._meta.model_name if obj is not None else "",
        "object_id": str(obj.pk) if obj is not None else "",
        "draft_id": draft.pk if draft else None,
        "data": data,
    }
    event = AuditEvent.objects.create(
        **fields, prev_hash=head.hash, hash=_chain_hash(head.hash, _canonical(fields))
    )
    AuditHead.objects.filter(pk=1).update(seq=event.seq, hash=event.hash)
    return event


def _refuse(value):
    raise TypeError(f"audit data must be plain JSON, not {type(value).__name__}")


def _has_float(value) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_float(item) for item in value)
    return False


def _locked_head() -> AuditHead:
    # The migration creates the head row; a flushed test database may not have it.
    head = AuditHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        AuditHead.objects.get_or_create(pk=1, defaults={"seq": 0, "hash": GENESIS_HASH})
        head = AuditHead.objects.select_for_update().get(pk=1)
    return head


@dataclass(frozen=True)
class Break:
    seq: int
    event_id: int | None
    reason: str


def verify(*, chunk_size: int = 2000) -> Iterator[int | Break]:
    """Walk the chain in order. Yields each verified seq, or a Break at the first inconsistency."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    events = AuditEvent.objects.order_by("seq").values("id", "prev_hash", "hash", *HASHED_FIELDS)
    for event in events.iterator(chunk_size=chunk_size):
        seq, pk, prev, digest = event["seq"], event["id"], event["prev_hash"], event["hash"]
        if seq != expected_seq:
            yield Break(expected_seq, None, f"event {expected_seq} is missing (next is {seq})")
            return
        if prev != expected_prev:
            yield Break(seq, pk, "prev_hash does not match the previous event's hash")
            return
        if _chain_hash(prev, _canonical(event)) != digest:
            yield Break(seq, pk, "its content does not match its hash (the row was altered)")
            return
        expected_prev = digest
        expected_seq += 1
        yield seq
    head = AuditHead.objects.filter(pk=1).first() or AuditHead(seq=0, hash=GENESIS_HASH)
    if head.seq != expected_seq - 1 or head.hash != expected_prev:
        yield Break(
            head.seq, None, f"the chain ends at event {expected_seq - 1} but its head says {head.seq}"
        )


def append_in_transaction(action: str, **kwargs) -> AuditEvent:
    """Record an event that is not part of a larger change (e.g. a login failure)."""
    with transaction.atomic():
        return record(action, **kwargs)
