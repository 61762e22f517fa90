"""The audit trail: append events to a keyed hash chain, checkpoint it outside the database, verify it.

Appending must happen inside the transaction of the change it records (SPEC §3 invariant 6). The
chain's head row is locked while appending, so concurrent transactions queue up instead of forking
the chain; on SQLite the IMMEDIATE transaction already serialises writers.

Each event's `hash` is HMAC-SHA256(key, prev_hash + canonical JSON of the event), with the key from
AUDIT_KEY (outside the database), and the event names the key by its id (`key_id`). Someone who can
write the database but does not hold the key cannot alter, insert or re-chain an event without
`verify()` naming it. What they can still do is cut events off the end and move the head back: that is
what the checkpoints catch. `checkpoint()` appends the head's seq and hash, signed with the key, to a
file outside the database (AUDIT_CHECKPOINT_DIR); `verify()` requires every checkpointed event to
be in the chain with the checkpointed hash.
"""

import hashlib
import hmac
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import CharField, Exists, OuterRef
from django.db.models.functions import Cast
from django.utils import timezone

from reviewapp.models import AuditEvent, AuditHead, Decision, Draft, Flag, User, Version

logger = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
MIN_KEY_LENGTH = 32
KEY_ID_LENGTH = 8
CHECKPOINT_FILE = "audit-checkpoints.jsonl"
# Domain separation: a checkpoint's signature can never pass for an event's hash (whose message starts
# with the 64 hex digits of the previous hash), nor either for a key id.
_CHECKPOINT_PREFIX = b"reviewapp.audit.checkpoint\n"
_KEY_ID_MESSAGE = b"reviewapp.audit.key-id"


# The columns an event's hash covers, in the form the database returns them.
HASHED_FIELDS = (
    "seq",
    "created_at",
    "actor_id",
    "action",
    "object_type",
    "object_id",
    "draft_id",
    "data",
    "key_id",
)


# --- Keys -----------------------------------------------------------------------------------------


def key_id(key: str) -> str:
    """A key's public name: the first hex digits of an HMAC of a constant (reveals nothing of the key)."""
    return hmac.new(key.encode(), _KEY_ID_MESSAGE, hashlib.sha256).hexdigest()[:KEY_ID_LENGTH]


@dataclass(frozen=True)
class Keyring:
    current_id: str
    keys: dict[str, bytes]  # key id -> key, the current one and those rotated out

    @property
    def current(self) -> bytes:
        return self.keys[self.current_id]


def keyring() -> Keyring:
    """AUDIT_KEY signs; it and every key in AUDIT_KEYS verify. Raises ImproperlyConfigured, which the
    system check reviewapp.E090 reports at start-up. Messages name key ids, never keys."""
    return _keyring(settings.AUDIT_KEY, settings.AUDIT_KEYS)


@lru_cache(maxsize=8)
def _keyring(current: str, older: str) -> Keyring:
    current = (current or "").strip()
    if not current:
        raise ImproperlyConfigured(
            "AUDIT_KEY is not set: every audit event is signed with it (HMAC-SHA256), outside the database."
        )
    if len(current) < MIN_KEY_LENGTH:
        raise ImproperlyConfigured(f"AUDIT_KEY is shorter than {MIN_KEY_LENGTH} characters.")
    keys = {key_id(current): current.encode()}
    for position, item in enumerate((older or "").split(","), start=1):
        if not item.strip():
            continue
        named, colon, key = (part.strip() for part in item.partition(":"))
        if not colon or not named or not key:
            raise ImproperlyConfigured(
                f"AUDIT_KEYS entry {position} is not an id:key pair (the id is the old key's key id, "
                "as `verify_audit` prints it)."
            )
        if key_id(key) != named:
            raise ImproperlyConfigured(
                f"AUDIT_KEYS entry {position} is listed as key id {named!r} but that key's id is "
                f"{key_id(key)!r}: the key or its id is mistyped."
            )
        keys.setdefault(named, key.encode())
    return Keyring(current_id=key_id(current), keys=keys)


