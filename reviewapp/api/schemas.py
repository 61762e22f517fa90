"""Input and output schemas of API v1. Inputs are strict: unknown fields and wrong types are refused."""

from datetime import datetime
from typing import Literal

from ninja import Schema
from pydantic import ConfigDict, Field

from reviewapp.models import AuditEvent, Channel, Decision, Draft, Flag, Version

ChannelName = Literal[tuple(Channel.values)]


class StrictInput(Schema):
    model_config = ConfigDict(extra="forbid", strict=True)


class DraftIn(StrictInput):
    title: str = Field(description="One line, at most 200 characters.")
    body: str = Field(description="The copy text. At most COPY_MAX_CHARS (default 50,000) characters.")
    channel: ChannelName = Channel.WEB
    campaign: str = Field("", max_length=200)
    external_id: str | None = Field(
        None, max_length=200, description="Your id for this piece; unique per submitting account."
    )
    language: str = Field("en", max_length=16, description="BCP 47 code; only 'en' is checked automatically.")


class VersionIn(StrictInput):
    body: str


class OverrideIn(StrictInput):
    flag: int = Field(ge=1, description="Id of a flag on the version you decide on.")
    reason: str = Field(description="Why the flag does not apply; at least 10 characters.")


class DecisionIn(StrictInput):
    decision: Literal["approve", "request_changes", "reject"]
    version: int = Field(ge=1, description="The version number you reviewed.")
    comment: str = Field("", description="Required for request_changes and reject.")
    overrides: list[OverrideIn] = Field(default_factory=list, max_length=500)


class UserOut(Schema):
    username: str
    name: str


class VersionOut(Schema):
    number: int
    body: str
    sha256: str
    source: str
    created_at: datetime


class FlagOut(Schema):
    id: int
    category: str
    rule: str
    severity: str
    start: int
    end: int
    text: str
    message: str
    suggestion: str
    reference: str
    status: str
    override_reason: str | None = None
    overridden_by: UserOut | None = None

    @staticmethod
    def resolve_override_reason(flag: Flag) -> str | None:
        return flag.override_reason or None


class ApprovalOut(Schema):
    reviewer: UserOut
    version: int
    sha256: str
    at: datetime


class DraftOut(Schema):
    """Read from a Draft loaded with `api.drafts.with_details`, so a page costs a fixed number of queries."""

    id: int
    title: str
    status: str
    channel: str
    campaign: str
    external_id: str | None
    language: str
    author: UserOut
    version: VersionOut | None
    flags: list[FlagOut]
    approval: ApprovalOut | None
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_version(draft: Draft) -> Version | None:
        return draft.current_version

    @staticmethod
    def resolve_flags(draft: Draft) -> list[Flag]:
        return list(draft.current_version.flags.all()) if draft.current_version else []

    @staticmethod
    def resolve_approval(draft: Draft) -> dict | None:
        approval = draft.approval
        if approval is None:
            return None
        return {
            "reviewer": approval.reviewer,
            "version": approval.version.number,
            "sha256": approval.sha256,
            "at": approval.created_at,
        }


class DecisionOut(Schema):
    id: int
    decision: str
    version: int
    sha256: str
    comment: str
    reviewer: UserOut
    at: datetime
    draft: DraftOut

    @staticmethod
    def resolve_decision(decision: Decision) -> str:
        return decision.kind

    @staticmethod
    def resolve_version(decision: Decision) -> int:
        return decision.version.number

    @staticmethod
    def resolve_at(decision: Decision) -> datetime:
        return decision.created_at


class EventOut(Schema):
    seq: int
    action: str
    actor: UserOut | None
    object_type: str
    object_id: str
    data: dict
    at: datetime
    hash: str

    @staticmethod
    def resolve_at(event: AuditEvent) -> datetime:
        return event.created_at
