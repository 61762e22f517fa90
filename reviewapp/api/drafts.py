"""Draft endpoints of API v1: one operation per function, translating HTTP to workflow calls."""

import pydantic
from django.db.models import Count, OuterRef, Prefetch, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Header, Query, Router, Schema
from ninja.errors import ValidationError
from ninja.pagination import CursorPagination, paginate
from pydantic import Field

from reviewapp import workflow
from reviewapp.api import idempotency
from reviewapp.api.problems import error_responses
from reviewapp.api.schemas import (
    DecisionIn,
    DecisionOut,
    DraftIn,
    DraftOut,
    DraftSummaryOut,
    EventOut,
    IdempotencyKeyHeader,
    PublishIn,
    VersionIn,
)
from reviewapp.models import AuditEvent, Draft, Flag, FlagStatus, Role, Severity, Source, Status, Version

router = Router(tags=["drafts"])

IdempotencyKey = Header(None, alias="Idempotency-Key", description=idempotency.HEADER_DOC)
ERRORS = error_responses()


class StrictCursorPagination(CursorPagination):
    """Ninja's cursor pagination, with bad paging input answered by a 422 that says what is wrong:
    ninja itself answers 500 to a cursor that decodes to a non-number and pages oddly for a page
    size below 1. Both orderings used here are integer columns, so a position is an integer."""

    class Input(CursorPagination.Input):
        page_size: int | None = Field(None, ge=1)
        cursor: str | None = Field(
            None,
            description="Opaque: only the cursors in a page's next and previous URLs; any other value is "
            "422 `invalid_cursor`.",
        )

    class Cursor(CursorPagination.Cursor):
        p: int | None = None

        @classmethod
        def from_encoded_param(cls, encoded_param, context=None):
            try:
                return super().from_encoded_param(encoded_param, context)
            except (ValidationError, pydantic.ValidationError):
                raise ValidationError(
                    [
                        {
                            "loc": ("query", "cursor"),
                            "msg": "Not a cursor this API issued; follow the next or previous URL of a page.",
                            "type": "invalid_cursor",
                        }
                    ]
                ) from None


def _drafts_with_people_and_provenance(queryset):
    """What every draft schema reads besides flags: author, current version, approval, and the
    generated versions with their provenance and brief."""
    return queryset.select_related(
        "author", "current_version", "approval__reviewer", "approval__version"
    ).prefetch_related(
        Prefetch(
            "versions",
            queryset=Version.objects.filter(source=Source.GENERATED).select_related("provenance__brief"),
            to_attr="generated_versions",
        )
    )


def with_details(queryset):
    """Everything `DraftOut` reads, in a fixed number of queries whatever the page size."""
    return _drafts_with_people_and_provenance(queryset).prefetch_related(
        Prefetch("current_version__flags", queryset=Flag.objects.select_related("overridden_by"))
    )


def _flag_count(**conditions):
    rows = Flag.objects.filter(version=OuterRef("current_version"), **conditions).order_by()
    return Coalesce(Subquery(rows.values("version").annotate(n=Count("id")).values("n")), 0)


def summaries(queryset):
    """What `DraftSummaryOut` reads: flags counted in the database rather than loaded."""
    return _drafts_with_people_and_provenance(queryset).annotate(
        blockers=_flag_count(severity=Severity.BLOCKER),
        warnings=_flag_count(severity=Severity.WARNING),
        infos=_flag_count(severity=Severity.INFO),
        open_blockers=_flag_count(severity=Severity.BLOCKER, status=FlagStatus.OPEN),
    )


def _draft(draft_id: int) -> Draft:
    return get_object_or_404(with_details(Draft.objects.all()), pk=draft_id)


def _as_json(schema, obj, request: HttpRequest) -> dict:
    """Serialise now, so that idempotency can store exactly what the client receives."""
    return schema.from_orm(obj, context={"request": request}).model_dump(mode="json")


def _require_any_role(request: HttpRequest) -> None:
    if not request.user.has_role(*Role.values):
        raise workflow.Forbidden("This account has no role; ask an admin to give it one.", code="no_role")


class DraftFilters(Schema):
    status: Status | None = Field(None, description="Only drafts in this status.")


@router.get(
    "/drafts",
    response={200: list[DraftSummaryOut], **ERRORS},
    summary="List drafts, newest first",
    description="Each draft with an excerpt of its text and its flags counted; the whole text and every "
    "flag are on `GET /drafts/{id}`, so that a page stays small whatever the drafts hold.",
)
@paginate(StrictCursorPagination, ordering=("-id",), page_size=50)
def list_drafts(request: HttpRequest, filters: Query[DraftFilters]):
    _require_any_role(request)
    drafts = Draft.objects.all()
    if filters.status:
        drafts = drafts.filter(status=filters.status)
    return summaries(drafts)


