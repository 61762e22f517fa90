"""Gate invariant 5 under real concurrency on PostgreSQL: threads with their own connections, released
together by a barrier, many rounds each. SQLite serialises writers by design, so these tests skip there.

After every scenario `assert_gate_holds()` checks all drafts with one query: an approved or published
draft points at the version that was approved, by an approve decision whose sha256 is the sha256 of the
current text.
"""

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection

from reviewapp import audit, workflow
from reviewapp.models import APPROVED_STATES, AuditEvent, AuditHead, Decision, DecisionKind, Draft, Status
from tests.conftest import api_as, make_user, submit

ROUNDS = 30
THREAD_TIMEOUT = 30

# Two blockers, so an approval needs overrides and the racing reviewers also write to the same flags.
BLOCKED_COPY = "Clinically proven to calm dry skin. Only 4 jars left in the warehouse."
PLAIN_COPY = "A calm, fragrance-free cream for dry skin, in a 50 ml jar."
EDITED_COPY = "A calm, fragrance-free cream for dry skin, in a 50 ml jar. Now with shea butter."


@dataclass
class Outcome:
    value: Any = None
    error: workflow.WorkflowError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def code(self) -> str | None:
        return self.error.code if self.error else None


def race(*actions: Callable[[], Any]) -> list[Outcome]:
    """Run each action in its own thread, released together; workflow errors are outcomes, anything
    else (a deadlock, an IntegrityError that leaked) fails the test."""
    barrier = threading.Barrier(len(actions))
    outcomes: list[Outcome | None] = [None] * len(actions)
    crashes: list[BaseException] = []

    def run(index: int, action: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=THREAD_TIMEOUT)
            outcomes[index] = Outcome(value=action())
        except workflow.WorkflowError as exc:
            outcomes[index] = Outcome(error=exc)
        except BaseException as exc:
            crashes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, action)) for i, action in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(THREAD_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a racing thread hung (deadlock?)"
    if crashes:
        raise crashes[0]
    return outcomes


def assert_gate_holds() -> None:
    """The gate over ALL drafts, in one query."""
    drafts = Draft.objects.select_related("current_version", "approval")
    for draft in drafts:
        if draft.status not in APPROVED_STATES:
            assert draft.approved_version_id is None and draft.approval_id is None, draft
            continue
        body_sha256 = hashlib.sha256(draft.current_version.body.encode("utf-8")).hexdigest()
        approval = draft.approval
        assert draft.approved_version_id == draft.current_version_id, draft
        assert approval is not None, draft
        assert approval.kind == DecisionKind.APPROVE, draft
        assert approval.version_id == draft.current_version_id, draft
        assert approval.sha256 == body_sha256 == draft.current_version.sha256, draft


def fresh(draft: Draft) -> Draft:
    """Each thread loads its own copy, as a request would."""
    return Draft.objects.get(pk=draft.pk)


def overrides_for(draft: Draft, reason: str) -> list[workflow.Override]:
    return [
        workflow.Override(flag_id=flag.pk, reason=reason)
        for flag in draft.current_version.flags.filter(severity="blocker")
    ]


# --- (a) two reviewers approve the same version at once -------------------------------------------


def test_two_reviewers_approving_at_once_cannot_both_win(postgres):
    writer = make_user(roles=["copywriter"])
    rhea, rex = make_user(roles=["reviewer"]), make_user(roles=["reviewer"])
    workflow.compute_flags(BLOCKED_COPY, language="en")  # parse once, outside the threads

    for _ in range(ROUNDS):
        draft = submit(author=writer, body=BLOCKED_COPY)
        reasons = {
            rhea: "Rhea checked the trial report and the stock feed.",
            rex: "Rex verified both claims.",
        }

        def approve(reviewer, draft=draft, reasons=reasons):
            return workflow.decide(
                fresh(draft),
                reviewer=reviewer,
                kind=DecisionKind.APPROVE,
                version=1,
                overrides=overrides_for(draft, reasons[reviewer]),
            )

        first, second = race(lambda: approve(rhea), lambda: approve(rex))

        assert [first.ok, second.ok].count(True) == 1, (first, second)
        winner, loser = (first, second) if first.ok else (second, first)
        assert isinstance(loser.error, workflow.Conflict)
        assert loser.error.status == 409
        assert loser.code in {"wrong_status", "concurrent_decision"}, loser.error

        approvals = Decision.objects.filter(draft=draft, kind=DecisionKind.APPROVE)
        assert list(approvals) == [winner.value]
        stored = Draft.objects.get(pk=draft.pk)
        assert stored.status == Status.APPROVED and stored.approval_id == winner.value.pk
        # The loser's overrides were rolled back with its decision: every blocker names the winner.
        flags = stored.current_version.flags.filter(severity="blocker")
        assert {flag.overridden_by_id for flag in flags} == {winner.value.reviewer_id}
        assert AuditEvent.objects.filter(draft=draft, action="decision.approve").count() == 1

    assert_gate_holds()


def test_two_reviewers_approving_at_once_over_http_get_one_201_and_one_409(postgres):
    writer = make_user(roles=["copywriter"])
    rhea, rex = make_user(roles=["reviewer"]), make_user(roles=["reviewer"])
    as_rhea, as_rex = api_as(rhea), api_as(rex)
    workflow.compute_flags(PLAIN_COPY, language="en")

    for _ in range(ROUNDS // 2):
        draft = submit(author=writer, body=PLAIN_COPY)
        path = f"/drafts/{draft.pk}/decisions"

        def approve(client, path=path):
            return client.post(path, {"decision": "approve", "version": 1})

        first, second = race(lambda: approve(as_rhea), lambda: approve(as_rex))

        statuses = sorted([first.value.status_code, second.value.status_code])
        assert statuses == [201, 409], (first.value.content, second.value.content)
        refused = first.value if first.value.status_code == 409 else second.value
        assert refused["Content-Type"] == "application/problem+json"
        assert refused.json()["code"] in {"wrong_status", "concurrent_decision"}
        assert Decision.objects.filter(draft=draft, kind=DecisionKind.APPROVE).count() == 1

    assert_gate_holds()


def test_one_decision_sent_twice_at_once_with_one_idempotency_key_answers_both_alike(postgres):
    """A client that retries before the first answer arrives: one request decides, the other replays
    its response (or, if the first is still running, gets 409 idempotency_in_progress) instead of
    reporting the state the first one left."""
    writer = make_user(roles=["copywriter"])
    as_rhea = api_as(make_user(roles=["reviewer"]))
    workflow.compute_flags(PLAIN_COPY, language="en")

    for round_number in range(ROUNDS // 2):
        draft = submit(author=writer, body=PLAIN_COPY)
        path = f"/drafts/{draft.pk}/decisions"
        key = {"Idempotency-Key": f"approve-{round_number}"}

        def approve(path=path, key=key):
            return as_rhea.post(path, {"decision": "approve", "version": 1}, headers=key)

        first, second = race(approve, approve)

        responses = [first.value, second.value]
        decided = [r for r in responses if r.status_code == 201]
        assert decided, [r.content for r in responses]
        for response in responses:
            if response.status_code == 409:
                assert response.json()["code"] == "idempotency_in_progress", response.content
            else:
                assert response.status_code == 201 and response.json() == decided[0].json()
        assert Decision.objects.filter(draft=draft).count() == 1

    assert_gate_holds()


# --- (b) an edit racing an approval ------------------------------------------------------------------


def test_an_edit_racing_an_approval_never_leaves_unapproved_text_approved(postgres):
    writer = make_user(roles=["copywriter"])
    reviewer = make_user(roles=["reviewer"])
    for text in (PLAIN_COPY, EDITED_COPY):
        workflow.compute_flags(text, language="en")

    for _ in range(ROUNDS):
        draft = submit(author=writer, body=PLAIN_COPY)

        edit, approval = race(
            lambda draft=draft: workflow.add_version(fresh(draft), author=writer, body=EDITED_COPY),
            lambda draft=draft: workflow.decide(
                fresh(draft), reviewer=reviewer, kind=DecisionKind.APPROVE, version=1
            ),
        )

        assert edit.ok, edit.error  # an edit of a draft in review or approved always goes through
        assert edit.value.number == 2
        stored = Draft.objects.select_related("current_version").get(pk=draft.pk)
        assert stored.current_version.number == 2
        # Whichever came first, the edited text is back in review, unapproved.
        assert stored.status == Status.IN_REVIEW
        assert stored.approved_version_id is None and stored.approval_id is None
        if approval.ok:
            assert approval.value.version.number == 1
        else:
            assert approval.code == "stale_version", approval.error
        assert_gate_holds()


# --- (c) approve, publish and edit, three threads -----------------------------------------------------


def test_approve_publish_and_edit_racing_keep_the_gate(postgres):
    writer = make_user(roles=["copywriter"])
    tool = make_user(roles=["integration"])
    reviewer = make_user(roles=["reviewer"])
    for text in (PLAIN_COPY, EDITED_COPY):
        workflow.compute_flags(text, language="en")

    for _ in range(ROUNDS):
        draft = submit(author=writer, body=PLAIN_COPY)
        deciding_done = threading.Event()

        def approve(draft=draft, done=deciding_done):
            try:
                return workflow.decide(fresh(draft), reviewer=reviewer, kind=DecisionKind.APPROVE, version=1)
            finally:
                done.set()

        def publish_once_approved(draft=draft, done=deciding_done):
            """Publish as a campaign tool polling for approval would: retry while not yet approved."""
            while True:
                finished = done.is_set()
                try:
                    return workflow.publish(fresh(draft), actor=tool)
                except workflow.Conflict as exc:
                    if exc.code != "not_approved" or finished:
                        raise
                time.sleep(0.001)

        approval, publication, edit = race(
            approve,
            publish_once_approved,
            lambda draft=draft: workflow.add_version(fresh(draft), author=writer, body=EDITED_COPY),
        )

        stored = Draft.objects.select_related("current_version").get(pk=draft.pk)
        if publication.ok:
            # approve -> publish -> the edit is refused: the published text is the approved version 1.
            assert approval.ok
            assert edit.code == "draft_closed", edit.error
            assert stored.status == Status.PUBLISHED and stored.current_version.number == 1
            assert stored.approval_id == approval.value.pk
        else:
            # The edit came before the publish (and maybe before the approval): v2 is in review.
            assert edit.ok, edit.error
            assert publication.code == "not_approved", publication.error
            assert approval.ok or approval.code == "stale_version", approval.error
            assert stored.status == Status.IN_REVIEW and stored.current_version.number == 2
        assert_gate_holds()


# --- (d) two submits with the same external_id ----------------------------------------------------------


def test_two_submits_with_one_external_id_create_one_draft(postgres):
    tool = make_user(roles=["integration"])
    workflow.compute_flags(PLAIN_COPY, language="en")

    for round_number in range(ROUNDS):
        external_id = f"crm-{round_number}"

        def send(title, external_id=external_id):
            return submit(author=tool, title=title, body=PLAIN_COPY, external_id=external_id)

        first, second = race(lambda: send("Spring mail A"), lambda: send("Spring mail B"))

        assert [first.ok, second.ok].count(True) == 1, (first, second)
        winner, loser = (first, second) if first.ok else (second, first)
        assert isinstance(loser.error, workflow.Conflict)
        assert loser.code == "duplicate_external_id"
        assert loser.error.extra["draft"] == winner.value.pk
        assert list(Draft.objects.filter(author=tool, external_id=external_id)) == [winner.value]

    assert Draft.objects.count() == ROUNDS
    assert AuditEvent.objects.filter(action="draft.submitted").count() == ROUNDS
    assert_gate_holds()
    assert not [r for r in audit.verify() if isinstance(r, audit.Break)]


# --- (e) many writers appending to the audit trail ------------------------------------------------------

APPENDERS = 8
APPENDS_EACH = 25


def append_many(thread: int) -> None:
    for n in range(APPENDS_EACH):
        audit.append_in_transaction("test.appended", actor=None, data={"thread": thread, "n": n})


def assert_chain_intact(expected_events: int) -> None:
    results = list(audit.verify())
    assert not [r for r in results if isinstance(r, audit.Break)], results[-1]
    assert results == list(range(1, expected_events + 1))
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, expected_events + 1))


def test_concurrent_appends_keep_one_unbroken_chain(postgres):
    make_user(roles=["copywriter"])  # the chain already has events: appenders extend it
    before = AuditEvent.objects.count()
    rounds = 5

    for round_number in range(1, rounds + 1):
        race(*[lambda i=i: append_many(i) for i in range(APPENDERS)])
        assert_chain_intact(before + round_number * APPENDERS * APPENDS_EACH)

    appended = AuditEvent.objects.filter(action="test.appended").values_list("data", flat=True)
    assert Counter(data["thread"] for data in appended) == dict.fromkeys(
        range(APPENDERS), rounds * APPENDS_EACH
    )


def test_concurrent_first_appends_on_an_empty_chain_start_it_once(postgres):
    """A flushed database has no chain head row; the first appenders race to create it."""
    for _ in range(ROUNDS):
        with connection.cursor() as cursor:  # back to a freshly flushed state
            cursor.execute("TRUNCATE reviewapp_auditevent")
        AuditHead.objects.all().delete()

        race(
            *[
                lambda i=i: audit.append_in_transaction("test.appended", actor=None, data={"thread": i})
                for i in range(APPENDERS)
            ]
        )

        assert_chain_intact(APPENDERS)
        assert AuditHead.objects.get().seq == APPENDERS
