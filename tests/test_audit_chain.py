"""The keyed audit chain against someone who can write the database but does not hold AUDIT_KEY.

Each rewrite of issue 12 (hole 4) is done here as that attacker would: behind the append-only trigger,
knowing the algorithm (reviewapp/audit.py is public) and the key ids stored beside each event, but
not the key. `verify_audit` must fail for each, naming the first bad or missing sequence number. Each
test also shows the rewrite is a real one: what the old, unkeyed chain (or a chain without checkpoints)
would have reported "intact".
"""

import hashlib
import hmac
import importlib
import io
import json
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import Schedule
from standardwebhooks import Webhook

from reviewapp import audit, checks, webhooks, workflow
from reviewapp.models import AuditEvent, AuditHead, DecisionKind, WebhookMessage
from tests.conftest import SAFE_COPY, behind_the_audit_trigger, make_user, submit
from tests.receiver import Receiver

pytestmark = pytest.mark.django_db

NOT_THE_KEY = b"the attacker's best guess at the audit key"
OLD_KEY = "an-older-audit-key-rotated-out-0123456789-abcdef"


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def verify_fails(match: str) -> str:
    with pytest.raises(CommandError, match=match) as broken:
        run("verify_audit")
    assert broken.value.returncode == 1
    return str(broken.value)


def first_break() -> audit.Break:
    results = list(audit.verify())
    breaks = [r for r in results if isinstance(r, audit.Break)]
    assert len(breaks) == 1 and results[-1] is breaks[0], results
    return breaks[0]


def history() -> list[AuditEvent]:
    """A draft's life: submitted, approved, published (and the accounts it needed)."""
    writer = make_user(roles=["copywriter"])
    reviewer = make_user(roles=["reviewer"])
    draft = submit(author=writer, body=SAFE_COPY)
    workflow.decide(draft, reviewer=reviewer, kind=DecisionKind.APPROVE, version=1)
    workflow.publish(draft, actor=writer)
    events = list(AuditEvent.objects.order_by("seq"))
    assert len(events) >= 6
    return events


def without_checkpoints(settings, tmp_path):
    """Point verification at an empty checkpoint directory: what the chain alone says."""
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "no-checkpoints"


def forged_hash(key: bytes, prev: str, fields: dict) -> str:
    return hmac.new(key, (prev + audit._canonical(fields)).encode("ascii"), hashlib.sha256).hexdigest()


def rechain_from(seq: int, *, key: bytes, data: dict) -> None:
    """Rewrite event `seq`'s data and recompute its hash and every later one (prev_hash links
    included) with `key`, then move the head to the new end: a rewrite with no visible seam."""
    fields = ("id", "prev_hash", *audit.HASHED_FIELDS)
    rows = list(AuditEvent.objects.filter(seq__gte=seq).order_by("seq").values(*fields))
    prev = rows[0]["prev_hash"]
    with behind_the_audit_trigger() as cursor:
        for row in rows:
            if row["seq"] == seq:
                row["data"] = data
            digest = forged_hash(key, prev, row)
            cursor.execute(
                "UPDATE reviewapp_auditevent SET data = %s, prev_hash = %s, hash = %s WHERE id = %s",
                [json.dumps(row["data"]), prev, digest, row["id"]],
            )
            prev = digest
    AuditHead.objects.filter(pk=1).update(hash=prev)


def checkpoint_lines() -> list[dict]:
    return [json.loads(line) for line in audit.checkpoint_path().read_text().splitlines()]


# --- An intact chain, and its checkpoints ------------------------------------------------------------


