"""Who may do what over the API: every role against every action, with real tokens (SPEC §1, §3, §7).

The whole policy is the table below. Each case builds its own draft in the state the action needs,
sends one request as the role under test, and checks the outcome in the response and the database:
an allowed action does its work, a refused one is a problem+json 403 that changed nothing.
"""

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Group

from reviewapp import workflow
from reviewapp.models import AuditEvent, Decision, Draft, Status, User
from tests.conftest import SAFE_COPY, api_as, assert_problem, make_user, submit

pytestmark = pytest.mark.django_db

ACTIONS = (
    "submit",
    "list",
    "get",
    "add_version",
    "approve",
    "request_changes",
    "reject",
    "publish",
    "events",
)

ROLE = (403, "role_not_allowed")  # the account's roles do not include this action
NO_ROLE = (403, "no_role")  # an account without any role may not even read
OWN = (403, "own_work")  # a reviewer never decides on a draft they wrote any version of

# fmt: off
POLICY = {
    #                                submit list     get      version approve changes reject publish events
    "copywriter":                   (201,   200,     200,     201,    ROLE,   ROLE,   ROLE,  200,    200),
    "reviewer":                     (ROLE,  200,     200,     ROLE,   201,    201,    201,   ROLE,   200),
    "admin":                        (ROLE,  200,     200,     ROLE,   ROLE,   ROLE,   ROLE,  ROLE,   200),
    "integration":                  (201,   200,     200,     201,    ROLE,   ROLE,   ROLE,  200,    200),
    # An admin's group editor can add `reviewer` to a machine account; it still never decides.
    "integration, also reviewer":   (201,   200,     200,     201,    ROLE,   ROLE,   ROLE,  200,    200),
    "no role":                      (ROLE,  NO_ROLE, NO_ROLE, ROLE,   ROLE,   ROLE,   ROLE,  ROLE,   NO_ROLE),
    "copywriter+reviewer, other's": (201,   200,     200,     201,    201,    201,    201,   200,    200),
    "copywriter+reviewer, own":     (201,   200,     200,     201,    OWN,    OWN,    OWN,   200,    200),
}
# fmt: on

EXPECTED = {
    (role, action): outcome
    for role, outcomes in POLICY.items()
    for action, outcome in zip(ACTIONS, outcomes, strict=True)
}

ROLE_GROUPS = {
    "copywriter": ["copywriter"],
    "reviewer": ["reviewer"],
    "admin": ["admin"],
    "integration": ["integration"],
    "integration, also reviewer": ["integration", "reviewer"],
    "no role": [],
    "copywriter+reviewer, other's": ["copywriter", "reviewer"],
    "copywriter+reviewer, own": ["copywriter", "reviewer"],
}

# The status an allowed action leaves the draft in.
STATUS_AFTER = {
    "add_version": Status.IN_REVIEW,
    "approve": Status.APPROVED,
    "request_changes": Status.CHANGES_REQUESTED,
    "reject": Status.REJECTED,
    "publish": Status.PUBLISHED,
}
DECISIONS = ("approve", "request_changes", "reject")
READS = ("list", "get", "events")


def make_actor(role: str) -> User:
    username = "actor-" + "".join(c if c.isalnum() else "-" for c in role)
    groups = ROLE_GROUPS[role]
    if not {"integration", "reviewer"} <= set(groups):
        return make_user(roles=groups, username=username)
    # accounts.create_user refuses this pair; the group editor of the Django admin does not.
    actor = make_user(roles=["integration"], username=username)
    actor.groups.add(Group.objects.get(name="reviewer"))
    actor = User.objects.get(pk=actor.pk)
    assert actor.roles == {"integration", "reviewer"}
    return actor


@dataclass
class Scene:
    draft: Draft | None
    version: int  # the version number the actor has seen


