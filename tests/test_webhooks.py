"""Webhooks end to end against a real HTTP receiver on 127.0.0.1: what the workflow emits, how it is
signed, delivered, retried, given up on, and how endpoints are disabled.

django-q2 runs in its `sync` mode here, so a task enqueued on commit runs at once in the test's thread,
through the real worker code; the qcluster process itself is exercised in test_webhook_qcluster.py.
"""

import hashlib
import socket
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import Task
from requests_hardened.ip_filter import InvalidIPAddress, get_ip_address
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from reviewapp import webhooks, workflow
from reviewapp.models import (
    AuditEvent,
    DecisionKind,
    DeliveryState,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookMessage,
)
from tests.conftest import SAFE_COPY, make_user, submit
from tests.receiver import ClosedPort, Receiver, drip

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def local_receivers(settings):
    """Test receivers listen on 127.0.0.1, which production refuses (tests of the guard turn it back on)."""
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True


@pytest.fixture(autouse=True)
def tasks_run_inline(monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def people(db):
    return {
        "writer": make_user(roles=["copywriter"], name="Cora Copywriter"),
        "reviewer": make_user(roles=["reviewer"], username="rhea", name="Rhea Reviewer"),
        "tool": make_user(roles=["integration"], name="Campaign Tool"),
    }


def endpoint_for(url: str, *, events: tuple[str, ...] = ()) -> tuple[WebhookEndpoint, str]:
    return webhooks.create_endpoint(url=url, event_types=events, description="CMS")


def approve(people, *, body: str = SAFE_COPY, **draft_fields):
    draft = submit(author=people["writer"], body=body, **draft_fields)
    workflow.decide(draft, reviewer=people["reviewer"], kind=DecisionKind.APPROVE, version=1)
    draft.refresh_from_db()
    return draft


def time_passes(*deliveries: WebhookDelivery) -> None:
    """The retry is due now (instead of in 30 seconds or 10 hours)."""
    WebhookDelivery.objects.filter(pk__in=[d.pk for d in deliveries], state=DeliveryState.PENDING).update(
        next_attempt_at=timezone.now()
    )


def attempts(delivery: WebhookDelivery) -> list[WebhookAttempt]:
    return list(WebhookAttempt.objects.filter(delivery=delivery).order_by("number"))


# --- What the workflow sends ----------------------------------------------------------------------


def test_an_approval_reaches_the_receiver_signed_naming_the_reviewer_and_the_text(people):
    with Receiver() as receiver:
        endpoint, secret = endpoint_for(receiver.url())
        draft = approve(people, campaign="autumn-26", channel="email", external_id="cms-42")
        (request,) = receiver.wait_for(1)

    payload = Webhook(secret).verify(request.body, request.headers)
    message = WebhookMessage.objects.get(draft=draft)
    assert request.webhook_id == message.msg_id and message.msg_id.startswith("msg_")
    assert request.headers["content-type"] == "application/json"
    assert payload["id"] == message.msg_id and payload["type"] == "copy.approved"
    assert payload["timestamp"].endswith("Z")
    version = draft.current_version
    data = payload["data"]
    assert data["approved_by"] == {"username": "rhea", "name": "Rhea Reviewer"}
    assert data["sha256"] == hashlib.sha256(SAFE_COPY.encode()).hexdigest() == version.sha256
    assert data["body"] == SAFE_COPY
    assert (data["draft_id"], data["external_id"], data["campaign"], data["channel"], data["version"]) == (
        draft.pk,
        "cms-42",
        "autumn-26",
        "email",
        1,
    )
    assert data["approved_at"] == draft.approval.created_at.isoformat(timespec="milliseconds")[:23] + "Z"

    delivery = WebhookDelivery.objects.get(message=message, endpoint=endpoint)
    assert delivery.state == DeliveryState.DELIVERED and delivery.next_attempt_at is None
    (attempt,) = attempts(delivery)
    assert (attempt.number, attempt.trigger, attempt.status_code, attempt.succeeded) == (
        1,
        "event",
        200,
        True,
    )
    assert attempt.response_excerpt == "ok" and attempt.duration_ms is not None
    # The audit trail records the delivery, with ids only: never the copy.
    event = AuditEvent.objects.get(action="webhook.delivered")
    assert event.draft_id == draft.pk and event.data["message"] == message.msg_id
    assert SAFE_COPY not in str(event.data)


def test_publish_and_the_other_decisions_are_sent_too(people):
    with Receiver() as receiver:
        _, secret = endpoint_for(receiver.url())
        draft = approve(people)
        workflow.publish(draft, actor=people["tool"])
        changes = submit(author=people["writer"], body=SAFE_COPY + " Now in 50 ml.")
        workflow.decide(
            changes,
            reviewer=people["reviewer"],
            kind="request_changes",
            version=1,
            comment="Say 50 ml, not 30 ml.",
        )
        rejected = submit(author=people["writer"], body=SAFE_COPY + " Also in blue.")
        workflow.decide(
            rejected,
            reviewer=people["reviewer"],
            kind="reject",
            version=1,
            comment="Off-brand for this season.",
        )
        received = receiver.wait_for(4)

    payloads = [Webhook(secret).verify(request.body, request.headers) for request in received]
    assert [p["type"] for p in payloads] == [
        "copy.approved",
        "copy.published",
        "copy.changes_requested",
        "copy.rejected",
    ]
    published = payloads[1]["data"]
    assert published["body"] == SAFE_COPY and published["version"] == 1
    assert published["approved_by"]["username"] == "rhea"
    assert published["published_by"]["username"] == people["tool"].username
    assert (
        payloads[2]["data"]["comment"] == "Say 50 ml, not 30 ml."
        and payloads[2]["data"]["decision"] == "request_changes"
    )
    assert (
        payloads[3]["data"]["comment"] == "Off-brand for this season."
        and payloads[3]["data"]["draft_id"] == rejected.pk
    )
    assert "body" not in payloads[3]["data"]


def test_only_subscribed_enabled_endpoints_get_a_delivery(people):
    with Receiver() as approvals, Receiver() as publications, Receiver() as everything:
        endpoint_for(approvals.url(), events=("copy.approved",))
        endpoint_for(publications.url(), events=("copy.published",))
        endpoint_for(everything.url())
        off, _ = endpoint_for(everything.url("/disabled"))
        webhooks.disable_endpoint(off, reason="test", cause="manual", actor=None)
        draft = approve(people)
        everything.wait_for(1)
        assert len(approvals.received) == 1 and publications.received == []
        workflow.publish(draft, actor=people["tool"])
        everything.wait_for(2)
    assert len(publications.received) == 1
    assert {request.path for request in everything.received} == {"/hooks"}
    assert not WebhookDelivery.objects.filter(endpoint=off).exists()


def test_no_endpoint_means_no_message(people):
    approve(people)
    assert not WebhookMessage.objects.exists()


def test_the_emit_seam_sends_any_event_inside_a_transaction(people):
    with Receiver() as receiver:
        _, secret = endpoint_for(receiver.url(), events=("brief.failed",))
        with transaction.atomic():
            message = webhooks.emit("brief.failed", {"brief_id": 7, "error": "The model timed out."})
        (request,) = receiver.wait_for(1)
    assert Webhook(secret).verify(request.body, request.headers)["data"] == {
        "brief_id": 7,
        "error": "The model timed out.",
    }
    assert request.webhook_id == message.msg_id
    with pytest.raises(RuntimeError, match="inside the transaction"):
        webhooks.emit("brief.failed", {})
    with pytest.raises(ValueError, match="unknown webhook event type"), transaction.atomic():
        webhooks.emit("copy.deleted", {})


def test_a_rolled_back_change_sends_nothing(people):
    with Receiver() as receiver:
        endpoint_for(receiver.url())
        draft = submit(author=people["writer"], body=SAFE_COPY)
        with pytest.raises(RuntimeError), transaction.atomic():
            workflow.decide(draft, reviewer=people["reviewer"], kind="approve", version=1)
            raise RuntimeError("the request failed after the decision")
    assert receiver.received == [] and not WebhookMessage.objects.exists()


# --- Retries --------------------------------------------------------------------------------------


def test_a_receiver_that_is_down_gets_the_message_later_once_with_the_same_id(people):
    closed = ClosedPort()
    endpoint, secret = endpoint_for(closed.url())
    draft = approve(people)
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    message_id = delivery.message.msg_id
    first = attempts(delivery)[0]
    assert (first.trigger, first.error_kind, first.status_code, first.succeeded) == (
        "event",
        "connection",
        None,
        False,
    )
    delivery.refresh_from_db()
    wait = (delivery.next_attempt_at - first.finished_at).total_seconds()
    assert 27 <= wait <= 33  # 30 s ± jitter

    time_passes(delivery)
    assert webhooks.sweep() == 1  # second attempt: still down
    delivery.refresh_from_db()
    wait = (delivery.next_attempt_at - attempts(delivery)[1].finished_at).total_seconds()
    assert 270 <= wait <= 330  # then 5 minutes

    with Receiver(port=closed.release()) as receiver:
        assert webhooks.sweep() == 0  # not due yet: nothing is sent early
        time_passes(delivery)
        webhooks.sweep()
        time_passes(delivery)
        webhooks.sweep()  # delivered: nothing more to send
        (request,) = receiver.wait_for(1)

    assert request.webhook_id == message_id
    assert Webhook(secret).verify(request.body, request.headers)["data"]["draft_id"] == draft.pk
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED
    assert [(a.number, a.trigger, a.succeeded) for a in attempts(delivery)] == [
        (1, "event", False),
        (2, "sweep", False),
        (3, "sweep", True),
    ]
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.failed_attempts == 0


def test_the_retry_schedule_runs_out_after_eight_attempts(people):
    with Receiver(default=(500, {}, b"database on fire")) as receiver:
        endpoint, _ = endpoint_for(receiver.url())
        approve(people)
        delivery = WebhookDelivery.objects.get(endpoint=endpoint)
        waits = []
        for _ in range(7):
            delivery.refresh_from_db()
            waits.append((delivery.next_attempt_at - attempts(delivery)[-1].finished_at).total_seconds())
            time_passes(delivery)
            webhooks.sweep()
        receiver.wait_for(8)
        time_passes(delivery)
        assert webhooks.sweep() == 0

    expected = [delay.total_seconds() for delay in webhooks.RETRY_DELAYS]
    assert expected == [30, 300, 1800, 7200, 18000, 36000, 36000]
    for wait, planned in zip(waits, expected, strict=True):
        assert planned * 0.89 <= wait <= planned * 1.11
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.EXHAUSTED and delivery.next_attempt_at is None
    log = attempts(delivery)
    assert [a.number for a in log] == list(range(1, 9))
    assert {(a.status_code, a.error_kind, a.response_excerpt) for a in log} == {
        (500, "http_status", "database on fire")
    }
    assert len({request.webhook_id for request in receiver.received}) == 1
    assert AuditEvent.objects.filter(action="webhook.exhausted").count() == 1


@pytest.mark.parametrize(
    ("header", "at_least"),
    [("3600", 3600), (None, 27)],
    ids=["retry-after-seconds", "no-retry-after"],
)
def test_retry_after_is_honoured(people, header, at_least):
    answer = (429, {"Retry-After": header} if header else {}, b"slow down")
    with Receiver(answer) as receiver:
        endpoint, _ = endpoint_for(receiver.url())
        approve(people)
        receiver.wait_for(1)
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    (attempt,) = attempts(delivery)
    wait = (delivery.next_attempt_at - attempt.finished_at).total_seconds()
    assert attempt.status_code == 429
    assert at_least <= wait <= max(at_least * 1.2, 33)


def test_retry_after_as_an_http_date():
    in_two_hours = timezone.now() + timedelta(hours=2)
    seconds = webhooks._retry_after(in_two_hours.strftime("%a, %d %b %Y %H:%M:%S GMT"))
    assert 7190 <= seconds <= 7200
    assert webhooks.retry_delay(1, retry_after=seconds) >= timedelta(seconds=7190)
    assert webhooks.retry_delay(1, retry_after=10**9) == webhooks.MAX_RETRY_AFTER  # capped
    assert webhooks._retry_after("soon") is None


# --- Disabling endpoints --------------------------------------------------------------------------


def test_410_gone_disables_the_endpoint_at_once(people):
    with Receiver((410, {}, b"this hook was deleted")) as receiver:
        endpoint, _ = endpoint_for(receiver.url())
        with transaction.atomic():  # two events in one transaction: the second is still pending
            webhooks.emit("brief.failed", {"brief_id": 1})
            webhooks.emit("brief.failed", {"brief_id": 2})
        receiver.wait_for(1)
        approve(people)  # after the endpoint was disabled: no delivery for it
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert "410" in endpoint.disabled_reason and endpoint.disabled_at is not None
    states = sorted(WebhookDelivery.objects.filter(endpoint=endpoint).values_list("state", flat=True))
    assert states == [DeliveryState.CANCELLED, DeliveryState.CANCELLED]
    assert len(receiver.received) == 1
    event = AuditEvent.objects.get(action="webhook.endpoint_disabled")
    assert event.data["cause"] == "gone"


@pytest.mark.parametrize(
    ("failing_for", "failed_before", "disabled"),
    [
        (timedelta(days=5, minutes=1), 9, True),
        (timedelta(days=5, minutes=1), 3, False),  # failing long enough, but too few attempts
        (timedelta(days=4, hours=23), 40, False),  # many attempts, but not five days yet
    ],
)
def test_an_endpoint_failing_for_five_days_with_ten_attempts_is_disabled(
    people, failing_for, failed_before, disabled
):
    with Receiver(default=(503, {}, b"maintenance")) as receiver:
        endpoint, _ = endpoint_for(receiver.url())
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            failing_since=timezone.now() - failing_for, failed_attempts=failed_before
        )
        approve(people)
        receiver.wait_for(1)
    endpoint.refresh_from_db()
    assert endpoint.failed_attempts == failed_before + 1
    assert endpoint.enabled is not disabled
    if disabled:
        assert "5 days" in endpoint.disabled_reason
        assert WebhookDelivery.objects.get(endpoint=endpoint).state == DeliveryState.CANCELLED


