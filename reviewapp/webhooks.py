"""Signed webhooks to campaign tools (SPEC §8, Standard Webhooks v1): outbox, signing, sending, retries.

The path of an event:

1. A transition calls `emit()` inside its transaction. It writes one WebhookMessage (a stable `msg_…`
   id and the frozen JSON body) and one WebhookDelivery per enabled endpoint subscribed to the event,
   so the event exists exactly when the change does.
2. On commit, a django-q2 task `deliver(delivery_id, trigger)` is enqueued per delivery. It claims the
   attempt with a conditional UPDATE (only one worker can), signs the body for this attempt, sends it
   through `post()` and records the outcome on the delivery, the attempt and the endpoint.
3. A schedule (`manage.py setup_schedules`) runs `sweep()` every minute. It enqueues `deliver` for every
   delivery that is due: retries, and first attempts whose task was lost.

The delivery row is the truth. Tasks carry ids only, so a lost task is found by the sweep and a
duplicated one finds nothing to claim. Nothing here logs URLs (they may carry a receiver's token),
bodies (they carry the approved copy) or secrets.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import email.utils
import ipaddress
import json
import logging
import math
import random
import secrets
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from urllib.parse import urlsplit

import requests
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import URLValidator
from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_q.tasks import async_task
from requests.adapters import HTTPAdapter
from requests_hardened import Config, HTTPSession
from requests_hardened.ip_filter import EXTRA_BLOCKED_NET_RANGES, InvalidIPAddress
from requests_hardened.ip_filter_adapter import IPFilterAdapter
from standardwebhooks import Webhook
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError as Urllib3Error

from reviewapp import audit
from reviewapp.models import (
    AttemptTrigger,
    Brief,
    Decision,
    DecisionKind,
    DeliveryState,
    Draft,
    User,
    Version,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    WebhookMessage,
)

logger = logging.getLogger(__name__)

# SPEC §8: after the first attempt, retries this long after each failure (± JITTER), then `exhausted`.
RETRY_DELAYS = (
    timedelta(seconds=30),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_ATTEMPTS = 1 + len(RETRY_DELAYS)
JITTER = 0.1
# A receiver's Retry-After is honoured up to this long (a larger value would stall the delivery).
MAX_RETRY_AFTER = timedelta(hours=24)
# An endpoint failing this long, with at least this many failed attempts, is disabled.
DISABLE_AFTER_FAILING_FOR = timedelta(days=5)
DISABLE_AFTER_ATTEMPTS = 10
# A claimed attempt is someone's for this long: longer than django-q2's task timeout, so a worker that
# dies mid-attempt has surely been stopped before the sweep hands its delivery to another.
CLAIM_LEASE = timedelta(seconds=settings.Q_CLUSTER["timeout"] + 30)
SWEEP_BATCH = 500

SECRET_PREFIX = "whsec_"  # noqa: S105 (a public marker, not a secret)
SECRET_BYTES = 32
PREVIOUS_SECRET_VALID_FOR = timedelta(hours=24)

USER_AGENT = "CopyReview-Webhooks/1.0"
MAX_RESPONSE_BYTES = 64 * 1024
EXCERPT_BYTES = 4 * 1024


class WebhookError(ValueError):
    """A request about endpoints or deliveries that cannot be done; the message says why."""


# --- Secrets at rest ------------------------------------------------------------------------------


def secret_box() -> MultiFernet:
    """The cipher for signing secrets, from WEBHOOK_SECRET_KEY (comma-separated Fernet keys: the first
    encrypts, every one decrypts). Raises ImproperlyConfigured, which the system check reports."""
    return _box(settings.WEBHOOK_SECRET_KEY)


@lru_cache(maxsize=4)
def _box(keys: str) -> MultiFernet:
    parts = [key.strip() for key in (keys or "").split(",") if key.strip()]
    if not parts:
        raise ImproperlyConfigured(
            "WEBHOOK_SECRET_KEY is not set: webhook signing secrets are stored encrypted with it."
        )
    try:
        return MultiFernet([Fernet(part) for part in parts])
    except (ValueError, binascii.Error):
        raise ImproperlyConfigured(
            "WEBHOOK_SECRET_KEY is not a valid Fernet key (32 url-safe base64-encoded bytes, "
            "or several separated by commas)."
        ) from None


def encrypt_secret(secret: str) -> str:
    return secret_box().encrypt(secret.encode()).decode()


_UNDECRYPTABLE = (
    "A webhook secret cannot be decrypted: WEBHOOK_SECRET_KEY no longer lists the key it was encrypted "
    "with. Put the old key back after the new one."
)


def decrypt_secret(token: str) -> str:
    try:
        return secret_box().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(_UNDECRYPTABLE) from None


def _reencrypt(token: str) -> str:
    """The same secret, encrypted with the first key of WEBHOOK_SECRET_KEY."""
    try:
        return secret_box().rotate(token.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(_UNDECRYPTABLE) from None


def reencrypt_secrets() -> int:
    """Re-encrypt every stored secret with the first key of WEBHOOK_SECRET_KEY, so that older keys can be
    dropped from it. The secrets themselves, and so the receivers, are unaffected."""
    count = 0
    with transaction.atomic():
        for endpoint in WebhookEndpoint.objects.select_for_update().order_by("pk"):
            fields = {"secret_encrypted": _reencrypt(endpoint.secret_encrypted)}
            if endpoint.previous_secret_encrypted:
                fields["previous_secret_encrypted"] = _reencrypt(endpoint.previous_secret_encrypted)
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(**fields)
            count += 1
        audit.record("webhook.secrets_reencrypted", actor=None, data={"endpoints": count})
    return count


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signing_secrets(endpoint: WebhookEndpoint, *, now: datetime) -> list[str]:
    """The current secret, and the previous one while it is still valid after a rotation."""
    found = [decrypt_secret(endpoint.secret_encrypted)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_encrypted and expires and expires > now:
        found.append(decrypt_secret(endpoint.previous_secret_encrypted))
    return found


def sign(message: WebhookMessage, endpoint: WebhookEndpoint, *, at: datetime) -> dict[str, str]:
    """Standard Webhooks headers for one attempt: the same id every time, a fresh timestamp, and one
    `v1,` signature per valid secret (space-separated, as the standard allows)."""
    at = at.astimezone(UTC)  # standardwebhooks replaces the tzinfo rather than converting
    signatures = [
        Webhook(secret).sign(message.msg_id, at, message.body) for secret in signing_secrets(endpoint, now=at)
    ]
    return {
        "webhook-id": message.msg_id,
        "webhook-timestamp": str(math.floor(at.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


# --- Endpoints ------------------------------------------------------------------------------------

_validate_url = URLValidator(schemes=["http", "https"])


def clean_url(url: str) -> str:
    url = (url or "").strip()
    try:
        _validate_url(url)
    except ValidationError:
        raise WebhookError("Enter a full http:// or https:// URL for the receiver.") from None
    if len(url) > 2000:
        raise WebhookError("The URL is longer than 2000 characters.")
    if not settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS and not _may_be_public(host_of(url)):
        raise WebhookError(
            "The URL's host is a private, loopback, link-local or otherwise non-public address; "
            "webhooks go only to public addresses."
        )
    return url


def _may_be_public(host: str) -> bool:
    """False for a host that is surely not public: an IP address the sender would refuse, or localhost.
    A host name is checked when it is resolved, at every attempt (see `post`)."""
    if host == "localhost" or host.endswith(".localhost"):  # RFC 6761: always loopback
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return True
    return is_public_address(address)


# IPv6 addresses that carry an IPv4 address in their low 32 bits.
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated (RFC 4291), :: and ::1 aside
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # the well-known NAT64 prefix (RFC 6052)


def carried_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for: IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible
    (::a.b.c.d), 6to4 (2002:aabb:ccdd::/48) or NAT64 (64:ff9b::a.b.c.d); None for any other."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether webhooks may go to this address: a global, unicast, unreserved address outside
    requests-hardened's extra blocked ranges (CG-NAT, 6to4, NAT64, …). An IPv6 address carrying an IPv4
    address is judged as that address too, so ::ffff:127.0.0.1, ::7f00:1, 2002:7f00:1:: and
    64:ff9b::a9fe:a9fe are loopback and link-local like the IPv4 addresses inside them. (6to4 and NAT64
    addresses and IPv4-compatible ones are refused whatever they carry: their ranges are blocked or
    reserved.)"""
    judged = [address]
    if address.version == 6:
        carried = carried_ipv4(address)
        if address.ipv4_mapped is not None:
            judged = [carried]  # the IPv4 address itself, nothing else, reaches the wire
        elif carried is not None:
            judged.append(carried)
    return all(
        candidate.is_global
        and not (candidate.is_multicast or candidate.is_reserved or candidate.is_unspecified)
        and not any(candidate in network for network in EXTRA_BLOCKED_NET_RANGES)
        for candidate in judged
    )


