"""Sign-in throttling: django-axes' records of failed passwords, counted three ways, with a lockout that
doubles and is capped (settings: AXES_HANDLER, AXES_LOCKOUT_CALLABLE, AXES_CLIENT_IP_CALLABLE).

Axes keeps one row per username, address and user agent with its number of failures and the time of the
latest. `LoginThrottle` adds them up

- for this username from this address (LOGIN_FAILURE_LIMIT, 5),
- for this username from any address (LOGIN_FAILURE_LIMIT_PER_USERNAME, 10): guesses spread over many
  addresses,
- for any username from this address (LOGIN_FAILURE_LIMIT_PER_ADDRESS, 20): one password tried against
  many usernames. IPv6 addresses count by their /64, which one subscriber usually holds whole.

A count at its limit locks those sign-ins until LOGIN_LOCKOUT_MINUTES after the latest of its failures;
each failure past the limit (one can only happen once a lockout is over) doubles that, up to
LOGIN_LOCKOUT_MAX_MINUTES. Attempts during a lockout are refused without checking the password and are not
recorded (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False), so they never move its end: a lockout
ends at most LOGIN_LOCKOUT_MAX_MINUTES after the failure that caused it. Failures are forgotten a day after
a row's latest one; a successful sign-in forgets its username's failures (from every address), not those
of other usernames from its address, so signing in to one's own account does not reset a spraying count.
"""

import ipaddress
import math
from datetime import datetime, timedelta

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max, QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from reviewapp.client_address import client_address

FORGOTTEN_AFTER = timedelta(hours=24)


def throttle_address(request: HttpRequest) -> str | None:
    """The address failures are counted by (AXES_CLIENT_IP_CALLABLE): the client's, an IPv6 one as the
    first address of its /64."""
    address = client_address(request)
    if address and ":" in address:
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address)
    return address


def lockout_for(excess: int) -> timedelta:
    """How long a lockout lasts after the failure that caused it, `excess` failures past the limit."""
    base = timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)
    cap = max(base, timedelta(minutes=settings.LOGIN_LOCKOUT_MAX_MINUTES))
    return min(base * 2 ** min(excess, 32), cap)


class LoginThrottle(AxesDatabaseHandler):
    def lockout_ends(self, request: HttpRequest, credentials: dict | None = None) -> datetime | None:
        """When the lockout that refuses this sign-in ends, or None when none does."""
        now = timezone.now()
        recent = AccessAttempt.objects.filter(attempt_time__gt=_forgotten_before(now))
        username = get_client_username(request, credentials)
        address = request.axes_ip_address
        counts: list[tuple[QuerySet, int]] = [
            (recent.filter(ip_address=address), settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS)
        ]
        if username is not None:
            counts += [
                (recent.filter(username=username, ip_address=address), settings.AXES_FAILURE_LIMIT),
                (recent.filter(username=username), settings.LOGIN_FAILURE_LIMIT_PER_USERNAME),
            ]
        ends = None
        for rows, limit in counts:
            found = rows.aggregate(failures=Sum("failures_since_start"), latest=Max("attempt_time"))
            if found["failures"] and found["failures"] >= limit:
                until = found["latest"] + lockout_for(found["failures"] - limit)
                if until > now and (ends is None or until > ends):
                    ends = until
        return ends

    def get_failures(self, request: HttpRequest, credentials: dict | None = None) -> int:
        """Axes locks out when this reaches AXES_FAILURE_LIMIT: it is that while a lockout lasts, else 0
        (the counts and their limits are in `lockout_ends`)."""
        return settings.AXES_FAILURE_LIMIT if self.lockout_ends(request, credentials) else 0

    def clean_expired_user_attempts(self, request=None, credentials=None) -> int:
        count, _ = AccessAttempt.objects.filter(attempt_time__lte=_forgotten_before(timezone.now())).delete()
        return count

    def reset_user_attempts(self, request: HttpRequest, credentials: dict | None = None) -> int:
        """After a successful sign-in: that username's failures, from every address (and no others)."""
        username = get_client_username(request, credentials)
        if username is None:
            return 0
        count, _ = AccessAttempt.objects.filter(username=username).delete()
        return count


def _forgotten_before(now: datetime) -> datetime:
    """Failures older than this count no more (kept at least as long as the longest lockout)."""
    return now - max(FORGOTTEN_AFTER, timedelta(minutes=settings.LOGIN_LOCKOUT_MAX_MINUTES))


def lockout_response(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """The page a locked-out sign-in gets (AXES_LOCKOUT_CALLABLE): 429 with Retry-After."""
    ends = LoginThrottle().lockout_ends(request, credentials)
    seconds = max(1, math.ceil((ends - timezone.now()).total_seconds())) if ends else 60
    response = render(
        request,
        settings.AXES_LOCKOUT_TEMPLATE,
        {"minutes": math.ceil(seconds / 60)},
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )
    response["Retry-After"] = str(seconds)
    return response
