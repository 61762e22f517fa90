"""Briefs become reviewed drafts: masking on the way out, restoring on the way back, failures and
retries, idempotency, provenance, the API and the web form. The model is a real OpenAI-compatible
HTTP server on 127.0.0.1 (tests/openai_stub.py) that the official SDK talks to."""

import json
import logging
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.db.models import F
from django.test import Client
from django.utils import timezone

from generation import prompts
from generation.evaluate import half
from reviewapp import tasks, webhooks, workflow
from reviewapp.models import AuditEvent, Brief, BriefStatus, Draft, Provenance, Source, WebhookMessage
from tests.conftest import api_as, make_user
from tests.openai_stub import StubOpenAI, placeholder_response

DEV_PII = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "dev" / "pii.jsonl"
SENT_TYPES = ("PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "STREET_ADDRESS", "CREDIT_CARD")


@pytest.fixture
def stub():
    server = StubOpenAI().start()
    yield server
    server.stop()


@pytest.fixture
def generation(settings, stub):
    """Generation configured against the local stub, with short timeouts and backoff."""
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = stub.base_url
    settings.OPENAI_MODEL = "stub-model-1"
    settings.GENERATION_CONFIGURED = True
    settings.OPENAI_TIMEOUT_SECONDS = 0.5
    settings.OPENAI_MAX_RETRIES = 2
    settings.OPENAI_RETRY_BACKOFF_SECONDS = 0.01
    return stub


@pytest.fixture
def writer(db):
    return make_user(roles=["copywriter"], name="Cora Copywriter")


def request_brief(requester, **fields):
    defaults = {
        "product": "Linen bedding",
        "audience": "Existing customers",
        "key_points": "Soft, breathable, washes well.",
        "approved_facts": "100% European flax linen.",
        "variants": 2,
    }
    return workflow.request_brief(requester=requester, **{**defaults, **fields})


def run(brief):
    outcome = tasks.generate_from_brief(brief.pk)
    brief.refresh_from_db()
    return outcome


def dev_pii_rows() -> list[dict]:
    """Rows of the dev PII set (tuning half), read at run time: 3 per type we send."""
    if not DEV_PII.exists():
        pytest.skip(f"dev PII data not found at {DEV_PII} (it lives beside the repository, in shared/)")
    rows = [json.loads(line) for line in DEV_PII.read_text(encoding="utf-8").splitlines() if line.strip()]
    picked = []
    for kind in SENT_TYPES:
        of_kind = [r for r in rows if half(r["id"]) == "A" and any(s["type"] == kind for s in r["spans"])]
        picked += [row for row in of_kind[:3] if row not in picked]
    return picked


def values_of(rows: list[dict]) -> list[str]:
    return [
        row["text"][span["start"] : span["end"]]
        for row in rows
        for span in row["spans"]
        if span["type"] in SENT_TYPES and len(row["text"][span["start"] : span["end"]]) > 3
    ]


def sent_text(bodies: list[str]) -> str:
    """Every string the model received, decoded: the request bodies are JSON, and the brief inside the
    user message is JSON again, so a value with a line break or a quote only shows up once both are
    parsed (searching the raw bodies would miss it)."""
    strings = []
    for body in bodies:
        for message in json.loads(body)["messages"]:
            strings.append(message["content"])
            for payload in re.findall(r"<brief>\n(.*)\n</brief>", message["content"], flags=re.DOTALL):
                strings.extend(str(value) for value in json.loads(payload).values())
    return "\n".join(strings)


def leaks(values: list[str], sent: str) -> list[str]:
    """Values found in what was sent, whole or by any of their lines (a multi-line address)."""
    return [
        value
        for value in values
        if value in sent or any(len(line) > 5 and line in sent for line in value.splitlines())
    ]


def test_the_leak_search_finds_an_unmasked_multi_line_value_in_a_request():
    """The check below must be able to fail: a value sent unmasked is found, even across lines."""
    address = 'Flat 2, "The Maltings"\n14 Quay Street\nBristol'
    body = json.dumps(
        {"messages": prompts.build({"key_points": f"Ship to {address}."}, variants=1).as_list()}
    )
    assert address not in body  # double-escaped in the raw request
    assert leaks([address, "nothing@example.org"], sent_text([body])) == [address]


# --- The whole way, with personal data from the dev set -------------------------------------------


def test_no_personal_value_reaches_the_model_and_drafts_come_back_restored(
    generation, writer, caplog, capsys
):
    caplog.set_level(logging.DEBUG)
    rows = dev_pii_rows()
    values = values_of(rows)
    assert len(values) >= 10
    texts = [row["text"] for row in rows]
    briefs = []
    for start in range(0, len(texts), 3):
        chunk = texts[start : start + 3]
        brief = request_brief(
            writer,
            audience=chunk[0],
            key_points="\n".join(chunk[1:]),
            approved_facts=chunk[0] if len(chunk) == 1 else chunk[-1],
            variants=2,
        )
        assert run(brief) == "done", brief.error
        briefs.append(brief)

    sent = sent_text(generation.bodies)
    assert len(generation.bodies) == len(briefs)
    assert any("\n" in value for value in values)  # the decoded search is what catches these
    leaked = leaks(values, sent)
    assert leaked == [], f"personal values reached the model: {len(leaked)}"
    assert "<PERSON_1>" in sent and "<EMAIL_1>" in sent and "<PHONE_1>" in sent

    drafts = Draft.objects.filter(brief__in=briefs).select_related("current_version")
    assert drafts.count() == 2 * len(briefs)
    bodies = "\n".join(draft.current_version.body for draft in drafts)
    assert "<PERSON_" not in bodies and "<EMAIL_" not in bodies
    restored = [value for value in values if value in bodies]
    assert len(restored) == len(values), "every masked value is put back into the drafts"
    for draft in drafts:
        assert draft.status == "in_review"
        assert draft.current_version.source == Source.GENERATED
        assert draft.author == writer

    # Nothing personal in what we keep about the call, in the audit trail or in the logs.
    stored = json.dumps(list(Provenance.objects.values("masked_prompt", "entity_counts", "request_id")))
    audit_data = json.dumps(list(AuditEvent.objects.values_list("data", flat=True)))
    logs = caplog.text + "".join(capsys.readouterr())
    for value in values:
        assert value not in stored
        assert value not in audit_data
        assert value not in logs


# --- Failures: clean, explained, nothing lost ------------------------------------------------------


def test_a_missing_placeholder_fails_the_brief_cleanly(generation, writer):
    generation.then(("content", placeholder_response(2, "Hello there, no names at all.")))
    brief = request_brief(writer, audience="Regulars like Ottilie Vanderwaal")
    assert run(brief) == "failed"
    assert brief.status == BriefStatus.FAILED and brief.error_code == "missing_placeholder"
    assert "<PERSON_1>" in brief.error and "Vanderwaal" not in brief.error
    assert not Draft.objects.filter(brief=brief).exists()
    assert brief.audience == "Regulars like Ottilie Vanderwaal"  # the brief itself is kept


def test_an_invented_placeholder_fails_the_brief_cleanly(generation, writer):
    generation.then(("content", placeholder_response(2, "Dear <PERSON_1> and <PERSON_7>!")))
    brief = request_brief(writer, audience="Regulars like Ottilie Vanderwaal")
    assert run(brief) == "failed"
    assert brief.error_code == "invented_placeholder" and "<PERSON_7>" in brief.error
    assert not Draft.objects.filter(brief=brief).exists()


def test_failure_records_brief_failed_and_queues_the_webhook(generation, writer):
    endpoint, _ = webhooks.create_endpoint(url="https://cms.example.com/hooks", event_types=["brief.failed"])
    generation.then(("refusal",))
    brief = request_brief(writer)

    assert run(brief) == "failed"

    assert brief.error_code == "refused"
    event = AuditEvent.objects.get(action="brief.failed", object_id=str(brief.pk))
    assert event.data == {"code": "refused", "attempts": 1}
    message = WebhookMessage.objects.get(event_type="brief.failed")
    body = json.loads(message.body)
    assert body["data"]["brief_id"] == brief.pk and body["data"]["code"] == "refused"
    assert body["data"]["error"] == brief.error
    assert body["data"]["requested_by"] == {"username": writer.username, "name": writer.name}
    assert message.deliveries.get().endpoint == endpoint


@pytest.mark.parametrize(
    ("content", "code"),
    [
        ("this is not json", "invalid_output"),
        (json.dumps({"variants": [{"headline": "only one", "body": "x", "cta": "y"}]}), "invalid_output"),
        (json.dumps({"copy": "wrong shape"}), "invalid_output"),
    ],
)
def test_invalid_answers_fail_the_brief(generation, writer, content, code):
    generation.then(("content", content))
    brief = request_brief(writer)
    assert run(brief) == "failed"
    assert brief.error_code == code and brief.error


def test_timeouts_are_retried_with_backoff_then_reported(generation, writer):
    generation.then(("sleep", 1.5), ("sleep", 1.5), ("sleep", 1.5))
    brief = request_brief(writer)
    assert run(brief) == "failed"
    assert brief.error_code == "timeout"
    assert "after 3 attempts" in brief.error
    assert len(generation.bodies) == 3


def test_429_and_500_are_retried_and_then_the_answer_is_used(generation, writer):
    generation.then(("status", 429), ("status", 500))
    brief = request_brief(writer)
    assert run(brief) == "done"
    assert len(generation.bodies) == 3
    assert Draft.objects.filter(brief=brief).count() == 2
    provenance = Provenance.objects.filter(brief=brief).first()
    assert provenance.request_id == "req_3"


def test_server_errors_past_the_retry_budget_are_reported(generation, writer):
    generation.then(("status", 500), ("status", 502), ("status", 503))
    brief = request_brief(writer)
    assert run(brief) == "failed"
    assert brief.error_code == "provider_error" and "HTTP 503" in brief.error
    assert len(generation.bodies) == 3


def test_a_used_up_quota_is_not_retried(generation, writer):
    generation.then(("status", 429, {"code": "insufficient_quota", "type": "insufficient_quota"}))
    brief = request_brief(writer)
    assert run(brief) == "failed"
    assert brief.error_code == "quota_exceeded"
    assert len(generation.bodies) == 1


# --- Idempotency -----------------------------------------------------------------------------------


def test_running_the_task_twice_creates_no_duplicates(generation, writer):
    brief = request_brief(writer, variants=3)
    assert run(brief) == "done"
    assert run(brief) == "skipped"
    assert Draft.objects.filter(brief=brief).count() == 3
    assert len(generation.bodies) == 1


def test_a_worker_killed_mid_call_is_taken_over_once_and_its_late_answer_is_refused(generation, writer):
    brief = request_brief(writer, variants=2)
    first = workflow.claim_brief(brief.pk)  # a worker took it ... and died during the call
    assert first is not None
    assert workflow.claim_brief(brief.pk) is None  # while the claim is fresh, nobody else runs it
    Brief.objects.filter(pk=brief.pk).update(claimed_at=F("claimed_at") - timedelta(hours=1))

    assert run(brief) == "done"  # the retried task takes over the stale claim
    assert brief.attempts == 2
    assert Draft.objects.filter(brief=brief).count() == 2

    # Had the first worker come back late, its copy would be refused, not added.
    with pytest.raises(workflow.Conflict):
        workflow.complete_brief(first, copies=[workflow.GeneratedCopy("Late", "Late copy")], provenance={})
    assert Draft.objects.filter(brief=brief).count() == 2


def test_a_brief_interrupted_too_often_is_failed(generation, writer, settings):
    settings.GENERATION_MAX_ATTEMPTS = 1
    brief = request_brief(writer)
    assert workflow.claim_brief(brief.pk) is not None
    Brief.objects.filter(pk=brief.pk).update(claimed_at=timezone.now() - timedelta(hours=1))
    assert run(brief) == "skipped"
    assert brief.status == BriefStatus.FAILED and brief.error_code == "worker_stopped"


# --- Provenance, own-work rule ---------------------------------------------------------------------


def test_provenance_is_kept_per_generated_version_and_shown_in_api_and_page(generation, writer):
    brief = request_brief(writer, audience="Fans of Ottilie Vanderwaal, write to ov@example.org")
    assert run(brief) == "done"
    draft = Draft.objects.filter(brief=brief).first()
    response = api_as(writer).get(f"/drafts/{draft.pk}")
    provenance = response.json()["provenance"]
    assert provenance["model"] == "stub-model-1"
    assert provenance["prompt_template_version"] == "brief-v1"
    assert provenance["entity_counts"] == {"EMAIL": 1, "PERSON": 1}
    assert provenance["usage"] == {"prompt_tokens": 321, "completion_tokens": 123, "total_tokens": 444}
    assert provenance["request_id"] == "req_1" and provenance["latency_ms"] >= 0
    assert provenance["brief"] == brief.pk
    sent = json.loads(generation.bodies[0])["messages"]
    assert provenance["masked_prompt"] == sent  # exactly as sent
    assert "Vanderwaal" not in json.dumps(provenance)
    assert "Vanderwaal" in response.json()["version"]["body"]  # restored in the draft itself

    human = workflow.submit(author=writer, title="Plain", body="A plain human draft.")
    assert api_as(writer).get(f"/drafts/{human.pk}").json()["provenance"] is None

    client = Client()
    client.force_login(writer)
    page = client.get(f"/drafts/{draft.pk}").content.decode()
    assert "Provenance of version 1" in page and "stub-model-1" in page and "req_1" in page
    assert "&lt;PERSON_1&gt;" in page and "EMAIL \u00d7 1" in page

    # A person's edit does not hide where the copy came from, in the API or on the page.
    edited = api_as(writer).post(f"/drafts/{draft.pk}/versions", {"body": "Edited by hand: plain copy."})
    assert edited.status_code == 201, edited.content
    after = api_as(writer).get(f"/drafts/{draft.pk}").json()
    assert after["version"]["number"] == 2 and after["version"]["source"] == "human"
    assert after["provenance"]["version"] == 1 and after["provenance"]["request_id"] == "req_1"
    listed = api_as(writer).get("/drafts").json()["results"]
    assert next(item for item in listed if item["id"] == draft.pk)["provenance"]["version"] == 1
    page = client.get(f"/drafts/{draft.pk}").content.decode()
    assert "Provenance of version 1" in page and "edited by people since" in page


def test_provenance_is_shown_only_to_those_who_may_see_the_brief(generation, writer):
    """What was sent to the model belongs with the brief: its requester, reviewers and admins see it;
    another copywriter or an integration, who get 404 for the brief, do not see it through the draft."""
    brief = request_brief(writer)
    assert run(brief) == "done"
    draft = Draft.objects.filter(brief=brief).first()
    reviewer = make_user(roles=["reviewer"])
    for who, sees in [
        (writer, True),
        (reviewer, True),
        (make_user(roles=["admin"]), True),
        (make_user(roles=["copywriter"]), False),
        (make_user(roles=["integration"]), False),
    ]:
        api = api_as(who)
        if not sees:
            assert api.get(f"/briefs/{brief.pk}").status_code == 404
        detail = api.get(f"/drafts/{draft.pk}")
        assert detail.status_code == 200
        assert (detail.json()["provenance"] is not None) is sees, who
        listed = next(item for item in api.get("/drafts").json()["results"] if item["id"] == draft.pk)
        assert (listed["provenance"] is not None) is sees
        client = Client()
        client.force_login(who)
        page = client.get(f"/drafts/{draft.pk}")
        if page.status_code == 200:
            assert (
                "masked" in page.content.decode().lower() and "Provenance of version" in page.content.decode()
            ) is sees
    # The reviewer deciding on it gets the provenance in the decision's draft too.
    decided = api_as(reviewer).post(
        f"/drafts/{draft.pk}/decisions",
        {"decision": "request_changes", "version": 1, "comment": "Name the product."},
    )
    assert decided.status_code == 201, decided.content
    assert decided.json()["draft"]["provenance"] is not None


def test_the_requester_of_a_brief_never_approves_its_drafts(generation, db):
    both = make_user(roles=["copywriter", "reviewer"])
    other = make_user(roles=["copywriter"])
    brief = request_brief(both)
    # Even a draft written by someone else, if it came from this brief, is the requester's own work.
    draft = workflow.submit(author=other, title="T", body="Some copy.", brief=brief, brief_variant=9)
    assert workflow.wrote_any_version(draft, both)
    with pytest.raises(workflow.Forbidden):
        workflow.decide(draft, reviewer=both, kind="approve", version=1)


# --- API -------------------------------------------------------------------------------------------


def test_api_post_brief_queues_it_and_get_shows_status_and_drafts(generation, writer):
    api = api_as(writer)
    payload = {"product": "Linen bedding", "key_points": "Soft.", "variants": 2, "channel": "email"}
    created = api.post("/briefs", payload, headers={"Idempotency-Key": "brief-1"})
    assert created.status_code == 202, created.content
    body = created.json()
    assert body["status"] == "queued" and body["drafts"] == [] and body["error"] is None
    replay = api.post("/briefs", payload, headers={"Idempotency-Key": "brief-1"})
    assert replay.status_code == 202 and replay["Idempotent-Replayed"] == "true"
    assert Brief.objects.count() == 1

    tasks.generate_from_brief(body["id"])
    shown = api.get(f"/briefs/{body['id']}").json()
    assert shown["status"] == "done"
    assert [d["variant"] for d in shown["drafts"]] == [1, 2]
    assert all(d["status"] == "in_review" for d in shown["drafts"])


def test_api_shows_the_failure_reason(generation, writer):
    generation.then(("status", 429, {"code": "insufficient_quota"}))
    api = api_as(writer)
    created = api.post("/briefs", {"product": "Linen"}).json()
    tasks.generate_from_brief(created["id"])
    shown = api.get(f"/briefs/{created['id']}").json()
    assert shown["status"] == "failed"
    assert shown["error"]["code"] == "quota_exceeded" and "quota" in shown["error"]["message"]


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"product": "X", "variants": 6}, 422, "validation_error"),
        ({"product": "X", "surprise": 1}, 422, "validation_error"),
        ({"product": " "}, 422, "empty_field"),
        ({"product": "X", "channel": "fax"}, 422, "validation_error"),
    ],
)
def test_api_refuses_bad_briefs_with_problem_details(generation, writer, payload, status, code):
    response = api_as(writer).post("/briefs", payload)
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert not Brief.objects.exists()


