"""Brief endpoints of API v1: ask for generated copy, then follow the brief until its drafts exist."""

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Header, Router

from reviewapp import workflow
from reviewapp.api import idempotency
from reviewapp.api.problems import Problem, error_responses
from reviewapp.api.schemas import BriefIn, BriefOut, IdempotencyKeyHeader
from reviewapp.models import Brief, Role

router = Router(tags=["briefs"])

IdempotencyKey = Header(None, alias="Idempotency-Key", description=idempotency.HEADER_DOC)
ERRORS = {**error_responses(), 503: Problem}


def _brief(request: HttpRequest, brief_id: int) -> Brief:
    briefs = Brief.objects.visible_to(request.user).select_related("requester").prefetch_related("drafts")
    return get_object_or_404(briefs, pk=brief_id)


@router.post(
    "/briefs",
    response={202: BriefOut, **ERRORS},
    summary="Ask for generated drafts (202: queued; poll GET /briefs/{id})",
)
def create_brief(
    request: HttpRequest, payload: BriefIn, idempotency_key: IdempotencyKeyHeader = IdempotencyKey
):
    """Personal data in the brief is masked before any model sees it. 503 when generation is not
    configured on this server."""

    def create():
        brief = workflow.request_brief(requester=request.user, **payload.model_dump())
        return 202, BriefOut.from_orm(_brief(request, brief.pk)).model_dump(mode="json")

    return idempotency.run(request, idempotency_key, create)


@router.get(
    "/briefs/{brief_id}", response={200: BriefOut, **ERRORS}, summary="A brief: status, drafts, error"
)
def get_brief(request: HttpRequest, brief_id: int):
    if not request.user.has_role(*Role.values):
        raise workflow.Forbidden("This account has no role; ask an admin to give it one.", code="no_role")
    return _brief(request, brief_id)