@router.post("/drafts", response={201: DraftOut, **ERRORS}, summary="Submit a draft")
def create_draft(
    request: HttpRequest, payload: DraftIn, idempotency_key: IdempotencyKeyHeader = IdempotencyKey
):
    if workflow.can(request.user, "submit"):  # never spend a parse on a request that will be refused
        workflow.clean_body(payload.body)  # refuse over-long or broken text before parsing it
        workflow.compute_flags(payload.body, language=payload.language)  # parse before any lock is taken

    def create():
        draft = workflow.submit(
            author=request.user,
            title=payload.title,
            body=payload.body,
            channel=payload.channel,
            campaign=payload.campaign,
            external_id=payload.external_id,
            language=payload.language,
        )
        return 201, _as_json(DraftOut, _draft(draft.pk), request)

    return idempotency.run(request, idempotency_key, create)


@router.get("/drafts/{draft_id}", response={200: DraftOut, **ERRORS}, summary="A draft with its current text")
def get_draft(request: HttpRequest, draft_id: int):
    _require_any_role(request)
    return _draft(draft_id)


@router.post(
    "/drafts/{draft_id}/versions",
    response={200: DraftOut, 201: DraftOut, **ERRORS},
    summary="Save new text (clears any approval)",
)
def create_version(
    request: HttpRequest,
    draft_id: int,
    payload: VersionIn,
    idempotency_key: IdempotencyKeyHeader = IdempotencyKey,
):
    """201 with the new version; 200 and no new version when the text equals the current text."""
    draft = _draft(draft_id)
    if workflow.can(request.user, "add_version"):  # never spend a parse on a request that will be refused
        workflow.clean_body(payload.body)  # refuse over-long or broken text before parsing it
        workflow.compute_flags(payload.body, language=draft.language)  # parse before any lock is taken

    def create():
        version = workflow.add_version(draft, author=request.user, body=payload.body)
        return (201 if version else 200), _as_json(DraftOut, _draft(draft_id), request)

    return idempotency.run(request, idempotency_key, create)


@router.post(
    "/drafts/{draft_id}/decisions",
    response={201: DecisionOut, **ERRORS},
    summary="Approve, request changes or reject the version you reviewed",
)
def create_decision(
    request: HttpRequest,
    draft_id: int,
    payload: DecisionIn,
    idempotency_key: IdempotencyKeyHeader = IdempotencyKey,
):
    """A token cannot carry a session's second-factor verification: where REQUIRE_2FA_FOR names the
    reviewer's role, this answers 403 `second_factor_required` and the reviewer decides in the dashboard."""
    draft = _draft(draft_id)

    def create():
        decision = workflow.decide(
            draft,
            reviewer=request.user,
            kind=payload.decision,
            version=payload.version,
            comment=payload.comment,
            overrides=[workflow.Override(flag_id=o.flag, reason=o.reason) for o in payload.overrides],
            second_factor_verified=False,  # a bearer token never passed a second factor
        )
        decision.draft = _draft(draft_id)
        return 201, _as_json(DecisionOut, decision, request)

    return idempotency.run(request, idempotency_key, create)


@router.post(
    "/drafts/{draft_id}/publish",
    response={200: DraftOut, **ERRORS},
    summary="Publish approved copy (409 unless the exact current text was approved)",
)
def publish_draft(
    request: HttpRequest,
    draft_id: int,
    payload: PublishIn | None = None,
    idempotency_key: IdempotencyKeyHeader = IdempotencyKey,
):
    """Send `{"sha256": "<hash of the approved text you hold>"}` to publish only that text: a draft
    edited (and even re-approved) since you read it answers 409 `sha256_mismatch`. No body, or `{}`,
    publishes whatever text is approved now."""
    draft = _draft(draft_id)
    expected_sha256 = payload.sha256 if payload is not None else None

    def create():
        workflow.publish(draft, actor=request.user, expected_sha256=expected_sha256)
        return 200, _as_json(DraftOut, _draft(draft_id), request)

    return idempotency.run(request, idempotency_key, create)


@router.get(
    "/drafts/{draft_id}/events",
    response={200: list[EventOut], **ERRORS},
    summary="The audit trail of a draft, oldest first",
)
@paginate(StrictCursorPagination, ordering=("seq",), page_size=100)
def list_events(request: HttpRequest, draft_id: int):
    _require_any_role(request)
    draft = get_object_or_404(Draft, pk=draft_id)
    return AuditEvent.objects.filter(draft=draft).select_related("actor")
