"""Query counts stay flat: workflow transitions and read pages cost the same number of queries whether a
draft has 2 flags or 30, 1 version or 20, and whether the database holds 10 drafts or 100 (1,000 for
the dashboard pages, bulk-created by reviewapp.pagebench.populate).

Each bound is the count measured on both SQLite and PostgreSQL plus a small margin (the comments give
the measured numbers); equality between the small and the large case is what catches an N+1. Tests run
inside a transaction, so each `transaction.atomic()` in a transition counts two statements (SAVEPOINT,
RELEASE) that a request in autocommit mode does not send.
"""

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reviewapp import workflow
from reviewapp.flagging import find_flags
from reviewapp.models import Decision, DecisionKind, Draft, User
from reviewapp.pagebench import populate
from tests.conftest import api_as

pytestmark = pytest.mark.django_db

# Two flags, both blockers; then the same two blockers and 28 warnings.
FEW_FLAGS = "Clinically proven to calm dry skin. Only 4 jars left in the warehouse."
MANY_FLAGS = FEW_FLAGS + " Hurry to try the best cream in the world." * 14
MANY_FLAG_COUNT = len(find_flags(MANY_FLAGS))  # dozens, whatever the exact rule set
PLAIN = "A calm, fragrance-free cream for dry skin, in a 50 ml jar."
REASON = "Trial report and live stock feed are on file."


def count_queries(action: Callable[[], Any]) -> tuple[int, Any]:
    with CaptureQueriesContext(connection) as captured:
        result = action()
    return len(captured), result


def fresh(user: User) -> User:
    """A user as a request loads it, without cached roles."""
    return User.objects.get(pk=user.pk)


@pytest.fixture
def people(copywriter, reviewer, integration):
    return {"writer": copywriter, "reviewer": reviewer, "tool": integration}


def new_draft(people, *, body: str = FEW_FLAGS, versions: int = 1) -> Draft:
    draft = workflow.submit(author=people["writer"], title="Night cream", body=body)
    for number in range(2, versions + 1):
        workflow.add_version(draft, author=people["writer"], body=f"{body} Edition {number}.")
    return Draft.objects.get(pk=draft.pk)


def approval(draft: Draft, reviewer: User, *, extra_overrides: int = 0) -> Callable[[], Decision]:
    """An approval of the current version, overriding every blocker and `extra_overrides` other flags,
    ready to run: what the reviewer saw is loaded beforehand, as the page they decided on was."""
    draft = Draft.objects.select_related("current_version").get(pk=draft.pk)
    flags = list(draft.current_version.flags.order_by("severity", "id"))
    blockers = [flag for flag in flags if flag.severity == "blocker"]
    others = [flag for flag in flags if flag.severity != "blocker"][:extra_overrides]
    overrides = [workflow.Override(flag.pk, REASON) for flag in blockers + others]
    reviewer = fresh(reviewer)
    number = draft.current_version.number
    return lambda: workflow.decide(
        draft, reviewer=reviewer, kind=DecisionKind.APPROVE, version=number, overrides=overrides
    )


def approve(draft: Draft, reviewer: User, *, extra_overrides: int = 0) -> Decision:
    return approval(draft, reviewer, extra_overrides=extra_overrides)()


def bulk_of_drafts(people, count: int) -> None:
    """Drafts in every state a list shows: in review, approved with overrides, published."""
    for index in range(count):
        draft = new_draft(people, body=MANY_FLAGS)
        if index % 3:
            approve(draft, people["reviewer"])
        if index % 3 == 2:
            workflow.publish(draft, actor=people["tool"])


# --- Workflow transitions --------------------------------------------------------------------------

SUBMIT_QUERIES = 15  # measured: 13 on SQLite and PostgreSQL


def test_submit_costs_the_same_whatever_the_flags_and_the_drafts_before(
    people, django_assert_max_num_queries
):
    def send(body):
        writer = fresh(people["writer"])
        return lambda: workflow.submit(author=writer, title="Night cream", body=body)

    few, _ = count_queries(send(FEW_FLAGS))
    many, draft = count_queries(send(MANY_FLAGS))
    assert draft.current_version.flags.count() == MANY_FLAG_COUNT
    for _ in range(20):
        send(PLAIN)()
    after_twenty, _ = count_queries(send(MANY_FLAGS))

    assert few == many == after_twenty
    sending = send(MANY_FLAGS)
    with django_assert_max_num_queries(SUBMIT_QUERIES):
        sending()