def test_only_copywriters_and_integrations_ask_and_others_cannot_read_foreign_briefs(generation, writer):
    reviewer = make_user(roles=["reviewer"])
    other_writer = make_user(roles=["copywriter"])
    assert api_as(reviewer).post("/briefs", {"product": "X"}).status_code == 403
    created = api_as(writer).post("/briefs", {"product": "X"}).json()
    assert api_as(other_writer).get(f"/briefs/{created['id']}").status_code == 404
    assert api_as(reviewer).get(f"/briefs/{created['id']}").status_code == 200


def test_api_says_503_when_generation_is_not_configured(writer, settings):
    settings.GENERATION_CONFIGURED = False
    response = api_as(writer).post("/briefs", {"product": "X"})
    assert response.status_code == 503
    assert response.json()["code"] == "generation_not_configured"
    assert "OPENAI_BASE_URL" in response.json()["detail"]


# --- Web form --------------------------------------------------------------------------------------


def test_the_form_explains_how_to_configure_generation_when_it_is_not(writer, settings):
    settings.GENERATION_CONFIGURED = False
    client = Client()
    client.force_login(writer)
    page = client.get("/briefs/new").content.decode()
    assert "Generation is not configured" in page
    assert "OPENAI_API_KEY" in page and "OPENAI_BASE_URL" in page and "OpenAI-compatible" in page
    refused = client.post(
        "/briefs/new", {"product": "Linen", "channel": "email", "variants": 2, "language": "en"}
    )
    assert refused.status_code == 400 and not Brief.objects.exists()