def clean_event_types(event_types: Iterable[str]) -> list[str]:
    chosen = sorted({event.strip() for event in event_types if event.strip()})
    unknown = [event for event in chosen if event not in WebhookEvent.values]
    if unknown:
        raise WebhookError(
            f"Unknown event type(s) {', '.join(unknown)}; use {', '.join(WebhookEvent.values)}."
        )
    return chosen


def create_endpoint(
    *, url: str, description: str = "", event_types: Iterable[str] = (), actor: User | None = None
) -> tuple[WebhookEndpoint, str]:
    """Add a receiver. Returns it with its signing secret, which is shown once and stored encrypted."""
    url, events = clean_url(url), clean_event_types(event_types)
    secret = new_secret()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            url=url,
            description=description.strip()[:200],
            event_types=events,
            secret_encrypted=encrypt_secret(secret),
            created_by=actor,
        )
        audit.record("webhook.endpoint_created", actor=actor, obj=endpoint, data={"events": events})
    return endpoint, secret


def update_endpoint(
    endpoint: WebhookEndpoint, *, url: str, description: str, event_types: Iterable[str], actor: User | None
) -> WebhookEndpoint:
    url, events = clean_url(url), clean_event_types(event_types)
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            url=url, description=description.strip()[:200], event_types=events
        )
        audit.record(
            "webhook.endpoint_updated",
            actor=actor,
            obj=endpoint,
            data={"events": events, "url_changed": url != endpoint.url},
        )
    endpoint.refresh_from_db()
    return endpoint


