"""Input and output schemas of API v1. Inputs are strict: unknown fields and wrong types are refused."""

from datetime import datetime
from typing import Annotated, Literal

from ninja import Schema
from pydantic import BeforeValidator, ConfigDict, Field, WithJsonSchema

from reviewapp import workflow
from reviewapp.api.idempotency import KEY_PATTERN
from reviewapp.models import (
    VARIANTS_MAX,
    AuditEvent,
    Brief,
    Channel,
    Decision,
    Draft,
    Flag,
    Provenance,
    Version,
    latest_provenance,
)

ChannelName = Literal[tuple(Channel.values)]


class StrictInput(Schema):
    model_config = ConfigDict(extra="forbid", strict=True)


def _integral(value):
    """JSON Schema counts 1.0 as an integer, so the API does too: an integral float is that integer.
    1.5, "1" and true stay refused (strict input)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Integer = Annotated[int, BeforeValidator(_integral)]

# What the workflow checks in text fields, stated in the schema (the workflow refuses with a problem
# that names the field, so these patterns document rather than validate): no C0/C1 control characters
# other than tab, line feed and carriage return (workflow._reject_control_characters); required text
# has a character that is not blank; a one-line field has no line break. Invisible formatting
# characters (zero-width space, bidi overrides...) are refused too, except joiners and variation
# selectors where emoji or other scripts need them: a rule of neighbouring characters, in the
# descriptions only.
_CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
TEXT_PATTERN = f"^[^{_CONTROL}]*$"
REQUIRED_TEXT_PATTERN = f"^[^{_CONTROL}]*[^{_CONTROL}\\s][^{_CONTROL}]*$"
ONE_LINE_PATTERN = f"^[^{_CONTROL}\\n\\r]*[^{_CONTROL}\\s][^{_CONTROL}\\n\\r]*$"
# "At least 10 letters or digits" (reasons, required comments) is in the descriptions only: the API
# counts every script's letters and decimal digits, which a portable JSON Schema pattern (ECMA-262
# without the u flag) cannot state, and an ASCII-only pattern would refuse a reason written in Greek.
NO_HIDDEN = (
    " No control characters, and no invisible characters (zero-width, bidirectional controls, ...) "
    "except joiners and variation selectors inside emoji or other scripts' words."
)


def _text(pattern: str = TEXT_PATTERN, **limits) -> dict:
    return {"json_schema_extra": {"pattern": pattern, **limits}}


IdempotencyKeyHeader = Annotated[
    str | None,
    WithJsonSchema({"type": "string", "pattern": KEY_PATTERN.pattern, "minLength": 1, "maxLength": 255}),
]


class DraftIn(StrictInput):
    title: str = Field(
        description="One line, at most 200 characters, not blank." + NO_HIDDEN,
        **_text(ONE_LINE_PATTERN, minLength=1, maxLength=200),
    )
    body: str = Field(
        description="The copy text, not blank. At most COPY_MAX_CHARS (default 50,000) characters; over that "
        "the answer is 413." + NO_HIDDEN,
        **_text(REQUIRED_TEXT_PATTERN, minLength=1),
    )
    channel: ChannelName = Channel.WEB
    campaign: str = Field("", max_length=200, description=NO_HIDDEN.strip(), **_text())
    external_id: str | None = Field(
        None,
        max_length=200,
        description="Your id for this piece; unique per submitting account." + NO_HIDDEN,
        **_text(),
    )
    language: str = Field(
        "en",
        max_length=16,
        description="BCP 47 code such as 'en' or 'de-AT'; only 'en' is checked automatically.",
        **_text(workflow.LANGUAGE_PATTERN.pattern),
    )


class VersionIn(StrictInput):
    body: str = Field(
        description="The new copy text, not blank; the limits of `body` in `POST /drafts`." + NO_HIDDEN,
        **_text(REQUIRED_TEXT_PATTERN, minLength=1),
    )


class OverrideIn(StrictInput):
    flag: Integer = Field(ge=1, description="Id of a flag on the version you decide on.")
    reason: str = Field(
        description="Why the flag does not apply: at least 10 letters or digits, at most 5,000 characters."
        + NO_HIDDEN,
        **_text(maxLength=5000),
    )


def _comment_is_written_unless_approving(schema: dict) -> None:
    schema["if"] = {
        "properties": {"decision": {"enum": ["request_changes", "reject"]}},
        "required": ["decision"],
    }
    schema["then"] = {"required": ["comment"], "properties": {"comment": {"minLength": 10}}}


class DecisionIn(StrictInput):
    model_config = ConfigDict(json_schema_extra=_comment_is_written_unless_approving)

    decision: Literal["approve", "request_changes", "reject"]
    version: Integer = Field(ge=1, description="The version number you reviewed.")
    comment: str = Field(
        "",
        description="At most 5,000 characters. Required for request_changes and reject, with at least 10 "
        "letters or digits." + NO_HIDDEN,
        **_text(maxLength=5000),
    )
    overrides: list[OverrideIn] = Field(default_factory=list, max_length=500)


class PublishIn(StrictInput):
    sha256: str | None = Field(
        None,
        pattern=workflow.SHA256_PATTERN.pattern,
        description="SHA-256 (hex) of the approved text you mean to publish: the draft's `approval.sha256` "
        "(equal to `version.sha256`) as you read it. If the current or the approved text has another hash, "
        "nothing is published and the answer is 409 `sha256_mismatch` with `current_sha256` and "
        "`approved_sha256`.",
    )


class UserOut(Schema):
    username: str
    name: str


class VersionOut(Schema):
    number: int
    body: str
    sha256: str
    source: str
    created_at: datetime


LIST_EXCERPT_CHARS = 280


class VersionSummaryOut(Schema):
    """A version as lists show it: the start of the text and its length, so that a page of drafts stays
    small whatever their size. The full text is on `GET /drafts/{id}`."""

    number: int
    sha256: str
    source: str
    created_at: datetime
    excerpt: str = Field(description=f"The first {LIST_EXCERPT_CHARS} characters of the body.")
    chars: int = Field(description="The length of the whole body in characters.")

    @staticmethod
    def resolve_excerpt(version: Version) -> str:
        return version.body[:LIST_EXCERPT_CHARS]

    @staticmethod
    def resolve_chars(version: Version) -> int:
        return len(version.body)


class FlagCountsOut(Schema):
    blocker: int
    warning: int
    info: int
    open_blockers: int = Field(description="Blockers not yet overridden.")


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
    second_factor_verified: bool = Field(
        description="Whether the reviewer decided in a session verified with their second factor."
    )


class UsageOut(Schema):
    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None


class ProvenanceSummaryOut(Schema):
    """Where a generated version came from, as lists show it (the prompt is on the draft itself)."""

    brief: int
    version: int = Field(description="The number of the generated version this describes.")
    model: str
    prompt_template_version: str

    @staticmethod
    def resolve_brief(provenance: Provenance) -> int:
        return provenance.brief_id

    @staticmethod
    def resolve_version(provenance: Provenance) -> int:
        return provenance.version.number


class ProvenanceOut(ProvenanceSummaryOut):
    """Where a generated version came from. `masked_prompt` is the prompt exactly as sent to the
    model: personal data in it is replaced by placeholders; the values are never stored."""

    masked_prompt: list[dict]
    entity_counts: dict[str, int]
    usage: UsageOut
    request_id: str
    latency_ms: int

    @staticmethod
    def resolve_usage(provenance: Provenance) -> dict:
        return {
            "prompt_tokens": provenance.prompt_tokens,
            "completion_tokens": provenance.completion_tokens,
            "total_tokens": provenance.total_tokens,
        }


class DraftSummaryOut(Schema):
    """A draft as `GET /drafts` lists it: its text as an excerpt and its flags as counts, so that a
    page is small whatever the drafts hold (a page of full drafts could be tens of MiB)."""

    id: int
    title: str
    status: str
    channel: str
    campaign: str
    external_id: str | None
    language: str
    author: UserOut
    version: VersionSummaryOut | None
    flag_counts: FlagCountsOut
    approval: ApprovalOut | None
    provenance: ProvenanceSummaryOut | None = Field(
        None,
        description="For generated copy, where its generated version came from; kept when people edit it "
        "afterwards. null for copy written by people, and for callers who may not see the brief it came "
        "from (only its requester, reviewers and admins may).",
    )
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_version(draft: Draft) -> Version | None:
        return draft.current_version

    @staticmethod
    def resolve_provenance(draft: Draft, context) -> Provenance | None:
        provenance = latest_provenance(draft.generated_versions)
        request = (context or {}).get("request")
        if provenance is None or request is None or not provenance.brief.may_be_seen_by(request.user):
            return None
        return provenance

    @staticmethod
    def resolve_flag_counts(draft: Draft) -> dict:
        if hasattr(draft, "open_blockers"):  # annotated by api.drafts.summaries
            counts = {"blocker": draft.blockers, "warning": draft.warnings, "info": draft.infos}
            return {**counts, "open_blockers": draft.open_blockers}
        flags = list(draft.current_version.flags.all()) if draft.current_version else []
        counts = {
            severity: sum(f.severity == severity for f in flags)
            for severity in ("blocker", "warning", "info")
        }
        open_blockers = sum(f.severity == "blocker" and f.status == "open" for f in flags)
        return {**counts, "open_blockers": open_blockers}

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
            "second_factor_verified": approval.second_factor_verified,
        }


class DraftOut(DraftSummaryOut):
    """A draft with its whole current text and every flag on it."""

    version: VersionOut | None
    flags: list[FlagOut]
    provenance: ProvenanceOut | None = Field(
        None,
        description="For generated copy, where its generated version came from (model, prompt as sent, "
        "masked; usage); kept when people edit it afterwards. null for copy written by people, and for "
        "callers who may not see the brief it came from (only its requester, reviewers and admins may).",
    )

    @staticmethod
    def resolve_flags(draft: Draft) -> list[Flag]:
        return list(draft.current_version.flags.all()) if draft.current_version else []


class DecisionOut(Schema):
    id: int
    decision: str
    version: int
    sha256: str
    comment: str
    reviewer: UserOut
    second_factor_verified: bool = Field(
        description="Whether the reviewer decided in a session verified with their second factor (an API "
        "token never is)."
    )
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


class BriefIn(StrictInput):
    product: str = Field(
        description="What the copy is for: at most 200 characters, not blank." + NO_HIDDEN,
        **_text(REQUIRED_TEXT_PATTERN, minLength=1, maxLength=200),
    )
    audience: str = Field("", description="Who it is for." + NO_HIDDEN, **_text(maxLength=5000))
    channel: ChannelName = Channel.EMAIL
    tone: str = Field(
        "", description="e.g. 'warm, plain, no exclamation marks'." + NO_HIDDEN, **_text(maxLength=200)
    )
    key_points: str = Field("", description="What the copy must say." + NO_HIDDEN, **_text(maxLength=5000))
    approved_facts: str = Field(
        "",
        description="Substantiated facts the copy may use; nothing else is claimed." + NO_HIDDEN,
        **_text(maxLength=5000),
    )
    variants: Integer = Field(3, ge=1, le=VARIANTS_MAX, description="How many drafts to generate (1-5).")
    language: str = Field(
        "en",
        max_length=16,
        description="BCP 47 code such as 'en' or 'de-AT'.",
        **_text(workflow.LANGUAGE_PATTERN.pattern),
    )
    campaign: str = Field("", max_length=200, description=NO_HIDDEN.strip(), **_text())


class BriefErrorOut(Schema):
    code: str
    message: str


class BriefDraftOut(Schema):
    id: int
    title: str
    status: str
    variant: int | None

    @staticmethod
    def resolve_variant(draft: Draft) -> int | None:
        return draft.brief_variant


class BriefOut(Schema):
    id: int
    status: str = Field(description="queued, running, done or failed.")
    product: str
    audience: str
    channel: str
    tone: str
    key_points: str
    approved_facts: str
    variants: int
    language: str
    campaign: str
    requester: UserOut
    drafts: list[BriefDraftOut]
    error: BriefErrorOut | None = Field(description="Why generation failed, when it did.")
    attempts: int
    created_at: datetime
    finished_at: datetime | None

    @staticmethod
    def resolve_drafts(brief: Brief) -> list[Draft]:
        return sorted(brief.drafts.all(), key=lambda draft: draft.brief_variant or 0)

    @staticmethod
    def resolve_error(brief: Brief) -> dict | None:
        if not brief.error:
            return None
        return {"code": brief.error_code, "message": brief.error}
