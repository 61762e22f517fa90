"""Bad input on every API operation gets a clear problem+json answer and changes nothing (SPEC §7, §10).

Each case sends one defective request, with a token whose role could otherwise do the operation,
and checks the status, the `code`, and that no draft, version, decision, flag or audit event was
written. Also here: Idempotency-Key, cursor pagination, filters, the rate limit and the OpenAPI
document, which promises all of these error answers.
"""

import json
import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from reviewapp import accounts, workflow
from reviewapp.api import idempotency
from reviewapp.models import (
    ApiToken,
    AuditEvent,
    Decision,
    Draft,
    Flag,
    FlagStatus,
    IdempotencyRecord,
    Status,
    User,
    Version,
)
from tests.conftest import RISKY_COPY, SAFE_COPY, ApiClient, api_as, assert_problem, make_user, submit

pytestmark = pytest.mark.django_db

MISSING_DRAFT = 987_654

# name: (method, path; "{id}" is the draft the operation acts on)
OPERATIONS = {
    "create_draft": ("post", "/drafts"),
    "list_drafts": ("get", "/drafts"),
    "get_draft": ("get", "/drafts/{id}"),
    "create_version": ("post", "/drafts/{id}/versions"),
    "create_decision": ("post", "/drafts/{id}/decisions"),
    "publish_draft": ("post", "/drafts/{id}/publish"),
    "list_events": ("get", "/drafts/{id}/events"),
}
WITH_DRAFT_ID = [name for name, (_, path) in OPERATIONS.items() if "{id}" in path]
CREATING = [name for name, (method, _) in OPERATIONS.items() if method == "post"]
WITH_BODY = ["create_draft", "create_version", "create_decision"]

# A request each operation would accept, so that the one defect under test is the only thing wrong.
VALID_BODY = {
    "create_draft": {"title": "Autumn range", "body": SAFE_COPY, "channel": "email"},
    "create_version": {"body": SAFE_COPY + " Now with a refill pouch."},
    "create_decision": {
        "decision": "request_changes",
        "version": 1,
        "comment": "Say which claims the study supports.",
    },
}
# The field of each body that carries free text, to break it in different ways.
TEXT_FIELD = {"create_draft": "body", "create_version": "body", "create_decision": "comment"}
ACTOR_ROLE = {name: "reviewer" if name == "create_decision" else "copywriter" for name in OPERATIONS}


@dataclass
class World:
    author: User
    in_review: Draft  # risky copy with flags, version 1, awaiting review
    approved: Draft  # safe copy approved by a reviewer, ready to publish

    def draft_for(self, operation: str) -> Draft:
        return self.approved if operation == "publish_draft" else self.in_review


@pytest.fixture
def world(db) -> World:
    author = make_user(roles=["copywriter"])
    approved = submit(author=author, body=SAFE_COPY, title="Serum refill")
    workflow.decide(approved, reviewer=make_user(roles=["reviewer"]), kind="approve", version=1)
    return World(author=author, in_review=submit(author=author, body=RISKY_COPY), approved=approved)


def actor_for(operation: str) -> User:
    return make_user(roles=[ACTOR_ROLE[operation]])


def call(api: ApiClient, operation: str, world: World | None, *, draft_id: int | None = None, **kwargs):
    """Send `operation`; a POST with a body sends its valid body unless `body` or `raw` is given."""
    method, path = OPERATIONS[operation]
    if "{id}" in path:
        path = path.format(id=draft_id or world.draft_for(operation).pk)
    if method == "get":
        return api.get(path, **kwargs)
    if "body" not in kwargs and "raw" not in kwargs:
        kwargs["body"] = VALID_BODY.get(operation)
    return api.post(path, kwargs.pop("body", None), **kwargs)


def snapshot() -> dict:
    """Everything a refused request must leave alone."""
    counts = {model.__name__: model.objects.count() for model in (Draft, Version, Decision, Flag, AuditEvent)}
    return {
        **counts,
        "overridden flags": Flag.objects.filter(status=FlagStatus.OVERRIDDEN).count(),
        "statuses": dict(Draft.objects.values_list("pk", "status")),
    }


