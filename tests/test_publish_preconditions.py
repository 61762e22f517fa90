"""Publish bound to the text the caller holds: `POST /api/v1/drafts/{id}/publish` with `{"sha256": ...}`
and the web publish form's hidden field both go through `workflow.publish(expected_sha256=...)`.
A hash that is not the current and the approved text's is 409 `sha256_mismatch` naming both hashes,
and nothing is published."""

import hashlib

import pytest
from django.test import Client

from reviewapp import workflow
from reviewapp.models import AuditEvent, Draft, Status
from tests.conftest import SAFE_COPY, api_as, assert_problem, make_user, publish_form_sha256, submit

pytestmark = pytest.mark.django_db

EDITED_COPY = SAFE_COPY + " Now in a refill pouch."


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.fixture
def writer():
    return make_user(roles=["copywriter"])


@pytest.fixture
def reviewer():
    return make_user(roles=["reviewer"])


@pytest.fixture
def approved(writer, reviewer) -> Draft:
    draft = submit(author=writer, body=SAFE_COPY)
    workflow.decide(draft, reviewer=reviewer, kind="approve", version=1)
    return draft


def published_events(draft: Draft) -> int:
    return AuditEvent.objects.filter(draft=draft, action="draft.published").count()


def status_of(draft: Draft) -> str:
    return Draft.objects.get(pk=draft.pk).status


# --- API ----------------------------------------------------------------------------------------------


def test_the_api_publishes_when_the_hash_is_the_approved_texts(approved):
    tool = api_as(make_user(roles=["integration"]))
    held = tool.get(f"/drafts/{approved.pk}").json()
    assert held["approval"]["sha256"] == held["version"]["sha256"] == sha256(SAFE_COPY)

    response = tool.post(f"/drafts/{approved.pk}/publish", {"sha256": held["approval"]["sha256"]})

    assert response.status_code == 200, response.content
    assert response.json()["status"] == Status.PUBLISHED
    assert published_events(approved) == 1


def test_upper_case_hex_is_the_same_hash(approved):
    tool = api_as(make_user(roles=["integration"]))
    response = tool.post(f"/drafts/{approved.pk}/publish", {"sha256": sha256(SAFE_COPY).upper()})
    assert response.status_code == 200, response.content


def test_the_api_refuses_a_hash_held_from_before_a_new_version(approved, writer):
    tool = api_as(make_user(roles=["integration"]))
    held = tool.get(f"/drafts/{approved.pk}").json()["approval"]["sha256"]
    workflow.add_version(approved, author=writer, body=EDITED_COPY)  # clears the approval

    response = tool.post(f"/drafts/{approved.pk}/publish", {"sha256": held})

    problem = assert_problem(response, 409, "sha256_mismatch")
    assert problem["current_sha256"] == sha256(EDITED_COPY)
    assert problem["approved_sha256"] is None  # nothing is approved now
    assert status_of(approved) == Status.IN_REVIEW and published_events(approved) == 0


def test_the_api_refuses_a_hash_held_from_before_a_new_version_was_approved(approved, writer, reviewer):
    """The dangerous case: without the precondition, this publish would go out with version 2, a text
    the tool never saw."""
    tool = api_as(make_user(roles=["integration"]))
    held = tool.get(f"/drafts/{approved.pk}").json()["approval"]["sha256"]
    workflow.add_version(approved, author=writer, body=EDITED_COPY)
    workflow.decide(Draft.objects.get(pk=approved.pk), reviewer=reviewer, kind="approve", version=2)

    response = tool.post(f"/drafts/{approved.pk}/publish", {"sha256": held})

    problem = assert_problem(response, 409, "sha256_mismatch")
    assert problem["current_sha256"] == problem["approved_sha256"] == sha256(EDITED_COPY)
    assert held not in response.content.decode()  # the body names the draft's hashes, not the input
    assert status_of(approved) == Status.APPROVED and published_events(approved) == 0
    # With the hash of what is approved now, it publishes.
    again = tool.post(f"/drafts/{approved.pk}/publish", {"sha256": sha256(EDITED_COPY)})
    assert again.status_code == 200 and again.json()["version"]["number"] == 2


def test_a_hash_of_the_current_text_before_approval_is_not_approved_yet(writer):
    draft = submit(author=writer, body=SAFE_COPY)
    tool = api_as(make_user(roles=["integration"]))
    response = tool.post(f"/drafts/{draft.pk}/publish", {"sha256": sha256(SAFE_COPY)})
    assert_problem(response, 409, "not_approved")