def rotate_secret(endpoint: WebhookEndpoint, *, actor: User | None) -> str:
    """A new secret, returned once. The old one keeps signing beside it for 24 hours, so receivers can
    switch without losing a message; a secret older than the previous one stops at once."""
    secret = new_secret()
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        expires = timezone.now() + PREVIOUS_SECRET_VALID_FOR
        WebhookEndpoint.objects.filter(pk=locked.pk).update(
            secret_encrypted=encrypt_secret(secret),
            previous_secret_encrypted=_reencrypt(locked.secret_encrypted),
            previous_secret_expires_at=expires,
        )
        audit.record(
            "webhook.secret_rotated",
            actor=actor,
            obj=locked,
            data={"previous_valid_until": expires.isoformat()},
        )
    endpoint.refresh_from_db()
    return secret


def disable_endpoint(endpoint: WebhookEndpoint, *, reason: str, cause: str, actor: User | None) -> bool:
    """Stop sending to an endpoint and cancel its pending deliveries (they can be resent once it is
    enabled again). `cause` is a label for the audit trail: gone, failing or manual."""
    now = timezone.now()
    with transaction.atomic():
        disabled = WebhookEndpoint.objects.filter(pk=endpoint.pk, enabled=True).update(
            enabled=False, disabled_reason=reason[:300], disabled_at=now
        )
        if not disabled:
            return False
        cancelled = WebhookDelivery.objects.filter(endpoint=endpoint.pk, state=DeliveryState.PENDING).update(
            state=DeliveryState.CANCELLED, next_attempt_at=None
        )
        audit.record(
            "webhook.endpoint_disabled",
            actor=actor,
            obj=endpoint,
            data={"cause": cause, "cancelled_deliveries": cancelled},
        )
    logger.warning("webhook endpoint %s disabled (%s); %s pending cancelled", endpoint.pk, cause, cancelled)
    return True


