"""Two-factor sign-in in a real browser (Debian's Chromium through Playwright, as tests/test_browser.py):
a reviewer whose role needs it signs in with the password, is sent to set it up, reads the secret from
the page, types the code an authenticator app would show, keeps the recovery codes, approves, signs out,
and signs in again with password and code. The QR image loads under the CSP; no script errors."""

import re
import time
from base64 import b32decode

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from reviewapp import workflow
from reviewapp.models import Decision
from tests.conftest import SAFE_COPY, make_user
from tests.test_browser import PASSWORD, chromium, message, shot  # noqa: F401 (chromium: a fixture)

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def app_code(key: bytes, user) -> str:
    """What the authenticator app shows: the current code, or the next one if this one was used."""
    device = TOTPDevice.objects.get(user=user)
    now_t = int(time.time() // device.step)
    return f"{totp(key, drift=max(0, device.last_t + 1 - now_t)):06d}"


def sign_in_with_password(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("main button[type=submit]")


def test_set_up_two_factor_sign_in_then_sign_in_with_password_and_code(
    chromium,  # noqa: F811
    live_server,
    transactional_db,
    settings,
):
    settings.REQUIRE_2FA_FOR = ["reviewer", "admin"]
    writer = make_user(roles=["copywriter"], username="cora", password=PASSWORD)
    rhea = make_user(roles=["reviewer"], username="rhea", name="Rhea Reviewer", password=PASSWORD)
    draft = workflow.submit(author=writer, title="Garden shears", body=SAFE_COPY)
    base = live_server.url
    context = chromium.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))

    # The password step of a reviewer without a second factor leads to setting it up.
    sign_in_with_password(page, base, "rhea")
    assert page.url == f"{base}/account/two-factor"
    assert "Your role needs two-factor sign-in" in message(page)
    qr = page.locator("img.qr")
    assert page.evaluate("img => img.complete && img.naturalWidth > 100", qr.element_handle())
    key = b32decode(page.locator("#totp-secret").inner_text().replace(" ", ""))
    shot(page, "two-factor-setup")

    page.fill("#id_code", app_code(key, rhea))
    with page.expect_navigation():
        page.click("text=Turn two-factor sign-in on")
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-7]{8}", code) for code in codes)
    shot(page, "two-factor-recovery-codes")

    # This session set it up, so it may decide; the decision records it.
    page.goto(f"{base}/drafts/{draft.pk}")
    page.check('input[name="decision"][value="approve"]')
    with page.expect_navigation():
        page.click("#decide-button")
    assert "Approved version 1" in message(page)
    assert Decision.objects.get().second_factor_verified is True

    # Signed out, the password alone only reaches the code step.
    with page.expect_navigation():
        page.click("text=Sign out")
    sign_in_with_password(page, base, "rhea")
    assert page.url == f"{base}/login/code"
    page.goto(f"{base}/queue")
    assert page.url.startswith(f"{base}/login/")

    sign_in_with_password(page, base, "rhea")
    page.fill("#id_code", app_code(key, rhea))
    with page.expect_navigation():
        page.click("main button[type=submit]")
    assert page.url == f"{base}/queue"
    assert "Rhea Reviewer" in page.locator(".logout").inner_text()

    assert problems == [], problems  # no script errors, no CSP refusals (the QR image included)
    context.close()
