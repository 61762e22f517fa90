"""Two-factor sign-in through the real pages and API: enrolment with a QR code and recovery codes, the
second sign-in step, throttled and audited wrong codes, single-use recovery codes, REQUIRE_2FA_FOR on
decisions (web and API) and on the admin, the verified flag on decisions, and the admin's acts: setting a
password leaves the second factor in place; resetting it is separate and audited.

Codes are computed from the secret shown on the page with django_otp.oath.totp, as an authenticator
app would."""

import json
import re
import time
from base64 import b32decode

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from reviewapp import checks, second_factor
from reviewapp.models import AuditEvent, Decision, Draft
from tests.conftest import SAFE_COPY, api_as, assert_problem, make_user, submit
from tests.test_settings import SECRET, settings_values

pytestmark = pytest.mark.django_db

PASSWORD = "amber-canal-whistle-73"
REQUIRED = ["reviewer", "admin"]


# --- Helpers: what a person does with a browser and an authenticator app ---------------------------


def code_from_key(key: bytes, *, ahead: int = 0) -> str:
    return f"{totp(key, drift=ahead):06d}"


def current_code(user) -> str:
    """The authenticator's code for the user's confirmed device, one step past the last one used (a
    code is accepted once, and an app shows the next one 30 s later; tolerance covers one step)."""
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    now_t = int((time.time() - device.t0) // device.step)
    ahead = max(0, device.last_t + 1 - now_t)
    return code_from_key(device.bin_key, ahead=ahead)


def secret_on(page) -> bytes:
    match = re.search(r'id="totp-secret"[^>]*>([A-Z2-7 ]+)<', page.content.decode())
    assert match, "the set-up page shows the secret as text"
    return b32decode(match.group(1).replace(" ", ""))


def enrol(client: Client) -> list[str]:
    """Set up two-factor sign-in through the page; returns the recovery codes it shows."""
    page = client.get("/account/two-factor")
    response = client.post(
        "/account/two-factor", {"action": "confirm", "code": code_from_key(secret_on(page))}
    )
    assert response.status_code == 200, response.content[:2000]
    codes = re.findall(r"<li><code>([a-z2-7]+)</code></li>", response.content.decode())
    assert len(codes) == second_factor.RECOVERY_CODES
    return codes


def person(*, roles=("reviewer",), username=None, enrolled=False):
    """A user with a password, and a signed-in browser (with the second factor set up if `enrolled`)."""
    user = make_user(roles=list(roles), username=username, password=PASSWORD)
    client = Client()
    client.force_login(user)
    codes = enrol(client) if enrolled else []
    return user, client, codes


def password_step(username: str, password: str = PASSWORD, client: Client | None = None):
    client = client or Client()
    return client, client.post("/login/", {"username": username, "password": password})


def signed_in(client: Client) -> bool:
    return client.get("/mine").status_code == 200


def failures(user) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="user.second_factor_failed", object_id=str(user.pk)))


# --- Enrolment -------------------------------------------------------------------------------------


def test_enrolment_shows_a_qr_code_and_the_secret_and_needs_a_first_code():
    user, client, _ = person()
    page = client.get("/account/two-factor")
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    device = TOTPDevice.objects.get(user=user)
    assert not device.confirmed and not second_factor.is_enrolled(user)
    assert secret_on(page) == device.bin_key
    html = page.content.decode()
    assert '<img src="/account/two-factor/qr.svg"' in html
    assert "otpauth://totp/Copy%20review%3A" in html

    qr = client.get("/account/two-factor/qr.svg")
    assert qr.status_code == 200
    assert qr["Content-Type"] == "image/svg+xml"
    assert "no-store" in qr["Cache-Control"]
    assert qr.content == second_factor.qr_svg(device)  # the QR code of this device's otpauth URI
    assert qr.content.startswith(b"<svg") and b"<script" not in qr.content and b"style" not in qr.content
    assert Client().get("/account/two-factor/qr.svg").status_code == 302  # signed-in users only

    wrong = client.post("/account/two-factor", {"action": "confirm", "code": "000000"})
    assert wrong.status_code == 400
    assert "not right" in wrong.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    assert failures(user)[0].data["purpose"] == "enrolment"

    time.sleep(1.1)  # the device waits 1 s after a wrong code
    codes = enrol(client)

    device.refresh_from_db()
    assert device.confirmed and second_factor.is_enrolled(user)
    stored = set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    assert stored == set(codes)
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id  # this session proved it
    event = AuditEvent.objects.get(action="user.second_factor_enrolled")
    assert event.actor == user and event.data == {"recovery_codes": 10}
    assert not any(code in json.dumps(event.data) for code in codes)
    # Shown once: the page now says it is on, and neither the secret nor the codes appear again.
    after = client.get("/account/two-factor").content.decode()
    assert "10 unused recovery codes left" in after
    assert "totp-secret" not in after and not any(code in after for code in codes)
    assert client.get("/account/two-factor/qr.svg").status_code == 404