def test_an_intact_chain_verifies_against_its_checkpoints():
    events = history()
    assert {e.key_id for e in events} == {audit.key_id(audit.keyring().current.decode())}
    assert len(events[0].key_id) == audit.KEY_ID_LENGTH

    out = run("checkpoint_audit")
    assert f"Checkpoint written: event seq {events[-1].seq}" in out
    head = AuditHead.objects.get()
    (line,) = checkpoint_lines()
    assert (line["seq"], line["hash"], line["key_id"]) == (head.seq, head.hash, events[-1].key_id)
    assert line["at"].endswith("Z") and len(line["signature"]) == 64

    make_user(roles=["reviewer"])  # more events after the checkpoint
    run("checkpoint_audit")
    assert [point["seq"] for point in checkpoint_lines()] == [events[-1].seq, AuditEvent.objects.count()]

    out = run("verify_audit")
    total = AuditEvent.objects.count()
    assert f"Audit chain intact: {total} events verified." in out
    assert f"matches its latest checkpoint ({checkpoint_lines()[-1]['at']}, event seq {total})" in out
    assert f"Current audit key id: {events[0].key_id}." in out


def test_without_a_checkpoint_verify_says_so():
    history()
    assert "No checkpoint yet in" in run("verify_audit")


# --- (a) the last events deleted and the head moved back ------------------------------------------


def test_a_deleted_end_with_the_head_moved_back_is_found_by_the_checkpoint(settings, tmp_path):
    events = history()
    run("checkpoint_audit")
    kept, removed = events[:-3], events[-3:]

    with behind_the_audit_trigger() as cursor:
        cursor.execute("DELETE FROM reviewapp_auditevent WHERE seq > %s", [kept[-1].seq])
    AuditHead.objects.filter(pk=1).update(seq=kept[-1].seq, hash=kept[-1].hash)

    found = first_break()
    assert (found.seq, found.event_id) == (removed[0].seq, None)
    message = verify_fails(f"event seq {removed[0].seq}: event {removed[0].seq} is missing")
    assert f"recorded event {events[-1].seq}" in message
    # The chain on its own cannot tell (this is the rewrite the checkpoint is there for); the history
    # still can: the approval and the publication have lost their events.
    without_checkpoints(settings, tmp_path)
    assert [break_ for break_ in audit.verify() if isinstance(break_, audit.Break)] == []
    verify_fails("chain intact .* but history was written without it: decision .* has no audit event")


# --- (b) the table emptied and the head reset ------------------------------------------------------


def test_an_emptied_chain_with_its_head_reset_is_found_by_the_checkpoint(settings, tmp_path):
    events = history()
    run("checkpoint_audit")

    with behind_the_audit_trigger() as cursor:
        cursor.execute("DELETE FROM reviewapp_auditevent")
    AuditHead.objects.filter(pk=1).update(seq=0, hash=audit.GENESIS_HASH)

    assert first_break().seq == 1
    verify_fails(
        f"event seq 1: event 1 is missing: the chain ends at event 0 .* recorded event {events[-1].seq}"
    )
    # A checkpoint is never written for a chain that does not verify.
    with pytest.raises(CommandError, match="Not checkpointed: audit chain broken at event seq 1"):
        run("checkpoint_audit")
    assert len(checkpoint_lines()) == 1
    without_checkpoints(settings, tmp_path)
    assert list(audit.verify()) == []  # an empty chain is a valid chain...
    verify_fails("0 events.* draft .* has no audit event")  # ...of a history that has drafts


# --- (c) one event rewritten and every later hash recomputed -----------------------------------------


def test_a_rewritten_event_with_every_later_hash_recomputed_is_found_without_a_checkpoint():
    events = history()
    victim = next(e for e in events if e.action == "decision.approve")

    rechain_from(victim.seq, key=NOT_THE_KEY, data={**victim.data, "version": 2})

    found = first_break()
    assert (found.seq, found.event_id) == (victim.seq, victim.pk)
    verify_fails(f"event seq {victim.seq} \\(id {victim.pk}\\): its content does not match its keyed hash")


def test_the_same_rewrite_with_the_key_passes_the_chain_but_not_the_checkpoint(settings, tmp_path):
    """The rewrite above differs from a valid chain only by the key (so the test can fail), and a
    checkpoint catches even someone who has the key."""
    events = history()
    run("checkpoint_audit")
    victim = next(e for e in events if e.action == "decision.approve")

    rechain_from(victim.seq, key=audit.keyring().current, data={**victim.data, "version": 2})

    # The checkpoint knows the head's hash: the first checkpointed event after the victim is named.
    found = first_break()
    assert (found.seq, found.event_id) == (events[-1].seq, events[-1].pk) and events[-1].seq > victim.seq
    assert "differs from the one the checkpoint" in found.reason
    without_checkpoints(settings, tmp_path)
    assert "Audit chain intact" in run("verify_audit")


