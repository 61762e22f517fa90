"""The API against its own OpenAPI document: a bounded, seeded schemathesis run (issue 12, item 10).

Every operation of /api/v1/openapi.json gets generated requests, as each role with a real bearer token,
against a database holding a draft in review with blockers, an approved one, a published one and a
brief, so that generated path ids often exist. A request fails the test when the answer is a 5xx,
has a status the document does not list, a content type or body that does not match the document,
or when a request that matches the document's request schema is refused as malformed (400/422).

Bounded and repeatable: a fixed seed, derandomised generation, no example database, and a fixed
number of cases per operation and role (MAX_EXAMPLES; the coverage phase adds its boundary cases).
"""

import itertools

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from reviewapp import accounts, workflow
from tests.conftest import RISKY_COPY, SAFE_COPY, make_user, submit

ROLES = ("copywriter", "reviewer", "integration", "admin")
SEED = 1212
# Per operation and role, valid and invalid requests mixed: 300 per operation across the roles, plus the
# coverage phase's boundary cases. The whole module takes about 1.5 minutes on SQLite and on PostgreSQL.
MAX_EXAMPLES = 75

# What a request that matches the schema may still legitimately meet: these are answers about the
# caller and the state of things, not about the shape of the request.
#   401: never here (every request carries a live token), but it is the token's business, not the body's
#   403: the role may not do this, or the reviewer wrote a version of the draft
#   404: no draft or brief with that id (or not one this caller may see)
#   409: the draft's state refuses it (stale version, open blockers, not approved, duplicate external_id,
#        sha256 that is not the approved text's, an Idempotency-Key still in progress)
#   413: copy text over COPY_MAX_CHARS (a server setting, so not in the schema)
# No 429 (the rate limit is lifted for the run) and no 5xx: any 5xx fails `not_a_server_error`.
LEGITIMATE_REFUSALS = ["2xx", "401", "403", "404", "409", "413"]

# 422s that a schema-valid request may meet, each for a reason a JSON schema cannot state. Every
# other 422 (and every 400) on a schema-valid request fails the run: it is a gap in the schema.
#   idempotency_key_reused: the same Idempotency-Key earlier with another body (generated keys repeat)
#   unknown_flag: an override names a flag id that exists but is not on the version decided on
#   invisible_character: a zero-width joiner or variation selector is allowed next to emoji and
#       letters of other scripts but refused elsewhere; the rule depends on the neighbouring characters
#   invalid_cursor: a page cursor is opaque, valid only as the API issued it (like an id that exists)
#   override_reason_too_short, comment_too_short, comment_required: "10 letters or digits" counts every
#       script's letters, which a portable JSON Schema pattern cannot state (see api/schemas.py)
LEGITIMATE_422_CODES = {
    "idempotency_key_reused",
    "unknown_flag",
    "invisible_character",
    "invalid_cursor",
    "override_reason_too_short",
    "comment_too_short",
    "comment_required",
}


def _config() -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
                # The token is the role's, sent by the test; generated Authorization headers would only
                # ever be unknown tokens (401s, which tests/test_api_bad_input.py covers).
                "with-security-parameters": False,
            },
            "phases": {"examples": {"enabled": False}, "stateful": {"enabled": False}},
            "checks": {
                "not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx"]},
                "positive_data_acceptance": {"expected-statuses": LEGITIMATE_REFUSALS},
            },
        }
    )


def schema_valid_requests_are_accepted(ctx, response, case):
    """`positive_data_acceptance`, except for the few documented 422s of LEGITIMATE_422_CODES."""
    if response.status_code == 422 and _problem_codes(response) <= LEGITIMATE_422_CODES:
        return None
    return positive_data_acceptance(ctx, response, case)


def _problem_codes(response) -> set[str]:
    """The problem's code, or for a validation_error the type of each error in it."""
    try:
        problem = response.json()
    except ValueError:
        return {"not a problem document"}
    if problem.get("code") == "validation_error":
        return {error.get("type") for error in problem.get("errors", [])} or {"validation_error"}
    return {problem.get("code")}


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    schema_valid_requests_are_accepted,
]


@pytest.fixture(params=ROLES)
def role(request) -> str:
    return request.param