def test_a_success_clears_failing_since(people):
    with Receiver((500, {}, b""), (500, {}, b"")) as receiver:
        endpoint, _ = endpoint_for(receiver.url())
        approve(people)
        endpoint.refresh_from_db()
        assert endpoint.failing_since is not None and endpoint.failed_attempts == 1
        delivery = WebhookDelivery.objects.get(endpoint=endpoint)
        for _ in range(2):
            time_passes(delivery)
            webhooks.sweep()
        receiver.wait_for(3)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.failed_attempts == 0


# --- The sending helper: guard, redirects, limits --------------------------------------------------


def test_a_redirect_is_not_followed(people):
    with Receiver() as elsewhere, Receiver((302, {"Location": elsewhere.url("/stolen")}, b"")) as receiver:
        endpoint, _ = endpoint_for(receiver.url())
        approve(people)
        receiver.wait_for(1)
    assert elsewhere.received == []
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    (attempt,) = attempts(delivery)
    assert (attempt.status_code, attempt.error_kind, attempt.succeeded) == (302, "redirect", False)
    assert delivery.state == DeliveryState.PENDING  # retried later: the receiver may fix its URL


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_private_address_is_refused_by_default_and_allowed_by_the_setting(people, settings, host):
    with Receiver() as receiver:
        endpoint, secret = endpoint_for(f"http://{host}:{receiver.port}/hooks")  # allowed when it was added
        settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
        approve(people)
        delivery = WebhookDelivery.objects.get(endpoint=endpoint)
        (attempt,) = attempts(delivery)
        assert (attempt.error_kind, attempt.status_code) == ("address_refused", None)
        assert receiver.received == []

        settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
        time_passes(delivery)
        webhooks.sweep()
        (request,) = receiver.wait_for(1)
    assert Webhook(secret).verify(request.body, request.headers)["type"] == "copy.approved"


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "127.0.0.1",
        "169.254.169.254",  # cloud metadata (AWS, GCP, Azure)
        "100.100.100.200",  # CG-NAT range (Alibaba metadata)
        "0.0.0.0",  # noqa: S104 (an address to refuse, not to bind)
        "::1",
        "fd00:ec2::254",  # AWS metadata over IPv6
        "fe80::1",
        "::ffff:127.0.0.1",
    ],
)
def test_the_guard_refuses_every_non_public_range_before_connecting(address):
    """The check requests-hardened runs on the resolved address; it raises before any socket opens."""
    with pytest.raises(InvalidIPAddress):
        get_ip_address(address, 80, allow_loopback=False)