# --- (d) a forged decision.approve appended -------------------------------------------------------


def test_an_appended_forged_approval_is_found(copywriter, reviewer):
    events = history()
    head = AuditHead.objects.get()
    fields = {
        "seq": head.seq + 1,
        "created_at": timezone.now(),
        "actor_id": reviewer.pk,
        "action": "decision.approve",
        "object_type": "decision",
        "object_id": "999",
        "draft_id": events[-1].draft_id,
        "data": {"version": 1},
        "key_id": events[-1].key_id,  # key ids are no secret
    }
    forged = AuditEvent.objects.create(
        **fields, prev_hash=head.hash, hash=forged_hash(NOT_THE_KEY, head.hash, fields)
    )
    AuditHead.objects.filter(pk=1).update(seq=forged.seq, hash=forged.hash)

    found = first_break()
    assert (found.seq, found.event_id) == (forged.seq, forged.pk)
    verify_fails(f"event seq {forged.seq} \\(id {forged.pk}\\): its content does not match its keyed hash")
    # Under a made-up key id it fails too, naming the key it lacks.
    with behind_the_audit_trigger() as cursor:
        cursor.execute("UPDATE reviewapp_auditevent SET key_id = 'f0f0f0f0' WHERE id = %s", [forged.pk])
    assert "names key 'f0f0f0f0'" in first_break().reason


# --- The checkpoint file itself -------------------------------------------------------------------


def test_a_forged_or_damaged_checkpoint_line_fails_verification():
    events = history()
    run("checkpoint_audit")
    path = audit.checkpoint_path()
    point = {"seq": events[-1].seq + 50, "hash": "a" * 64, "at": "2030-01-01T00:00:00.000Z"}
    point["key_id"] = events[-1].key_id
    point["signature"] = hmac.new(NOT_THE_KEY, json.dumps(point).encode(), hashlib.sha256).hexdigest()
    original = path.read_bytes()

    path.write_bytes(original + json.dumps(point).encode() + b"\n")
    verify_fails(f"cannot be trusted: line 2 of {path} has a signature that is not the audit key's")
    with pytest.raises(CommandError, match="line 2"):
        run("checkpoint_audit")

    path.write_bytes(original + b'{"seq": 3, "hash"\n')
    verify_fails("line 2 of .* is not a checkpoint")


def test_checkpoints_are_appended_with_o_append(monkeypatch):
    history()
    opened = []
    real_open = audit.os.open

    def watching_open(path, flags, *args):
        opened.append(flags)
        return real_open(path, flags, *args)

    monkeypatch.setattr(audit.os, "open", watching_open)
    run("checkpoint_audit")
    (flags,) = opened
    assert flags & audit.os.O_APPEND and not flags & audit.os.O_TRUNC


# --- Key rotation and configuration ---------------------------------------------------------------


def test_a_rotated_key_still_verifies_older_events_and_checkpoints(settings):
    settings.AUDIT_KEY, settings.AUDIT_KEYS = OLD_KEY, ""
    before = history()
    run("checkpoint_audit")
    old_id = audit.key_id(OLD_KEY)

    settings.AUDIT_KEY = "the-new-audit-key-after-rotation-9876543210-zyxwv"
    settings.AUDIT_KEYS = f"{old_id}:{OLD_KEY}"
    new_id = audit.key_id(settings.AUDIT_KEY)
    make_user(roles=["copywriter"])
    run("checkpoint_audit")

    assert set(AuditEvent.objects.values_list("key_id", flat=True)) == {old_id, new_id}
    assert [point["key_id"] for point in checkpoint_lines()] == [old_id, new_id]
    out = run("verify_audit")
    assert f"Audit chain intact: {AuditEvent.objects.count()} events verified. The chain matches" in out
    # Without the old key, the first event it signed cannot be verified (nor the checkpoint it signed).
    settings.AUDIT_KEYS = ""
    verify_fails(f"line 1 of .* is signed with key '{old_id}'")
    audit.checkpoint_path().unlink()
    found = first_break()
    assert (found.seq, found.event_id) == (before[0].seq, before[0].pk)
    assert f"names key '{old_id}'" in found.reason