def enable_endpoint(endpoint: WebhookEndpoint, *, actor: User | None) -> bool:
    with transaction.atomic():
        enabled = WebhookEndpoint.objects.filter(pk=endpoint.pk, enabled=False).update(
            enabled=True, disabled_reason="", disabled_at=None, failing_since=None, failed_attempts=0
        )
        if enabled:
            audit.record("webhook.endpoint_enabled", actor=actor, obj=endpoint)
    return bool(enabled)


# --- Events ---------------------------------------------------------------------------------------


def emit(
    event_type: str,
    data: Mapping,
    *,
    draft: Draft | None = None,
    endpoints: Iterable[WebhookEndpoint] | None = None,
    trigger: str = AttemptTrigger.EVENT,
) -> WebhookMessage | None:
    """Record an event for delivery, inside the transaction of the change it reports.

    Any transition may call it (e.g. `emit("brief.failed", {...})` from the generation task). `data` must
    be plain JSON. Without `endpoints`, every enabled endpoint subscribed to the event gets a delivery;
    when none does, nothing is written and None is returned. First attempts are enqueued on commit."""
    if event_type not in WebhookEvent.values:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    if not connection.in_atomic_block:
        raise RuntimeError("webhooks.emit() must run inside the transaction of the change it reports")
    targets = list(endpoints) if endpoints is not None else WebhookEndpoint.objects.receiving(event_type)
    if not targets:
        return None
    now = timezone.now()
    message = WebhookMessage(event_type=event_type, draft=draft, created_at=now)
    message.body = json.dumps(
        {"id": message.msg_id, "type": event_type, "timestamp": _iso(now), "data": data},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    message.save()
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(message=message, endpoint=endpoint, next_attempt_at=now, created_at=now)
        for endpoint in targets
    )
    ids = [delivery.pk for delivery in deliveries]
    transaction.on_commit(lambda: _enqueue(ids, trigger), robust=True)
    return message


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _person(user: User) -> dict:
    return {"username": user.username, "name": user.name}


def _copy(draft: Draft, version: Version) -> dict:
    return {
        "draft_id": draft.pk,
        "external_id": draft.external_id,
        "title": draft.title,
        "campaign": draft.campaign,
        "channel": draft.channel,
        "language": draft.language,
        "version": version.number,
        "sha256": version.sha256,
    }


DECISION_EVENTS = {
    DecisionKind.APPROVE: WebhookEvent.COPY_APPROVED,
    DecisionKind.REQUEST_CHANGES: WebhookEvent.COPY_CHANGES_REQUESTED,
    DecisionKind.REJECT: WebhookEvent.COPY_REJECTED,
}


def copy_decided(draft: Draft, version: Version, decision: Decision) -> WebhookMessage | None:
    """copy.approved (with the approved text), copy.changes_requested or copy.rejected."""
    if decision.kind == DecisionKind.APPROVE:
        data = {
            **_copy(draft, version),
            "body": version.body,
            "approved_by": _person(decision.reviewer),
            "approved_at": _iso(decision.created_at),
        }
        return emit(WebhookEvent.COPY_APPROVED, data, draft=draft)
    data = {
        **_copy(draft, version),
        "decision": decision.kind,
        "comment": decision.comment,
        "decided_by": _person(decision.reviewer),
        "decided_at": _iso(decision.created_at),
    }
    return emit(DECISION_EVENTS[decision.kind], data, draft=draft)


def copy_published(
    draft: Draft, version: Version, approval: Decision, *, actor: User, at: datetime
) -> WebhookMessage | None:
    data = {
        **_copy(draft, version),
        "body": version.body,
        "approved_by": _person(approval.reviewer),
        "approved_at": _iso(approval.created_at),
        "published_by": _person(actor),
        "published_at": _iso(at),
    }
    return emit(WebhookEvent.COPY_PUBLISHED, data, draft=draft)


