"""Two-factor sign-in: a TOTP authenticator app with ten single-use recovery codes (django-otp).

A user is *enrolled* once they confirmed an authenticator (a confirmed TOTP device) with a first code;
the recovery codes are a static device created at that moment and shown once. A session is *verified*
when django_otp's OTPMiddleware finds the device that checked its code (`request.user.is_verified()`):
the sign-in's second step, or the enrolment itself, puts it there.

Every code is checked against one device chosen by its shape (six digits: the authenticator; anything
else: a recovery code), with that device's row locked, so concurrent attempts queue up and a recovery
code works once. Wrong codes make the device wait 1, 2, 4, 8… seconds (django-otp's throttling; an
attempt while it waits is refused without being checked or counted) and are audited without the code.
"""

import io
import math
from base64 import b32encode
from dataclasses import dataclass
from datetime import datetime

import segno
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from reviewapp import audit
from reviewapp.models import Role, User

RECOVERY_CODES = 10
AUTHENTICATOR_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"


class CodeRefused(Exception):
    """A code was not accepted. `reason` is what the audit trail records; `message` is for the person."""

    def __init__(self, message: str, *, reason: str, http_status: int = 400):
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.http_status = http_status


# --- Who needs it --------------------------------------------------------------------------------


def is_required(user: User) -> bool:
    """Whether REQUIRE_2FA_FOR names one of the user's roles (staff count as `admin`)."""
    required = set(settings.REQUIRE_2FA_FOR)
    if not required or not user.is_authenticated:
        return False
    roles = set(user.roles) | ({Role.ADMIN} if user.is_staff else set())
    return not roles.isdisjoint(required)


def is_enrolled(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def is_verified(user) -> bool:
    """Whether this request's session passed the second factor (an API token never does)."""
    check = getattr(user, "is_verified", None)
    return bool(check and check())


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def kind_of(device: Device) -> str:
    return "recovery_code" if isinstance(device, StaticDevice) else "authenticator"


# --- Enrolment -----------------------------------------------------------------------------------


@transaction.atomic
def pending_authenticator(user: User, *, fresh: bool = False) -> TOTPDevice:
    """The authenticator being set up (not confirmed yet); a new secret when `fresh` or none exists."""
    pending = TOTPDevice.objects.filter(user=user, confirmed=False)
    if fresh:
        pending.delete()
    device = pending.order_by("-pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)
    return device


def pending_or_none(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()


def secret_text(device: TOTPDevice) -> str:
    """The secret as authenticator apps take it typed in: base32, in groups of four."""
    secret = b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_svg(device: TOTPDevice) -> bytes:
    """The otpauth:// URI as a QR code, an SVG drawn with one path (no script, no style)."""
    out = io.BytesIO()
    segno.make(device.config_url, error="m").save(
        out, kind="svg", scale=5, border=4, dark="#000", light="#fff", xmldecl=False
    )
    return out.getvalue()


@dataclass(frozen=True)
class Enrolment:
    device: TOTPDevice
    recovery_codes: list[str]


def confirm(user: User, code: str) -> Enrolment:
    """Confirm the pending authenticator with its first code; create the recovery codes (shown once)."""
    code = _normalise(code)
    with transaction.atomic():
        if is_enrolled(user):
            raise CodeRefused("Two-factor sign-in is already on for this account.", reason="already_enrolled")
        pending = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False)
        device = pending.order_by("-pk").first()
        if device is None:
            raise CodeRefused("Start the set-up again: no authenticator is waiting.", reason="no_pending")
        refusal = _check_device(device, code)
        if refusal is None:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            TOTPDevice.objects.filter(user=user, confirmed=False).delete()
            StaticDevice.objects.filter(user=user).delete()
            codes = _new_recovery_codes(user)
            audit.record(
                "user.second_factor_enrolled", actor=user, obj=user, data={"recovery_codes": len(codes)}
            )
            return Enrolment(device=device, recovery_codes=codes)
        _record_failure(user, device, refusal, purpose="enrolment", actor=user)
    raise refusal


def _new_recovery_codes(user: User) -> list[str]:
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes: set[str] = set()
    while len(codes) < RECOVERY_CODES:
        codes.add(StaticToken.random_token())
    ordered = sorted(codes)
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in ordered])
    return ordered


# --- Checking a code -----------------------------------------------------------------------------


def check(user: User, code: str, *, purpose: str, actor: User | None) -> Device:
    """The device that accepted `code`, or CodeRefused (the failure is audited and counted first).

    `purpose` (login, removal) goes into the audit event; `actor` is who is acting, None while
    signing in (the password alone does not say who is at the keyboard).
    """
    code = _normalise(code)
    model = TOTPDevice if _looks_like_authenticator(code) else StaticDevice
    with transaction.atomic():
        device = model.objects.select_for_update().filter(user=user, confirmed=True).order_by("pk").first()
        if device is None and not is_enrolled(user):
            raise CodeRefused("Two-factor sign-in is not set up for this account.", reason="not_enrolled")
        if device is None:  # e.g. a recovery code tried by someone whose recovery codes were never made
            refusal = _wrong_code()
        else:
            refusal = _check_device(device, code)
            if refusal is None:
                return device
        _record_failure(user, device, refusal, purpose=purpose, actor=actor)
    raise refusal


def _check_device(device: Device, code: str) -> CodeRefused | None:
    allowed, extra = device.verify_is_allowed()
    if not allowed:
        # Not checked and not counted: attempts while a device waits do not make the wait longer.
        return _throttled((extra or {}).get("locked_until"))
    if device.verify_token(code):  # a wrong code counts towards the device's wait
        return None
    return _wrong_code()


def _wrong_code() -> CodeRefused:
    return CodeRefused(
        "That code is not right. Type the six digits your authenticator app shows now, or one of your "
        "recovery codes.",
        reason="wrong_code",
    )


def _throttled(until: datetime | None) -> CodeRefused:
    seconds = max(1, math.ceil((until - timezone.now()).total_seconds())) if until else 1
    return CodeRefused(
        f"Too many wrong codes: wait {seconds} second{'s' if seconds != 1 else ''}, then try again.",
        reason="throttled",
        http_status=429,
    )


def _record_failure(user: User, device: Device | None, refusal: CodeRefused, *, purpose: str, actor) -> None:
    audit.record(
        "user.second_factor_failed",
        actor=actor,
        obj=user,
        data={
            "purpose": purpose,
            "device": kind_of(device) if device is not None else "recovery_code",
            "reason": refusal.reason,
            "failures": getattr(device, "throttling_failure_count", 0),
        },
    )


def _normalise(code: str) -> str:
    return "".join(str(code).split()).replace("-", "").lower()


def _looks_like_authenticator(code: str) -> bool:
    return len(code) == 6 and code.isascii() and code.isdigit()


# --- Removal -------------------------------------------------------------------------------------


def remove(user: User, code: str) -> None:
    """The user turns two-factor sign-in off, proving it with a current code (or a recovery code)."""
    check(user, code, purpose="removal", actor=user)
    with transaction.atomic():
        removed = delete_devices(user)
        audit.record("user.second_factor_removed", actor=user, obj=user, data={"devices": removed})


def delete_devices(user: User) -> int:
    """Every authenticator and recovery code of the user (a session they verified stops being verified)."""
    devices = [TOTPDevice.objects.filter(user=user), StaticDevice.objects.filter(user=user)]
    count = sum(queryset.count() for queryset in devices)
    for queryset in devices:
        queryset.delete()
    return count
