"""Webhook pages for admins (endpoints, deliveries with attempts, resend, send test, rotation), the Django
admin, and the operator commands `add_webhook` and `setup_schedules`."""

import io
import time

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.test import Client
from django_q.conf import Conf
from django_q.models import Schedule
from standardwebhooks import Webhook

from reviewapp import webhooks, workflow
from reviewapp.models import AuditEvent, DecisionKind, DeliveryState, WebhookDelivery, WebhookEndpoint
from tests.conftest import SAFE_COPY, make_user, submit
from tests.receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def local_receivers(settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    monkeypatch.setattr(Conf, "SYNC", True)  # tasks run at once, in the request's thread


@pytest.fixture
def admin_client():
    admin = make_user(roles=["admin"], name="Ada Admin", password="a-long-admin-password")
    client = Client()
    client.force_login(admin)
    return client


def test_only_admins_see_webhook_pages():
    assert Client().get("/webhooks/").status_code == 302  # to the sign-in page
    for roles in (["reviewer"], ["copywriter"], ["integration"]):
        client = Client()
        client.force_login(make_user(roles=roles))
        assert client.get("/webhooks/").status_code == 403
        assert client.post("/webhooks/new", {"url": "https://cms.example.com/h"}).status_code == 403
    assert not WebhookEndpoint.objects.exists()


def test_adding_an_endpoint_shows_its_secret_once(admin_client):
    response = admin_client.post(
        "/webhooks/new",
        {"url": "https://cms.example.com/hooks", "description": "CMS", "event_types": ["copy.approved"]},
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = response.context["secret"]
    assert secret.startswith("whsec_") and secret in response.content.decode()
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.event_types == ["copy.approved"] and endpoint.description == "CMS"
    assert webhooks.decrypt_secret(endpoint.secret_encrypted) == secret
    # Never again: not on the endpoint's page, not in the list.
    assert secret not in admin_client.get(f"/webhooks/{endpoint.pk}").content.decode()
    assert secret not in admin_client.get("/webhooks/").content.decode()
    assert AuditEvent.objects.filter(action="webhook.endpoint_created", object_id=str(endpoint.pk)).exists()


def test_a_bad_url_is_refused_with_a_message(admin_client):
    response = admin_client.post("/webhooks/new", {"url": "ftp://cms.example.com/hooks"})
    assert response.status_code == 400
    assert "Enter a full http:// or https:// URL" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_send_test_and_resend_from_the_endpoint_page(admin_client):
    with Receiver() as receiver:
        endpoint, secret = webhooks.create_endpoint(url=receiver.url())
        page = admin_client.get(f"/webhooks/{endpoint.pk}")
        assert page.status_code == 200 and "Send test event" in page.content.decode()

        sent = admin_client.post(f"/webhooks/{endpoint.pk}/test", follow=True)
        (test,) = receiver.wait_for(1)
        assert Webhook(secret).verify(test.body, test.headers)["type"] == "webhook.test"
        assert "Queued test event msg_" in sent.content.decode()

        delivery = WebhookDelivery.objects.get(endpoint=endpoint)
        time.sleep(1.05)  # the next attempt's timestamp, and so its signature, differ
        resent = admin_client.post(f"/webhooks/deliveries/{delivery.pk}/resend", follow=True)
        _, again = receiver.wait_for(2)
    assert resent.status_code == 200 and "same id, new signature" in resent.content.decode()
    assert again.webhook_id == test.webhook_id and again.body == test.body
    assert again.headers["webhook-signature"] != test.headers["webhook-signature"]
    Webhook(secret).verify(again.body, again.headers)
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED and delivery.attempt_count == 2
    page = admin_client.get(f"/webhooks/{endpoint.pk}").content.decode()
    assert delivery.message.msg_id in page and "#2 (resend)" in page and "#1 (test)" in page


def test_deliveries_of_a_draft_show_their_attempts_and_failures(admin_client):
    writer, reviewer = make_user(roles=["copywriter"]), make_user(roles=["reviewer"])
    with Receiver(default=(503, {"Retry-After": "120"}, b"<b>maintenance</b>")) as receiver:
        endpoint, _ = webhooks.create_endpoint(url=receiver.url())
        draft = submit(author=writer, body=SAFE_COPY)
        workflow.decide(draft, reviewer=reviewer, kind=DecisionKind.APPROVE, version=1)
        receiver.wait_for(1)
    page = admin_client.get(f"/webhooks/{endpoint.pk}?state=pending").content.decode()
    assert "copy.approved" in page and f"draft {draft.pk}" in page
    assert "HTTP 503 http_status" in page
    assert "&lt;b&gt;maintenance&lt;/b&gt;" in page  # a receiver's answer is untrusted: escaped
    listing = admin_client.get("/webhooks/").content.decode()
    assert "failed)" in listing  # failing since … (1 failed)


def test_a_disabled_endpoint_is_flagged_and_can_be_enabled_again(admin_client):
    endpoint, _ = webhooks.create_endpoint(url="https://cms.example.com/hooks")
    admin_client.post(f"/webhooks/{endpoint.pk}/disable")
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    listing = admin_client.get("/webhooks/").content.decode()
    assert "disabled" in listing and endpoint.disabled_reason in listing
    refused = admin_client.post(f"/webhooks/{endpoint.pk}/test", follow=True)
    assert "enable it before sending a test" in refused.content.decode()
    # Every admin page says so in the navigation, not only the webhooks page.
    assert "1 disabled" in admin_client.get("/queue").content.decode()
    admin_client.post(f"/webhooks/{endpoint.pk}/enable")
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.disabled_reason == ""
    assert "disabled" not in admin_client.get("/queue").content.decode()


def test_disabled_endpoints_head_the_list_and_only_admins_hear_of_them(admin_client):
    webhooks.create_endpoint(url="https://ok.example.com/hooks")
    gone, _ = webhooks.create_endpoint(url="https://gone.example.com/hooks")
    webhooks.disable_endpoint(gone, reason="The receiver answered 410 Gone.", cause="gone", actor=None)

    listing = admin_client.get("/webhooks/").content.decode()
    assert listing.index("gone.example.com") < listing.index("ok.example.com")
    reviewer = Client()
    reviewer.force_login(make_user(roles=["reviewer"]))
    assert "disabled" not in reviewer.get("/queue").content.decode()


def test_rotating_the_secret_shows_the_new_one_once(admin_client):
    endpoint, old = webhooks.create_endpoint(url="https://cms.example.com/hooks")
    response = admin_client.post(f"/webhooks/{endpoint.pk}/rotate")
    new = response.context["secret"]
    assert new != old and new in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert "keeps signing beside this one for 24 hours" in response.content.decode()
    assert admin_client.get(f"/webhooks/{endpoint.pk}/rotate").status_code == 405


def test_the_django_admin_lists_endpoints_and_deliveries_and_edits_through_webhooks(admin_client):
    endpoint, secret = webhooks.create_endpoint(url="https://cms.example.com/hooks")
    assert admin_client.get("/admin/reviewapp/webhookendpoint/").status_code == 200
    assert admin_client.get("/admin/reviewapp/webhookdelivery/").status_code == 200
    assert admin_client.get("/admin/reviewapp/webhookendpoint/add/").status_code == 403
    change = admin_client.get(f"/admin/reviewapp/webhookendpoint/{endpoint.pk}/change/")
    assert change.status_code == 200 and secret not in change.content.decode()
    assert endpoint.secret_encrypted not in change.content.decode()
    saved = admin_client.post(
        f"/admin/reviewapp/webhookendpoint/{endpoint.pk}/change/",
        {
            "url": "https://cms.example.com/v2/hooks",
            "description": "CMS v2",
            "event_types": ["copy.published"],
        },
    )
    assert saved.status_code == 302, saved.content
    endpoint.refresh_from_db()
    assert endpoint.url.endswith("/v2/hooks") and endpoint.event_types == ["copy.published"]
    assert AuditEvent.objects.filter(action="webhook.endpoint_updated").exists()


# --- Commands -------------------------------------------------------------------------------------


def test_add_webhook_prints_the_secret_alone_on_the_last_line():
    out = io.StringIO()
    call_command(
        "add_webhook", "https://cms.example.com/hooks", events="copy.approved,copy.published", stdout=out
    )
    lines = out.getvalue().strip().splitlines()
    secret = lines[-1]
    assert secret.startswith("whsec_") and " " not in secret
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.event_types == ["copy.approved", "copy.published"]
    assert webhooks.decrypt_secret(endpoint.secret_encrypted) == secret
    assert f"endpoint {endpoint.pk}" in lines[0]


@pytest.mark.parametrize(
    ("url", "events", "message"),
    [
        ("https://cms.example.com/hooks", "copy.approved,copy.deleted", "Unknown event type(s) copy.deleted"),
        ("cms.example.com/hooks", "", "full http:// or https:// URL"),
    ],
)
def test_add_webhook_refuses_bad_input(url, events, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call_command("add_webhook", url, events=events, stdout=io.StringIO())
    assert not WebhookEndpoint.objects.exists()


def test_setup_schedules_is_idempotent():
    call_command("setup_schedules", stdout=io.StringIO())
    first = Schedule.objects.get(name="webhooks.sweep")
    assert (first.func, first.schedule_type, first.minutes, first.repeats) == (
        "reviewapp.webhooks.sweep",
        Schedule.MINUTES,
        1,
        -1,
    )
    out = io.StringIO()
    call_command("setup_schedules", stdout=out)
    again = Schedule.objects.get(name="webhooks.sweep")
    assert again.pk == first.pk and again.next_run == first.next_run
    assert "Checked schedule webhooks.sweep" in out.getvalue()


def test_reencrypt_webhook_secrets_lets_the_old_key_go(settings):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.WEBHOOK_SECRET_KEY = old_key
    endpoint, first = webhooks.create_endpoint(url="https://cms.example.com/hooks")
    second = webhooks.rotate_secret(endpoint, actor=None)

    settings.WEBHOOK_SECRET_KEY = f"{new_key},{old_key}"
    out = io.StringIO()
    call_command("reencrypt_webhook_secrets", stdout=out)
    assert "1 endpoint(s)" in out.getvalue()

    settings.WEBHOOK_SECRET_KEY = new_key
    endpoint.refresh_from_db()
    assert webhooks.decrypt_secret(endpoint.secret_encrypted) == second
    assert webhooks.decrypt_secret(endpoint.previous_secret_encrypted) == first
    settings.WEBHOOK_SECRET_KEY = Fernet.generate_key().decode()  # a key that never encrypted them
    with pytest.raises(CommandError, match="cannot be decrypted"):
        call_command("reencrypt_webhook_secrets", stdout=io.StringIO())