def brief_failed(brief: Brief) -> WebhookMessage | None:
    """brief.failed: which brief, why (a reason meant for its author, never personal data), and who asked."""
    data = {
        "brief_id": brief.pk,
        "code": brief.error_code,
        "error": brief.error,
        "requested_by": _person(brief.requester),
        "failed_at": _iso(brief.finished_at or timezone.now()),
    }
    return emit(WebhookEvent.BRIEF_FAILED, data)


def send_test(endpoint: WebhookEndpoint, *, actor: User | None) -> WebhookMessage:
    """A `webhook.test` message to this one endpoint, whatever it subscribes to."""
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if not locked.enabled:
            raise WebhookError("The endpoint is disabled; enable it before sending a test.")
        message = emit(
            WebhookEvent.WEBHOOK_TEST,
            {"endpoint_id": locked.pk, "note": "A test event from Copy review. No action is needed."},
            endpoints=[locked],
            trigger=AttemptTrigger.TEST,
        )
        audit.record("webhook.test_sent", actor=actor, obj=locked, data={"message": message.msg_id})
    return message


def resend(delivery: WebhookDelivery, *, actor: User | None) -> None:
    """Send a delivery again now, whatever its state: same message id and body, a new signature, and a
    fresh retry schedule. Refused while an attempt is in flight or the endpoint is disabled."""
    now = timezone.now()
    with transaction.atomic():
        locked = (
            WebhookDelivery.objects.select_for_update()
            .select_related("endpoint", "message")
            .get(pk=delivery.pk)
        )
        if not locked.endpoint.enabled:
            raise WebhookError("The endpoint is disabled; enable it before resending.")
        if locked.attempts.filter(succeeded__isnull=True, started_at__gt=now - CLAIM_LEASE).exists():
            raise WebhookError("An attempt is in progress; wait for its outcome before resending.")
        WebhookDelivery.objects.filter(pk=locked.pk, attempt_count=locked.attempt_count).update(
            state=DeliveryState.PENDING, next_attempt_at=now, round_attempts=0
        )
        audit.record(
            "webhook.resent",
            actor=actor,
            obj=locked,
            draft=locked.message.draft,
            data={"message": locked.message.msg_id, "endpoint": locked.endpoint_id},
        )
        transaction.on_commit(lambda: _enqueue([locked.pk], AttemptTrigger.RESEND), robust=True)


# --- Background work ------------------------------------------------------------------------------


def _enqueue(delivery_ids: list[int], trigger: str) -> None:
    for delivery_id in delivery_ids:
        async_task("reviewapp.webhooks.deliver", delivery_id, trigger)


def sweep(limit: int = SWEEP_BATCH) -> int:
    """The every-minute schedule: enqueue an attempt for each due delivery (oldest due first).

    Enqueuing a delivery that already has a task waiting is harmless: only one claim succeeds."""
    now = timezone.now()
    # A worker that died during the last allowed attempt leaves a due row with no attempts left.
    WebhookDelivery.objects.due(now).filter(round_attempts__gte=MAX_ATTEMPTS).update(
        state=DeliveryState.EXHAUSTED, next_attempt_at=None
    )
    due = list(WebhookDelivery.objects.due(now).values_list("pk", flat=True)[:limit])
    _enqueue(due, AttemptTrigger.SWEEP)
    if due:
        logger.info("webhook sweep enqueued %s due deliveries", len(due))
    return len(due)


def deliver(delivery_id: int, trigger: str = AttemptTrigger.EVENT) -> str:
    """The django-q2 task: one attempt at a due delivery, unless another worker has claimed it.
    Returns a short label of the outcome (kept with the task result; no personal data)."""
    attempt = _claim(delivery_id, trigger)
    if attempt is None:
        return "not due"
    delivery = attempt.delivery
    if not delivery.endpoint.enabled:  # disabled between the claim and now
        _finish(attempt, HttpResult(None, "endpoint_disabled", "", 0, None))
        return "endpoint disabled"
    headers = sign(delivery.message, delivery.endpoint, at=timezone.now())
    result = post(delivery.endpoint.url, delivery.message.body.encode(), headers)
    return _finish(attempt, result)