def test_the_whole_exchange_is_cut_at_the_total_deadline():
    """A receiver that drips its answer never trips the read timeout; the total deadline stops it."""
    with Receiver(drip(0.2)) as receiver:
        result = webhooks.post(
            receiver.url(), b"{}", {}, timeouts=webhooks.Timeouts(connect=1, read=1, total=1.5)
        )
    assert result.error_kind == "timeout" and result.status_code is None
    assert 1400 <= result.duration_ms < 4000


def test_a_slow_name_lookup_counts_against_the_total_deadline(settings, monkeypatch):
    """getaddrinfo has no timeout of its own; the guarded sender waits for it only as long as the
    deadline allows."""
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    looked_up = threading.Event()

    def slow_lookup(*args, **kwargs):
        looked_up.set()
        time.sleep(3)
        raise socket.gaierror("no answer")

    monkeypatch.setattr(socket, "getaddrinfo", slow_lookup)
    result = webhooks.post(
        "https://slow-dns.example.com/hooks",
        b"{}",
        {},
        timeouts=webhooks.Timeouts(connect=1, read=1, total=1),
    )
    assert looked_up.is_set()
    assert (result.status_code, result.error_kind) == (None, "timeout")
    assert 900 <= result.duration_ms < 2500


def test_only_the_start_of_a_large_answer_is_read_and_kept():
    with Receiver((200, {}, b"x" * (2 * 1024 * 1024))) as receiver:
        result = webhooks.post(receiver.url(), b"{}", {})
    assert result.ok and result.status_code == 200
    assert len(result.excerpt) == webhooks.EXCERPT_BYTES