def refused(response, status: int, code: str, before: dict) -> dict:
    problem = assert_problem(response, status, code)
    # The path, unless it names no resource by number (then it may be whatever the caller typed).
    assert problem.get("instance") in (None, response.request["PATH_INFO"])
    assert snapshot() == before, "a refused request must change nothing"
    return problem


# --- Authentication -------------------------------------------------------------------------------


def _no_token(operation):
    return ApiClient(None)


def _unknown_token(operation):
    return ApiClient("rva_0badc0de_" + "x" * 43)


def _overlong_token(operation):
    return ApiClient("rva_" + "x" * 5000)


def _revoked_token(operation):
    user = actor_for(operation)
    api = api_as(user)
    assert api.get("/drafts").status_code == 200  # it worked until it was revoked
    assert accounts.revoke_token(ApiToken.objects.get(user=user), actor=None)
    return api


def _wrong_scheme(operation):
    api = api_as(actor_for(operation))
    api.headers["Authorization"] = api.headers["Authorization"].replace("Bearer", "Basic")
    return api


TOKEN_DEFECTS = {
    "missing": _no_token,
    "unknown": _unknown_token,
    "overlong": _overlong_token,
    "revoked": _revoked_token,
    "not_bearer": _wrong_scheme,
}


@pytest.mark.parametrize("defect", TOKEN_DEFECTS)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_requests_without_a_live_token_are_refused(world, operation, defect):
    api = TOKEN_DEFECTS[defect](operation)
    before = snapshot()

    response = call(api, operation, world)

    refused(response, 401, "unauthenticated", before)
    assert response["WWW-Authenticate"].startswith("Bearer")


# --- Bodies ---------------------------------------------------------------------------------------


def _json_bytes(value) -> bytes:
    return json.dumps(value).encode()


def _with_text(operation, text):
    return {**VALID_BODY[operation], TEXT_FIELD[operation]: text}


