"""The approval gate end to end over HTTP with real tokens, in the order of the foundation issue."""

import pytest
from django.core.management import CommandError, call_command

from reviewapp import leases, workflow
from reviewapp.models import AuditEvent, Draft
from tests.conftest import RISKY_COPY, alter_audit_row, api_as, make_user

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_gate_story_over_http(capsys):
    writer = make_user(roles=["copywriter"], name="Cora Copywriter")
    tool = make_user(roles=["integration"], name="Campaign Tool")
    rhea = make_user(roles=["reviewer"], name="Rhea Reviewer")
    both = make_user(roles=["copywriter", "reviewer"], name="Bo Both")
    as_writer, as_tool, as_rhea, as_both = api_as(writer), api_as(tool), api_as(rhea), api_as(both)

    # A copywriter submits copy with an exaggeration, an unverifiable statistic and false urgency.
    created = as_writer.post("/drafts", {"title": "Serum launch", "body": RISKY_COPY, "channel": "email"})
    assert created.status_code == 201, created.content
    draft = created.json()
    draft_id, body = draft["id"], draft["version"]["body"]
    assert draft["status"] == "in_review"
    assert {"exaggeration", "unverifiable", "manipulation"} <= {flag["category"] for flag in draft["flags"]}
    for flag in draft["flags"]:
        assert body[flag["start"] : flag["end"]] == flag["text"]
    blockers = [flag for flag in draft["flags"] if flag["severity"] == "blocker"]
    assert blockers, "risky copy must carry at least one blocker"

    # Publishing now is refused.
    assert as_tool.post(f"/drafts/{draft_id}/publish").status_code == 409

    # Neither the copywriter nor an integration may decide.
    decision = {"decision": "approve", "version": 1}
    forbidden = as_writer.post(f"/drafts/{draft_id}/decisions", decision)
    assert forbidden.status_code == 403
    assert forbidden["Content-Type"] == "application/problem+json"
    assert as_tool.post(f"/drafts/{draft_id}/decisions", decision).status_code == 403

    # A reviewer approving with open blockers and no overrides is refused, naming the blockers.
    refused = as_rhea.post(f"/drafts/{draft_id}/decisions", decision)
    assert refused.status_code == 409
    assert refused.json()["code"] == "open_blockers"
    assert sorted(refused.json()["flags"]) == sorted(flag["id"] for flag in blockers)

    # With a written override for each blocker the approval goes through and names the reviewer.
    overrides = [
        {"flag": flag["id"], "reason": "Stock count comes live from the shop feed."} for flag in blockers
    ]
    approved = as_rhea.post(f"/drafts/{draft_id}/decisions", {**decision, "overrides": overrides})
    assert approved.status_code == 201, approved.content
    assert approved.json()["draft"]["status"] == "approved"
    approval = approved.json()["draft"]["approval"]
    assert approval["reviewer"] == {"username": rhea.username, "name": "Rhea Reviewer"}
    assert approval["version"] == 1 and approval["sha256"] == draft["version"]["sha256"]

    # A new version (here by the copywriter+reviewer) sends the draft back to review and clears the approval.
    edited = as_both.post(
        f"/drafts/{draft_id}/versions", {"body": "A gentle serum with niacinamide. Offer ends 30 November."}
    )
    assert edited.status_code == 201, edited.content
    assert edited.json()["status"] == "in_review"
    assert edited.json()["approval"] is None
    assert edited.json()["version"]["number"] == 2
    assert as_tool.post(f"/drafts/{draft_id}/publish").status_code == 409

    # A decision naming the old version is refused.
    stale = as_rhea.post(f"/drafts/{draft_id}/decisions", {"decision": "approve", "version": 1})
    assert stale.status_code == 409
    assert stale.json()["code"] == "stale_version"

    # Someone who wrote a version may not approve, even holding the reviewer role.
    own = as_both.post(f"/drafts/{draft_id}/decisions", {"decision": "approve", "version": 2})
    assert own.status_code == 403
    assert own.json()["code"] == "own_work"

    # Approving the new version, then publishing by the integration.
    second = as_rhea.post(f"/drafts/{draft_id}/decisions", {"decision": "approve", "version": 2})
    assert second.status_code == 201, second.content
    published = as_tool.post(f"/drafts/{draft_id}/publish")
    assert published.status_code == 200, published.content
    assert published.json()["status"] == "published"
    assert published.json()["version"]["number"] == 2

    # The draft's events tell the whole story, in order.
    events = as_tool.get(f"/drafts/{draft_id}/events")
    assert events.status_code == 200
    actions = [event["action"] for event in events.json()["results"]]
    assert actions == [
        "draft.submitted",
        "flags.computed",
        *["flag.overridden"] * len(blockers),
        "decision.approve",
        "version.added",
        "flags.computed",
        "decision.approve",
        "draft.published",
    ]
    actors = {event["action"]: event["actor"]["username"] for event in events.json()["results"]}
    assert actors["draft.published"] == tool.username and actors["version.added"] == both.username

    # The audit chain verifies, and stops verifying once a row is altered in the database.
    call_command("verify_audit")
    assert "intact" in capsys.readouterr().out
    tampered = AuditEvent.objects.get(draft_id=draft_id, action="draft.published")
    alter_audit_row(tampered.pk, '{"version": 1}')
    with pytest.raises(CommandError) as broken:
        call_command("verify_audit")
    assert broken.value.returncode == 1
    assert f"seq {tampered.seq}" in str(broken.value)


def test_an_override_written_by_another_reviewer_does_not_open_the_gate():
    writer = make_user(roles=["copywriter"])
    rhea, rex = make_user(roles=["reviewer"]), make_user(roles=["reviewer"])
    created = api_as(writer).post("/drafts", {"title": "Serum", "body": RISKY_COPY}).json()
    draft = Draft.objects.get(pk=created["id"])
    blockers = list(draft.current_version.flags.filter(severity="blocker"))
    for flag in blockers:  # Rex overrides every blocker on the version Rhea is about to approve
        workflow.override_flag(flag, reviewer=rex, reason="Checked the stock feed and the study.")
    leases.release(draft, reviewer=rex)

    refused = api_as(rhea).post(f"/drafts/{draft.pk}/decisions", {"decision": "approve", "version": 1})

    assert refused.status_code == 409
    assert refused.json()["code"] == "open_blockers"
    assert sorted(refused.json()["flags"]) == sorted(flag.pk for flag in blockers)