def _claim(delivery_id: int, trigger: str) -> WebhookAttempt | None:
    """Take the next attempt of a due delivery. The conditional UPDATE is the lock: on PostgreSQL a
    concurrent claimer waits for the row, re-checks the WHERE clause and finds it no longer due; on
    SQLite the IMMEDIATE transaction serialises claimers."""
    now = timezone.now()
    with transaction.atomic():
        claimed = WebhookDelivery.objects.filter(
            pk=delivery_id,
            state=DeliveryState.PENDING,
            next_attempt_at__lte=now,
            round_attempts__lt=MAX_ATTEMPTS,
        ).update(
            next_attempt_at=now + CLAIM_LEASE,
            attempt_count=F("attempt_count") + 1,
            round_attempts=F("round_attempts") + 1,
            last_attempt_at=now,
        )
        if not claimed:
            return None
        delivery = WebhookDelivery.objects.select_related("message", "endpoint").get(pk=delivery_id)
        return WebhookAttempt.objects.create(
            delivery=delivery, number=delivery.attempt_count, trigger=trigger, started_at=now
        )


def retry_delay(round_attempts: int, *, retry_after: float | None = None) -> timedelta | None:
    """How long to wait after the `round_attempts`-th failed attempt, or None when the schedule is used up.
    A receiver's Retry-After is honoured (never retry sooner), up to MAX_RETRY_AFTER."""
    if round_attempts >= MAX_ATTEMPTS:
        return None
    seconds = RETRY_DELAYS[round_attempts - 1].total_seconds() * random.uniform(1 - JITTER, 1 + JITTER)
    if retry_after:
        seconds = max(seconds, min(retry_after, MAX_RETRY_AFTER.total_seconds()))
    return timedelta(seconds=seconds)


def _finish(attempt: WebhookAttempt, result: HttpResult) -> str:
    delivery, endpoint = attempt.delivery, attempt.delivery.endpoint
    now = timezone.now()
    with transaction.atomic():
        attempt.finished_at = now
        attempt.duration_ms = result.duration_ms
        attempt.status_code = result.status_code
        attempt.error_kind = result.error_kind
        attempt.response_excerpt = result.excerpt
        attempt.succeeded = result.ok
        attempt.save(
            update_fields=[
                "finished_at",
                "duration_ms",
                "status_code",
                "error_kind",
                "response_excerpt",
                "succeeded",
            ]
        )
        # Only the claimer of the latest attempt moves the delivery on (a resend or a cancellation
        # since the claim wins).
        mine = WebhookDelivery.objects.filter(
            pk=delivery.pk, state=DeliveryState.PENDING, attempt_count=attempt.number
        )
        last = {"last_status_code": result.status_code, "last_error_kind": result.error_kind}
        if result.ok:
            outcome = "delivered"
            if mine.update(state=DeliveryState.DELIVERED, next_attempt_at=None, delivered_at=now, **last):
                audit.record(
                    "webhook.delivered",
                    actor=None,
                    obj=delivery,
                    draft=delivery.message.draft,
                    data={
                        "message": delivery.message.msg_id,
                        "type": delivery.message.event_type,
                        "endpoint": endpoint.pk,
                        "attempt": attempt.number,
                        "status_code": result.status_code,
                    },
                )
            WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=False).update(
                failing_since=None, failed_attempts=0
            )
        elif result.status_code == 410:
            outcome = "gone: endpoint disabled"
            mine.update(state=DeliveryState.CANCELLED, next_attempt_at=None, **last)
            disable_endpoint(
                endpoint, reason=f"The receiver answered 410 Gone on {_iso(now)}.", cause="gone", actor=None
            )
        elif result.error_kind == "endpoint_disabled":
            outcome = "endpoint disabled"
            mine.update(state=DeliveryState.CANCELLED, next_attempt_at=None, **last)
        else:
            delay = retry_delay(delivery.round_attempts, retry_after=result.retry_after)
            if delay is None:
                outcome = "exhausted"
                if mine.update(state=DeliveryState.EXHAUSTED, next_attempt_at=None, **last):
                    audit.record(
                        "webhook.exhausted",
                        actor=None,
                        obj=delivery,
                        draft=delivery.message.draft,
                        data={"message": delivery.message.msg_id, "endpoint": endpoint.pk},
                    )
            else:
                outcome = f"retry in {int(delay.total_seconds())} s"
                mine.update(next_attempt_at=now + delay, **last)
            _note_failure(endpoint, now=now)
    logger.info(
        "webhook delivery %s attempt %s (%s): %s in %s ms: %s",
        delivery.pk,
        attempt.number,
        attempt.trigger,
        result.status_code or result.error_kind,
        result.duration_ms,
        outcome,
    )
    return outcome