def test_the_secret_can_be_replaced_before_it_is_confirmed():
    user, client, _ = person()
    old = secret_on(client.get("/account/two-factor"))
    client.post("/account/two-factor", {"action": "restart"})
    new = secret_on(client.get("/account/two-factor"))
    assert new != old
    refused = client.post("/account/two-factor", {"action": "confirm", "code": code_from_key(old)})
    assert refused.status_code == 400
    assert not second_factor.is_enrolled(user)


# --- Signing in ------------------------------------------------------------------------------------


def test_once_enrolled_the_password_alone_does_not_sign_in():
    user, _, _ = person(username="rhea", enrolled=True)
    logins = AuditEvent.objects.filter(action="user.logged_in", actor=user)
    before = logins.count()  # the set-up browser's own sign-in

    client, response = password_step("rhea")

    assert response.status_code == 302 and response["Location"] == "/login/code"
    assert not signed_in(client)
    assert client.get("/queue")["Location"].startswith("/login/")
    assert logins.count() == before

    response = client.post("/login/code", {"code": current_code(user)})

    assert response.status_code == 302 and response["Location"] == "/"
    assert signed_in(client)
    device = TOTPDevice.objects.get(user=user)
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    assert logins.count() == before + 1
    assert logins.last().data == {"second_factor": "authenticator"}


def test_the_code_step_without_the_password_step_signs_nobody_in():
    user, _, _ = person(enrolled=True)
    client = Client()
    response = client.post("/login/code", {"code": current_code(user)})
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert not signed_in(client)


def test_a_wrong_code_is_refused_throttled_and_audited_without_the_code():
    user, _, _ = person(username="rhea", enrolled=True)
    client, _ = password_step("rhea")
    wrong = "123456" if current_code(user) != "123456" else "654321"

    first = client.post("/login/code", {"code": wrong})

    assert first.status_code == 400
    assert "not right" in first.content.decode()
    assert not signed_in(client)
    (event,) = failures(user)
    assert event.actor is None and event.object_id == str(user.pk)
    assert event.data == {
        "purpose": "login",
        "device": "authenticator",
        "reason": "wrong_code",
        "failures": 1,
    }
    assert wrong not in json.dumps(event.data)

    # Straight after a wrong code the device waits: even the right code is not checked, nor counted.
    second = client.post("/login/code", {"code": current_code(user)})
    assert second.status_code == 429
    assert "Too many wrong codes" in second.content.decode()
    assert not signed_in(client)
    assert failures(user)[-1].data["reason"] == "throttled"
    assert TOTPDevice.objects.get(user=user).throttling_failure_count == 1

    time.sleep(1.1)
    assert client.post("/login/code", {"code": current_code(user)}).status_code == 302
    assert signed_in(client)
    assert TOTPDevice.objects.get(user=user).throttling_failure_count == 0


def test_a_recovery_code_signs_in_once():
    user, _, codes = person(username="rhea", enrolled=True)
    client, _ = password_step("rhea")

    response = client.post("/login/code", {"code": codes[3].upper()})  # typed in capitals: still good

    assert response.status_code == 302
    assert signed_in(client)
    assert client.session[DEVICE_ID_SESSION_KEY] == StaticDevice.objects.get(user=user).persistent_id
    assert AuditEvent.objects.filter(action="user.logged_in").last().data == {
        "second_factor": "recovery_code"
    }
    assert second_factor.recovery_codes_left(user) == 9

    client.post("/logout/")
    again, _ = password_step("rhea")
    reused = again.post("/login/code", {"code": codes[3]})
    assert reused.status_code == 400
    assert not signed_in(again)
    assert failures(user)[-1].data["device"] == "recovery_code"