@pytest.mark.parametrize(
    ("key", "older", "expected"),
    [
        ("", "", "AUDIT_KEY is not set"),
        ("short", "", "AUDIT_KEY is shorter than 32 characters"),
        (OLD_KEY + "x", OLD_KEY, "AUDIT_KEYS entry 1 is not an id:key pair"),
        (OLD_KEY + "x", f"0badbad0:{OLD_KEY}", "listed as key id '0badbad0' but that key's id is"),
    ],
    ids=["missing", "short", "no-id", "wrong-id"],
)
def test_check_audit_key_refuses_a_missing_or_bad_key(settings, key, older, expected):
    settings.AUDIT_KEY, settings.AUDIT_KEYS = key, older
    (error,) = checks.check_audit_key(None)
    assert error.id == "reviewapp.E090" and expected in error.msg
    assert OLD_KEY not in error.msg  # keys are never in messages
    with pytest.raises(ImproperlyConfigured):
        audit.append_in_transaction("test.appended", actor=None)


def test_the_configured_key_passes_the_check():
    assert checks.check_audit_key(None) == []


# --- Schedule and webhook -------------------------------------------------------------------------


def test_setup_schedules_checkpoints_every_ten_minutes():
    run("setup_schedules")
    schedule = Schedule.objects.get(name="audit.checkpoint")
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "reviewapp.audit.checkpoint",
        Schedule.MINUTES,
        10,
        -1,
    )
    module, name = schedule.func.rsplit(".", 1)
    point = getattr(importlib.import_module(module), name)()  # what the worker calls
    assert point.seq == AuditHead.objects.get().seq and checkpoint_lines()[-1]["seq"] == point.seq