def _note_failure(endpoint: WebhookEndpoint, *, now: datetime) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=Coalesce("failing_since", Value(now)), failed_attempts=F("failed_attempts") + 1
    )
    failing_too_long = WebhookEndpoint.objects.filter(
        pk=endpoint.pk,
        enabled=True,
        failing_since__lte=now - DISABLE_AFTER_FAILING_FOR,
        failed_attempts__gte=DISABLE_AFTER_ATTEMPTS,
    )
    if failing_too_long.exists():
        days = DISABLE_AFTER_FAILING_FOR.days
        disable_endpoint(
            endpoint,
            reason=f"Every attempt failed for {days} days (at least {DISABLE_AFTER_ATTEMPTS} attempts).",
            cause="failing",
            actor=None,
        )


# --- Sending: the one place webhooks leave the process --------------------------------------------


@dataclass(frozen=True)
class Timeouts:
    connect: float = 5.0
    read: float = 15.0  # per wait for data
    total: float = 20.0  # the whole exchange, however the receiver drips its answer


TIMEOUTS = Timeouts()


@dataclass(frozen=True)
class HttpResult:
    status_code: int | None
    error_kind: str  # "" when an answer came (whatever its status); otherwise why none came
    excerpt: str
    duration_ms: int
    retry_after: float | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(url: str, body: bytes, headers: Mapping[str, str], *, timeouts: Timeouts = TIMEOUTS) -> HttpResult:
    """POST a webhook. Refuses private, loopback, link-local, CG-NAT and metadata addresses, and IPv6
    addresses carrying one (`is_public_address`), after DNS resolution (and connects to the address it
    checked) unless WEBHOOK_ALLOW_PRIVATE_NETWORKS; never
    follows redirects; reads at most 64 KiB of the answer. Never raises for network trouble."""
    started = time.monotonic()
    deadline = _Deadline(timeouts.total)
    status_code, kind, content, retry_after = None, "", b"", None
    try:
        with _session() as session, deadline:
            response = session.post(
                url,
                data=body,
                headers={
                    "Content-Type": "application/json",
                    "Accept-Encoding": "identity",
                    "User-Agent": USER_AGENT,
                    **headers,
                },
                timeout=(timeouts.connect, timeouts.read),
                allow_redirects=False,
                stream=True,
            )
            with response:
                status_code = response.status_code
                retry_after = _retry_after(response.headers.get("Retry-After"))
                content = _read_at_most(response, MAX_RESPONSE_BYTES)
    except InvalidIPAddress:
        kind = "address_refused"
    except requests.exceptions.SSLError:
        kind = "tls"
    except requests.Timeout:
        kind = "timeout"
    except (
        requests.exceptions.InvalidURL,
        requests.exceptions.InvalidSchema,
        requests.exceptions.MissingSchema,
    ):
        kind = "invalid_url"
    except (requests.RequestException, OSError):
        kind = "timeout" if deadline.expired else "connection"
    if status_code is not None and 300 <= status_code < 400:
        kind = "redirect"  # not followed: a receiver must answer at the URL it registered
    elif status_code is not None and not 200 <= status_code < 300:
        kind = "http_status"
    excerpt = content[:EXCERPT_BYTES].decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    duration_ms = int((time.monotonic() - started) * 1000)
    return HttpResult(status_code, kind, excerpt, duration_ms, retry_after)