def test_the_code_step_expires(settings):
    settings.LOGIN_SECOND_STEP_SECONDS = -1
    user, _, _ = person(username="rhea", enrolled=True)
    client, _ = password_step("rhea")
    response = client.post("/login/code", {"code": current_code(user)})
    assert response["Location"] == "/login/"
    assert not signed_in(client)


def test_a_session_from_before_enrolment_signs_in_again_with_both_steps():
    user, _, _ = person(username="rhea", enrolled=True)
    old = Client()
    old.force_login(user)  # signed in with the password before the second factor was set up
    response = old.get("/login/")
    assert response.status_code == 200  # the form, not a redirect: the old session ended
    assert not signed_in(old)


# --- REQUIRE_2FA_FOR and decisions ---------------------------------------------------------------


def decide_on_web(client: Client, draft: Draft):
    return client.post(f"/drafts/{draft.pk}/decide", {"decision": "approve", "version": 1})


def decide_by_api(user, draft: Draft):
    return api_as(user).post(f"/drafts/{draft.pk}/decisions", {"decision": "approve", "version": 1})


def test_a_required_role_without_a_second_factor_is_sent_to_set_it_up_and_cannot_decide(settings, copywriter):
    settings.REQUIRE_2FA_FOR = REQUIRED
    user = make_user(roles=["reviewer"], username="rhea", password=PASSWORD)
    draft = submit(author=copywriter, body=SAFE_COPY)

    client, response = password_step("rhea")
    assert response["Location"] == "/account/two-factor"
    page = client.get(f"/drafts/{draft.pk}")
    assert 'id="second-factor-missing"' in page.content.decode()

    web = decide_on_web(client, draft)
    assert web.status_code == 403
    assert "Two-factor sign-in page" in web.content.decode()
    assert_problem(decide_by_api(user, draft), 403, "second_factor_required")
    draft.refresh_from_db()
    assert draft.status == "in_review" and not Decision.objects.exists()

    enrol(client)  # the session that set it up is verified
    assert 'id="second-factor-missing"' not in client.get(f"/drafts/{draft.pk}").content.decode()
    # A token cannot carry a session's verification: the API still refuses (README, "Two-factor").
    problem = assert_problem(decide_by_api(user, draft), 403, "second_factor_required")
    assert "API token" in problem["detail"]
    assert decide_on_web(client, draft).status_code == 302
    decision = Decision.objects.get()
    assert decision.reviewer == user and decision.second_factor_verified is True


def test_a_required_role_enrolled_but_in_an_unverified_session_cannot_decide(settings, copywriter):
    settings.REQUIRE_2FA_FOR = REQUIRED
    user, _, _ = person(enrolled=True)
    draft = submit(author=copywriter, body=SAFE_COPY)
    unverified = Client()
    unverified.force_login(user)

    response = decide_on_web(unverified, draft)

    assert response.status_code == 403
    assert "signed in with your second factor" in response.content.decode()
    assert not Decision.objects.exists()


def test_decisions_record_whether_the_session_was_second_factor_verified(copywriter):
    drafts = [submit(author=copywriter, body=SAFE_COPY, title=f"Piece {n}") for n in range(3)]
    user, verified, _ = person(enrolled=True)
    unverified = Client()
    unverified.force_login(user)

    assert decide_on_web(verified, drafts[0]).status_code == 302
    assert decide_on_web(unverified, drafts[1]).status_code == 302
    by_api = decide_by_api(user, drafts[2])

    assert by_api.status_code == 201
    assert by_api.json()["second_factor_verified"] is False
    flags = {d.draft_id: d.second_factor_verified for d in Decision.objects.all()}
    assert flags == {drafts[0].pk: True, drafts[1].pk: False, drafts[2].pk: False}
    events = {
        e.draft_id: e.data["second_factor_verified"]
        for e in AuditEvent.objects.filter(action="decision.approve")
    }
    assert events == flags
    approval = api_as(user).get(f"/drafts/{drafts[0].pk}").json()["approval"]
    assert approval["second_factor_verified"] is True
    page = verified.get(f"/drafts/{drafts[0].pk}").content.decode()
    assert "(signed in with second factor)" in page and "second factor: verified" in page


