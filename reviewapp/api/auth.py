"""Bearer-token authentication, per-token rate limiting and the strict JSON body parser."""

import json
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest
from django.utils import timezone
from ninja.parser import Parser
from ninja.security.http import HttpBearer
from ninja.throttling import BaseThrottle

from reviewapp.api.problems import BodyParseError
from reviewapp.models import ApiToken, User

_LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenAuth(HttpBearer):
    """`Authorization: Bearer rva_…`. The token is looked up by its SHA-256; revoked tokens and
    inactive users are refused. Never logs the header (the base class does under DEBUG)."""

    def __call__(self, request: HttpRequest):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self.authenticate(request, token.strip())

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        if len(token) > 200:
            return None
        api_token = ApiToken.authenticate(token)
        if api_token is None:
            return None
        now = timezone.now()
        if api_token.last_used_at is None or now - api_token.last_used_at > _LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
        user = api_token.user
        request.api_token = api_token
        request.user = user
        return user


_PERIODS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """ "600/min" -> (600, 60). A ValueError names what is wrong (the system check reports it)."""
    count, _, period = rate.partition("/")
    if not count.strip().isdigit() or int(count) < 1 or period.strip() not in _PERIODS:
        raise ValueError(
            f"API_RATE_LIMIT={rate!r} is not a rate: write requests/period, e.g. 600/min, with a period "
            f"of {', '.join(_PERIODS)}."
        )
    return int(count), _PERIODS[period.strip()]


class TokenRateThrottle(BaseThrottle):
    """A fixed window of API_RATE_LIMIT requests (e.g. "600/min") per token, counted in the
    "throttle" cache (process memory, or Redis when REDIS_URL is set).

    Keeps no per-request state on the instance (it is shared by all threads), except the wait time
    that ninja asks for right after a refusal, which is thread-local."""

    def __init__(self) -> None:
        self._local = threading.local()

    def allow_request(self, request: HttpRequest) -> bool:
        token = getattr(request, "api_token", None)
        if token is None:
            return True
        limit, period = parse_rate(settings.API_RATE_LIMIT)
        now = time.time()
        key = f"api-throttle:{token.prefix}:{int(now // period)}"
        cache = caches["throttle"]
        try:
            count = cache.incr(key)
        except ValueError:  # first request of this window (or the key expired): start counting
            count = 1 if cache.add(key, 1, timeout=period * 2) else cache.incr(key)
        self._local.wait = period - (now % period)
        return count <= limit

    def wait(self) -> float | None:
        return getattr(self._local, "wait", None)


class StrictJSONParser(Parser):
    """Parse the body as UTF-8 JSON and say precisely what is wrong when it is not."""

    def parse_body(self, request: HttpRequest):
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BodyParseError(f"The request body is not valid UTF-8 (byte {exc.start}).") from None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise BodyParseError(
                f"The request body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
            ) from None
