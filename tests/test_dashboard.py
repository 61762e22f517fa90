"""The reviewer dashboard and the copywriter pages (issue 6) through their views: the queue with its
filters and sorting, claims (leases) and "next", the draft page's highlights, overrides, decisions,
diffs and audit trail, the flag preview, "my drafts" and the metrics page. Each test posts or gets
as a browser would, then checks the database and the page."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from reviewapp import leases, webhooks, workflow
from reviewapp.models import AuditEvent, Decision, Draft, Flag, FlagStatus, Version
from tests.conftest import (
    RISKY_COPY,
    SAFE_COPY,
    api_as,
    make_user,
    publish_form_sha256,
    stored_risk_is_current,
    submit,
)

pytestmark = pytest.mark.django_db

# Two blockers (an establishment claim and false scarcity) and a warning (false urgency).
TWO_BLOCKERS = "Clinically proven to calm skin. Only 3 left, so hurry!"
REASON = "The trial report CT-88 and the live stock feed are on file."


def browser(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def text(response) -> str:
    return response.content.decode()


def row(html: str, draft: Draft) -> str:
    match = re.search(rf'<tr id="draft-{draft.pk}"[^>]*>(.*?)</tr>', html, re.DOTALL)
    assert match, f"no row for draft {draft.pk}"
    return match.group(1)


def queue_ids(response) -> list[int]:
    return [draft.pk for draft in response.context["page"]]


def blockers_of(draft: Draft) -> list[Flag]:
    return list(
        Flag.objects.filter(version__draft=draft, version=Draft.objects.get(pk=draft.pk).current_version)
        .filter(severity="blocker")
        .order_by("pk")
    )


def fresh(draft: Draft) -> Draft:
    return Draft.objects.select_related("claimed_by").get(pk=draft.pk)


@pytest.fixture
def second_reviewer(db):
    return make_user(roles=["reviewer"], name="Ravi Second")


# --- Queue ----------------------------------------------------------------------------------------


def test_queue_sorts_by_risk_then_by_age_when_asked(copywriter, reviewer):
    calm = submit(author=copywriter, title="Calm", body=SAFE_COPY)
    two = submit(author=copywriter, title="Two blockers", body=TWO_BLOCKERS)
    risky = submit(author=copywriter, title="Risky", body=RISKY_COPY)
    Version.objects.filter(draft=calm).update(created_at=timezone.now() - timedelta(days=2))
    Version.objects.filter(draft=risky).update(created_at=timezone.now() - timedelta(days=1))
    client = browser(reviewer)

    by_risk = queue_ids(client.get("/queue"))
    counts = {d.pk: (d.blocker_count, d.warning_count) for d in client.get("/queue").context["page"]}
    assert by_risk == sorted(by_risk, key=lambda pk: (-counts[pk][0], -counts[pk][1]))
    assert by_risk[-1] == calm.pk and counts[calm.pk] == (0, 0)

    assert queue_ids(client.get("/queue?sort=age")) == [calm.pk, risky.pk, two.pk]


def test_the_stored_risk_follows_every_change_of_the_current_flags(copywriter, reviewer):
    one_blocker = submit(author=copywriter, title="One blocker", body=RISKY_COPY)
    two = submit(author=copywriter, title="Two blockers", body=TWO_BLOCKERS)
    calm = submit(author=copywriter, title="Calm", body=SAFE_COPY)
    assert all(map(stored_risk_is_current, (one_blocker, two, calm)))
    assert fresh(two).risk > fresh(one_blocker).risk > fresh(calm).risk == 0
    client = browser(reviewer)
    assert queue_ids(client.get("/queue"))[0] == two.pk

    for flag in blockers_of(two):  # overriding its blockers takes it below the one with an open blocker
        workflow.override_flag(flag, reviewer=reviewer, reason="Backed by the lab report on file.")
    assert stored_risk_is_current(two)
    assert queue_ids(client.get("/queue"))[:2] == [one_blocker.pk, two.pk]

    workflow.add_version(one_blocker, author=copywriter, body=SAFE_COPY)  # new text, new flags
    assert stored_risk_is_current(one_blocker) and fresh(one_blocker).risk == 0

    workflow.add_version(calm, author=copywriter, body=RISKY_COPY)
    overrides = [workflow.Override(flag.pk, "Stock figure from the live feed.") for flag in blockers_of(calm)]
    workflow.decide(calm, reviewer=reviewer, kind="approve", version=2, overrides=overrides)
    assert stored_risk_is_current(calm)


def test_queue_filters_by_flag_category_channel_and_my_claims(copywriter, reviewer, second_reviewer):
    scarce = submit(author=copywriter, title="Scarce", body="Only 3 kettles left!", channel="sms")
    best = submit(author=copywriter, title="Best", body="The best lamp in the world.", channel="email")
    plain = submit(author=copywriter, title="Plain", body=SAFE_COPY, channel="email")
    leases.claim(best, reviewer=reviewer)
    leases.claim(plain, reviewer=second_reviewer)
    client = browser(reviewer)

    assert queue_ids(client.get("/queue?category=manipulation")) == [scarce.pk]
    assert queue_ids(client.get("/queue?category=exaggeration")) == [best.pk]
    assert set(queue_ids(client.get("/queue?channel=email"))) == {best.pk, plain.pk}
    assert queue_ids(client.get("/queue?channel=email&category=exaggeration")) == [best.pk]
    assert queue_ids(client.get("/queue?mine=on")) == [best.pk]
    page = text(client.get("/queue?mine=on"))
    assert 'name="mine" id="id_mine" checked' in page  # the form shows the filters in force


def test_queue_is_paginated_and_pages_keep_the_filters(copywriter, reviewer):
    for index in range(27):
        submit(author=copywriter, title=f"Draft {index}", body=SAFE_COPY + f" Batch {index}.", channel="web")
    client = browser(reviewer)

    first = client.get("/queue?channel=web&sort=age")
    assert len(first.context["page"]) == 25
    assert 'href="?channel=web&amp;sort=age&amp;page=2"' in text(first)
    second = client.get("/queue?channel=web&sort=age&page=2")
    assert len(second.context["page"]) == 2
    assert set(queue_ids(first)).isdisjoint(queue_ids(second))


def test_queue_shows_who_holds_a_claim_and_offers_claims_only_where_possible(
    copywriter, reviewer, second_reviewer
):
    mine = submit(author=copywriter, title="Mine")
    theirs = submit(author=copywriter, title="Theirs")
    free = submit(author=copywriter, title="Free")
    both = make_user(roles=["copywriter", "reviewer"], name="Casey Both")
    own = submit(author=both, title="Own work")
    leases.claim(mine, reviewer=reviewer)
    leases.claim(theirs, reviewer=second_reviewer)

    page = text(browser(reviewer).get("/queue"))
    assert "Claimed by you until" in row(page, mine)
    assert "Claimed by Ravi Second until" in row(page, theirs)
    assert f'action="/drafts/{free.pk}/claim"' in row(page, free)
    assert f'action="/drafts/{theirs.pk}/claim"' not in page

    as_author = text(browser(both).get("/queue"))
    assert "your work" in row(as_author, own) and f'action="/drafts/{own.pk}/claim"' not in as_author
    as_writer = text(browser(copywriter).get("/queue"))
    assert "/claim" not in as_writer and "queue/next" not in as_writer


def test_home_sends_reviewers_to_the_queue_and_copywriters_to_their_drafts(copywriter, reviewer):
    assert browser(reviewer).get("/")["Location"] == "/queue"
    assert browser(copywriter).get("/")["Location"] == "/mine"
    both = make_user(roles=["copywriter", "reviewer"])
    assert browser(both).get("/")["Location"] == "/queue"


# --- Claims ---------------------------------------------------------------------------------------


def test_claiming_takes_a_time_limited_lease_and_is_audited(copywriter, reviewer, settings):
    settings.LEASE_MINUTES = 15
    draft = submit(author=copywriter)
    before = timezone.now()

    response = browser(reviewer).post(f"/drafts/{draft.pk}/claim", follow=True)

    held = fresh(draft)
    assert held.claimed_by == reviewer
    assert before + timedelta(minutes=14) < held.claimed_until <= timezone.now() + timedelta(minutes=15)
    assert "You claimed this draft until" in text(response)
    assert "You are working on this draft" in text(response)
    event = AuditEvent.objects.get(draft=draft, action="draft.claimed")
    assert event.actor == reviewer and event.data == {"lease_seconds": 900}


def test_a_claimed_draft_is_read_only_for_another_reviewer(copywriter, reviewer, second_reviewer):
    draft = submit(author=copywriter, body=TWO_BLOCKERS)
    leases.claim(draft, reviewer=reviewer)
    flag = blockers_of(draft)[0]
    other = browser(second_reviewer)

    page = text(other.get(f"/drafts/{draft.pk}"))
    assert "Claimed by Rhea Reviewer" in page
    assert f'action="/drafts/{draft.pk}/decide"' not in page
    assert "/override" not in page

    claim = other.post(f"/drafts/{draft.pk}/claim", follow=True)
    assert "Rhea Reviewer is working on this draft until" in text(claim)
    decide = other.post(
        f"/drafts/{draft.pk}/decide",
        {"decision": "reject", "version": 1, "comment": "Not for this campaign."},
    )
    assert decide.status_code == 409
    assert "Rhea Reviewer has claimed this draft" in text(decide)
    override = other.post(f"/drafts/{draft.pk}/flags/{flag.pk}/override", {"reason": REASON})
    assert override.status_code == 409
    held = fresh(draft)
    assert held.claimed_by == reviewer and held.status == "in_review"
    assert Flag.objects.get(pk=flag.pk).status == FlagStatus.OPEN
    assert not Decision.objects.filter(draft=draft).exists()


def test_the_api_respects_claims_too(copywriter, reviewer, second_reviewer):
    draft = submit(author=copywriter, body=SAFE_COPY)
    leases.claim(draft, reviewer=reviewer)

    response = api_as(second_reviewer).post(
        f"/drafts/{draft.pk}/decisions", {"decision": "approve", "version": 1}
    )

    assert response.status_code == 409
    assert response.json()["code"] == "claimed"
    assert fresh(draft).status == "in_review"


def test_an_expired_claim_no_longer_counts(copywriter, reviewer, second_reviewer):
    draft = submit(author=copywriter, body=SAFE_COPY)
    leases.claim(draft, reviewer=reviewer)
    Draft.objects.filter(pk=draft.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))

    queue = text(browser(second_reviewer).get("/queue"))
    assert "Claimed by" not in row(queue, draft)
    response = browser(second_reviewer).post(f"/drafts/{draft.pk}/claim")
    assert response.status_code == 302
    assert fresh(draft).claimed_by == second_reviewer


def test_a_decision_releases_the_claim(copywriter, reviewer):
    draft = submit(author=copywriter, body=SAFE_COPY)
    client = browser(reviewer)
    client.post(f"/drafts/{draft.pk}/claim")

    response = client.post(f"/drafts/{draft.pk}/decide", {"decision": "approve", "version": 1}, follow=True)

    held = fresh(draft)
    assert held.status == "approved"
    assert held.claimed_by is None and held.claimed_until is None
    assert "Approved version 1. Cora Copywriter can now publish it" in text(response)


def test_the_decision_message_says_which_webhooks_are_on_their_way(copywriter, reviewer):
    webhooks.create_endpoint(url="https://cms.example.com/hooks", event_types=["copy.approved"])
    webhooks.create_endpoint(url="https://ads.example.com/hooks", event_types=["copy.approved"])
    webhooks.create_endpoint(url="https://crm.example.com/hooks", event_types=["copy.rejected"])
    approved, rejected = submit(author=copywriter, body=SAFE_COPY), submit(author=copywriter, body=SAFE_COPY)
    client = browser(reviewer)

    approval = client.post(
        f"/drafts/{approved.pk}/decide", {"decision": "approve", "version": 1}, follow=True
    )
    rejection = client.post(
        f"/drafts/{rejected.pk}/decide",
        {"decision": "reject", "version": 1, "comment": "Not for this campaign."},
        follow=True,
    )

    assert "Approved version 1. The copy.approved webhook is on its way to 2 campaign tools." in text(
        approval
    )
    assert "The copy.rejected webhook is on its way to 1 campaign tool." in text(rejection)


def test_renewing_extends_the_claim_for_the_heartbeat_and_without_javascript(copywriter, reviewer, settings):
    settings.LEASE_MINUTES = 15
    draft = submit(author=copywriter)
    client = browser(reviewer)
    client.post(f"/drafts/{draft.pk}/claim")
    Draft.objects.filter(pk=draft.pk).update(claimed_until=timezone.now() + timedelta(minutes=2))

    beat = client.post(f"/drafts/{draft.pk}/renew", headers={"Accept": "application/json"})

    assert beat.status_code == 200 and beat.json()["ok"] is True
    assert fresh(draft).claimed_until > timezone.now() + timedelta(minutes=14)
    assert AuditEvent.objects.filter(draft=draft, action="draft.claimed").count() == 1  # not audited again
    plain = client.post(f"/drafts/{draft.pk}/renew", follow=True)
    assert "Your claim now runs until" in text(plain)


def test_renewing_a_claim_someone_else_holds_is_refused(copywriter, reviewer, second_reviewer):
    draft = submit(author=copywriter)
    leases.claim(draft, reviewer=second_reviewer)

    beat = browser(reviewer).post(f"/drafts/{draft.pk}/renew", headers={"Accept": "application/json"})

    assert beat.status_code == 409
    assert beat.json() == {"ok": False, "message": beat.json()["message"]}
    assert "Ravi Second is working on this draft" in beat.json()["message"]
    assert fresh(draft).claimed_by == second_reviewer


def test_releasing_a_claim_frees_the_draft_and_is_audited(copywriter, reviewer, second_reviewer):
    draft = submit(author=copywriter)
    client = browser(reviewer)
    client.post(f"/drafts/{draft.pk}/claim")

    response = client.post(f"/drafts/{draft.pk}/release", follow=True)

    assert "Released your claim" in text(response)
    assert fresh(draft).claimed_by is None
    assert AuditEvent.objects.filter(draft=draft, action="draft.released", actor=reviewer).exists()
    again = client.post(f"/drafts/{draft.pk}/release", follow=True)
    assert "You held no claim on this draft" in text(again)
    # Someone else's claim cannot be released by another reviewer.
    leases.claim(draft, reviewer=second_reviewer)
    client.post(f"/drafts/{draft.pk}/release")
    assert fresh(draft).claimed_by == second_reviewer


def test_only_reviewers_who_wrote_nothing_can_claim(copywriter, reviewer):
    draft = submit(author=copywriter)
    both = make_user(roles=["copywriter", "reviewer"])
    workflow.add_version(draft, author=both, body=SAFE_COPY)

    for user, words in [(copywriter, "Only a reviewer may claim"), (both, "You wrote a version")]:
        response = browser(user).post(f"/drafts/{draft.pk}/claim", follow=True)
        assert words in text(response)
    assert fresh(draft).claimed_by is None


def test_only_drafts_in_review_can_be_claimed(copywriter, reviewer):
    draft = submit(author=copywriter, body=SAFE_COPY)
    workflow.decide(draft, reviewer=reviewer, kind="approve", version=1)

    response = browser(reviewer).post(f"/drafts/{draft.pk}/claim", follow=True)

    assert "only drafts in review can be claimed" in text(response)
    assert fresh(draft).claimed_by is None


def test_next_claims_the_riskiest_draft_nobody_else_holds(copywriter, reviewer, second_reviewer):
    calm = submit(author=copywriter, title="Calm", body=SAFE_COPY)
    risky = submit(author=copywriter, title="Risky", body=RISKY_COPY)
    held = submit(author=copywriter, title="Held", body=TWO_BLOCKERS + " Best in the world.")
    both = make_user(roles=["copywriter", "reviewer"])
    submit(author=both, title="Own", body=TWO_BLOCKERS + " The best, guaranteed forever.")
    leases.claim(held, reviewer=second_reviewer)
    client = browser(both)  # the reviewer who wrote "Own" must not get it

    first = client.post("/queue/next")
    assert first["Location"] == f"/drafts/{risky.pk}"
    assert fresh(risky).claimed_by == both
    # Moving on from a draft releases it and never offers it again.
    second = client.post("/queue/next", {"skip": risky.pk})
    assert second["Location"] == f"/drafts/{calm.pk}"
    assert fresh(risky).claimed_by is None and fresh(calm).claimed_by == both
    assert fresh(held).claimed_by == second_reviewer
    # Skipped drafts stay skipped for this reviewer until the queue has nothing else for them.
    done = client.post("/queue/next", {"skip": calm.pk}, follow=True)
    assert "Nothing left in the queue for you" in text(done) and "you skipped 2" in text(done)
    assert fresh(calm).claimed_by is None
    assert client.post("/queue/next")["Location"] == f"/drafts/{risky.pk}"


def test_next_by_age_takes_the_longest_waiting(copywriter, reviewer):
    old = submit(author=copywriter, title="Old", body=SAFE_COPY)
    submit(author=copywriter, title="Risky", body=RISKY_COPY)
    Version.objects.filter(draft=old).update(created_at=timezone.now() - timedelta(days=3))

    response = browser(reviewer).post("/queue/next", {"sort": "age"})

    assert response["Location"] == f"/drafts/{old.pk}"


def test_a_copywriter_cannot_take_the_next_draft(copywriter):
    submit(author=make_user(roles=["copywriter"]))
    response = browser(copywriter).post("/queue/next", follow=True)
    assert "Only a reviewer may claim" in text(response)
    assert not Draft.objects.filter(claimed_by__isnull=False).exists()


@pytest.mark.postgres
def test_two_reviewers_claiming_at_once_get_one_lease(postgres):
    from tests.test_races import race

    writer = make_user(roles=["copywriter"])
    first, second = make_user(roles=["reviewer"]), make_user(roles=["reviewer"])
    for _ in range(20):
        draft = submit(author=writer, body=SAFE_COPY)
        outcomes = race(
            lambda draft=draft: leases.claim(Draft.objects.get(pk=draft.pk), reviewer=first),
            lambda draft=draft: leases.claim(Draft.objects.get(pk=draft.pk), reviewer=second),
        )
        winners = [outcome for outcome in outcomes if outcome.ok]
        assert len(winners) == 1, outcomes
        assert [outcome.code for outcome in outcomes if not outcome.ok] == ["claimed"]
        assert Draft.objects.get(pk=draft.pk).claimed_by == winners[0].value.holder
        assert AuditEvent.objects.filter(draft=draft, action="draft.claimed").count() == 1


# --- Draft page -----------------------------------------------------------------------------------


def test_every_flag_is_highlighted_inline_and_explained_on_hover_and_focus(copywriter, reviewer):
    draft = submit(author=copywriter, body=RISKY_COPY)
    flags = list(Flag.objects.filter(version=draft.current_version))
    assert len(flags) >= 3

    page = text(browser(reviewer).get(f"/drafts/{draft.pk}"))

    marks = re.findall(r'<mark class="flagged([^"]*)" tabindex="0" id="seg-(\d+)"[^>]*>', page)
    assert marks
    for flag in flags:
        segment = re.search(
            rf'<mark class="flagged[^"]*" tabindex="0" id="seg-(\d+)" data-starts="[^"]*\b{flag.pk}\b', page
        )
        assert segment, flag.rule
        index = segment.group(1)
        assert f'aria-describedby="tip-{index}"' in page
        tip = re.search(
            rf'<span class="tip" role="tooltip" id="tip-{index}">(.*?)</span></mark>', page, re.DOTALL
        )
        assert flag.message.replace('"', "&quot;").replace("'", "&#x27;") in tip.group(1)
        assert f"Rule: {flag.rule}" in tip.group(1)
        if flag.reference:
            assert "Reference:" in tip.group(1)
        assert f"cat-{flag.category}" in page
        assert f'data-segment="seg-{index}"' in page  # the flag list points at its passage


def test_the_decision_form_names_the_version_shown(copywriter, reviewer):
    draft = submit(author=copywriter, body=SAFE_COPY)
    workflow.add_version(draft, author=copywriter, body=SAFE_COPY + " Now in 50 ml.")

    page = text(browser(reviewer).get(f"/drafts/{draft.pk}"))

    assert "Decide on version 2" in page
    assert re.search(r'<input type="hidden" name="version" value="2"', page)
    assert "Record decision on version 2" in page


def test_deciding_on_a_version_that_moved_on_is_refused(copywriter, reviewer):
    draft = submit(author=copywriter, body=SAFE_COPY)
    client = browser(reviewer)
    client.get(f"/drafts/{draft.pk}")
    workflow.add_version(draft, author=copywriter, body=SAFE_COPY + " Now in 50 ml.")

    response = client.post(f"/drafts/{draft.pk}/decide", {"decision": "approve", "version": 1})

    assert response.status_code == 409
    assert "You reviewed version 1, but the draft is now at version 2" in text(response)
    assert fresh(draft).status == "in_review"


def test_a_copywriter_sees_no_decision_form_and_no_override_forms(copywriter, reviewer):
    draft = submit(author=make_user(roles=["copywriter"]), body=TWO_BLOCKERS)

    page = text(browser(copywriter).get(f"/drafts/{draft.pk}"))

    assert "/decide" not in page and "/override" not in page and "/claim" not in page
    assert "Edit and resubmit" in page


def test_overriding_a_blocker_needs_a_reason_then_approval_goes_through(copywriter, reviewer):
    draft = submit(author=copywriter, body=TWO_BLOCKERS)
    first, second = blockers_of(draft)
    client = browser(reviewer)

    refused = client.post(f"/drafts/{draft.pk}/decide", {"decision": "approve", "version": 1})
    assert refused.status_code == 409 and "2 blocker flag(s) are open" in text(refused)

    short = client.post(f"/drafts/{draft.pk}/flags/{first.pk}/override", {"reason": "fine"})
    assert short.status_code == 422
    assert "at least 10 letters or digits" in text(short)
    assert re.search(rf'id="reason-{first.pk}"[^>]*aria-invalid="true">fine</textarea>', text(short))
    assert Flag.objects.get(pk=first.pk).status == FlagStatus.OPEN

    done = client.post(f"/drafts/{draft.pk}/flags/{first.pk}/override", {"reason": REASON})
    assert done.status_code == 302 and done["Location"] == f"/drafts/{draft.pk}#flag-{first.pk}"
    page = text(client.get(done["Location"]))
    assert "Overrode the blocker" in page and "1 blocker still open" in page
    overridden = Flag.objects.get(pk=first.pk)
    assert (overridden.status, overridden.overridden_by, overridden.override_reason) == (
        "overridden",
        reviewer,
        REASON,
    )
    assert fresh(draft).claimed_by == reviewer  # working on a draft claims it
    assert AuditEvent.objects.filter(draft=draft, action="flag.overridden", actor=reviewer).count() == 1

    client.post(f"/drafts/{draft.pk}/flags/{second.pk}/override", {"reason": REASON})
    approved = client.post(f"/drafts/{draft.pk}/decide", {"decision": "approve", "version": 1}, follow=True)
    assert "Approved version 1" in text(approved)
    assert fresh(draft).status == "approved"


def test_a_flag_of_another_draft_cannot_be_overridden_through_this_one(copywriter, reviewer):
    draft = submit(author=copywriter, body=TWO_BLOCKERS)
    other = submit(author=copywriter, body=TWO_BLOCKERS)
    flag = blockers_of(other)[0]

    response = browser(reviewer).post(f"/drafts/{draft.pk}/flags/{flag.pk}/override", {"reason": REASON})

    assert response.status_code == 404
    assert Flag.objects.get(pk=flag.pk).status == FlagStatus.OPEN


def test_request_changes_is_shown_to_the_author_with_the_comment(copywriter, reviewer):
    draft = submit(author=copywriter, title="Serum", body=RISKY_COPY)
    comment = "Drop the 73% figure or give its source <b>please</b>."
    response = browser(reviewer).post(
        f"/drafts/{draft.pk}/decide",
        {"decision": "request_changes", "version": 1, "comment": comment},
        follow=True,
    )
    assert "Sent version 1 back to Cora Copywriter with your comment" in text(response)

    page = text(browser(copywriter).get(f"/drafts/{draft.pk}"))
    assert "Rhea Reviewer asked for changes on version 1" in page
    assert "Drop the 73% figure or give its source &lt;b&gt;please&lt;/b&gt;." in page
    mine = text(browser(copywriter).get("/mine"))
    assert "Changes requested" in row(mine, draft) and "Drop the 73% figure" in row(mine, draft)
    assert "Edit and resubmit" in row(mine, draft)

    resubmitted = browser(copywriter).post(f"/drafts/{draft.pk}/versions", {"body": SAFE_COPY}, follow=True)
    assert "Saved version 2" in text(resubmitted) and "back in the review queue" in text(resubmitted)
    assert fresh(draft).status == "in_review"
    assert "asked for changes" not in text(browser(copywriter).get(f"/drafts/{draft.pk}"))


def test_history_shows_word_diffs_against_the_previous_and_the_approved_version(copywriter, reviewer):
    draft = submit(author=copywriter, body="A calm cream for dry skin.")
    workflow.decide(draft, reviewer=reviewer, kind="approve", version=1)
    workflow.add_version(draft, author=copywriter, body="A calm cream for very dry skin.")
    workflow.add_version(draft, author=copywriter, body="A rich cream for very dry <skin>.")

    page = text(browser(reviewer).get(f"/drafts/{draft.pk}"))

    assert "Changes since approved version 1" in page
    since_approved = re.search(
        r"Changes since approved version 1.*?<p class=\"diff\">(.*?)</p>", page, re.DOTALL
    )
    assert since_approved.group(1) == (
        "A <del>calm</del><ins>rich</ins> cream for <ins>very </ins>dry <ins>&lt;</ins>skin<ins>&gt;</ins>."
    )
    from_previous = re.search(r"Changes from version 2.*?<p class=\"diff\">(.*?)</p>", page, re.DOTALL)
    assert (
        from_previous.group(1)
        == "A <del>calm</del><ins>rich</ins> cream for very dry <ins>&lt;</ins>skin<ins>&gt;</ins>."
    )
    assert "Changes from version 1" in page


def test_the_audit_trail_and_the_provenance_slot_are_on_the_page(copywriter, reviewer):
    draft = submit(author=copywriter)
    leases.claim(draft, reviewer=reviewer)

    response = browser(reviewer).get(f"/drafts/{draft.pk}")

    page = text(response)
    for action in ["draft.submitted", "flags.computed", "draft.claimed"]:
        assert f"<code>{action}</code>" in page
    assert "Provenance" not in page  # nothing to show for human copy


def test_publishing_says_what_happened(copywriter, reviewer):
    draft = submit(author=copywriter, body=SAFE_COPY)
    workflow.decide(draft, reviewer=reviewer, kind="approve", version=1)

    client = browser(copywriter)
    response = client.post(
        f"/drafts/{draft.pk}/publish", {"sha256": publish_form_sha256(client, draft)}, follow=True
    )

    assert "Published version 1: it may go out now." in text(response)


def test_rejecting_says_the_draft_is_closed(copywriter, reviewer):
    draft = submit(author=copywriter)
    response = browser(reviewer).post(
        f"/drafts/{draft.pk}/decide",
        {"decision": "reject", "version": 1, "comment": "Cure claims."},
        follow=True,
    )
    assert "Rejected the draft: it is closed" in text(response)
    assert "Save new version" not in text(response)


# --- Submitting and previews ----------------------------------------------------------------------


def test_the_preview_shows_flags_without_saving_anything(copywriter):
    client = browser(copywriter)
    events = AuditEvent.objects.count()

    response = client.post("/drafts/preview", {"body": RISKY_COPY + " <script>x</script>"})

    assert response.status_code == 200
    page = text(response)
    assert "flags found" in page and "nothing is saved yet" in page
    assert '<mark class="flagged' in page and 'id="p-seg-' in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "<script>" not in page
    assert not Draft.objects.exists() and not Version.objects.exists() and not Flag.objects.exists()
    assert AuditEvent.objects.count() == events


def test_the_preview_refuses_empty_text_and_non_writers(copywriter, reviewer):
    empty = browser(copywriter).post("/drafts/preview", {"body": "   "})
    assert empty.status_code == 422 and "The copy text is empty." in text(empty)
    assert browser(reviewer).post("/drafts/preview", {"body": RISKY_COPY}).status_code == 403
    assert browser(copywriter).get("/drafts/preview").status_code == 405


def test_the_check_button_shows_flags_before_submitting_and_keeps_the_text(copywriter):
    response = browser(copywriter).post(
        "/drafts/new", {"title": "Serum", "body": RISKY_COPY, "channel": "email", "action": "check"}
    )

    assert response.status_code == 200
    page = text(response)
    assert "flags found" in page
    assert RISKY_COPY.split(".")[0] in page and 'value="Serum"' in page
    assert not Draft.objects.exists()


def test_the_check_button_on_the_edit_form_previews_the_new_text(copywriter):
    draft = submit(author=copywriter, body=SAFE_COPY)

    response = browser(copywriter).post(
        f"/drafts/{draft.pk}/versions", {"body": RISKY_COPY, "action": "check"}
    )

    assert response.status_code == 200
    assert "flags found" in text(response)
    assert Version.objects.filter(draft=draft).count() == 1


def test_my_drafts_lists_only_my_drafts_with_their_status(copywriter, reviewer):
    mine = submit(author=copywriter, title="Mine, approved", body=SAFE_COPY)
    workflow.decide(mine, reviewer=reviewer, kind="approve", version=1)
    waiting = submit(author=copywriter, title="Mine, waiting")
    theirs = submit(author=make_user(roles=["copywriter"]), title="Someone else's")

    response = browser(copywriter).get("/mine")

    page = text(response)
    assert "approved" in row(page, mine) and "Approved</span> by Rhea Reviewer (v1)" in row(page, mine)
    assert "in review" in row(page, waiting) and "none yet" in row(page, waiting)
    assert f"/drafts/{theirs.pk}" not in page
    assert [d.pk for d in browser(copywriter).get("/mine?status=in_review").context["page"]] == [waiting.pk]


# --- Metrics --------------------------------------------------------------------------------------


def test_metrics_page_draws_the_charts_from_the_history(copywriter, reviewer, second_reviewer):
    waiting = submit(author=copywriter, body=RISKY_COPY)
    Version.objects.filter(draft=waiting).update(created_at=timezone.now() - timedelta(hours=5))
    decided = submit(author=copywriter, body=TWO_BLOCKERS)
    overrides = [workflow.Override(flag.pk, REASON) for flag in blockers_of(decided)]
    workflow.decide(decided, reviewer=reviewer, kind="approve", version=1, overrides=overrides)
    other = submit(author=copywriter, body=TWO_BLOCKERS)
    workflow.decide(
        other, reviewer=second_reviewer, kind="request_changes", version=1, comment="Source for the trial?"
    )

    response = browser(reviewer).get("/metrics?days=1")

    assert response.status_code == 200
    report = response.context["report"]
    assert report.queue_now == 1 and report.oldest_now_hours == 5.0
    assert report.decisions == 2
    page = text(response)
    assert page.count("<svg") == 7 and "<polyline" in page and "<rect" in page
    for title in [
        "Queue size",
        "Oldest item in the queue",
        "Time to decision",
        "Decisions per reviewer",
        "Flags per rule",
        "Override rate per rule",
        "Claims used per week",
    ]:
        assert title in page
    assert "Rhea Reviewer" in page and "Ravi Second" in page
    # Both blockers of the approved draft were overridden; the same rules on the sent-back draft were
    # reviewed too and not overridden: 50% each.
    rates = dict(report.override_chart.table)
    for flag in blockers_of(decided):
        assert rates[flag.rule] == "50%"


def test_metrics_page_counts_claims_used_and_library_changes_per_week(copywriter, reviewer):
    from reviewapp import claims
    from reviewapp.models import Claim

    claim = claims.file(
        Claim(
            text="clinically proven to reduce redness",
            evidence_source="Split-face trial",
            owner=reviewer,
            expires_on=timezone.localdate() + timedelta(days=30),
        ),
        actor=reviewer,
    )
    submit(author=copywriter, body="Clinically proven to reduce redness in 14 days.")
    old = submit(author=copywriter, body="Clinically proven to reduce redness, say our fans.")
    Version.objects.filter(draft=old).update(created_at=timezone.now() - timedelta(weeks=3))
    claims.expire(claim, actor=reviewer)

    rows = browser(reviewer).get("/metrics").context["report"].claims_chart.table
    assert len(rows) == 8
    assert rows[-1][1:] == ("1", "2")  # this week: one finding cleared; filed and expired
    assert rows[-4][1:] == ("1", "0")  # three weeks ago
    assert sum(int(row[1]) for row in rows) == 2


def test_metrics_windows_fall_back_to_a_week(reviewer):
    assert browser(reviewer).get("/metrics?days=13").context["report"].days == 7
    assert browser(reviewer).get("/metrics?days=90").context["report"].days == 90