# --- The admin: passwords, reset, device pages, the admin site itself -----------------------------


def admin_client(**kwargs):
    admin = make_user(roles=["admin"], **kwargs)
    client = Client()
    client.force_login(admin)
    return admin, client


def test_a_password_set_by_an_admin_leaves_the_second_factor_in_place():
    user, users_browser, _ = person(username="rhea", enrolled=True)
    admin, client = admin_client()
    new_password = "borrowed-lantern-orchard-91"
    half_way, _ = password_step("rhea")  # past the password, before the code
    half_way_session = half_way.session.session_key

    response = client.post(
        f"/admin/reviewapp/user/{user.pk}/password/",
        {"password1": new_password, "password2": new_password, "usable_password": "true"},
    )

    assert response.status_code == 302, response.content[:2000]
    user.refresh_from_db()
    assert user.check_password(new_password)
    assert second_factor.is_enrolled(user) and second_factor.recovery_codes_left(user) == 10
    assert TOTPDevice.objects.filter(user=user, confirmed=True).count() == 1
    event = AuditEvent.objects.get(action="user.password_set")
    assert event.actor == admin and event.object_id == str(user.pk)
    assert not AuditEvent.objects.filter(action="user.second_factor_reset").exists()
    # The user's sessions are deleted, the one waiting for its code too.
    assert event.data["sessions_ended"] == 2
    assert not Session.objects.filter(session_key=half_way_session).exists()
    assert not signed_in(users_browser)
    # Knowing the password the admin set is not enough to sign in as the user.
    intruder, step = password_step("rhea", new_password)
    assert step["Location"] == "/login/code"
    assert intruder.post("/login/code", {"code": "000000"}).status_code == 400
    assert not signed_in(intruder)


def test_resetting_the_second_factor_is_a_separate_audited_admin_act(settings, copywriter):
    settings.REQUIRE_2FA_FOR = REQUIRED
    user, users_browser, _ = person(username="rhea", enrolled=True)
    admin, client = admin_client()
    settings.REQUIRE_2FA_FOR = []  # this admin has no second factor; the admin site is tested below

    response = client.post(
        "/admin/reviewapp/user/", {"action": "reset_second_factor", "_selected_action": [user.pk]}
    )

    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not StaticDevice.objects.filter(user=user).exists()
    event = AuditEvent.objects.get(action="user.second_factor_reset")
    assert event.actor == admin and event.object_id == str(user.pk)
    # The user's verified session is verified no more; signing in again leads to setting it up.
    settings.REQUIRE_2FA_FOR = REQUIRED
    page = users_browser.get(f"/drafts/{submit(author=copywriter).pk}").content.decode()
    assert 'id="second-factor-missing"' in page
    _, step = password_step("rhea")
    assert step["Location"] == "/account/two-factor"


def test_one_admin_cannot_replace_both_credentials_of_someone(settings):
    """Two people: the admin who set a user's password cannot also reset their second factor (and the
    other way round), so no admin can sign in and approve as a reviewer alone; another admin can."""
    user, _, _ = person(username="rhea", enrolled=True)
    _, client = admin_client()
    password = "borrowed-lantern-orchard-91"
    form = {"password1": password, "password2": password, "usable_password": "true"}
    assert client.post(f"/admin/reviewapp/user/{user.pk}/password/", form).status_code == 302

    refused = client.post(
        "/admin/reviewapp/user/",
        {"action": "reset_second_factor", "_selected_action": [user.pk]},
        follow=True,
    )
    assert "another admin changes their second factor" in refused.content.decode()
    assert second_factor.is_enrolled(user)
    assert not AuditEvent.objects.filter(action="user.second_factor_reset").exists()

    _, other = admin_client()
    other.post("/admin/reviewapp/user/", {"action": "reset_second_factor", "_selected_action": [user.pk]})
    assert not second_factor.is_enrolled(user)
    # ... and the admin who reset it may not set the password again.
    again = {"password1": password + "x", "password2": password + "x", "usable_password": "true"}
    response = other.post(f"/admin/reviewapp/user/{user.pk}/password/", again, follow=True)
    assert "another admin changes their password" in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(password)