BODY_DEFECTS = {
    # name: (request arguments for an operation, expected status, expected code)
    "empty": (lambda op: {"raw": b""}, 400, "empty_body"),
    "malformed_json": (lambda op: {"raw": _json_bytes(VALID_BODY[op])[:-1]}, 400, "malformed_body"),
    "single_quoted_json": (lambda op: {"raw": b"{'body': 'text'}"}, 400, "malformed_body"),
    "invalid_utf8": (
        lambda op: {"raw": _json_bytes(_with_text(op, "Caf\udcff")).replace(b"\\udcff", b"\xff")},
        400,
        "malformed_body",
    ),
    "raw_control_byte_in_string": (
        lambda op: {"raw": _json_bytes(_with_text(op, "a\x01b")).replace(b"\\u0001", b"\x01")},
        400,
        "malformed_body",
    ),
    "json_list": (lambda op: {"body": [VALID_BODY[op]]}, 422, "validation_error"),
    "json_string": (lambda op: {"body": "please review"}, 422, "validation_error"),
    "json_null": (lambda op: {"raw": b"null"}, 422, "validation_error"),
    "unknown_field": (lambda op: {"body": {**VALID_BODY[op], "colour": "red"}}, 422, "validation_error"),
    "text_not_a_string": (lambda op: {"body": _with_text(op, ["not", "text"])}, 422, "validation_error"),
    "oversize": (
        lambda op: {"body": _with_text(op, "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE)},
        413,
        "body_too_large",
    ),
    "nul_character": (lambda op: {"body": _with_text(op, "Fresh\x00 scent")}, 422, "invalid"),
    "escape_character": (lambda op: {"body": _with_text(op, "Fresh \x1b[2J scent")}, 422, "invalid"),
}


@pytest.mark.parametrize("defect", BODY_DEFECTS)
@pytest.mark.parametrize("operation", WITH_BODY)
def test_defective_bodies_are_refused(world, operation, defect):
    make_request, status, code = BODY_DEFECTS[defect]
    api = api_as(actor_for(operation))
    before = snapshot()

    response = call(api, operation, world, **make_request(operation))

    problem = refused(response, status, code, before)
    if code == "validation_error":
        assert problem["errors"], "a validation problem lists what is wrong"
    if status == 413:
        assert problem["limit_bytes"] == settings.DATA_UPLOAD_MAX_MEMORY_SIZE


WRONG_VALUES = [
    # (operation, body, field named in the problem, expected code)
    ("create_draft", {"title": 123, "body": SAFE_COPY}, "title", "validation_error"),
    ("create_draft", {"title": "Sale", "body": SAFE_COPY, "channel": "fax"}, "channel", "validation_error"),
    (
        "create_draft",
        {"title": "Sale", "body": SAFE_COPY, "external_id": 7},
        "external_id",
        "validation_error",
    ),
    ("create_draft", {"body": SAFE_COPY}, "title", "validation_error"),
    ("create_draft", {"title": "Sale", "body": SAFE_COPY, "language": "English!"}, None, "bad_language"),
    ("create_draft", {"title": "   ", "body": SAFE_COPY}, None, "empty_title"),
    ("create_draft", {"title": "Line one\nline two", "body": SAFE_COPY}, None, "invalid_title"),
    ("create_draft", {"title": "Sale", "body": " \n "}, None, "empty_body"),
    ("create_version", {"body": 42}, "body", "validation_error"),
    ("create_version", {"body": ""}, None, "empty_body"),
    ("create_version", {}, "body", "validation_error"),
    ("create_decision", {"decision": "approve", "version": "1"}, "version", "validation_error"),
    (
        "create_decision",
        {"decision": "approve", "version": 1, "overrides": "x"},
        "overrides",
        "validation_error",
    ),
    ("create_decision", {"decision": "approve", "version": 1.5}, "version", "validation_error"),
    ("create_decision", {"decision": "approve", "version": True}, "version", "validation_error"),
    ("create_decision", {"decision": "maybe", "version": 1}, "decision", "validation_error"),
    (
        "create_decision",
        {"decision": "reject", "version": 0, "comment": "No."},
        "version",
        "validation_error",
    ),
    ("create_decision", {"decision": "reject", "version": 1}, None, "comment_required"),
    (
        "create_decision",
        {"decision": "approve", "version": 1, "overrides": [{"flag": "1", "reason": "Checked with legal."}]},
        "flag",
        "validation_error",
    ),
    (
        "create_decision",
        {"decision": "approve", "version": 1, "overrides": [{"flag": 1, "reason": "ok", "by": "me"}]},
        "by",
        "validation_error",
    ),
]


@pytest.mark.parametrize(
    ("operation", "body", "field", "code"), WRONG_VALUES, ids=[f"{c[0]}-{c[3]}" for c in WRONG_VALUES]
)
def test_wrong_types_and_values_are_refused(world, operation, body, field, code):
    api = api_as(actor_for(operation))
    before = snapshot()

    problem = refused(call(api, operation, world, body=body), 422, code, before)

    if field:
        assert any(field in error["loc"] for error in problem["errors"]), problem["errors"]
        assert field in problem["detail"]


def test_an_integral_float_is_the_integer_it_writes(world):
    """JSON Schema (and so the OpenAPI document) counts 1.0 as an integer: the API reads it as 1. The
    fuzz run (tests/test_api_fuzz.py) found 1.0 refused with 422."""
    blocker = world.in_review.current_version.flags.filter(severity="blocker").first()
    api = api_as(make_user(roles=["reviewer"]))

    response = call(
        api,
        "create_decision",
        world,
        body={
            "decision": "request_changes",
            "version": 1.0,
            "comment": "Say which claims the study supports.",
            "overrides": [{"flag": float(blocker.pk), "reason": "The study is cited in the footer."}],
        },
    )

    assert response.status_code == 201, response.content
    assert response.json()["version"] == 1
    assert Flag.objects.get(pk=blocker.pk).status == FlagStatus.OVERRIDDEN


def test_an_override_with_a_short_reason_is_refused_and_overrides_nothing(world):
    blocker = world.in_review.current_version.flags.filter(severity="blocker").first()
    api = api_as(make_user(roles=["reviewer"]))
    before = snapshot()

    response = call(
        api,
        "create_decision",
        world,
        body={"decision": "approve", "version": 1, "overrides": [{"flag": blocker.pk, "reason": "fine"}]},
    )

    refused(response, 422, "override_reason_too_short", before)


@pytest.mark.parametrize("operation", ["create_draft", "create_version"])
def test_copy_over_the_length_limit_is_refused_with_the_limit(world, operation):
    api = api_as(actor_for(operation))
    before = snapshot()

    response = call(
        api, operation, world, body=_with_text(operation, "word " * (settings.COPY_MAX_CHARS // 5 + 1))
    )

    problem = refused(response, 413, "body_too_long", before)
    assert f"{settings.COPY_MAX_CHARS:,}" in problem["detail"]


def test_an_over_long_comment_is_refused(world):
    api = api_as(actor_for("create_decision"))
    before = snapshot()

    response = call(api, "create_decision", world, body=_with_text("create_decision", "Why? " * 1001))

    refused(response, 422, "comment_too_long", before)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"title": "Sale", "body": ["Call Jane Doe on 07700 900123"]}, "validation_error"),
        ({"title": "Sale", "body": "Call Jane Doe on 07700 900123\x00"}, "invalid"),
        (
            {"title": "Sale", "body": "Call Jane Doe on 07700 900123", "colour": "07700 900123"},
            "validation_error",
        ),
    ],
    ids=["wrong_type", "nul", "unknown_field"],
)
def test_problems_never_echo_the_input_they_refuse(world, body, code):
    """Refused input may be personal data; the answer describes it without repeating it."""
    api = api_as(actor_for("create_draft"))

    response = call(api, "create_draft", world, body=body)

    assert_problem(response, 422, code)
    assert b"07700" not in response.content
    assert b"Jane" not in response.content