@pytest.mark.django_db(transaction=True)
def test_a_checkpoint_is_delivered_to_the_named_webhook_endpoint_only(settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True  # the receivers listen on 127.0.0.1
    monkeypatch.setattr(Conf, "SYNC", True)  # the delivery task runs on commit, in this thread
    history()
    with Receiver() as external, Receiver() as cms:
        endpoint, secret = webhooks.create_endpoint(url=external.url(), event_types=["audit.checkpoint"])
        webhooks.create_endpoint(url=cms.url(), event_types=[])  # "every event": still not this one
        settings.AUDIT_CHECKPOINT_WEBHOOK_ENDPOINT = endpoint.pk

        point = audit.checkpoint()

        (received,) = external.wait_for(1)
        assert cms.received == []
    payload = Webhook(secret).verify(received.body, received.headers)  # signed as every webhook is
    assert payload["type"] == "audit.checkpoint" and payload["data"] == point.__dict__
    assert checkpoint_lines() == [point.__dict__]
    assert WebhookMessage.objects.get().event_type == "audit.checkpoint"


# --- Migration 0013: events written before it are re-signed, if their chain is intact -----------------


def _legacy_chain() -> list[AuditEvent]:
    """Turn the chain back into what migration 0013 finds: unkeyed sha256 hashes, no key ids."""
    events = history()
    fields = ("id", "prev_hash", *audit.HASHED_FIELDS)
    prev = audit.GENESIS_HASH
    with behind_the_audit_trigger() as cursor:
        for row in AuditEvent.objects.order_by("seq").values(*fields):
            row["key_id"] = ""
            legacy = {name: row[name] for name in audit.HASHED_FIELDS if name != "key_id"}
            legacy["created_at"] = legacy["created_at"].isoformat()
            canonical = json.dumps(legacy, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
            digest = hashlib.sha256((prev + canonical).encode("ascii")).hexdigest()
            cursor.execute(
                "UPDATE reviewapp_auditevent SET key_id = '', prev_hash = %s, hash = %s WHERE id = %s",
                [prev, digest, row["id"]],
            )
            prev = digest
    AuditHead.objects.filter(pk=1).update(hash=prev)
    return events


def _migrate_forward() -> None:
    migration = importlib.import_module("reviewapp.migrations.0014_audit_hmac")
    with behind_the_audit_trigger():
        migration.sign_with_the_audit_key(apps, SimpleNamespace(connection=connection))


def test_migration_resigns_an_intact_legacy_chain_with_the_audit_key():
    events = _legacy_chain()
    assert "names key ''" in first_break().reason  # unkeyed, it no longer verifies

    _migrate_forward()

    assert list(audit.verify()) == [e.seq for e in events]
    assert set(AuditEvent.objects.values_list("key_id", flat=True)) == {audit.keyring().current_id}


def test_migration_refuses_to_resign_a_broken_legacy_chain():
    events = _legacy_chain()
    victim = events[3]
    with behind_the_audit_trigger() as cursor:
        cursor.execute(
            "UPDATE reviewapp_auditevent SET data = %s WHERE id = %s", ['{"version": 9}', victim.pk]
        )

    with pytest.raises(RuntimeError, match=f"broken at event seq {victim.seq}"):
        _migrate_forward()
    assert set(AuditEvent.objects.values_list("key_id", flat=True)) == {""}  # nothing re-signed


def test_history_written_past_the_workflow_is_named_even_when_the_chain_is_intact():
    """A database shell can write rows the gate's triggers accept (an approval by a real reviewer of a
    text with no blockers) without their audit events; verify_audit names them."""
    from django.db import connection
    from django.utils import timezone

    reviewer = make_user(roles=["reviewer"])
    draft = submit(author=make_user(roles=["copywriter"]), body=SAFE_COPY)
    assert "Audit chain intact" in run("verify_audit")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO reviewapp_decision (draft_id, version_id, sha256, kind, comment, reviewer_id, "
            "second_factor_verified, created_at) VALUES (%s, %s, %s, 'approve', '', %s, true, %s)",
            [
                draft.pk,
                draft.current_version.pk,
                draft.current_version.sha256,
                reviewer.pk,
                timezone.now(),
            ],
        )
    forged = draft.decisions.get()
    verify_fails(f"decision {forged.pk} has no audit event")


def test_a_role_given_or_an_account_revived_past_the_app_is_named():
    from django.contrib.auth.models import Group

    from reviewapp import accounts
    from reviewapp.models import User

    writer = make_user(roles=["copywriter"])
    admin = make_user(roles=["admin"])
    assert "Audit chain intact" in run("verify_audit")
    writer.groups.add(Group.objects.get(name="reviewer"))  # a shell, no event
    verify_fails(f"the access of user {writer.pk} .* differs from its latest audit event")
    # Recorded through the app, it is consistent again.
    accounts.record_access_change(writer, before={"roles": ["copywriter"]}, actor=admin)
    assert "Audit chain intact" in run("verify_audit")
    before = accounts.access_of(writer)
    User.objects.filter(pk=writer.pk).update(is_active=False)
    accounts.record_access_change(writer, before=before, actor=admin)
    User.objects.filter(pk=writer.pk).update(is_active=True)  # revived in SQL
    verify_fails(f"the access of user {writer.pk}")


def test_a_missing_or_stale_checkpoint_fails_when_an_age_is_required(settings):
    from datetime import timedelta

    from django.utils import timezone

    history()
    settings.AUDIT_CHECKPOINT_MAX_AGE_MINUTES = 30
    verify_fails("latest checkpoint should be at most 30 minutes old and there is none")
    audit.checkpoint(now=timezone.now() - timedelta(minutes=45))
    verify_fails("it is 45 minutes old")
    run("checkpoint_audit")
    assert "Audit chain intact" in run("verify_audit")


def test_production_requires_a_recent_checkpoint_by_default():
    import subprocess
    import sys

    script = "from reviewapp import settings; print(settings.AUDIT_CHECKPOINT_MAX_AGE_MINUTES)"
    env = {"PATH": "/usr/bin:/bin", "SECRET_KEY": "x" * 50, "DEBUG": "false"}
    shown = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert shown.stdout.strip() == "30", shown.stderr