# --- Appending ------------------------------------------------------------------------------------


def _canonical(fields: dict) -> str:
    payload = {name: fields[name] for name in HASHED_FIELDS}
    payload["created_at"] = payload["created_at"].isoformat()
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _chain_hash(key: bytes, prev_hash: str, canonical: str) -> str:
    return hmac.new(key, (prev_hash + canonical).encode("ascii"), hashlib.sha256).hexdigest()


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
    keys = keyring()
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
        "key_id": keys.current_id,
    }
    event = AuditEvent.objects.create(
        **fields, prev_hash=head.hash, hash=_chain_hash(keys.current, head.hash, _canonical(fields))
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


class CheckpointError(Exception):
    """The checkpoint file cannot be trusted or read; the message names the file and line."""


def verify(*, chunk_size: int = 2000, since: "Checkpoint | None" = None) -> Iterator[int | Break]:
    """Walk the chain in order. Yields each verified seq, or a Break at the first inconsistency.

    Checks each event's HMAC with the key its `key_id` names, the links, the head row, and every
    checkpoint in AUDIT_CHECKPOINT_DIR: each checkpointed event must be in the chain with the hash the
    checkpoint recorded, so the chain must reach the latest checkpoint's seq. With `since` (a verified
    checkpoint), the walk starts after it. Raises CheckpointError for an unreadable or forged
    checkpoint file, ImproperlyConfigured without AUDIT_KEY."""
    keys = keyring()
    checkpoints = read_checkpoints()
    by_seq: dict[int, list[Checkpoint]] = {}
    for point in checkpoints:
        by_seq.setdefault(point.seq, []).append(point)
    # Read before the walk: events appended meanwhile are beyond it, and verified like the rest.
    head_before = _head()
    expected_prev, expected_seq = GENESIS_HASH, 1
    if since is not None and since.seq > 0:
        start = AuditEvent.objects.filter(seq=since.seq).values("id", "hash").first()
        if start is None or start["hash"] != since.hash:
            # The chain no longer holds the checkpoint: walk all of it, to name the first bad event.
            yield from verify(chunk_size=chunk_size)
            return
        expected_prev, expected_seq = since.hash, since.seq + 1
    hash_at_head_before = expected_prev if head_before.seq == expected_seq - 1 else None
    events = (
        AuditEvent.objects.filter(seq__gte=expected_seq)
        .order_by("seq")
        .values("id", "prev_hash", "hash", *HASHED_FIELDS)
    )
    for event in events.iterator(chunk_size=chunk_size):
        seq, pk, prev, digest = event["seq"], event["id"], event["prev_hash"], event["hash"]
        if seq != expected_seq:
            yield Break(expected_seq, None, f"event {expected_seq} is missing (next is {seq})")
            return
        if prev != expected_prev:
            yield Break(seq, pk, "prev_hash does not match the previous event's hash")
            return
        key = keys.keys.get(event["key_id"])
        if key is None:
            yield Break(
                seq,
                pk,
                f"it names key {event['key_id']!r}, which neither AUDIT_KEY nor AUDIT_KEYS holds "
                "(a forged event, or an old key missing from AUDIT_KEYS)",
            )
            return
        if not hmac.compare_digest(_chain_hash(key, prev, _canonical(event)), digest):
            yield Break(seq, pk, "its content does not match its keyed hash (the row was altered or forged)")
            return
        for point in by_seq.get(seq, ()):
            if point.hash != digest:
                yield Break(
                    seq,
                    pk,
                    f"its hash differs from the one the checkpoint of {point.at} recorded (the chain was "
                    "rewritten from here or before)",
                )
                return
        if seq == head_before.seq:
            hash_at_head_before = digest
        expected_prev = digest
        expected_seq += 1
        yield seq
    last = expected_seq - 1
    latest = latest_checkpoint(checkpoints)
    if latest is not None and latest.seq > last:
        yield Break(
            last + 1,
            None,
            f"event {last + 1} is missing: the chain ends at event {last} but the checkpoint of "
            f"{latest.at} recorded event {latest.seq} (events were removed from the end)",
        )
        return
    if head_before.seq > last:
        yield Break(last + 1, None, f"the chain ends at event {last} but its head says {head_before.seq}")
        return
    head_after = _head()  # the head never moves back: below the chain's end, someone moved it
    if head_after.seq < last:
        yield Break(
            head_after.seq + 1, None, f"the chain goes on to event {last} but its head says {head_after.seq}"
        )
        return
    if hash_at_head_before is not None and hash_at_head_before != head_before.hash:
        yield Break(head_before.seq, None, f"the head's hash is not the hash of event {head_before.seq}")


def _head() -> AuditHead:
    return AuditHead.objects.filter(pk=1).first() or AuditHead(seq=0, hash=GENESIS_HASH)


# --- Checkpoints outside the database -------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    at: str
    key_id: str
    signature: str

    def line(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True, separators=(",", ":")) + "\n"


def _checkpoint_signature(key: bytes, *, seq: int, hash: str, at: str, key_id: str) -> str:
    signed = {"seq": seq, "hash": hash, "at": at, "key_id": key_id}
    message = _CHECKPOINT_PREFIX + json.dumps(signed, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def checkpoint_path() -> Path:
    return Path(settings.AUDIT_CHECKPOINT_DIR) / CHECKPOINT_FILE


def read_checkpoints() -> list[Checkpoint]:
    """Every checkpoint in the file, each signature checked; none when there is no file yet."""
    path = checkpoint_path()
    try:
        lines = path.read_bytes().splitlines()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise CheckpointError(f"{path} cannot be read ({exc.strerror}).") from None
    keys = keyring()
    found = []
    for number, raw in enumerate(lines, start=1):
        where = f"line {number} of {path}"
        try:
            fields = json.loads(raw)
            point = Checkpoint(**fields)
            valid = (
                type(point.seq) is int
                and point.seq >= 0
                and all(
                    isinstance(value, str) for value in (point.hash, point.at, point.key_id, point.signature)
                )
            )
        except (ValueError, TypeError):
            valid = False
        if not valid:
            raise CheckpointError(f"{where} is not a checkpoint (damaged, or written by something else).")
        key = keys.keys.get(point.key_id)
        if key is None:
            raise CheckpointError(
                f"{where} is signed with key {point.key_id!r}, which neither AUDIT_KEY nor AUDIT_KEYS holds."
            )
        expected = _checkpoint_signature(
            key, seq=point.seq, hash=point.hash, at=point.at, key_id=point.key_id
        )
        if not hmac.compare_digest(expected, point.signature):
            raise CheckpointError(f"{where} has a signature that is not the audit key's (forged or altered).")
        found.append(point)
    return found


def latest_checkpoint(points: list[Checkpoint]) -> Checkpoint | None:
    """The checkpoint of the highest seq, the newest of those (a quiet chain is checkpointed at the
    same seq again and again)."""
    return max(points, key=lambda point: (point.seq, point.at), default=None)


class ChainBroken(Exception):
    def __init__(self, found: Break):
        super().__init__(f"audit chain broken at event seq {found.seq}: {found.reason}")
        self.found = found


def checkpoint(*, now: datetime | None = None) -> Checkpoint:
    """Verify the chain since the latest checkpoint, then append a signed checkpoint of its head to the
    checkpoint file (one line, O_APPEND) and, when AUDIT_CHECKPOINT_WEBHOOK_ENDPOINT names an endpoint,
    queue it to that receiver as an `audit.checkpoint` webhook. A broken chain is never checkpointed:
    ChainBroken names the first bad event (the schedule's task fails, and says so in the log)."""
    keys = keyring()
    latest = latest_checkpoint(read_checkpoints())
    head = _head()
    for result in verify(since=latest):
        if isinstance(result, Break):
            logger.error("audit chain broken at event seq %s: not checkpointed", result.seq)
            raise ChainBroken(result)
    # The walk verified every event up to (at least) this head; its hash must be the one it points at.
    if head.seq > 0 and not AuditEvent.objects.filter(seq=head.seq, hash=head.hash).exists():
        raise ChainBroken(Break(head.seq, None, f"the head's hash is not the hash of event {head.seq}"))
    at = (now or timezone.now()).astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    point = Checkpoint(
        seq=head.seq,
        hash=head.hash,
        at=at,
        key_id=keys.current_id,
        signature=_checkpoint_signature(
            keys.current, seq=head.seq, hash=head.hash, at=at, key_id=keys.current_id
        ),
    )
    _append_line(checkpoint_path(), point.line().encode())
    _send_checkpoint(point)
    return point


def _append_line(path: Path, data: bytes) -> None:
    path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
    # O_APPEND: every write goes to the end, also the only write an append-only (`chattr +a`) file takes.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        if os.write(fd, data) != len(data):
            raise OSError(f"short write to {path}")
        os.fsync(fd)
    finally:
        os.close(fd)


def _send_checkpoint(point: Checkpoint) -> None:
    endpoint_id = settings.AUDIT_CHECKPOINT_WEBHOOK_ENDPOINT
    if not endpoint_id:
        return
    from reviewapp import webhooks  # webhooks imports this module
    from reviewapp.models import WebhookEndpoint, WebhookEvent

    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id, enabled=True).first()
        if endpoint is None:
            logger.error("audit checkpoint webhook endpoint %s is missing or disabled", endpoint_id)
            return
        webhooks.emit(WebhookEvent.AUDIT_CHECKPOINT, point.__dict__, endpoints=[endpoint])


def append_in_transaction(action: str, **kwargs) -> AuditEvent:
    """Record an event that is not part of a larger change (e.g. a login failure)."""
    with transaction.atomic():
        return record(action, **kwargs)


def unrecorded(*, limit: int = 5) -> list[str]:
    """Rows of the review history that have no event of their own in the chain: decisions, drafts, later
    versions, overrides and publications written past workflow.py (a database shell writing rows the
    gate's triggers accept). The chain alone cannot show those; a verified chain plus this can."""

    def without(model, object_type: str, action: dict, **rows) -> list[int]:
        events = AuditEvent.objects.filter(
            object_type=object_type, object_id=Cast(OuterRef("pk"), CharField()), **action
        )
        return list(model.objects.filter(**rows).exclude(Exists(events)).values_list("pk", flat=True)[:limit])

    found = [
        ("decision", without(Decision, "decision", {"action__startswith": "decision."})),
        ("draft", without(Draft, "draft", {"action": "draft.submitted"}, current_version__isnull=False)),
        ("version", without(Version, "version", {"action": "version.added"}, number__gt=1)),
        ("override of flag", without(Flag, "flag", {"action": "flag.overridden"}, status="overridden")),
        ("publication of draft", without(Draft, "draft", {"action": "draft.published"}, status="published")),
    ]
    missing = [f"{what} {pk} has no audit event" for what, pks in found for pk in pks]
    return missing + _access_unrecorded(limit=limit)


def _access_unrecorded(*, limit: int) -> list[str]:
    """Users whose roles (or active flag) differ from what their latest `user.created` or
    `user.access_changed` event recorded: a role given in a shell, by QuerySet.update() or in SQL."""
    recorded: dict[str, dict] = {}
    events = AuditEvent.objects.filter(
        object_type="user", action__in=["user.created", "user.access_changed"]
    ).order_by("seq")
    for object_id, action, data in events.values_list("object_id", "action", "data").iterator():
        recorded[object_id] = (
            {"roles": data.get("roles", [])} if action == "user.created" else data.get("after", {})
        )
    found = []
    for user in User.objects.prefetch_related("groups").order_by("pk"):
        expected = recorded.get(str(user.pk), {"roles": []})
        roles = sorted(group.name for group in user.groups.all())
        active = expected.get("is_active")
        if roles != sorted(expected.get("roles", [])) or (active is not None and active != user.is_active):
            found.append(f"the access of user {user.pk} (roles, active) differs from its latest audit event")
            if len(found) == limit:
                break
    return found