# --- Missing drafts and bad query parameters ------------------------------------------------------


@pytest.mark.parametrize("operation", WITH_DRAFT_ID)
def test_a_draft_that_does_not_exist_is_404(world, operation):
    api = api_as(actor_for(operation))
    before = snapshot()

    response = call(api, operation, world, draft_id=MISSING_DRAFT)

    refused(response, 404, "not_found", before)


@pytest.mark.parametrize("operation", WITH_DRAFT_ID)
def test_a_draft_id_that_is_not_a_number_is_refused(world, operation):
    api = api_as(actor_for(operation))
    before = snapshot()

    response = call(api, operation, world, draft_id="first")

    problem = refused(response, 422, "validation_error", before)
    assert "draft_id" in problem["detail"]


QUERY_DEFECTS = [
    ("list_drafts", "status=nope", "status"),
    ("list_drafts", "status=IN_REVIEW", "status"),
    ("list_drafts", "cursor=not-base64!", "cursor"),
    ("list_drafts", "cursor=bz1hYmM%3D", "cursor"),  # base64 of "o=abc": a tampered cursor
    ("list_drafts", "cursor=cD1sYXN0", "cursor"),  # base64 of "p=last"
    ("list_drafts", "page_size=0", "page_size"),
    ("list_drafts", "page_size=many", "page_size"),
    ("list_events", "cursor=bz0tMQ%3D%3D", "cursor"),  # base64 of "o=-1"
    ("list_events", "cursor=%C3%A9t%C3%A9", "cursor"),
    ("list_events", "page_size=-5", "page_size"),
]


@pytest.mark.parametrize(("operation", "query", "field"), QUERY_DEFECTS)
def test_bad_query_parameters_are_refused(world, operation, query, field):
    api = api_as(actor_for(operation))
    _, path = OPERATIONS[operation]
    before = snapshot()

    response = api.get(f"{path.format(id=world.in_review.pk)}?{query}")

    problem = refused(response, 422, "validation_error", before)
    assert field in problem["detail"]


# --- Markup in copy -------------------------------------------------------------------------------