def _read_at_most(response: requests.Response, limit: int) -> bytes:
    chunks, size = [], 0
    try:
        while size < limit:
            chunk = response.raw.read(min(8192, limit - size), decode_content=False)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except (Urllib3Error, OSError):
        pass  # the status line came; a broken or cut-off body does not change the outcome
    return b"".join(chunks)


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: a number of seconds, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - timezone.now()).total_seconds())


def _session() -> requests.Session:
    allow_private = settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS
    session = HTTPSession(
        Config(
            ip_filter_enable=not allow_private,
            ip_filter_allow_loopback_ips=False,
            never_redirect=True,
            default_timeout=(TIMEOUTS.connect, TIMEOUTS.read),
            user_agent_override=USER_AGENT,
        )
    )
    session.trust_env = False  # no proxy from the environment: it would connect for us, past the filter
    for prefix, https in (("http://", False), ("https://", True)):
        session.mount(prefix, _OpenAdapter() if allow_private else _GuardedAdapter(is_https_proto=https))
    return session


class _Deadline:
    """Shuts the request's sockets when the total time is up. The connect and read timeouts bound
    each wait; this bounds their sum, so a receiver dripping its answer cannot hold a worker."""

    _current = threading.local()

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def __enter__(self):
        self._ends = time.monotonic() + self.seconds
        self._timer = threading.Timer(self.seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()
        _Deadline._current.value = self
        return self

    def __exit__(self, *exc_info):
        self._timer.cancel()
        _Deadline._current.value = None

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)

    def remaining(self) -> float:
        return max(0.0, self._ends - time.monotonic())

    @classmethod
    def current(cls) -> _Deadline | None:
        return getattr(cls._current, "value", None)

    @classmethod
    def watch(cls, sock: socket.socket) -> None:
        deadline = cls.current()
        if deadline is None:
            return
        with deadline._lock:
            deadline._sockets.append(sock)
            if deadline.expired:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)


class _WatchedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _Deadline.watch(sock)
        return sock


class _WatchedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _Deadline.watch(sock)
        return sock


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _WatchedPools:
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


class _GuardedAdapter(_WatchedPools, IPFilterAdapter):
    """requests-hardened's filter: resolves the host, refuses non-public addresses, pins the checked
    address for the connection (no DNS rebinding between check and connect)."""

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        # This is where the filter resolves the host, with getaddrinfo, which has no timeout of its
        # own: a slow resolver must not hold the worker past the total deadline.
        deadline = _Deadline.current()
        resolve = super().build_connection_pool_key_attributes
        if deadline is None:
            host_params, pool_kwargs = resolve(request, verify, cert)
        else:
            host_params, pool_kwargs = _within(deadline.remaining(), resolve, request, verify, cert)
        # The address the connection is pinned to, checked again with our own rule: requests-hardened
        # lets IPv4-compatible addresses (::7f00:1 is 127.0.0.1) through.
        pinned = ipaddress.ip_address(host_params["host"].strip("[]"))
        if not is_public_address(pinned):
            raise InvalidIPAddress(pinned)
        return host_params, pool_kwargs


def _within(seconds: float, function, *args):
    """`function(*args)` in a daemon thread, given up (requests.ConnectTimeout) after `seconds`; the
    thread finishes on its own when the blocking call returns."""
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = function(*args)
        except BaseException as exc:  # handed to the caller, whatever it is
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="webhook-dns", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise requests.ConnectTimeout("the receiver's host name did not resolve within the time allowed")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


class _OpenAdapter(_WatchedPools, HTTPAdapter):
    """For WEBHOOK_ALLOW_PRIVATE_NETWORKS=true (development and tests): the same, without the filter."""


def host_of(url: str) -> str:
    """The host part of a URL, for display where the full URL (which may carry a token) is too much."""
    return urlsplit(url).hostname or ""