def set_the_scene(action: str, role: str, actor: User) -> Scene:
    """A fresh draft by another copywriter, in the state `action` needs. For the "own" role the actor
    wrote its latest version, without being the draft's author."""
    if action == "submit":
        return Scene(draft=None, version=0)
    author = make_user(roles=["copywriter"])
    draft = submit(author=author, body=SAFE_COPY)
    if role == "copywriter+reviewer, own":
        workflow.add_version(draft, author=actor, body=SAFE_COPY + " Also in a 50 ml refill pouch.")
    draft.refresh_from_db()
    if action == "publish":
        approver = make_user(roles=["reviewer"])
        workflow.decide(draft, reviewer=approver, kind="approve", version=draft.current_version.number)
        draft.refresh_from_db()
        assert draft.status == Status.APPROVED
    else:
        assert draft.status == Status.IN_REVIEW
    return Scene(draft=draft, version=draft.current_version.number)


def send(api, action: str, scene: Scene):
    path = f"/drafts/{scene.draft.pk}" if scene.draft else None
    if action == "submit":
        return api.post("/drafts", {"title": "Spring range", "body": SAFE_COPY, "channel": "email"})
    if action == "list":
        return api.get("/drafts")
    if action == "get":
        return api.get(path)
    if action == "add_version":
        return api.post(f"{path}/versions", {"body": SAFE_COPY + " Vegan formula, fragrance free."})
    if action in DECISIONS:
        payload = {"decision": action, "version": scene.version}
        if action != "approve":
            payload["comment"] = "Name the bottle size in the first line, please."
        return api.post(f"{path}/decisions", payload)
    if action == "publish":
        return api.post(f"{path}/publish")
    if action == "events":
        return api.get(f"{path}/events")
    raise AssertionError(action)


def state(scene: Scene) -> dict:
    """What an action could change, for the draft under test and overall."""
    facts = {"drafts": Draft.objects.count(), "events": AuditEvent.objects.count()}
    if scene.draft:
        draft = Draft.objects.get(pk=scene.draft.pk)
        facts |= {
            "status": draft.status,
            "versions": draft.versions.count(),
            "decisions": Decision.objects.filter(draft=draft).count(),
            "approved_version": draft.approved_version_id,
        }
    return facts


def test_the_table_covers_every_role_and_action():
    assert len(EXPECTED) == len(POLICY) * len(ACTIONS) == len(ROLE_GROUPS) * len(ACTIONS)


def _case_id(role: str, action: str) -> str:
    return f"{role.replace(', ', '-').replace(' ', '_').replace(chr(39), '')}-{action}"


@pytest.mark.parametrize(("role", "action"), list(EXPECTED), ids=[_case_id(*case) for case in EXPECTED])
def test_role_may_or_may_not_act(role, action):
    actor = make_actor(role)
    scene = set_the_scene(action, role, actor)
    api = api_as(actor)
    before = state(scene)

    response = send(api, action, scene)

    expected = EXPECTED[(role, action)]
    if isinstance(expected, tuple):
        assert_problem(response, *expected)
        assert state(scene) == before, "a refused request must change nothing"
        return

    assert response.status_code == expected, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    after = state(scene)
    if action in READS:
        assert after == before
        if action == "list":
            assert scene.draft is None or scene.draft.pk in {d["id"] for d in body["results"]}
        elif action == "get":
            assert body["id"] == scene.draft.pk
        else:
            assert body["results"][0]["action"] == "draft.submitted"
    elif action == "submit":
        assert after["drafts"] == before["drafts"] + 1
        created = Draft.objects.get(pk=body["id"])
        assert created.author == actor and created.status == Status.IN_REVIEW
    else:
        assert after["status"] == STATUS_AFTER[action]
        if action == "add_version":
            assert after["versions"] == before["versions"] + 1
            assert body["version"]["number"] == scene.version + 1
        elif action in DECISIONS:
            assert after["decisions"] == before["decisions"] + 1
            decision = Decision.objects.filter(draft=scene.draft).latest("id")
            assert decision.reviewer == actor and decision.kind == action
            assert body["reviewer"]["username"] == actor.username
        else:
            assert body["status"] == Status.PUBLISHED