def test_a_copywriter_asks_through_the_form_and_sees_drafts_or_the_reason(generation, writer):
    client = Client()
    client.force_login(writer)
    assert "Generation is not configured" not in client.get("/briefs/new").content.decode()
    form = {"product": "Linen bedding", "channel": "email", "variants": "2", "language": "en", "tone": "warm"}
    response = client.post("/briefs/new", form)
    brief = Brief.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/briefs/{brief.pk}"
    assert 'http-equiv="refresh"' in client.get(f"/briefs/{brief.pk}").content.decode()

    run(brief)
    page = client.get(f"/briefs/{brief.pk}").content.decode()
    assert "Variant 1" in page and 'http-equiv="refresh"' not in page

    generation.then(("refusal",))
    client.post("/briefs/new", form)
    failed = Brief.objects.latest("id")
    run(failed)
    page = client.get(f"/briefs/{failed.pk}").content.decode()
    assert "Generation failed" in page and "refused" in page


# --- Through django-q2 -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_task_queue_gets_only_the_brief_id_and_runs_the_task(generation, settings):
    from django_q.models import OrmQ, Success
    from django_q.signing import SignedPackage

    writer = make_user(roles=["copywriter"])
    brief = request_brief(writer, audience="For Ottilie Vanderwaal")
    queued = OrmQ.objects.get()
    task = SignedPackage.loads(queued.payload)
    assert task["func"] == "reviewapp.tasks.generate_from_brief" and task["args"] == (brief.pk,)
    assert "Vanderwaal" not in json.dumps(task, default=str)

    from django_q.tasks import async_task

    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}
    async_task("reviewapp.tasks.generate_from_brief", brief.pk, sync=True)
    brief.refresh_from_db()
    assert brief.status == BriefStatus.DONE
    assert Success.objects.filter(func="reviewapp.tasks.generate_from_brief").exists()


