"""The database as the last line of defence: writes that bypass workflow.py are refused by constraints
and triggers, and the audit chain exposes what a database superuser changes behind the triggers.

Each expected failure runs in its own `transaction.atomic()`, so the test transaction survives it.
"""

import contextlib

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from reviewapp import audit, workflow
from reviewapp.models import (
    AuditEvent,
    Decision,
    DecisionKind,
    Draft,
    Flag,
    FlagStatus,
    HistoryDeletionError,
    Status,
    Version,
    sha256_hex,
)
from tests.conftest import (
    APPROVAL_TRIGGER,
    RISKY_COPY,
    SAFE_COPY,
    behind_the_audit_trigger,
    behind_the_gate,
    behind_trigger,
    make_user,
    submit,
)

pytestmark = pytest.mark.django_db

EDITED_COPY = "A lightweight serum with niacinamide, now in a 50 ml recycled-glass bottle."


def trigger_error() -> type[DatabaseError]:
    """What a refusing trigger raises on both backends: SQLite's RAISE(ABORT) is a constraint error,
    and the PostgreSQL trigger function raises SQLSTATE 23000 (integrity_constraint_violation)."""
    return IntegrityError


@contextlib.contextmanager
def refused(error: type[DatabaseError] = IntegrityError, match: str | None = None):
    with pytest.raises(error, match=match), transaction.atomic():
        yield


def approved_draft(*, body: str = SAFE_COPY) -> Draft:
    writer = make_user(roles=["copywriter"])
    reviewer = make_user(roles=["reviewer"])
    draft = submit(author=writer, body=body)
    workflow.decide(draft, reviewer=reviewer, kind=DecisionKind.APPROVE, version=1)
    return Draft.objects.get(pk=draft.pk)


def in_review_draft(*, body: str = SAFE_COPY) -> Draft:
    return submit(author=make_user(roles=["copywriter"]), body=body)


# --- The draft's approval must match its status ----------------------------------------------------


@pytest.mark.parametrize("status", [Status.APPROVED, Status.PUBLISHED])
def test_approved_status_without_approval_is_refused(status):
    draft = in_review_draft()

    with behind_the_gate("reviewapp_draft"), refused(match="draft_approval_matches_status"):
        Draft.objects.filter(pk=draft.pk).update(status=status)

    assert Draft.objects.get(pk=draft.pk).status == Status.IN_REVIEW


@pytest.mark.parametrize("status", [Status.APPROVED, Status.PUBLISHED])
def test_approved_status_with_approved_version_but_no_approval_is_refused(status):
    draft = in_review_draft()

    with behind_the_gate("reviewapp_draft"), refused(match="draft_approval_matches_status"):
        Draft.objects.filter(pk=draft.pk).update(status=status, approved_version=draft.current_version)


def test_removing_the_approval_of_an_approved_draft_is_refused():
    draft = approved_draft()

    with refused(match="draft_approval_matches_status"):
        Draft.objects.filter(pk=draft.pk).update(approval=None)
    with refused(match="draft_approval_matches_status"):
        Draft.objects.filter(pk=draft.pk).update(approved_version=None)


def test_new_text_under_an_approved_draft_is_refused_unless_the_approval_is_cleared():
    """An edit that bypasses workflow.add_version cannot leave approved text that was never approved."""
    draft = approved_draft()
    v2 = Version.objects.create(
        draft=draft, number=2, body=EDITED_COPY, sha256=sha256_hex(EDITED_COPY), created_by=draft.author
    )

    with refused(match="draft_approval_matches_status"):
        Draft.objects.filter(pk=draft.pk).update(current_version=v2)
    with refused(match="draft_approval_matches_status"):
        Draft.objects.filter(pk=draft.pk).update(status=Status.PUBLISHED, current_version=v2)
    with refused(match="draft_approval_matches_status"):  # clearing only one half of the approval
        Draft.objects.filter(pk=draft.pk).update(current_version=v2, approved_version=None)

    Draft.objects.filter(pk=draft.pk).update(
        current_version=v2, status=Status.IN_REVIEW, approved_version=None, approval=None
    )
    assert Draft.objects.get(pk=draft.pk).current_version == v2


def test_publishing_an_approved_draft_through_the_orm_keeps_the_approval_consistent():
    """The positive control: the constraint allows exactly the state workflow.publish writes."""
    draft = approved_draft()

    Draft.objects.filter(pk=draft.pk).update(status=Status.PUBLISHED)

    published = Draft.objects.get(pk=draft.pk)
    assert published.approved_version_id == published.current_version_id


