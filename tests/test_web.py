"""The web pages end to end: sign-in, the queue and the draft page, the decide/edit/publish/submit forms,
CSRF, escaping, CSP and the read-only admin (tests/test_dashboard.py covers claims, previews, diffs,
"my drafts" and metrics). Each test posts as a browser would and then checks the
database and the page."""

import json
import re

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from reviewapp import accounts, workflow
from reviewapp.models import ApiToken, AuditEvent, Decision, Draft, Flag, FlagStatus, Version
from tests.conftest import RISKY_COPY, SAFE_COPY, make_user, publish_form_sha256, submit

pytestmark = pytest.mark.django_db

PASSWORD = "plum-harbour-lantern-42"
# Two blockers (an establishment claim and false scarcity) and a warning (false urgency).
TWO_BLOCKERS = "Clinically proven to calm skin. Only 3 left, so hurry!"
XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(1)>"


def browser(user=None, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    if user is not None:
        client.force_login(user)
    return client


def approved_draft(*, author, reviewer, body: str = SAFE_COPY) -> Draft:
    draft = submit(author=author, body=body)
    workflow.decide(draft, reviewer=reviewer, kind="approve", version=1)
    draft.refresh_from_db()
    assert draft.status == "approved"
    return draft


def blockers_of(draft: Draft) -> list[Flag]:
    return list(Flag.objects.filter(version=draft.current_version, severity="blocker").order_by("pk"))


def text(response) -> str:
    return response.content.decode()


def csp_directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


# --- Sign-in, lockout, sign-out -------------------------------------------------------------------


def test_login_page_renders():
    response = Client().get("/login/")
    assert response.status_code == 200
    assert "Sign in" in text(response)
    assert 'name="csrfmiddlewaretoken"' in text(response)
    assert 'name="username"' in text(response) and 'name="password"' in text(response)


def test_login_with_the_right_password_signs_in_and_is_audited():
    user = make_user(roles=["reviewer"], username="rhea", password=PASSWORD)
    client = Client()

    response = client.post("/login/", {"username": "rhea", "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/")["Location"] == "/queue"  # a reviewer's home is the queue
    assert client.get("/queue").status_code == 200
    event = AuditEvent.objects.get(action="user.logged_in")
    assert event.actor == user


def test_failed_login_is_audited_without_the_username_tried():
    make_user(roles=["reviewer"], username="rhea.ramirez", password=PASSWORD)

    response = Client().post("/login/", {"username": "rhea.ramirez", "password": "not-the-password"})

    assert response.status_code == 200
    assert "didn't match" in text(response)
    event = AuditEvent.objects.get(action="user.login_failed")
    assert event.actor is None
    stored = json.dumps(event.data) + event.object_type + event.object_id
    assert "rhea" not in stored.lower() and "ramirez" not in stored.lower()
    assert not AuditEvent.objects.filter(action="user.logged_in").exists()


def test_repeated_failures_lock_the_account_out():
    make_user(roles=["reviewer"], username="rhea", password=PASSWORD)
    client = Client()
    for _ in range(4):
        response = client.post("/login/", {"username": "rhea", "password": "wrong-guess"})
        assert response.status_code == 200

    fifth = client.post("/login/", {"username": "rhea", "password": "wrong-guess"})

    assert fifth.status_code == 429
    assert "registration/locked_out.html" in [template.name for template in fifth.templates]
    assert "Too many failed sign-ins" in text(fifth)
    # While locked out even the right password does not sign in.
    right = client.post("/login/", {"username": "rhea", "password": PASSWORD})
    assert right.status_code == 429
    assert client.get("/").status_code == 302
    assert not AuditEvent.objects.filter(action="user.logged_in").exists()
    assert AuditEvent.objects.filter(action="user.login_failed").count() >= 5


def test_logout_is_post_only():
    user = make_user(roles=["copywriter"])
    client = browser(user)

    assert client.get("/logout/").status_code == 405
    assert client.get("/mine").status_code == 200  # still signed in

    response = client.post("/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert client.get("/mine")["Location"].startswith("/login/")


def test_anonymous_users_are_sent_to_login_from_every_page(copywriter):
    draft = submit(author=copywriter)
    anonymous = Client()
    pages = [
        "/",
        "/queue",
        "/queue?status=in_review",
        "/mine",
        "/metrics",
        "/drafts/new",
        f"/drafts/{draft.pk}",
    ]
    for path in pages:
        response = anonymous.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/login/?next="), path
    flag = draft.current_version.flags.first()
    actions = ["decide", "versions", "publish", "claim", "renew", "release", f"flags/{flag.pk}/override"]
    for action in actions:
        path = f"/drafts/{draft.pk}/{action}"
        response = anonymous.post(path, {"decision": "approve", "version": 1, "body": "New text here."})
        assert response.status_code == 302, path
        assert response["Location"].startswith("/login/?next="), path
    assert anonymous.post("/drafts/new", {"title": "T", "body": "Text", "channel": "web"}).status_code == 302
    assert anonymous.post("/drafts/preview", {"body": "Text"}).status_code == 302
    assert anonymous.post("/queue/next").status_code == 302
    draft.refresh_from_db()
    assert draft.status == "in_review" and draft.current_version.number == 1
    assert draft.claimed_by is None
    assert Draft.objects.count() == 1


# --- Queue and draft page --------------------------------------------------------------------------


def _row(html: str, draft: Draft) -> str:
    match = re.search(rf'<tr id="draft-{draft.pk}"[^>]*>(.*?)</tr>', html, re.DOTALL)
    assert match, f"no row for draft {draft.pk}"
    return match.group(1)


def test_queue_shows_risk_status_channel_campaign_and_author(copywriter, reviewer):
    risky = submit(
        author=copywriter, title="Risky serum", body=RISKY_COPY, channel="email", campaign="spring"
    )
    flags = Flag.objects.filter(version=risky.current_version)
    blockers = flags.filter(severity="blocker", status="open").count()
    warnings = flags.filter(severity="warning").count()
    assert blockers >= 1 and warnings >= 1

    response = browser(reviewer).get("/queue")

    assert response.status_code == 200
    row = _row(text(response), risky)
    assert "Risky serum" in row and "in review" in row
    assert "Email" in row and "spring" in row and copywriter.display_name in row
    assert re.search(rf'class="count blocker"[^>]*>{blockers}<', row)
    assert re.search(rf'class="count warning"[^>]*>{warnings}<', row)


def test_queue_lists_drafts_in_review_unless_another_status_is_chosen(copywriter, reviewer):
    waiting = submit(author=copywriter, title="Waiting for review")
    done = approved_draft(author=copywriter, reviewer=reviewer)
    client = browser(reviewer)

    default = text(client.get("/queue"))
    assert f'href="/drafts/{waiting.pk}"' in default
    assert f'href="/drafts/{done.pk}"' not in default

    approved_page = text(client.get("/queue?status=approved"))
    assert f'href="/drafts/{done.pk}"' in approved_page
    assert f'href="/drafts/{waiting.pk}"' not in approved_page

    assert "No drafts match these filters" in text(client.get("/queue?status=rejected"))
    everything = text(client.get("/queue?status=any"))
    assert f'href="/drafts/{waiting.pk}"' in everything and f'href="/drafts/{done.pk}"' in everything
    # An unknown status falls back to the default rather than failing.
    bogus = client.get("/queue?status=bogus")
    assert bogus.status_code == 200
    assert f'href="/drafts/{waiting.pk}"' in text(bogus) and f'href="/drafts/{done.pk}"' not in text(bogus)


def test_draft_page_shows_text_flags_versions_and_audit_trail(copywriter, reviewer):
    draft = submit(author=copywriter, title="Serum launch", body=RISKY_COPY)
    workflow.add_version(draft, author=copywriter, body=RISKY_COPY + " Free shipping over 40 pounds.")

    response = browser(reviewer).get(f"/drafts/{draft.pk}")

    assert response.status_code == 200
    page = text(response)
    assert "Free shipping over 40 pounds." in page
    assert "The best serum in the world" in re.sub(r"<[^>]+>", "", page)  # highlights split the text
    for flag in Flag.objects.filter(version__draft=draft, version__number=2):
        assert f"<code>{flag.rule}</code>" in page
        assert f'id="flag-{flag.pk}"' in page
    assert '<mark class="' in page  # flags are highlighted inline
    assert "<strong>Version 2</strong> by" in page and "<strong>Version 1</strong> by" in page
    for action in ["draft.submitted", "flags.computed", "version.added"]:
        assert action in page
    assert "Draft 999999" not in page
    assert browser(reviewer).get("/drafts/999999").status_code == 404


# --- Who sees the decision form -------------------------------------------------------------------


def _has_decision_form(client: Client, draft: Draft) -> bool:
    page = text(client.get(f"/drafts/{draft.pk}"))
    return f'action="/drafts/{draft.pk}/decide"' in page


def test_decision_form_is_shown_only_to_reviewers_who_wrote_no_version(copywriter, reviewer):
    draft = submit(author=copywriter, body=RISKY_COPY)
    both_untouched = make_user(roles=["copywriter", "reviewer"])
    both_editor = make_user(roles=["copywriter", "reviewer"])
    workflow.add_version(draft, author=both_editor, body=SAFE_COPY)

    assert _has_decision_form(browser(reviewer), draft)
    assert _has_decision_form(browser(both_untouched), draft)
    assert not _has_decision_form(browser(copywriter), draft)
    assert not _has_decision_form(browser(both_editor), draft)


def test_a_reviewer_who_wrote_a_version_is_refused_when_posting_anyway(copywriter):
    draft = submit(author=copywriter, body=RISKY_COPY)
    both = make_user(roles=["copywriter", "reviewer"])
    workflow.add_version(draft, author=both, body=SAFE_COPY)

    response = browser(both).post(f"/drafts/{draft.pk}/decide", {"decision": "approve", "version": 2})

    assert response.status_code == 403
    assert "another reviewer must decide" in text(response)
    draft.refresh_from_db()
    assert draft.status == "in_review"
    assert not Decision.objects.filter(draft=draft).exists()


# --- Deciding through the form --------------------------------------------------------------------


def test_approve_with_open_blockers_is_refused_and_changes_nothing(copywriter, reviewer):
    draft = submit(author=copywriter, body=TWO_BLOCKERS)
    assert len(blockers_of(draft)) == 2
    events_before = AuditEvent.objects.filter(draft=draft).count()

    response = browser(reviewer).post(f"/drafts/{draft.pk}/decide", {"decision": "approve", "version": 1})

    assert response.status_code == 409
    assert "2 blocker flag(s) are open" in text(response)
    draft.refresh_from_db()
    assert draft.status == "in_review" and draft.approved_version is None
    assert not Decision.objects.filter(draft=draft).exists()
    assert all(flag.status == FlagStatus.OPEN for flag in blockers_of(draft))
    assert AuditEvent.objects.filter(draft=draft).count() == events_before


def test_approve_with_only_some_blockers_overridden_is_refused_and_keeps_no_override(copywriter, reviewer):
    draft = submit(author=copywriter, body=TWO_BLOCKERS)
    first, _second = blockers_of(draft)

    response = browser(reviewer).post(
        f"/drafts/{draft.pk}/decide",
        {"decision": "approve", "version": 1, f"override-{first.pk}": "Trial report on file, ref. 2026-7."},
    )

    assert response.status_code == 409
    assert "1 blocker flag(s) are open" in text(response)
    assert all(flag.status == FlagStatus.OPEN for flag in blockers_of(draft))
    draft.refresh_from_db()
    assert draft.status == "in_review"


def test_override_reason_that_is_too_short_is_refused(copywriter, reviewer):
    draft = submit(author=copywriter, body=TWO_BLOCKERS)
    fields = {f"override-{flag.pk}": "ok" for flag in blockers_of(draft)}

    response = browser(reviewer).post(
        f"/drafts/{draft.pk}/decide", {"decision": "approve", "version": 1, **fields}
    )

    assert response.status_code == 422
    assert "at least 10 letters or digits" in text(response)
    draft.refresh_from_db()
    assert draft.status == "in_review"


def test_approve_with_an_override_reason_for_each_blocker_succeeds(copywriter, reviewer):
    draft = submit(author=copywriter, body=TWO_BLOCKERS)
    blockers = blockers_of(draft)
    reason = "Stock comes live from the shop feed; trial CT-88 is on file."
    fields = {f"override-{flag.pk}": reason for flag in blockers}
    client = browser(reviewer)

    # The page offers one override form per blocker; posting overrides with the decision works too
    # (the path a script or an older form takes).
    page = text(client.get(f"/drafts/{draft.pk}"))
    for flag in blockers:
        assert f'action="/drafts/{draft.pk}/flags/{flag.pk}/override"' in page

    response = client.post(f"/drafts/{draft.pk}/decide", {"decision": "approve", "version": 1, **fields})

    assert response.status_code == 302
    assert response["Location"] == f"/drafts/{draft.pk}"
    assert "Approved version 1" in text(client.get(response["Location"]))
    draft.refresh_from_db()
    assert draft.status == "approved"
    assert draft.approved_version == draft.current_version
    assert draft.approval.reviewer == reviewer and draft.approval.kind == "approve"
    for flag in blockers_of(draft):
        assert flag.status == FlagStatus.OVERRIDDEN
        assert flag.overridden_by == reviewer and flag.override_reason == reason


def test_request_changes_needs_a_comment(copywriter, reviewer):
    draft = submit(author=copywriter)
    client = browser(reviewer)

    refused = client.post(f"/drafts/{draft.pk}/decide", {"decision": "request_changes", "version": 1})

    assert refused.status_code == 422
    assert "a comment is required" in text(refused)
    draft.refresh_from_db()
    assert draft.status == "in_review"
    assert not Decision.objects.filter(draft=draft).exists()

    accepted = client.post(
        f"/drafts/{draft.pk}/decide",
        {"decision": "request_changes", "version": 1, "comment": "Remove the stock count, please."},
    )
    assert accepted.status_code == 302
    draft.refresh_from_db()
    assert draft.status == "changes_requested"
    assert Decision.objects.get(draft=draft).comment == "Remove the stock count, please."


def test_a_decision_form_without_a_choice_is_refused(copywriter, reviewer):
    draft = submit(author=copywriter, body=SAFE_COPY)
    client = browser(reviewer)

    response = client.post(f"/drafts/{draft.pk}/decide", {"version": 1}, follow=True)

    assert "Choose a decision." in text(response)
    draft.refresh_from_db()
    assert draft.status == "in_review"


# --- Editing, publishing, submitting --------------------------------------------------------------


def test_editing_an_approved_draft_creates_a_version_and_sends_it_back_to_review(copywriter, reviewer):
    draft = approved_draft(author=copywriter, reviewer=reviewer)
    client = browser(copywriter)
    assert "saving sends it back to review" in text(client.get(f"/drafts/{draft.pk}"))
    new_body = SAFE_COPY + " Now also in a 50 ml size."

    response = client.post(f"/drafts/{draft.pk}/versions", {"body": new_body})

    assert response.status_code == 302
    assert "Saved version 2" in text(client.get(response["Location"]))
    draft.refresh_from_db()
    assert draft.current_version.number == 2
    assert draft.current_version.body == new_body
    assert draft.current_version.created_by == copywriter
    assert draft.status == "in_review"
    assert draft.approved_version is None and draft.approval is None

    # Saving the same text again creates nothing.
    same = client.post(f"/drafts/{draft.pk}/versions", {"body": new_body}, follow=True)
    assert "unchanged" in text(same)
    assert Version.objects.filter(draft=draft).count() == 2


def test_a_reviewer_cannot_edit_through_the_form(copywriter, reviewer):
    draft = submit(author=copywriter)

    response = browser(reviewer).post(f"/drafts/{draft.pk}/versions", {"body": SAFE_COPY}, follow=True)

    assert "Only a copywriter or integration may add version" in text(response)
    assert Version.objects.filter(draft=draft).count() == 1


def test_publish_works_only_when_approved(copywriter, reviewer):
    waiting = submit(author=copywriter, body=SAFE_COPY)
    client = browser(copywriter)
    assert "Publish approved version" not in text(client.get(f"/drafts/{waiting.pk}"))

    refused = client.post(
        f"/drafts/{waiting.pk}/publish", {"sha256": waiting.current_version.sha256}, follow=True
    )

    assert "only approved copy can be published" in text(refused)
    waiting.refresh_from_db()
    assert waiting.status == "in_review"

    approved = approved_draft(author=copywriter, reviewer=reviewer)
    assert "Publish approved version 1" in text(client.get(f"/drafts/{approved.pk}"))
    published = client.post(
        f"/drafts/{approved.pk}/publish", {"sha256": publish_form_sha256(client, approved)}, follow=True
    )
    assert "Published version 1" in text(published)
    approved.refresh_from_db()
    assert approved.status == "published"
    assert AuditEvent.objects.filter(draft=approved, action="draft.published", actor=copywriter).exists()


def test_a_reviewer_cannot_publish(copywriter, reviewer):
    draft = approved_draft(author=copywriter, reviewer=reviewer)
    assert "Publish approved version" not in text(browser(reviewer).get(f"/drafts/{draft.pk}"))

    response = browser(reviewer).post(
        f"/drafts/{draft.pk}/publish", {"sha256": draft.current_version.sha256}, follow=True
    )

    assert "Only a copywriter or integration may publish" in text(response)
    draft.refresh_from_db()
    assert draft.status == "approved"


def test_the_submit_form_creates_a_draft_and_redirects_to_it(copywriter):
    client = browser(copywriter)
    assert client.get("/drafts/new").status_code == 200

    response = client.post(
        "/drafts/new",
        {"title": "Autumn candles", "body": RISKY_COPY, "channel": "email", "campaign": "autumn"},
    )

    draft = Draft.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/drafts/{draft.pk}"
    assert (draft.title, draft.channel, draft.campaign, draft.author) == (
        "Autumn candles",
        "email",
        "autumn",
        copywriter,
    )
    assert draft.status == "in_review"
    assert draft.current_version.body == RISKY_COPY
    assert draft.current_version.flags.exists()
    page = text(client.get(response["Location"]))
    flags = draft.current_version.flags.count()
    assert f"Submitted “Autumn candles” for review as draft {draft.pk}" in page
    assert f"in the reviewers&#x27; queue with {flags} flags" in page


def test_the_submit_form_refuses_bad_input_and_creates_nothing(copywriter, reviewer):
    empty = browser(copywriter).post("/drafts/new", {"title": "Empty", "body": "   ", "channel": "web"})
    assert empty.status_code == 400
    not_a_writer = browser(reviewer).post(
        "/drafts/new", {"title": "Mine", "body": SAFE_COPY, "channel": "web"}
    )
    assert not_a_writer.status_code == 400
    assert "Only a copywriter or integration may submit" in text(not_a_writer)
    assert not Draft.objects.exists()


# --- CSRF, escaping, CSP --------------------------------------------------------------------------


def test_csrf_is_enforced_on_every_form(copywriter, reviewer):
    draft = submit(author=copywriter, body=TWO_BLOCKERS)
    flag = blockers_of(draft)[0]
    as_writer = browser(copywriter, csrf=True)
    as_reviewer = browser(reviewer, csrf=True)
    attempts = [
        (as_writer, "/drafts/new", {"title": "No token", "body": SAFE_COPY, "channel": "web"}),
        (as_reviewer, f"/drafts/{draft.pk}/decide", {"decision": "approve", "version": 1}),
        (as_writer, f"/drafts/{draft.pk}/versions", {"body": "A new text without a token."}),
        (as_writer, f"/drafts/{draft.pk}/publish", {}),
        (as_writer, "/drafts/preview", {"body": SAFE_COPY}),
        (as_reviewer, f"/drafts/{draft.pk}/claim", {}),
        (as_reviewer, f"/drafts/{draft.pk}/renew", {}),
        (as_reviewer, f"/drafts/{draft.pk}/release", {}),
        (as_reviewer, "/queue/next", {}),
        (as_reviewer, f"/drafts/{draft.pk}/flags/{flag.pk}/override", {"reason": "Evidence is on file."}),
        (as_writer, "/logout/", {}),
        (Client(enforce_csrf_checks=True), "/login/", {"username": copywriter.username, "password": "x"}),
    ]
    for client, path, data in attempts:
        assert client.post(path, data).status_code == 403, path
    draft.refresh_from_db()
    assert draft.status == "in_review" and draft.current_version.number == 1
    assert draft.claimed_by is None and flag.status == "open"
    assert Draft.objects.count() == 1
    assert as_writer.get("/mine").status_code == 200  # the refused logout did not sign out


def test_forms_work_with_the_csrf_token(copywriter, reviewer):
    as_writer = browser(copywriter, csrf=True)
    as_writer.get("/drafts/new")
    token = as_writer.cookies["csrftoken"].value

    created = as_writer.post(
        "/drafts/new",
        {"title": "With token", "body": SAFE_COPY, "channel": "web", "csrfmiddlewaretoken": token},
    )

    assert created.status_code == 302
    draft = Draft.objects.get()
    as_reviewer = browser(reviewer, csrf=True)
    as_reviewer.get(f"/drafts/{draft.pk}")
    decided = as_reviewer.post(
        f"/drafts/{draft.pk}/decide",
        {"decision": "approve", "version": 1, "csrfmiddlewaretoken": as_reviewer.cookies["csrftoken"].value},
    )
    assert decided.status_code == 302
    draft.refresh_from_db()
    assert draft.status == "approved"


def test_copy_text_is_escaped_on_list_and_detail_pages(copywriter, reviewer):
    title = f"Launch {XSS_SCRIPT}"
    body = f"Only 3 left! {XSS_SCRIPT} Our lamp {XSS_IMG} has a linen shade."
    browser(copywriter).post(
        "/drafts/new", {"title": title, "body": body, "channel": "web", "campaign": XSS_IMG}
    )
    draft = Draft.objects.get()
    assert draft.current_version.body == body  # stored as typed; escaping is the template's job

    pages = [
        (browser(reviewer), "/queue"),
        (browser(reviewer), f"/drafts/{draft.pk}"),
        (browser(copywriter), "/queue"),
        (browser(copywriter), "/mine"),
        (browser(copywriter), f"/drafts/{draft.pk}"),
    ]
    for client, path in pages:
        page = text(client.get(path))
        assert "<script>alert" not in page, path
        assert "<img" not in page, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, path
        # The only script is the app's own static file.
        assert re.findall(r"<script[^>]*>", page) == ['<script src="/static/js/app.js" defer>'], path
    assert "&lt;img src=x onerror=alert(1)&gt;" in text(browser(reviewer).get(f"/drafts/{draft.pk}"))


def test_pages_send_a_content_security_policy_without_inline_scripts(copywriter):
    draft = submit(author=copywriter)
    responses = [
        Client().get("/login/"),
        browser(copywriter).get("/mine"),
        browser(copywriter).get("/queue"),
        browser(copywriter).get("/metrics"),
        browser(copywriter).get(f"/drafts/{draft.pk}"),
        browser(copywriter).get("/drafts/new"),
    ]
    for response in responses:
        directives = csp_directives(response)
        script_src = directives.get("script-src", directives.get("default-src"))
        assert script_src, response["Content-Security-Policy"]
        assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
        assert directives["object-src"] == ["'none'"]
        assert directives["frame-ancestors"] == ["'none'"]
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"


# --- Admin ----------------------------------------------------------------------------------------


def test_admin_changelist_of_drafts_works_for_an_admin_and_not_for_a_copywriter(copywriter):
    submit(author=copywriter, title="Spring picnic basket")
    admin = make_user(roles=["admin"])

    response = browser(admin).get("/admin/reviewapp/draft/")

    assert response.status_code == 200
    assert "Spring picnic basket" in text(response)
    refused = browser(copywriter).get("/admin/reviewapp/draft/")
    assert refused.status_code == 302
    assert refused["Location"].startswith("/admin/login/")


def test_admin_cannot_change_or_delete_history(copywriter, reviewer):
    draft = approved_draft(author=copywriter, reviewer=reviewer)
    version = draft.current_version
    decision = draft.approval
    event = AuditEvent.objects.filter(draft=draft).first()
    client = browser(make_user(roles=["admin"]))
    rows = [("draft", draft), ("version", version), ("decision", decision), ("auditevent", event)]

    for model, obj in rows:
        base = f"/admin/reviewapp/{model}/"
        assert client.get(f"{base}{obj.pk}/change/").status_code == 200, model  # viewable, read-only
        assert client.post(f"{base}{obj.pk}/change/", {"title": "Changed", "body": "x"}).status_code == 403
        assert client.post(f"{base}{obj.pk}/delete/", {"post": "yes"}).status_code == 403, model
        assert client.get(f"{base}add/").status_code == 403, model
        bulk = client.post(base, {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"})
        assert bulk.status_code in (200, 302), model
        assert type(obj).objects.filter(pk=obj.pk).exists(), model

    draft.refresh_from_db()
    version.refresh_from_db()
    assert draft.title == "Serum launch" and draft.status == "approved"
    assert version.body == SAFE_COPY
    assert Decision.objects.get(pk=decision.pk).kind == "approve"


def test_a_signed_in_account_without_a_role_sees_nothing(copywriter):
    draft = submit(author=copywriter)
    nobody = browser(make_user(roles=[]))
    for path in ["/", "/queue", "/mine", "/metrics", f"/drafts/{draft.pk}", "/drafts/new"]:
        response = nobody.get(path)
        assert response.status_code == 403, path
        assert "No role yet" in text(response), path
        assert draft.title not in text(response), path


def test_a_revoked_token_cannot_be_brought_back_in_the_admin(copywriter):
    accounts.issue_token(copywriter)
    token = ApiToken.objects.get(user=copywriter)
    accounts.revoke_token(token, actor=None)
    client = browser(make_user(roles=["admin"]))

    client.post(f"/admin/reviewapp/apitoken/{token.pk}/change/", {"revoked_at_0": "", "revoked_at_1": ""})

    token.refresh_from_db()
    assert token.revoked_at is not None


def test_role_changes_in_the_admin_are_audited_naming_the_admin(copywriter):
    admin = make_user(roles=["admin"])
    reviewer_group = Group.objects.get(name="reviewer")
    page = browser(admin).get(f"/admin/reviewapp/user/{copywriter.pk}/change/")
    form = page.context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if name not in ("groups", "user_permissions", "last_login", "date_joined", "password")
        and value is not None
    }
    data.update(
        groups=[group.pk for group in copywriter.groups.all()] + [reviewer_group.pk],
        date_joined_0=copywriter.date_joined.strftime("%Y-%m-%d"),
        date_joined_1=copywriter.date_joined.strftime("%H:%M:%S"),
    )

    response = browser(admin).post(f"/admin/reviewapp/user/{copywriter.pk}/change/", data)

    assert response.status_code == 302, response.content[:2000]
    event = AuditEvent.objects.get(action="user.access_changed", object_id=str(copywriter.pk))
    assert event.actor == admin
    assert event.data["before"]["roles"] == ["copywriter"]
    assert event.data["after"]["roles"] == ["copywriter", "reviewer"]
