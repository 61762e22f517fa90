"""RFC 9457 problem details: every API error is `application/problem+json`.

Handlers translate exceptions (workflow errors, validation, auth, size limits) into one shape:
`{type, title, status, detail, instance, code?, errors?, ...}`. Problem bodies never echo request
input (it may carry copy text or personal data).
"""

import json
import logging
import re
from http import HTTPStatus

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from pydantic import Field

from reviewapp.workflow import WorkflowError

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
ERROR_STATUSES = (400, 401, 403, 404, 409, 413, 422, 429)


class Problem(Schema):
    type: str
    title: str
    status: int
    detail: str
    # The request's path, where it named a resource of the API by number; left out where the path is
    # whatever the caller typed (it may be personal data).
    instance: str = Field(
        None, description="The request's path; absent when the path names no resource of the API by number."
    )
    code: str | None = None


class BodyParseError(Exception):
    """Raised by the JSON parser with a message fit for the client."""


def problem(
    request: HttpRequest, status: int, detail: str, /, *, code: str | None = None, **extensions
) -> HttpResponse:
    body = {
        "type": f"urn:reviewapp:problem:{code}" if code else "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    # The path only where it named a resource of the API by number: a path that matched nothing, or
    # named an id that is not a number, is whatever the caller typed, which may be personal data.
    match = getattr(request, "resolver_match", None)
    if (
        match is not None
        and _NUMBERED_PATH.fullmatch(request.path)
        and all(str(value).isdigit() for value in match.kwargs.values())
    ):
        body["instance"] = request.path
    if code:
        body["code"] = code
    body.update({key: value for key, value in extensions.items() if key not in body})
    response = HttpResponse(json.dumps(body), status=status, content_type=PROBLEM_CONTENT_TYPE)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def _workflow_error(request, exc: WorkflowError) -> HttpResponse:
    return problem(request, exc.status, exc.message, code=exc.code, **exc.extra)


def _validation_error(request, exc: ValidationError) -> HttpResponse:
    errors = [
        {"loc": _location(error), "msg": error.get("msg", ""), "type": error.get("type", "")}
        for error in exc.errors
    ]
    if (
        request.method in ("POST", "PUT", "PATCH")
        and not request.body
        and any(e["loc"][:1] == ["body"] for e in errors)
    ):
        return problem(request, 400, "The request body is empty; send a JSON object.", code="empty_body")
    summary = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in errors[:5])
    return problem(
        request, 422, f"The request is not valid: {summary}", code="validation_error", errors=errors
    )


_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")
_NUMBERED_PATH = re.compile(r"[a-z0-9/_-]*")


def _location(error: dict) -> list:
    """Where the error is. An unknown key is named only when it reads like a mistyped field name (a
    short identifier): the caller chose it, and a key can carry personal data as well as a value can."""
    location = list(error.get("loc", ()))
    if error.get("type") == "extra_forbidden" and location and not _FIELD_NAME.fullmatch(str(location[-1])):
        location[-1] = "(unknown field)"
    return location


def _http_error(request, exc: HttpError) -> HttpResponse:
    if isinstance(exc, AuthenticationError):
        return problem(
            request, 401, "Send a valid API token as 'Authorization: Bearer <token>'.", code="unauthenticated"
        )
    if exc.status_code == 400 and isinstance(exc.__cause__, BodyParseError):
        return problem(request, 400, str(exc.__cause__), code="malformed_body")
    if exc.status_code == 429:
        return problem(request, 429, "Too many requests for this token; retry later.", code="rate_limited")
    return problem(request, exc.status_code, exc.message)


def _not_found(request, exc: Http404) -> HttpResponse:
    return problem(request, 404, str(exc) or "Not found.", code="not_found")


def _too_big(request, exc: RequestDataTooBig) -> HttpResponse:
    return problem(
        request,
        413,
        f"The request body is larger than the limit of {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes.",
        code="body_too_large",
        limit_bytes=settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
    )


def _server_error(request, exc: Exception) -> HttpResponse:
    logger.exception("API error on %s %s", request.method, request.path)
    return problem(
        request, 500, "Something went wrong on our side; nothing was changed.", code="server_error"
    )


def install(api) -> None:
    api.add_exception_handler(WorkflowError, _workflow_error)
    api.add_exception_handler(ValidationError, _validation_error)
    api.add_exception_handler(HttpError, _http_error)
    api.add_exception_handler(Http404, _not_found)
    api.add_exception_handler(RequestDataTooBig, _too_big)
    api.add_exception_handler(Exception, _server_error)


ERROR_DESCRIPTIONS = {
    400: "Malformed request: empty body, invalid JSON or invalid UTF-8.",
    401: "Missing, invalid or revoked API token.",
    403: "Your role may not do this, or you wrote a version of this draft.",
    404: "No such object.",
    409: "The draft's state does not allow this (gate closed, stale version, open blockers, a publish "
    "`sha256` that is not the approved text's, ...), or a request with this Idempotency-Key is still "
    "running (`idempotency_in_progress`; see Retry-After).",
    413: "Request body or copy text over the documented limit (see MAX_REQUEST_BYTES, COPY_MAX_CHARS).",
    422: "Well-formed JSON that does not validate: wrong types, unknown fields, bad values, or an "
    "Idempotency-Key reused with a different request.",
    429: "Rate limit for this token exceeded; see Retry-After.",
    503: "A service this needs is not configured here (e.g. generation without OPENAI_* settings).",
}


def error_responses() -> dict:
    return {status: Problem for status in ERROR_STATUSES}


def rewrite_openapi(schema: dict) -> dict:
    """Error responses are documented as application/problem+json with a description each."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                code = int(status)
                if code >= 400 and "application/json" in response.get("content", {}):
                    response["content"] = {PROBLEM_CONTENT_TYPE: response["content"]["application/json"]}
                    response["description"] = ERROR_DESCRIPTIONS.get(code, response.get("description", ""))
    return schema


def api_problem_middleware(get_response):
    """Answers under /api/ that Django makes itself (no such path: 404; a method the path does not
    take: 405) become problem documents too, like every error the API raises."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        if (
            request.path.startswith("/api/")
            and response.status_code in (404, 405)
            and response.get("Content-Type", "").split(";")[0] != PROBLEM_CONTENT_TYPE
        ):
            if response.status_code == 405:
                allowed = response.get("Allow", "")
                problem_response = problem(
                    request,
                    405,
                    f"{request.method} is not allowed here; use {allowed}.",
                    code="method_not_allowed",
                )
                problem_response["Allow"] = allowed
                return problem_response
            return problem(request, 404, "There is no API resource at this path.", code="not_found")
        return response

    return middleware