def not_an_approval(draft: Draft, *, kind: str = DecisionKind.REQUEST_CHANGES, **facts) -> Decision:
    version = facts.pop("version", draft.current_version)
    return Decision.objects.create(
        draft=draft,
        version=version,
        sha256=facts.pop("sha256", version.sha256),
        kind=kind,
        comment="" if kind == DecisionKind.APPROVE else "Cite the source of the claim.",
        reviewer=make_user(roles=["reviewer"]),
    )


@pytest.mark.parametrize("status", [Status.APPROVED, Status.PUBLISHED])
def test_an_approval_must_be_an_approve_decision_of_the_approved_text(status):
    """The check constraint sees one row; a trigger checks the decision `approval` names."""
    draft, other = in_review_draft(), in_review_draft(body=EDITED_COPY)
    version = draft.current_version
    with behind_the_gate("reviewapp_decision"):  # the decision trigger would refuse the last one
        wrong = {
            "a request for changes": not_an_approval(draft),
            "a rejection": not_an_approval(draft, kind=DecisionKind.REJECT),
            "another draft's approval": not_an_approval(other, kind=DecisionKind.APPROVE),
            "an approval of other text": not_an_approval(draft, kind=DecisionKind.APPROVE, sha256="0" * 64),
        }
    for approval in wrong.values():
        with (
            behind_the_gate("reviewapp_draft"),
            refused(match="needs an approve decision of its approved version"),
        ):
            Draft.objects.filter(pk=draft.pk).update(
                status=status, approved_version=version, approval=approval
            )

    assert Draft.objects.get(pk=draft.pk).status == Status.IN_REVIEW


def test_an_approval_that_is_not_an_approve_decision_is_also_caught_by_publish():
    """Behind the trigger (as a database superuser could write), the publish gate re-checks the
    decision itself."""
    draft = in_review_draft()
    decision = not_an_approval(draft)
    with behind_trigger("reviewapp_draft", APPROVAL_TRIGGER[connection.vendor]):
        Draft.objects.filter(pk=draft.pk).update(
            status=Status.APPROVED, approved_version=draft.current_version, approval=decision
        )

    with pytest.raises(workflow.Conflict) as refusal:
        workflow.publish(draft, actor=draft.author)

    assert refusal.value.code == "approval_mismatch"
    assert Draft.objects.get(pk=draft.pk).status == Status.APPROVED


@pytest.mark.parametrize(
    "status", [Status.IN_REVIEW, Status.CHANGES_REQUESTED, Status.REJECTED, Status.GENERATING]
)
def test_other_statuses_cannot_carry_an_approval(status):
    draft = approved_draft()

    with behind_the_gate("reviewapp_draft"), refused(match="draft_approval_matches_status"):
        Draft.objects.filter(pk=draft.pk).update(status=status)


def test_a_draft_out_of_generation_needs_text():
    draft = in_review_draft()

    with behind_the_gate("reviewapp_draft"), refused(match="draft_has_text_unless_generating"):
        Draft.objects.filter(pk=draft.pk).update(current_version=None)


def test_an_unknown_status_is_refused():
    draft = in_review_draft()

    with behind_the_gate("reviewapp_draft"), refused(match="draft_status_valid"):
        Draft.objects.filter(pk=draft.pk).update(status="live")


def test_external_id_is_unique_per_author_only_when_given():
    writer, other = make_user(roles=["copywriter"]), make_user(roles=["integration"])
    submit(author=writer, external_id="crm-42")
    submit(author=writer)
    submit(author=writer)  # many drafts without an external_id
    submit(author=other, external_id="crm-42")  # another account may use the same id

    with refused(match="draft_external_id_unique_per_author|reviewapp_draft.external_id"):
        Draft.objects.create(title="Copy", author=writer, external_id="crm-42", status=Status.GENERATING)


# --- History is immutable: versions, decisions, audit events ---------------------------------------


def test_version_text_cannot_be_changed():
    draft = in_review_draft()
    version = draft.current_version

    with refused(trigger_error(), match="version text is immutable"):
        Version.objects.filter(pk=version.pk).update(body="changed")
    with refused(trigger_error(), match="version text is immutable"):
        Version.objects.filter(pk=version.pk).update(body="changed", sha256=sha256_hex("changed"))
    with refused(trigger_error(), match="version text is immutable"):
        Version.objects.filter(pk=version.pk).update(number=7)
    version.body = "changed through save()"
    with refused(trigger_error(), match="version text is immutable"):
        version.save()

    stored = Version.objects.get(pk=version.pk)
    assert stored.body == SAFE_COPY and stored.sha256 == sha256_hex(SAFE_COPY)