ADD_VERSION_QUERIES = 16  # measured: 14 on SQLite and PostgreSQL


def test_add_version_costs_the_same_whatever_the_flags_and_the_versions_before(
    people, django_assert_max_num_queries
):
    def edit(draft, body):
        writer = fresh(people["writer"])
        return lambda: workflow.add_version(draft, author=writer, body=body)

    few, _ = count_queries(edit(new_draft(people, body=PLAIN), FEW_FLAGS))
    many, version = count_queries(edit(new_draft(people, body=PLAIN), MANY_FLAGS))
    assert version.flags.count() == MANY_FLAG_COUNT
    long_history = new_draft(people, body=PLAIN, versions=20)
    after_twenty, version = count_queries(edit(long_history, MANY_FLAGS))
    assert version.number == 21

    assert few == many == after_twenty
    editing = edit(long_history, FEW_FLAGS)
    with django_assert_max_num_queries(ADD_VERSION_QUERIES):
        editing()


DECIDE_QUERIES = 22  # measured with 2 overrides: 21 on SQLite and PostgreSQL (1: webhook endpoints)
QUERIES_PER_OVERRIDE = 4  # one flag UPDATE, and the override's audit event (head lock, insert, head update)


def test_approving_with_overrides_costs_the_same_whatever_the_flags_and_the_versions(
    people, django_assert_max_num_queries
):
    def decide(draft, extra_overrides=0):
        return approval(draft, people["reviewer"], extra_overrides=extra_overrides)

    few, _ = count_queries(decide(new_draft(people, body=FEW_FLAGS)))
    many, _ = count_queries(decide(new_draft(people, body=MANY_FLAGS)))
    after_twenty, _ = count_queries(decide(new_draft(people, body=MANY_FLAGS, versions=20)))
    ten_more_overrides, _ = count_queries(decide(new_draft(people, body=MANY_FLAGS), extra_overrides=10))

    assert few == many == after_twenty
    # Each override is its own audited change, so overrides (not flags) add a fixed cost each.
    assert ten_more_overrides == many + 10 * QUERIES_PER_OVERRIDE
    deciding = decide(new_draft(people, body=MANY_FLAGS, versions=20))
    with django_assert_max_num_queries(DECIDE_QUERIES):
        deciding()


PUBLISH_QUERIES = 12  # measured: 11 on SQLite and PostgreSQL (1: webhook endpoints)


def test_publish_costs_the_same_whatever_the_flags_and_the_versions(people, django_assert_max_num_queries):
    def approved(**kwargs):
        draft = new_draft(people, **kwargs)
        approve(draft, people["reviewer"])
        tool = fresh(people["tool"])
        return lambda: workflow.publish(draft, actor=tool)

    few, _ = count_queries(approved(body=FEW_FLAGS))
    many, _ = count_queries(approved(body=MANY_FLAGS))
    after_twenty, published = count_queries(approved(body=MANY_FLAGS, versions=20))
    assert published.status == "published"

    assert few == many == after_twenty
    publishing = approved(body=MANY_FLAGS, versions=20)
    with django_assert_max_num_queries(PUBLISH_QUERIES):
        publishing()


# --- API reads --------------------------------------------------------------------------------------


@pytest.fixture
def as_tool(people):
    """An integration's API client (the rate limiter counts in process memory: no queries)."""
    client = api_as(people["tool"])
    client.get("/drafts")  # the token's first use records last_used_at
    return client


API_LIST_QUERIES = 6  # measured for a page of 50 (token, roles, drafts, flags): 4 on both


def test_api_draft_list_costs_the_same_for_10_and_100_drafts(people, as_tool, django_assert_max_num_queries):
    bulk_of_drafts(people, 10)
    ten, response = count_queries(lambda: as_tool.get("/drafts"))
    assert len(response.json()["results"]) == 10
    bulk_of_drafts(people, 90)
    hundred, response = count_queries(lambda: as_tool.get("/drafts"))
    page = response.json()
    assert len(page["results"]) == 50
    assert all(
        sum(draft["flag_counts"][s] for s in ("blocker", "warning", "info")) == MANY_FLAG_COUNT
        for draft in page["results"]
    )
    assert {draft["status"] for draft in page["results"]} == {"in_review", "approved", "published"}
    second_page, response = count_queries(lambda: as_tool.client.get(page["next"], headers=as_tool.headers))
    assert len(response.json()["results"]) == 50

    assert ten == hundred == second_page
    with django_assert_max_num_queries(API_LIST_QUERIES):
        as_tool.get("/drafts")
    with django_assert_max_num_queries(API_LIST_QUERIES):
        as_tool.get("/drafts?status=approved")


