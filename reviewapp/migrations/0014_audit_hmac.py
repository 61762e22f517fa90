"""The audit chain becomes keyed: AuditEvent.key_id, and existing events re-signed with AUDIT_KEY.

Before this migration an event's hash was sha256(prev_hash + canonical JSON): anyone who could write
the database could rewrite an event and recompute every later hash. From here on it is an HMAC-SHA256
with AUDIT_KEY (reviewapp/audit.py). Events written before are **re-signed**, in one pass, with the key
present at migration time, so that every event verifies the same way and none stays forgeable. The old
chain is verified first, event by event, and the migration refuses (naming the first broken event) if it
does not verify: re-signing must never turn an altered history into a signed one. The algorithms are
copied here, frozen, as migrations must not follow later changes of the app's code.

On SQLite adding the column rebuilds reviewapp_auditevent; its triggers and those naming it are kept
(_sqlite_rebuild) and are out of the way while the rows are re-signed. On PostgreSQL the append-only
trigger is disabled for the re-signing only (the migration runs as the tables' owner).
The reverse re-hashes the chain without a key, after checking it against the key.

Also: the `audit.checkpoint` webhook event type (a choices change: no schema change).
"""

import hashlib
import hmac
import json

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import migrations, models

from reviewapp.migrations._sqlite_rebuild import around_rebuild

GENESIS_HASH = "0" * 64
LEGACY_FIELDS = ("seq", "created_at", "actor_id", "action", "object_type", "object_id", "draft_id", "data")
KEYED_FIELDS = (*LEGACY_FIELDS, "key_id")


def _canonical(event: dict, names) -> str:
    payload = {name: event[name] for name in names}
    payload["created_at"] = payload["created_at"].isoformat()
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _legacy_hash(prev: str, event: dict) -> str:
    return hashlib.sha256((prev + _canonical(event, LEGACY_FIELDS)).encode("ascii")).hexdigest()


def _audit_key() -> tuple[str, bytes]:
    key = (settings.AUDIT_KEY or "").strip()
    if not key:
        raise ImproperlyConfigured(
            "AUDIT_KEY is not set: migration 0014 signs the existing audit events with it. Set it "
            "(the README's Security section says how) and migrate again."
        )
    ident = hmac.new(key.encode(), b"reviewapp.audit.key-id", hashlib.sha256).hexdigest()[:8]
    return ident, key.encode()


def _keyed_hash(key: bytes, prev: str, event: dict) -> str:
    return hmac.new(key, (prev + _canonical(event, KEYED_FIELDS)).encode("ascii"), hashlib.sha256).hexdigest()


def _events(apps):
    event_model = apps.get_model("reviewapp", "AuditEvent")
    return event_model, event_model.objects.order_by("seq").values("id", "prev_hash", "hash", *KEYED_FIELDS)


def _rewrite(apps, schema_editor, *, check, sign, key_id: str) -> None:
    """Walk the chain checking each event with `check(prev, event)`, then write it signed with
    `sign(prev, event)` and `key_id`. Refuses at the first event that does not check out."""
    event_model, events = _events(apps)
    head_model = apps.get_model("reviewapp", "AuditHead")
    rows = list(events)
    if not rows:
        return
    expected_prev, expected_seq, new_prev = GENESIS_HASH, 1, GENESIS_HASH
    updates = []
    for event in rows:
        if event["seq"] != expected_seq or event["prev_hash"] != expected_prev or not check(expected_prev, event):
            raise RuntimeError(
                f"The audit chain is broken at event seq {expected_seq}; migration 0014 re-signs only an "
                "intact chain. Run `verify_audit` on the previous release to find out what changed."
            )
        expected_prev, expected_seq = event["hash"], expected_seq + 1
        event = {**event, "key_id": key_id}
        digest = sign(new_prev, event)
        updates.append((event["id"], new_prev, digest))
        new_prev = digest
    head = head_model.objects.filter(pk=1).first()
    if head is None or head.seq != rows[-1]["seq"] or head.hash != rows[-1]["hash"]:
        raise RuntimeError("The audit chain's head does not point at its last event; migration 0014 refuses.")
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE reviewapp_auditevent DISABLE TRIGGER reviewapp_auditevent_append_only")
        for pk, prev, digest in updates:
            event_model.objects.filter(pk=pk).update(prev_hash=prev, hash=digest, key_id=key_id)
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE reviewapp_auditevent ENABLE TRIGGER reviewapp_auditevent_append_only")
    head_model.objects.filter(pk=1).update(hash=updates[-1][2])


def sign_with_the_audit_key(apps, schema_editor):
    if not apps.get_model("reviewapp", "AuditEvent").objects.exists():
        return
    ident, key = _audit_key()
    _rewrite(
        apps,
        schema_editor,
        check=lambda prev, event: _legacy_hash(prev, event) == event["hash"],
        sign=lambda prev, event: _keyed_hash(key, prev, event),
        key_id=ident,
    )


def back_to_unkeyed_hashes(apps, schema_editor):
    if not apps.get_model("reviewapp", "AuditEvent").objects.exists():
        return
    ident, key = _audit_key()

    def check(prev, event):
        return event["key_id"] == ident and _keyed_hash(key, prev, event) == event["hash"]

    _rewrite(apps, schema_editor, check=check, sign=_legacy_hash, key_id="")


class Migration(migrations.Migration):
    dependencies = [("reviewapp", "0013_idempotency_claims")]

    operations = [
        *around_rebuild(
            "reviewapp_auditevent",
            migrations.AddField(
                model_name="auditevent",
                name="key_id",
                field=models.CharField(default="", max_length=16),
            ),
            migrations.RunPython(sign_with_the_audit_key, back_to_unkeyed_hashes),
        ),
        migrations.AlterField(
            model_name="webhookmessage",
            name="event_type",
            field=models.CharField(
                choices=[
                    ("copy.approved", "copy.approved"),
                    ("copy.changes_requested", "copy.changes_requested"),
                    ("copy.rejected", "copy.rejected"),
                    ("copy.published", "copy.published"),
                    ("brief.failed", "brief.failed"),
                    ("webhook.test", "webhook.test"),
                    ("audit.checkpoint", "audit.checkpoint"),
                ],
                max_length=40,
            ),
        ),
    ]