@pytest.fixture
def world(db, role, settings):
    """The caller (a fresh account with `role`) and drafts in every state the operations care about.
    A copywriter or integration caller is the author, so that its versions and publishes can succeed;
    a reviewer caller is not, so that its decisions can."""
    settings.API_RATE_LIMIT = "1000000/min"  # 429s would hide everything else
    settings.GENERATION_CONFIGURED = True  # briefs are queued (after commit: never, in a test transaction)
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]  # the WSGI client's Host
    caller = make_user(roles=[role])
    author = caller if role in ("copywriter", "integration") else make_user(roles=["copywriter"])
    other_reviewer = make_user(roles=["reviewer"])

    def approved(title: str, body: str):
        draft = submit(author=author, body=body, title=title)
        workflow.decide(draft, reviewer=other_reviewer, kind="approve", version=1)
        return draft

    in_review = submit(author=author, body=RISKY_COPY, title="Serum launch")  # with blockers
    approved_draft = approved("Serum refill", SAFE_COPY)
    to_publish = approved("Serum travel size", SAFE_COPY + " In a 10 ml bottle.")
    published = approved("Refill", SAFE_COPY + " Refill pouch.")
    workflow.publish(published, actor=author)
    brief = workflow.request_brief(requester=author, product="Serum", key_points="Hyaluronic acid.")
    drafts = [in_review.pk, approved_draft.pk, published.pk]
    return {
        "token": accounts.issue_token(caller),
        # Operations run one after the other on this data: new versions would take every approval
        # away before publish runs, so one approved draft is publish's alone.
        "draft_ids": {"publish": [to_publish.pk, in_review.pk, published.pk], "other": drafts},
        "brief_ids": [brief.pk],
        "flag_ids": list(in_review.current_version.flags.values_list("pk", flat=True)),
    }


@pytest.fixture
def api_schema(world, request):
    # schemathesis 4.32.5 names each operation's subtest by rewriting `node._nodeid`, which pytest 9
    # no longer has (node ids are `node._id` objects): give it the attribute it reads and writes.
    request.node._nodeid = request.node.nodeid
    # Like Django's test client: a request must not close the test's connection (and its transaction).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application(), config=_config())
    fresh_keys = itertools.count(1)

    # Each hook keeps the generated value as one choice: the run still sends what the schema allows.
    @schema.hook
    def flatmap_path_parameters(context, path_parameters):
        """Often an id that exists, else the generated one (mostly a 404)."""
        if not path_parameters:
            return st.just(path_parameters)
        drafts = world["draft_ids"]["publish" if context.operation.path.endswith("/publish") else "other"]
        ids = {"draft_id": drafts, "brief_id": world["brief_ids"]}
        choices = {
            name: st.one_of(st.sampled_from(ids[name]), st.just(value)) if name in ids else st.just(value)
            for name, value in path_parameters.items()
        }
        return st.fixed_dictionaries(choices)

    @schema.hook
    def flatmap_body(context, body):
        """Decisions often name version 1 (the seeded drafts' current one), and overrides a real
        blocker of the draft in review."""
        if not isinstance(body, dict) or "decision" not in body:
            return st.just(body)
        overrides = body.get("overrides")
        if isinstance(overrides, list) and overrides and isinstance(overrides[0], dict):
            first, rest = overrides[0], overrides[1:]
            flag = st.one_of(st.sampled_from(world["flag_ids"]), st.just(first.get("flag")))
            chosen_overrides = flag.map(lambda flag_id: [{**first, "flag": flag_id}, *rest])
        else:
            chosen_overrides = st.just(overrides)
        version = st.sampled_from([body.get("version"), 1])
        return st.tuples(version, chosen_overrides).map(
            lambda chosen: {
                **body,
                **({"version": chosen[0]} if "version" in body else {}),
                **({"overrides": chosen[1]} if "overrides" in body else {}),
            }
        )

    @schema.hook
    def flatmap_headers(context, headers):
        """Generated Idempotency-Keys repeat a lot ("0", "A"...), and a key used before with another
        body is a 422 (legitimate, see LEGITIMATE_422_CODES) that stops the request short: two keys in
        three get a suffix that makes them fresh, still within the documented pattern."""
        key = (headers or {}).get("Idempotency-Key")
        if not isinstance(key, str) or not key:
            return st.just(headers)
        fresh = {**headers, "Idempotency-Key": f"{key[:240]}~{next(fresh_keys)}"}
        return st.sampled_from([headers, fresh, fresh])

    yield schema
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def token_headers(world) -> dict:
    return {"Authorization": f"Bearer {world['token']}"}


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.slow
@schema.parametrize()
def test_the_api_keeps_to_its_openapi_document(case, token_headers):
    case.call_and_validate(headers=token_headers, checks=CHECKS)