def test_masking_and_flagging_share_one_spacy_pipeline(settings):
    from reviewapp import flagging, pii

    settings.MASKING_ALLOW_LIST = ["Aurora Lindqvist"]
    masker = pii.get_masker()
    assert masker.nlp is flagging.load_nlp()
    assert masker.allow_list == ("Aurora Lindqvist",)
    assert masker.find("Meet Aurora Lindqvist serum.") == []


def test_operators_see_briefs_and_provenance_read_only_in_the_admin(generation, writer):
    brief = request_brief(writer)
    run(brief)
    admin_user = make_user(roles=["admin"])
    client = Client()
    client.force_login(admin_user)
    listing = client.get("/admin/reviewapp/brief/")
    assert listing.status_code == 200 and "Linen bedding" in listing.content.decode()
    assert client.get("/admin/reviewapp/provenance/").status_code == 200
    assert client.get("/admin/reviewapp/brief/add/").status_code == 403


def test_system_checks_refuse_a_generation_budget_longer_than_a_task_may_run(settings):
    from reviewapp.checks import check_generation

    assert check_generation(None) == []
    settings.OPENAI_TIMEOUT_SECONDS = 90  # three attempts of 90 s exceed the 200 s task timeout
    assert [error.id for error in check_generation(None)] == ["reviewapp.E006"]
    settings.OPENAI_TIMEOUT_SECONDS = 60
    settings.GENERATION_CLAIM_SECONDS = settings.Q_CLUSTER["retry"] + 1
    assert [error.id for error in check_generation(None)] == ["reviewapp.E007"]