def test_markup_in_copy_is_stored_as_text_and_escaped_on_the_pages(client):
    writer = make_user(roles=["copywriter"])
    api = api_as(writer)
    title = '<script>alert("title")</script> Summer gel'
    body = 'Cooling gel for hot days. <script>alert("body")</script> <img src=x onerror="alert(1)">'

    created = api.post("/drafts", {"title": title, "body": body})

    assert created.status_code == 201, created.content
    fetched = api.get(f"/drafts/{created.json()['id']}").json()
    for draft in (created.json(), fetched):
        assert draft["title"] == title
        assert draft["version"]["body"] == body
    assert Version.objects.get(draft_id=fetched["id"]).body == body

    client.force_login(writer)
    for url in (f"/drafts/{fetched['id']}", "/queue", "/mine"):
        page = client.get(url)
        assert page.status_code == 200
        html = page.content.decode()
        assert "<script>alert" not in html
        assert "<img src=x" not in html
        assert "&lt;script&gt;alert(" in html


# --- Idempotency-Key ------------------------------------------------------------------------------


def test_the_same_key_and_body_replay_the_first_answer():
    api = api_as(make_user(roles=["copywriter"]))
    key = {"Idempotency-Key": "launch-2025-05-01"}
    payload = {"title": "Spring launch", "body": SAFE_COPY, "external_id": "crm-881"}

    first = api.post("/drafts", payload, headers=key)
    drafts_after_first = Draft.objects.count()
    again = api.post("/drafts", payload, headers=key)

    assert first.status_code == again.status_code == 201
    assert "Idempotent-Replayed" not in first
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Draft.objects.count() == drafts_after_first
    assert Draft.objects.filter(external_id="crm-881").count() == 1


def test_a_replayed_publish_answers_as_the_first_one_did(world):
    api = api_as(make_user(roles=["integration"]))
    key = {"Idempotency-Key": "publish-once"}

    first = call(api, "publish_draft", world, headers=key)
    events_after_first = AuditEvent.objects.count()
    again = call(api, "publish_draft", world, headers=key)

    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["status"] == Status.PUBLISHED
    assert AuditEvent.objects.count() == events_after_first
    without_key = call(api, "publish_draft", world)
    assert_problem(without_key, 409, "not_approved")


def test_keys_belong_to_one_account():
    key = {"Idempotency-Key": "same-key"}
    payload = {"title": "Spring launch", "body": SAFE_COPY}

    mine = api_as(make_user(roles=["copywriter"])).post("/drafts", payload, headers=key)
    theirs = api_as(make_user(roles=["integration"])).post("/drafts", payload, headers=key)

    assert mine.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs
    assert mine.json()["id"] != theirs.json()["id"]


def test_the_same_key_with_another_body_is_refused():
    api = api_as(make_user(roles=["copywriter"]))
    key = {"Idempotency-Key": "launch-2025-05-01"}
    assert api.post("/drafts", {"title": "Spring launch", "body": SAFE_COPY}, headers=key).status_code == 201
    before = snapshot()

    response = api.post("/drafts", {"title": "Spring launch", "body": SAFE_COPY + " Refills."}, headers=key)

    refused(response, 422, "idempotency_key_reused", before)


@pytest.mark.parametrize(
    "key", ["k" * 300, "two words", "", "tab\there"], ids=["300_chars", "space", "empty", "tab"]
)
@pytest.mark.parametrize("operation", CREATING)
def test_an_invalid_idempotency_key_is_refused(world, operation, key):
    api = api_as(make_user(roles=["copywriter", "reviewer"]))
    before = snapshot()

    response = call(api, operation, world, headers={"Idempotency-Key": key})

    refused(response, 400, "bad_idempotency_key", before)


# --- Pagination and filters -----------------------------------------------------------------------


def _path(url: str) -> str:
    """A `next`/`previous` URL as a path for ApiClient, which adds the /api/v1 prefix itself."""
    parts = urlsplit(url)
    assert parts.path.startswith("/api/v1/"), url
    return f"{parts.path.removeprefix('/api/v1')}?{parts.query}"


def _follow(api: ApiClient, path: str) -> list[list[dict]]:
    """Every page of a list, following `next` until it is null."""
    pages = []
    while path:
        response = api.get(path)
        assert response.status_code == 200, response.content
        pages.append(response.json()["results"])
        path = response.json()["next"] and _path(response.json()["next"])
    return pages