def test_decisions_cannot_be_changed():
    draft = approved_draft()
    decision = draft.approval

    with refused(trigger_error(), match="decisions are immutable"):
        Decision.objects.filter(pk=decision.pk).update(kind=DecisionKind.REJECT, comment="Changed my mind.")
    with refused(trigger_error(), match="decisions are immutable"):
        Decision.objects.filter(pk=decision.pk).update(sha256=sha256_hex("other text"))

    assert Decision.objects.get(pk=decision.pk).kind == DecisionKind.APPROVE


def test_a_second_approval_of_the_same_version_is_refused():
    draft = approved_draft()
    second_reviewer = make_user(roles=["reviewer"])
    version = draft.current_version

    # Behind the decision trigger, which refuses any decision on an approved draft: the unique index
    # is what stops two approvals racing past the trigger's read of the draft's status.
    with behind_the_gate("reviewapp_decision"):
        with refused(match="one_approval_per_version|UNIQUE constraint"):
            Decision.objects.create(
                draft=draft,
                version=version,
                sha256=version.sha256,
                kind=DecisionKind.APPROVE,
                reviewer=second_reviewer,
            )

        # The index is partial: other verdicts on the same version are not approvals.
        Decision.objects.create(
            draft=draft,
            version=version,
            sha256=version.sha256,
            kind=DecisionKind.REQUEST_CHANGES,
            comment="Please cite the source.",
            reviewer=second_reviewer,
        )
    assert draft.decisions.filter(kind=DecisionKind.APPROVE).count() == 1


def test_a_decision_other_than_approval_needs_a_comment():
    draft = in_review_draft()
    version = draft.current_version

    with refused(match="decision_comment_required"):
        Decision.objects.create(
            draft=draft,
            version=version,
            sha256=version.sha256,
            kind=DecisionKind.REJECT,
            reviewer=make_user(roles=["reviewer"]),
        )


def test_audit_events_cannot_be_changed():
    draft = in_review_draft()
    event = AuditEvent.objects.filter(draft=draft).first()

    with refused(trigger_error(), match="append-only"):
        AuditEvent.objects.filter(pk=event.pk).update(data={"version": 2})
    with refused(trigger_error(), match="append-only"):
        AuditEvent.objects.filter(pk=event.pk).update(actor=None)

    assert AuditEvent.objects.get(pk=event.pk).data == event.data


def test_audit_events_cannot_be_deleted_on_postgresql_even_in_sql(postgres):
    draft = in_review_draft()

    with refused(trigger_error(), match="append-only"), connection.cursor() as cursor:
        cursor.execute("DELETE FROM reviewapp_auditevent WHERE draft_id = %s", [draft.pk])

    assert list(audit.verify())[-1] == AuditEvent.objects.count()


def test_deleting_a_draft_does_not_cascade_into_its_history():
    draft = in_review_draft()

    with pytest.raises(ProtectedError), transaction.atomic():
        draft.delete()
    with pytest.raises(ProtectedError), transaction.atomic():
        draft.author.delete()

    assert AuditEvent.objects.filter(draft=draft).count() == 2


# --- Flags ---------------------------------------------------------------------------------------


def _a_flag() -> Flag:
    draft = in_review_draft(body=RISKY_COPY)
    return draft.current_version.flags.first()


def test_an_override_needs_a_reviewer():
    flag = _a_flag()

    with behind_the_gate("reviewapp_flag"), refused(match="flag_override_has_reviewer_and_reason"):
        Flag.objects.filter(pk=flag.pk).update(
            status=FlagStatus.OVERRIDDEN, override_reason="The count comes from the live shop feed."
        )


@pytest.mark.parametrize("reason", ["", "too short"])
def test_an_override_needs_a_reason_of_ten_characters(reason):
    flag = _a_flag()
    reviewer = make_user(roles=["reviewer"])

    with behind_the_gate("reviewapp_flag"), refused(match="flag_override_has_reviewer_and_reason"):
        Flag.objects.filter(pk=flag.pk).update(
            status=FlagStatus.OVERRIDDEN, overridden_by=reviewer, override_reason=reason.strip()
        )

    Flag.objects.filter(pk=flag.pk).update(
        status=FlagStatus.OVERRIDDEN, overridden_by=reviewer, override_reason="Stock is live from the feed."
    )
    assert Flag.objects.get(pk=flag.pk).status == FlagStatus.OVERRIDDEN


def test_an_open_flag_names_no_overriding_reviewer():
    flag = _a_flag()

    with refused(match="flag_override_has_reviewer_and_reason"):
        Flag.objects.filter(pk=flag.pk).update(overridden_by=make_user(roles=["reviewer"]))