API_DETAIL_QUERIES = 6  # measured (token, roles, draft, flags): 4 on SQLite and PostgreSQL


def test_api_draft_detail_costs_the_same_for_small_and_large_drafts(
    people, as_tool, django_assert_max_num_queries
):
    small = new_draft(people, body=FEW_FLAGS)
    bulk_of_drafts(people, 10)
    large = new_draft(people, body=MANY_FLAGS, versions=20)
    approve(large, people["reviewer"], extra_overrides=10)

    few, _ = count_queries(lambda: as_tool.get(f"/drafts/{small.pk}"))
    many, response = count_queries(lambda: as_tool.get(f"/drafts/{large.pk}"))
    assert len(response.json()["flags"]) == MANY_FLAG_COUNT and response.json()["approval"] is not None
    bulk_of_drafts(people, 90)
    after_hundred, _ = count_queries(lambda: as_tool.get(f"/drafts/{large.pk}"))

    assert few == many == after_hundred
    with django_assert_max_num_queries(API_DETAIL_QUERIES):
        as_tool.get(f"/drafts/{large.pk}")


API_EVENTS_QUERIES = 6  # measured (token, roles, draft, events): 4 on SQLite and PostgreSQL


def test_api_draft_events_cost_the_same_for_short_and_long_histories(
    people, as_tool, django_assert_max_num_queries
):
    short = new_draft(people, body=FEW_FLAGS)
    bulk_of_drafts(people, 10)
    long = new_draft(people, body=MANY_FLAGS, versions=20)
    approve(long, people["reviewer"], extra_overrides=10)

    few, response = count_queries(lambda: as_tool.get(f"/drafts/{short.pk}/events"))
    assert len(response.json()["results"]) == 2
    many, response = count_queries(lambda: as_tool.get(f"/drafts/{long.pk}/events"))
    assert len(response.json()["results"]) == 2 + 19 * 2 + 12 + 1
    bulk_of_drafts(people, 90)
    after_hundred, _ = count_queries(lambda: as_tool.get(f"/drafts/{long.pk}/events"))

    assert few == many == after_hundred
    with django_assert_max_num_queries(API_EVENTS_QUERIES):
        as_tool.get(f"/drafts/{long.pk}/events")


# --- Web pages --------------------------------------------------------------------------------------

QUEUE_QUERIES = 8  # measured (session, user, count, ids of the page, roles, rows of the page): 6


def test_queue_costs_the_same_for_10_and_1000_drafts(people, client, django_assert_max_num_queries):
    client.force_login(people["reviewer"])
    pages = [
        "/queue",
        "/queue?sort=age",
        "/queue?category=manipulation&channel=email&mine=on",
        "/queue?page=3",
    ]

    populate(drafts=10)
    small = {path: count_queries(lambda path=path: client.get(path))[0] for path in pages}
    for path in pages:
        with django_assert_max_num_queries(QUEUE_QUERIES):
            client.get(path)
    populate(drafts=990)
    large = {}
    for path in pages:
        large[path], response = count_queries(lambda path=path: client.get(path))
        assert response.status_code == 200
    assert len(client.get("/queue").context["page"]) == 25

    assert small == large
    assert large["/queue"] == large["/queue?sort=age"] == large["/queue?page=3"]  # sorting adds no query
    for path in pages:
        with django_assert_max_num_queries(QUEUE_QUERIES):
            client.get(path)


MINE_QUERIES = 6  # measured (session, user, count, page, roles): 5 on SQLite and PostgreSQL


def test_my_drafts_cost_the_same_for_10_and_1000_drafts(people, client, django_assert_max_num_queries):
    made = populate(drafts=10)
    writer = made["writers"][0]
    client.force_login(writer)
    small, _ = count_queries(lambda: client.get("/mine"))
    populate(drafts=990, seed=8, writers=[writer])
    large, response = count_queries(lambda: client.get("/mine"))
    assert len(response.context["page"]) == 25

    assert small == large
    with django_assert_max_num_queries(MINE_QUERIES):
        client.get("/mine")