def test_an_unreachable_host_is_a_connection_error_not_an_exception():
    result = webhooks.post(ClosedPort().url(), b"{}", {})
    assert (result.status_code, result.error_kind) == (None, "connection")


# --- Secrets --------------------------------------------------------------------------------------


def _all_text_in(table: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 (a fixed table name)
        return " ".join(str(value) for row in cursor.fetchall() for value in row)


def test_secrets_are_not_readable_in_the_database(people):
    endpoint, secret = endpoint_for("https://cms.example.com/hooks")
    rotated = webhooks.rotate_secret(endpoint, actor=None)
    stored = _all_text_in("reviewapp_webhookendpoint") + _all_text_in("reviewapp_auditevent")
    assert "whsec_" not in stored
    for plain in (secret, rotated):
        assert plain.removeprefix("whsec_") not in stored
    endpoint.refresh_from_db()
    assert webhooks.decrypt_secret(endpoint.secret_encrypted) == rotated
    assert webhooks.decrypt_secret(endpoint.previous_secret_encrypted) == secret


def test_a_rotated_secret_keeps_signing_beside_the_new_one_for_24_hours(people):
    with Receiver() as receiver:
        endpoint, old = endpoint_for(receiver.url())
        new = webhooks.rotate_secret(endpoint, actor=None)
        assert new != old and new.startswith("whsec_")
        webhooks.send_test(endpoint, actor=None)
        (during,) = receiver.wait_for(1)
        assert len(during.headers["webhook-signature"].split(" ")) == 2
        for secret in (old, new):
            assert Webhook(secret).verify(during.body, during.headers)["type"] == "webhook.test"

        # 24 hours later only the new secret signs.
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
        )
        webhooks.resend(WebhookDelivery.objects.get(endpoint=endpoint), actor=None)
        _, after = receiver.wait_for(2)
    assert after.webhook_id == during.webhook_id and after.body == during.body
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(after.body, after.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(after.body, after.headers)


def test_a_tampered_body_or_a_stranger_secret_fails_verification(people):
    with Receiver() as receiver:
        endpoint, secret = endpoint_for(receiver.url())
        webhooks.send_test(endpoint, actor=None)
        (request,) = receiver.wait_for(1)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(request.body.replace(b"test", b"tost"), request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(webhooks.new_secret()).verify(request.body, request.headers)


# --- Claiming -------------------------------------------------------------------------------------


def test_a_claimed_attempt_is_not_claimed_again_until_its_lease_runs_out(people):
    with Receiver() as receiver:
        endpoint, _ = endpoint_for(receiver.url())
        with transaction.atomic():
            webhooks.emit("brief.failed", {"brief_id": 1}, endpoints=[endpoint], trigger="test")
            delivery = WebhookDelivery.objects.get(endpoint=endpoint)
            # Claimed by a worker that then died (before the commit, so its task never ran here).
            assert webhooks._claim(delivery.pk, "event") is not None
        assert webhooks._claim(delivery.pk, "event") is None
        assert webhooks.sweep() == 0
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            next_attempt_at=timezone.now() - timedelta(seconds=1)  # the lease ran out
        )
        webhooks.sweep()
        receiver.wait_for(1)
    log = attempts(delivery)
    assert [(a.number, a.succeeded) for a in log] == [(1, None), (2, True)]


def race(action, *, threads: int = 2) -> None:
    """Run `action` in several threads released at the same instant, each with its own connection."""
    start = threading.Barrier(threads)
    errors = []

    def run():
        try:
            start.wait()
            action()
        except Exception as exc:  # re-raised in the test's thread below
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not errors, errors


@pytest.mark.slow
def test_two_sweepers_racing_over_the_same_due_rows_send_each_attempt_once(postgres):
    rounds, per_round = 5, 20
    with Receiver() as receiver:
        endpoint, _ = endpoint_for(receiver.url())
        for _ in range(rounds):
            with transaction.atomic():
                for number in range(per_round):
                    webhooks.emit("brief.failed", {"brief_id": number}, endpoints=[endpoint], trigger="test")
            # Their first attempts ran on commit; make every delivery so far due again, as if each had
            # failed, and let two sweepers (each sending what it enqueues) loose on them at once.
            WebhookDelivery.objects.update(state=DeliveryState.PENDING, next_attempt_at=timezone.now())
            sent_before = len(receiver.received)
            race(webhooks.sweep)
            assert len(receiver.received) - sent_before == WebhookDelivery.objects.count()
        ids = [request.webhook_id for request in receiver.received]
    for delivery in WebhookDelivery.objects.all():
        log = list(delivery.attempts.order_by("number"))
        assert [a.number for a in log] == list(range(1, len(log) + 1))
        assert all(a.succeeded for a in log)
    assert len(ids) == WebhookAttempt.objects.count() == sum(per_round * (r + 2) for r in range(rounds))
    # The sweepers did collide: tasks that found their delivery already claimed by the other one.
    assert Task.objects.filter(func="reviewapp.webhooks.deliver", result="not due").exists()


# --- Architecture ---------------------------------------------------------------------------------


def test_outgoing_http_lives_only_in_webhooks_and_the_openai_client():
    from tests.test_architecture import ROOT, _imports

    clients = {"requests", "requests_hardened", "urllib3", "httpx", "httpx2", "http.client", "urllib.request"}
    offenders = []
    for path in (ROOT / "reviewapp").rglob("*.py"):
        if path.name == "webhooks.py":
            continue
        for name in _imports(path):
            if name in clients or name.split(".")[0] in clients:
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offenders, offenders