@pytest.mark.parametrize("span", [(5, 5), (9, 4)])
def test_a_flag_span_must_not_be_empty(span):
    flag = _a_flag()
    start, end = span

    with behind_the_gate("reviewapp_flag"), refused(match="flag_span_not_empty"):
        Flag.objects.filter(pk=flag.pk).update(start=start, end=end)
    with behind_the_gate("reviewapp_flag"), refused(match="flag_span_not_empty"):
        Flag.objects.create(
            version=flag.version,
            category=flag.category,
            rule=flag.rule,
            severity=flag.severity,
            start=start,
            end=end,
            text="",
            message=flag.message,
        )


# --- verify_audit finds what happened behind the triggers ------------------------------------------


def a_short_history() -> list[AuditEvent]:
    writer = make_user(roles=["copywriter"])
    reviewer = make_user(roles=["reviewer"])
    draft = submit(author=writer, body=SAFE_COPY)
    workflow.add_version(draft, author=writer, body=EDITED_COPY)
    workflow.decide(draft, reviewer=reviewer, kind=DecisionKind.APPROVE, version=2)
    workflow.publish(draft, actor=writer)
    events = list(AuditEvent.objects.order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert list(audit.verify()) == [e.seq for e in events]
    return events


def first_break() -> audit.Break:
    results = list(audit.verify())
    breaks = [r for r in results if isinstance(r, audit.Break)]
    assert len(breaks) == 1 and results[-1] is breaks[0], results
    return breaks[0]


def test_verify_audit_detects_a_deleted_event():
    events = a_short_history()
    victim = events[4]

    with behind_the_audit_trigger() as cursor:
        cursor.execute("DELETE FROM reviewapp_auditevent WHERE id = %s", [victim.pk])

    found = first_break()
    assert found.seq == victim.seq
    assert "missing" in found.reason
    with pytest.raises(CommandError, match=f"seq {victim.seq}.*missing") as broken:
        call_command("verify_audit")
    assert broken.value.returncode == 1


def test_verify_audit_detects_a_deleted_last_event():
    events = a_short_history()

    with behind_the_audit_trigger() as cursor:
        cursor.execute("DELETE FROM reviewapp_auditevent WHERE id = %s", [events[-1].pk])

    found = first_break()
    assert found.seq == events[-1].seq
    assert f"ends at event {events[-2].seq}" in found.reason


def test_verify_audit_detects_a_prev_hash_pointing_elsewhere():
    events = a_short_history()
    victim = events[5]

    with behind_the_audit_trigger() as cursor:
        cursor.execute(
            "UPDATE reviewapp_auditevent SET prev_hash = %s WHERE id = %s", [events[3].hash, victim.pk]
        )

    found = first_break()
    assert (found.seq, found.event_id) == (victim.seq, victim.pk)
    assert "prev_hash" in found.reason


def test_verify_audit_detects_two_events_swapped():
    events = a_short_history()
    first, second = events[3], events[4]

    with behind_the_audit_trigger() as cursor:  # seq is unique: swap through a free value
        spare = events[-1].seq + 1000
        cursor.execute("UPDATE reviewapp_auditevent SET seq = %s WHERE id = %s", [spare, first.pk])
        cursor.execute("UPDATE reviewapp_auditevent SET seq = %s WHERE id = %s", [first.seq, second.pk])
        cursor.execute("UPDATE reviewapp_auditevent SET seq = %s WHERE id = %s", [second.seq, first.pk])

    found = first_break()
    assert (found.seq, found.event_id) == (first.seq, second.pk)
    assert "prev_hash" in found.reason


def test_the_audit_trigger_is_back_after_tampering():
    a_short_history()
    with behind_the_audit_trigger():
        pass

    with refused(trigger_error(), match="append-only"):
        AuditEvent.objects.update(created_at=timezone.now())


@pytest.mark.parametrize("model", [Version, Decision, AuditEvent])
def test_history_is_never_deleted_through_the_orm(model):
    approved_draft()
    before = model.objects.count()

    with pytest.raises(HistoryDeletionError):
        model.objects.all().delete()
    with pytest.raises(HistoryDeletionError):
        model.objects.first().delete()

    assert model.objects.count() == before


@pytest.mark.parametrize("table", ["reviewapp_decision", "reviewapp_version"])
def test_decisions_and_versions_cannot_be_deleted_on_postgresql_even_in_sql(postgres, table):
    approved_draft()
    with refused(trigger_error(), match="not allowed"), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"DELETE FROM {table}")  # noqa: S608 (a fixed table name)