def test_drafts_are_listed_newest_first_a_page_at_a_time():
    writer = make_user(roles=["copywriter"])
    ids = [submit(author=writer, body=SAFE_COPY, title=f"Piece {n}").pk for n in range(5)]
    api = api_as(writer)

    pages = _follow(api, "/drafts?page_size=2")

    assert [len(page) for page in pages] == [2, 2, 1]
    seen = [draft["id"] for page in pages for draft in page]
    assert seen == sorted(ids, reverse=True)

    second_page = api.get(_path(api.get("/drafts?page_size=2").json()["next"])).json()
    first_again = api.get(_path(second_page["previous"])).json()
    assert [draft["id"] for draft in first_again["results"]] == seen[:2]


def test_a_drafts_events_are_listed_oldest_first_a_page_at_a_time():
    writer, reviewer = make_user(roles=["copywriter"]), make_user(roles=["reviewer"])
    draft = submit(author=writer, body=RISKY_COPY)
    workflow.decide(draft, reviewer=reviewer, kind="request_changes", version=1, comment="Drop the numbers.")
    workflow.add_version(draft, author=writer, body=SAFE_COPY)
    workflow.decide(draft, reviewer=reviewer, kind="approve", version=2)
    expected = list(AuditEvent.objects.filter(draft=draft).order_by("seq").values_list("seq", flat=True))
    assert len(expected) >= 6

    pages = _follow(api_as(writer), f"/drafts/{draft.pk}/events?page_size=2")

    assert all(len(page) <= 2 for page in pages)
    assert [event["seq"] for page in pages for event in page] == expected


def test_drafts_can_be_filtered_by_status():
    writer, reviewer = make_user(roles=["copywriter"]), make_user(roles=["reviewer"])
    waiting = [submit(author=writer, body=SAFE_COPY).pk for _ in range(2)]
    approved = submit(author=writer, body=SAFE_COPY)
    workflow.decide(approved, reviewer=reviewer, kind="approve", version=1)
    returned = submit(author=writer, body=SAFE_COPY)
    workflow.decide(
        returned, reviewer=reviewer, kind="request_changes", version=1, comment="Shorter, please."
    )
    api = api_as(writer)

    def listed(status):
        return [draft["id"] for draft in api.get(f"/drafts?status={status}").json()["results"]]

    assert listed("approved") == [approved.pk]
    assert listed("in_review") == sorted(waiting, reverse=True)
    assert listed("changes_requested") == [returned.pk]
    assert listed("published") == []


# --- Rate limit -----------------------------------------------------------------------------------


def test_a_token_over_its_rate_limit_gets_429_and_others_do_not(settings):
    settings.API_RATE_LIMIT = "3/min"
    cache.clear()
    busy = api_as(make_user(roles=["copywriter"]))
    other = api_as(make_user(roles=["copywriter"]))
    seconds_left_in_window = 60 - time.time() % 60
    if seconds_left_in_window < 5:  # the limit counts per clock minute; start in a fresh one
        time.sleep(seconds_left_in_window + 0.1)

    allowed = [busy.get("/drafts").status_code for _ in range(3)]
    before = snapshot()
    limited = busy.post("/drafts", {"title": "One more", "body": SAFE_COPY})

    assert allowed == [200, 200, 200]
    refused(limited, 429, "rate_limited", before)
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert other.get("/drafts").status_code == 200


# --- The published contract -----------------------------------------------------------------------


def test_the_openapi_document_promises_problem_details_on_every_operation():
    response = ApiClient(None).get("/openapi.json")

    assert response.status_code == 200
    schema = response.json()
    documented = {
        (method, path.removeprefix("/api/v1")): operation
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    }
    expected = {(method, path.replace("{id}", "{draft_id}")) for method, path in OPERATIONS.values()}
    assert expected <= set(documented)
    for (method, path), operation in documented.items():
        for status in ("400", "401", "403", "404", "409", "413", "422", "429"):
            response_doc = operation["responses"].get(status)
            assert response_doc, f"{method} {path} does not document {status}"
            assert set(response_doc["content"]) == {"application/problem+json"}, (method, path, status)
            assert response_doc["description"]
    for method, path in OPERATIONS.values():
        if method == "post":
            parameters = documented[(method, path.replace("{id}", "{draft_id}"))].get("parameters", [])
            assert "Idempotency-Key" in {p["name"] for p in parameters}, path