@pytest.mark.parametrize(
    "body",
    [{"sha256": "abc"}, {"sha256": "g" * 64}, {"sha256": 12}, {"sha256": sha256("x") + "0"}, {"hash": "0"}],
    ids=["short", "not_hex", "number", "65_chars", "unknown_field"],
)
def test_a_malformed_precondition_is_refused(approved, body):
    tool = api_as(make_user(roles=["integration"]))
    response = tool.post(f"/drafts/{approved.pk}/publish", body)
    assert_problem(response, 422, "validation_error")
    assert status_of(approved) == Status.APPROVED


def test_no_body_still_publishes_what_is_approved(approved):
    """The precondition is optional for tools written before it; the gate itself still holds."""
    response = api_as(make_user(roles=["integration"])).post(f"/drafts/{approved.pk}/publish")
    assert response.status_code == 200 and response.json()["status"] == Status.PUBLISHED


def test_the_openapi_schema_documents_the_precondition():
    schema = api_as(make_user(roles=["integration"])).get("/openapi.json").json()
    operation = schema["paths"]["/api/v1/drafts/{draft_id}/publish"]["post"]
    assert not operation["requestBody"].get("required", False)
    assert "PublishIn" in schema["components"]["schemas"]
    assert schema["components"]["schemas"]["PublishIn"]["properties"]["sha256"]


# --- the workflow, for every other caller --------------------------------------------------------


def test_the_workflow_checks_the_precondition_and_its_format(approved):
    tool = make_user(roles=["integration"])
    with pytest.raises(workflow.Conflict) as mismatch:
        workflow.publish(approved, actor=tool, expected_sha256=sha256("some other text"))
    assert mismatch.value.code == "sha256_mismatch"
    assert mismatch.value.extra == {"current_sha256": sha256(SAFE_COPY), "approved_sha256": sha256(SAFE_COPY)}
    with pytest.raises(workflow.Invalid) as malformed:
        workflow.publish(approved, actor=tool, expected_sha256="")
    assert malformed.value.code == "bad_sha256"
    assert status_of(approved) == Status.APPROVED
    assert (
        workflow.publish(approved, actor=tool, expected_sha256=sha256(SAFE_COPY)).status == Status.PUBLISHED
    )


# --- the web form -------------------------------------------------------------------------------------


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_publish_form_sends_the_approved_hash_and_publishes(approved, writer):
    client = browser(writer)
    assert publish_form_sha256(client, approved) == sha256(SAFE_COPY)

    response = client.post(
        f"/drafts/{approved.pk}/publish", {"sha256": publish_form_sha256(client, approved)}, follow=True
    )

    assert "Published version 1" in response.content.decode()
    assert status_of(approved) == Status.PUBLISHED


def test_a_publish_form_loaded_before_a_new_version_was_approved_publishes_nothing(
    approved, writer, reviewer
):
    client = browser(writer)
    stale_form = publish_form_sha256(client, approved)  # the page showed version 1
    workflow.add_version(approved, author=writer, body=EDITED_COPY)
    workflow.decide(Draft.objects.get(pk=approved.pk), reviewer=reviewer, kind="approve", version=2)

    response = client.post(f"/drafts/{approved.pk}/publish", {"sha256": stale_form}, follow=True)

    assert "not the current approved text" in response.content.decode()
    assert status_of(approved) == Status.APPROVED and published_events(approved) == 0
    assert publish_form_sha256(client, approved) == sha256(EDITED_COPY)  # the reloaded page shows v2


def test_a_publish_form_loaded_before_a_new_version_is_refused(approved, writer):
    client = browser(writer)
    stale_form = publish_form_sha256(client, approved)
    workflow.add_version(approved, author=writer, body=EDITED_COPY)

    response = client.post(f"/drafts/{approved.pk}/publish", {"sha256": stale_form}, follow=True)

    assert "not the current approved text" in response.content.decode()
    assert status_of(approved) == Status.IN_REVIEW and published_events(approved) == 0


def test_a_publish_post_without_the_hash_is_refused(approved, writer):
    response = browser(writer).post(f"/drafts/{approved.pk}/publish", {}, follow=True)

    assert "64 hexadecimal characters" in response.content.decode()
    assert status_of(approved) == Status.APPROVED and published_events(approved) == 0