METRICS_QUERIES = 10  # measured (session, user, roles and one query per chart): 8


def test_metrics_page_costs_the_same_for_10_and_1000_drafts(people, client, django_assert_max_num_queries):
    client.force_login(people["reviewer"])
    populate(drafts=10)
    small, _ = count_queries(lambda: client.get("/metrics?days=30"))
    populate(drafts=990)
    large, response = count_queries(lambda: client.get("/metrics?days=30"))
    assert response.context["report"].decisions > 100

    assert small == large
    with django_assert_max_num_queries(METRICS_QUERIES):
        client.get("/metrics")


DRAFT_PAGE_QUERIES = 10  # measured: 8 for a reviewer, 8 for the author, on SQLite and PostgreSQL


@pytest.mark.parametrize("viewer", ["reviewer", "writer"])
def test_draft_page_costs_the_same_for_small_and_large_drafts(
    people, client, viewer, django_assert_max_num_queries
):
    client.force_login(people[viewer])
    small = new_draft(people, body=FEW_FLAGS)
    bulk_of_drafts(people, 10)
    large = new_draft(people, body=MANY_FLAGS, versions=20)
    approve(large, people["reviewer"], extra_overrides=10)
    workflow.add_version(large, author=people["writer"], body=MANY_FLAGS + " Edition 21.")

    few, response = count_queries(lambda: client.get(f"/drafts/{small.pk}"))
    assert response.status_code == 200
    many, response = count_queries(lambda: client.get(f"/drafts/{large.pk}"))
    assert len(response.context["flags"]) == MANY_FLAG_COUNT
    assert len(response.context["history"]) == 21 and response.context["history"][0].against_approved
    populate(drafts=1000)
    after_thousand, _ = count_queries(lambda: client.get(f"/drafts/{large.pk}"))

    assert few == many == after_thousand
    with django_assert_max_num_queries(DRAFT_PAGE_QUERIES):
        client.get(f"/drafts/{large.pk}")


def test_draft_page_costs_the_same_for_bulk_drafts_among_10_and_1000(
    people, client, django_assert_max_num_queries
):
    client.force_login(people["reviewer"])
    made = populate(drafts=10)
    ten, response = count_queries(lambda: client.get(f"/drafts/{made['drafts'][3].pk}"))
    assert len(response.context["flags"]) == 10
    with django_assert_max_num_queries(DRAFT_PAGE_QUERIES):
        client.get(f"/drafts/{made['drafts'][5].pk}")
    made = populate(drafts=1000)
    thousand, _ = count_queries(lambda: client.get(f"/drafts/{made['drafts'][3].pk}"))

    assert ten == thousand
    with django_assert_max_num_queries(DRAFT_PAGE_QUERIES):
        client.get(f"/drafts/{made['drafts'][500].pk}")


def test_a_page_of_drafts_stays_small_whatever_the_drafts_hold(people, as_tool):
    """Lists carry an excerpt and flag counts; the whole text and every flag are on the draft itself.
    A page of 200 drafts of 50,000 characters with dozens of flags each was tens of MiB."""
    long_body = (MANY_FLAGS + " ") * (8_000 // len(MANY_FLAGS))
    draft = new_draft(people, body=long_body)
    detail = as_tool.get(f"/drafts/{draft.pk}")
    listed = as_tool.get("/drafts")
    item = listed.json()["results"][0]

    assert len(detail.content) > 8_000 and len(json.dumps(item)) < 2_000
    assert item["version"]["excerpt"] == long_body[:280] and item["version"]["chars"] == len(long_body)
    assert "body" not in item["version"] and "flags" not in item
    flags = detail.json()["flags"]
    assert item["flag_counts"] == {
        "blocker": sum(f["severity"] == "blocker" for f in flags),
        "warning": sum(f["severity"] == "warning" for f in flags),
        "info": sum(f["severity"] == "info" for f in flags),
        "open_blockers": sum(f["severity"] == "blocker" and f["status"] == "open" for f in flags),
    }
    assert item["flag_counts"]["blocker"] > 0