def test_a_copywriter_cannot_reset_anyones_second_factor():
    user, _, _ = person(enrolled=True)
    writer = Client()
    writer.force_login(make_user(roles=["copywriter"]))
    writer.post("/admin/reviewapp/user/", {"action": "reset_second_factor", "_selected_action": [user.pk]})
    assert second_factor.is_enrolled(user)
    assert not AuditEvent.objects.filter(action="user.second_factor_reset").exists()


def test_removing_it_needs_a_code_and_is_audited():
    user, client, _ = person(enrolled=True)
    wrong = client.post("/account/two-factor", {"action": "remove", "code": "not-a-code"})
    assert wrong.status_code == 400
    assert second_factor.is_enrolled(user)

    time.sleep(1.1)
    response = client.post("/account/two-factor", {"action": "remove", "code": current_code(user)})

    assert response.status_code == 302
    assert not second_factor.is_enrolled(user) and not StaticDevice.objects.filter(user=user).exists()
    event = AuditEvent.objects.get(action="user.second_factor_removed")
    assert event.actor == user
    assert failures(user)[0].data["purpose"] == "removal"


def test_devices_are_not_admin_pages():
    user, _, _ = person(enrolled=True)
    _, client = admin_client()
    for path in [
        "/admin/otp_totp/totpdevice/",
        "/admin/otp_static/staticdevice/",
        "/admin/otp_totp/totpdevice/add/",
    ]:
        assert client.get(path).status_code == 404, path
    device = TOTPDevice.objects.get(user=user)
    assert device.key not in client.get(f"/admin/reviewapp/user/{user.pk}/change/").content.decode()


def test_the_admin_site_needs_a_verified_session_when_required(settings):
    settings.REQUIRE_2FA_FOR = ["admin"]
    admin, client = admin_client(password=PASSWORD)

    refused = client.get("/admin/")
    assert refused.status_code == 302 and refused["Location"].startswith("/admin/login/")
    assert client.get(refused["Location"])["Location"] == "/account/two-factor"

    enrol(client)
    assert client.get("/admin/").status_code == 200

    unverified = Client()
    unverified.force_login(admin)
    assert unverified.get("/admin/").status_code == 302


def test_the_admin_sign_in_form_never_signs_in_with_a_password_alone():
    admin = make_user(roles=["admin"], username="ada", password=PASSWORD)
    client = Client()
    client.force_login(admin)
    enrol(client)
    logins = AuditEvent.objects.filter(action="user.logged_in", actor=admin)
    before = logins.count()
    fresh = Client()

    page = fresh.get("/admin/login/?next=/admin/")
    posted = fresh.post("/admin/login/?next=/admin/", {"username": "ada", "password": PASSWORD})

    assert page.status_code == 302 and page["Location"].startswith("/login/?next=/admin/")
    assert posted.status_code == 302 and posted["Location"].startswith("/login/")
    assert fresh.get("/admin/").status_code == 302
    assert logins.count() == before


# --- Configuration -------------------------------------------------------------------------------


def test_unknown_roles_in_require_2fa_for_are_a_system_error(settings):
    settings.REQUIRE_2FA_FOR = ["reviewer", "reviewers"]
    (error,) = checks.check_second_factor_roles(None)
    assert error.id == "reviewapp.E080" and "reviewers" in error.msg
    settings.REQUIRE_2FA_FOR = ["reviewer", "admin", "copywriter"]
    assert checks.check_second_factor_roles(None) == []


def test_require_2fa_for_is_on_in_production_and_off_with_debug():
    production = settings_values(["REQUIRE_2FA_FOR"], SECRET_KEY=SECRET)
    debug = settings_values(["REQUIRE_2FA_FOR"], DEBUG="true")
    chosen = settings_values(["REQUIRE_2FA_FOR"], SECRET_KEY=SECRET, REQUIRE_2FA_FOR=" admin , ")
    assert production["REQUIRE_2FA_FOR"] == ["reviewer", "admin"]
    assert debug["REQUIRE_2FA_FOR"] == []
    assert chosen["REQUIRE_2FA_FOR"] == ["admin"]


def test_seed_demo_refuses_to_run_when_its_reviewers_would_need_a_second_factor(settings):
    settings.REQUIRE_2FA_FOR = REQUIRED
    with pytest.raises(Exception, match="REQUIRE_2FA_FOR"):
        call_command("seed_demo", "--force")