def test_the_interactive_docs_render():
    response = ApiClient(None).get("/docs")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"openapi.json" in response.content


# --- Invisible characters, unknown paths, methods, retention -----------------------------------------


@pytest.mark.parametrize(
    "hidden",
    ["\u00ad", "\u200b", "\u2060", "\ufeff", "\u202e", "\u200d"],
    ids=["soft-hyphen", "zero-width-space", "word-joiner", "bom", "rtl-override", "zwj-inside-word"],
)
def test_invisible_characters_that_hide_words_are_refused(world, hidden):
    api = api_as(actor_for("create_draft"))
    before = snapshot()
    body = f"Clinically pro{hidden}ven. Only 3 left!"
    refused(api.post("/drafts", {"title": "Serum", "body": body}), 422, "invisible_character", before)


def test_emoji_joined_sequences_are_still_welcome(world):
    api = api_as(actor_for("create_draft"))
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    response = api.post(
        "/drafts", {"title": "Family plan", "body": f"One plan for the whole family {family}."}
    )
    assert response.status_code == 201, response.content


def test_an_unknown_api_path_is_a_problem_document():
    response = api_as(make_user(roles=["copywriter"])).get("/no-such-thing")
    assert_problem(response, 404, "not_found")


def test_a_method_the_path_does_not_take_is_a_problem_document():
    response = api_as(make_user(roles=["copywriter"])).client.put("/api/v1/drafts")
    problem = assert_problem(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"] and "GET" in problem["detail"]


def test_idempotency_records_past_their_retention_are_pruned():
    api = api_as(make_user(roles=["copywriter"]))
    for key in ("old", "new"):
        api.post("/drafts", {"title": key, "body": SAFE_COPY}, headers={"Idempotency-Key": key})
    IdempotencyRecord.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))

    assert idempotency.prune() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


# --- Every text field refuses what a reader cannot see -------------------------------------------

TEXT_FIELDS = [
    # (path, body with the field marked by the word TEXT, field named in the problem)
    ("/drafts", {"title": "TEXT", "body": SAFE_COPY}, "title"),
    ("/drafts", {"title": "Serum", "body": "TEXT"}, "body"),
    ("/drafts", {"title": "Serum", "body": SAFE_COPY, "campaign": "TEXT"}, "campaign"),
    ("/drafts", {"title": "Serum", "body": SAFE_COPY, "external_id": "TEXT"}, "external_id"),
    ("/drafts", {"title": "Serum", "body": SAFE_COPY, "language": "TEXT"}, "language"),
    ("/drafts/{id}/versions", {"body": "TEXT"}, "body"),
    ("/drafts/{id}/decisions", {"decision": "reject", "version": 1, "comment": "TEXT"}, "comment"),
    (
        "/drafts/{id}/decisions",
        {"decision": "approve", "version": 1, "overrides": [{"flag": 0, "reason": "TEXT"}]},
        "reason",
    ),
    *(
        ("/briefs", {"product": "Serum", field: "TEXT"} if field != "product" else {"product": "TEXT"}, name)
        for field, name in [
            ("product", "product"),
            ("audience", "audience"),
            ("tone", "tone"),
            ("key_points", "key points"),
            ("approved_facts", "approved facts"),
            ("campaign", "campaign"),
            ("language", "language"),
        ]
    ),
]
HIDDEN = {
    "nul": "\x00",
    "escape": "\x1b",
    "bidi-override": "\u202e",
    "zero-width-space": "\u200b",
    "bom": "\ufeff",
}


def _filled(body, text: str, flag_id: int):
    if isinstance(body, dict):
        return {key: _filled(value, text, flag_id) for key, value in body.items()}
    if isinstance(body, list):
        return [_filled(value, text, flag_id) for value in body]
    if body == 0:
        return flag_id
    return body.replace("TEXT", text) if isinstance(body, str) else body


@pytest.mark.parametrize("hidden", HIDDEN.values(), ids=HIDDEN.keys())
@pytest.mark.parametrize(("path", "body", "field"), TEXT_FIELDS, ids=[f"{p} {f}" for p, _, f in TEXT_FIELDS])
def test_every_text_field_refuses_control_and_invisible_characters_naming_the_field(
    world, path, body, field, hidden
):
    """A NUL was a 500 on PostgreSQL in campaign and external_id; bidi overrides and zero-width
    characters were stored there. Every text field now answers 422, names the field, echoes nothing."""
    draft = world.in_review
    role = "reviewer" if "decisions" in path else "copywriter"
    api = api_as(make_user(roles=[role]) if role == "reviewer" else world.author)
    secret = "4111 1111 1111 1111"  # a value that must not come back in the answer
    text = f"Card {secret[:9]}{hidden}{secret[9:]} here" if field not in ("language",) else f"en{hidden}"
    flag_id = draft.current_version.flags.filter(severity="blocker").values_list("pk", flat=True).first()
    before = snapshot()

    response = api.post(path.format(id=draft.pk), _filled(body, text, flag_id))

    problem = assert_problem(response, 422, response.json().get("code"))
    assert problem["code"] in ("invalid", "invisible_character", "bad_language", "validation_error")
    assert problem.get("field") == field or field in problem["detail"], problem
    assert "4111" not in response.content.decode() and hidden not in response.json()["detail"]
    assert snapshot() == before


@pytest.mark.parametrize(
    "body",
    [
        {"title": "Serum", "body": SAFE_COPY, "channel": "4111111111111111"},
        {"title": "Serum", "body": SAFE_COPY, "language": "jane@example.org"},
        {"title": "Serum", "body": SAFE_COPY, "external_id": 4111111111111111},
        {"title": "jane@example.org\n4111111111111111", "body": SAFE_COPY},
    ],
    ids=["channel", "language", "external-id-type", "title"],
)
def test_problems_do_not_repeat_refused_values(world, body):
    response = api_as(world.author).post("/drafts", body)
    assert response.status_code == 422
    content = response.content.decode()
    assert "4111111111111111" not in content and "jane@example.org" not in content


def test_decisions_do_not_repeat_an_unknown_decision(world):
    response = api_as(make_user(roles=["reviewer"])).post(
        f"/drafts/{world.in_review.pk}/decisions", {"decision": "jane@example.org", "version": 1}
    )
    assert response.status_code == 422 and "jane@example.org" not in response.content.decode()


def test_a_duplicate_external_id_is_not_repeated_in_the_answer(world):
    api = api_as(world.author)
    assert (
        api.post("/drafts", {"title": "A", "body": SAFE_COPY, "external_id": "jane@example.org"}).status_code
        == 201
    )
    again = api.post("/drafts", {"title": "B", "body": SAFE_COPY, "external_id": "jane@example.org"})
    assert again.status_code == 409 and "jane@example.org" not in again.content.decode()


def test_paths_and_unknown_keys_that_may_be_personal_data_are_not_repeated(world):
    api = api_as(world.author)
    missing = api.get("/drafts/jane@example.org")
    assert missing.status_code in (404, 422) and "jane" not in missing.content.decode()
    named = api.get("/drafts/johnsmith")  # a name where an id goes is not repeated either
    assert "johnsmith" not in named.content.decode()
    numbered = api.get(f"/drafts/{MISSING_DRAFT}")
    assert numbered.json()["instance"] == f"/api/v1/drafts/{MISSING_DRAFT}"
    nowhere = api.get("/no-such/jane@example.org")
    assert nowhere.status_code == 404 and "jane" not in nowhere.content.decode()
    keyed = api.post("/drafts", {"title": "Serum", "body": SAFE_COPY, "jane@example.org": 1})
    assert keyed.status_code == 422 and "jane" not in keyed.content.decode()
    assert keyed.json()["errors"][0]["type"] == "extra_forbidden"
