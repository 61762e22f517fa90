"""Every state change of a draft, one function each. Nothing else assigns `Draft.status`.

Each function checks who may act, validates input, locks the draft row, re-checks the state under
the lock, writes with a conditional UPDATE, and records its AuditEvent in the same transaction.
The gate of SPEC §3 is enforced here and, as a last line of defence, by database constraints.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from reviewapp import audit, flagging, second_factor, webhooks
from reviewapp.models import (
    OVERRIDE_REASON_MIN_CHARS,
    VARIANTS_MAX,
    Brief,
    BriefStatus,
    Channel,
    Claim,
    Decision,
    DecisionKind,
    Draft,
    Flag,
    FlagStatus,
    Provenance,
    Role,
    Severity,
    Source,
    Status,
    User,
    Version,
    letters_and_digits,
    sha256_hex,
)

# --- Errors: each maps to one HTTP status in the API and to a message in the web pages ----------


@dataclass
class WorkflowError(Exception):
    message: str
    code: str = "invalid"
    status: int = 422
    extra: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


class Forbidden(WorkflowError):
    def __init__(self, message: str, code: str = "forbidden", **extra):
        super().__init__(message, code, 403, extra)


class Conflict(WorkflowError):
    def __init__(self, message: str, code: str = "conflict", **extra):
        super().__init__(message, code, 409, extra)


class Invalid(WorkflowError):
    def __init__(self, message: str, code: str = "invalid", **extra):
        super().__init__(message, code, 422, extra)


class Unavailable(WorkflowError):
    def __init__(self, message: str, code: str = "unavailable", **extra):
        super().__init__(message, code, 503, extra)


# --- Who may do what ------------------------------------------------------------------------------

ACTION_ROLES: dict[str, frozenset[str]] = {
    "submit": frozenset({Role.COPYWRITER, Role.INTEGRATION}),
    "add_version": frozenset({Role.COPYWRITER, Role.INTEGRATION}),
    "publish": frozenset({Role.COPYWRITER, Role.INTEGRATION}),
    "decide": frozenset({Role.REVIEWER}),
    "override": frozenset({Role.REVIEWER}),
}


# Gate invariant 2: a machine account never decides, even if an admin also put it in `reviewer`
# (accounts.create_user refuses that combination; the admin's group editor does not).
ACTION_EXCLUDED_ROLES: dict[str, frozenset[str]] = {
    "decide": frozenset({Role.INTEGRATION}),
    "override": frozenset({Role.INTEGRATION}),
}


def can(user: User, action: str) -> bool:
    """Whether the user's roles allow the action at all (the draft may still refuse it)."""
    excluded = ACTION_EXCLUDED_ROLES.get(action, frozenset())
    return user.has_role(*ACTION_ROLES[action]) and user.roles.isdisjoint(excluded)


def _require(user: User, action: str) -> None:
    if user.has_role(*ACTION_EXCLUDED_ROLES.get(action, ())):
        raise Forbidden(
            f"An integration account may never {action.replace('_', ' ')}, whatever its other roles.",
            code="role_not_allowed",
        )
    if not can(user, action):
        allowed = " or ".join(sorted(ACTION_ROLES[action]))
        raise Forbidden(f"Only a {allowed} may {action.replace('_', ' ')}.", code="role_not_allowed")


def wrote_any_version(draft: Draft, user: User) -> bool:
    """Gate invariant 2: the author of any version (or the draft), and the requester of the brief it
    was generated from, never approve it."""
    if draft.author_id == user.pk:
        return True
    if draft.brief_id and Brief.objects.filter(pk=draft.brief_id, requester=user).exists():
        return True
    return draft.versions.filter(created_by=user).exists()


# --- Input validation -----------------------------------------------------------------------------

LANGUAGE_PATTERN = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
TITLE_MAX_CHARS = 200
COMMENT_MAX_CHARS = 5000


def _reject_control_characters(value: str, what: str, field: str | None = None) -> None:
    """Control characters, lone surrogates and invisible formatting characters (soft hyphen,
    zero-width space, bidirectional overrides, byte-order mark…) are refused: the reviewer cannot see
    them, and inside a word they would hide a claim from the automatic checks. The problem names the
    field (`field`, else `what`) and the character's code point, never the text around it."""
    for char in value:
        if char not in "\n\r\t" and unicodedata.category(char) in ("Cc", "Cs"):
            raise Invalid(
                f"The {what} contains a control or invalid character (U+{ord(char):04X}).",
                field=field or what,
            )
    if hidden := flagging.hidden_characters(value):
        char = value[hidden[0]]
        name = unicodedata.name(char, "a formatting character").lower()
        raise Invalid(
            f"The {what} contains an invisible character (U+{ord(char):04X}, {name}). Remove it: "
            "readers cannot see it and it can hide words from the checks.",
            code="invisible_character",
            field=field or what,
        )


def clean_body(body: str) -> str:
    if not isinstance(body, str) or not body.strip():
        raise Invalid("The copy text is empty.", code="empty_body")
    if len(body) > settings.COPY_MAX_CHARS:
        raise WorkflowError(
            f"The copy text is {len(body):,} characters; the limit is {settings.COPY_MAX_CHARS:,}.",
            code="body_too_long",
            status=413,
        )
    _reject_control_characters(body, "copy text", "body")
    return body


def _check_channel_and_language(channel: str, language: str) -> None:
    """Drafts and briefs take the same channels and language codes; the problem never repeats the
    value (it may be anything a caller typed)."""
    if channel not in Channel.values:
        raise Invalid(
            f"Unknown channel; use one of {', '.join(Channel.values)}.", code="bad_channel", field="channel"
        )
    if not LANGUAGE_PATTERN.match(language or ""):
        raise Invalid(
            "The language is not a language code such as 'en' or 'de-AT'.",
            code="bad_language",
            field="language",
        )


def clean_title(title: str) -> str:
    title = (title or "").strip()
    if not title:
        raise Invalid("The title is empty.", code="empty_title")
    if len(title) > TITLE_MAX_CHARS:
        raise Invalid(f"The title is longer than {TITLE_MAX_CHARS} characters.", code="title_too_long")
    if "\n" in title or "\r" in title:
        raise Invalid("The title must be one line.", code="invalid_title")
    _reject_control_characters(title, "title")
    return title


def _clean_comment(comment: str, what: str = "comment") -> str:
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX_CHARS:
        raise Invalid(f"The {what} is longer than {COMMENT_MAX_CHARS} characters.", code="comment_too_long")
    _reject_control_characters(comment, what)
    return comment


WRITTEN_MIN = OVERRIDE_REASON_MIN_CHARS  # letters or digits in a reason or a required comment


def _written(text: str) -> bool:
    """Whether `text` says something: blanks, punctuation and combining marks alone never count (the
    database's triggers measure override reasons the same way)."""
    return len(letters_and_digits(text)) >= WRITTEN_MIN


def _clean_reason(reason: str) -> str:
    reason = _clean_comment(reason, "reason")
    if not _written(reason):
        raise Invalid(
            f"An override needs a written reason of at least {WRITTEN_MIN} letters or digits.",
            code="override_reason_too_short",
        )
    return reason


def database_refusal(error: IntegrityError) -> Conflict | None:
    """A gate trigger's refusal (its message starts with "gate:"), as the conflict it is. The messages
    are fixed texts of the migrations: they carry no input."""
    text = str(error)
    if "gate:" not in text:
        return None
    reason = text[text.index("gate:") :].splitlines()[0].removeprefix("gate:").strip()
    return Conflict(f"The database refused this change: {reason}.", code="refused_by_database")


# --- Flags ----------------------------------------------------------------------------------------


def live_claims() -> tuple[flagging.Claim, ...]:
    """The claims library's live claims, as the engine takes them. Expired claims are left out, so
    they clear nothing."""
    return tuple(
        flagging.Claim(
            text=claim.text,
            evidence=claim.evidence_source,
            url=claim.evidence_link,
            id=claim.pk,
        )
        for claim in Claim.objects.live().order_by("pk")
    )


def compute_flags(
    body: str, *, language: str, claims: tuple[flagging.Claim, ...] | None = None
) -> list[flagging.Flag]:
    """Flags for a text, with the live claims of the claims library applied. Transitions call this
    before taking any lock; callers that must wrap a transition in a longer transaction (idempotent
    API requests) call it first, so the parse is cached and never runs while the database is locked.
    The cache key includes the claims, so adding or expiring a claim is seen by the next call."""
    claims = live_claims() if claims is None else tuple(claims)
    return list(_cached_flags(body, language, claims))


@lru_cache(maxsize=32)
def _cached_flags(body: str, language: str, claims: tuple[flagging.Claim, ...]) -> tuple[flagging.Flag, ...]:
    return tuple(flagging.find_flags(body, language=language, claims=claims))


def _flag_row(version: Version, f: flagging.Flag) -> Flag:
    return Flag(
        version=version,
        category=f.category,
        rule=f.rule,
        severity=f.severity,
        start=f.start,
        end=f.end,
        text=f.text,
        message=f.message,
        suggestion=f.suggestion,
        reference=f.reference,
        claim_id=f.claim_id if isinstance(f.claim_id, int) else None,
    )


def _store_flags(version: Version, found: list[flagging.Flag], *, actor: User | None) -> None:
    """Save the flags of a draft's new current version (set before this is called)."""
    Flag.objects.bulk_create(_flag_row(version, f) for f in found)
    _refresh_risk(version.draft_id)
    audit.record(
        "flags.computed",
        actor=actor,
        obj=version,
        draft=version.draft,
        data={"version": version.number, "counts": _counts(found), "rules": sorted({f.rule for f in found})},
    )


def _refresh_risk(draft_id: int) -> None:
    """After the current version's flags change (new flags, overrides): the queue sorts by it."""
    Draft.objects.filter(pk=draft_id).refresh_risk()


def _counts(found) -> dict[str, int]:
    return {severity: sum(f.severity == severity for f in found) for severity in Severity.values}


def reflag(draft: Draft, *, found: list[flagging.Flag], actor: User | None = None) -> bool | None:
    """Replace the flags of the draft's current version with `found` (computed by the caller from the
    current rules and claims), unless a decision has been recorded on that version: a decision's flags
    are history and never change. A flag that is found again at the same place by the same rule keeps
    its row, and so its override; its severity and message follow the new rules. Returns None when the
    version is decided (or the draft moved on), else whether anything changed."""
    with transaction.atomic():
        locked = _lock(draft)
        version = locked.current_version
        if version is None or version.pk != draft.current_version_id or version.decisions.exists():
            return None
        existing = {(f.rule, f.start, f.end): f for f in version.flags.select_for_update()}
        wanted = {(f.rule, f.start, f.end): f for f in found}
        # A blocker is never deleted, and stops being one only where a live claim clears it (the gate's
        # triggers refuse anything else): a blocker the new rules no longer find, or find as less
        # severe, stays as it is for the reviewer to answer; a new version is flagged afresh.
        kept = {
            key
            for key, row in existing.items()
            if row.severity == Severity.BLOCKER and not _may_clear(row, wanted.get(key))
        }
        removed = [row for key, row in existing.items() if key not in wanted and key not in kept]
        added = [f for key, f in wanted.items() if key not in existing]
        updated = []
        for key, row in existing.items():
            if key in wanted and key not in kept:
                new = _flag_row(version, wanted[key])
                fields = ["category", "severity", "text", "message", "suggestion", "reference", "claim_id"]
                if any(getattr(row, name) != getattr(new, name) for name in fields):
                    for name in fields:
                        setattr(row, name, getattr(new, name))
                    updated.append(row)
        if not (removed or added or updated):
            return False
        Flag.objects.filter(pk__in=[row.pk for row in removed]).delete()
        Flag.objects.bulk_create(_flag_row(version, f) for f in added)
        if updated:
            Flag.objects.bulk_update(
                updated, ["category", "severity", "text", "message", "suggestion", "reference", "claim"]
            )
        _refresh_risk(locked.pk)
        audit.record(
            "flags.recomputed",
            actor=actor,
            obj=version,
            draft=locked,
            data={
                "version": version.number,
                "counts": _counts(found),
                "added": sorted({f.rule for f in added}),
                "removed": sorted({row.rule for row in removed}),
                "changed": sorted({row.rule for row in updated}),
                "overrides_dropped": sum(row.status == FlagStatus.OVERRIDDEN for row in removed),
                "blockers_kept": len(kept),
            },
        )
    return True


def _may_clear(row: Flag, found: flagging.Flag | None) -> bool:
    """Whether the new finding may take the place of a stored blocker: it is still a blocker, or a live
    claim cleared this unverifiable finding."""
    if found is None:
        return False
    return found.severity == Severity.BLOCKER or (
        found.claim_id is not None and row.category == found.category == "unverifiable"
    )


def _create_version(draft: Draft, *, number: int, body: str, author: User, source: str) -> Version:
    return Version.objects.create(
        draft=draft, number=number, body=body, sha256=sha256_hex(body), created_by=author, source=source
    )


# --- Transitions ----------------------------------------------------------------------------------


def submit(
    *,
    author: User,
    title: str,
    body: str,
    channel: str = Channel.WEB,
    campaign: str = "",
    external_id: str | None = None,
    language: str = "en",
    source: str = Source.HUMAN,
    brief: Brief | None = None,
    brief_variant: int | None = None,
) -> Draft:
    """Create a draft with its first version and flags; it enters the review queue."""
    _require(author, "submit")
    title = clean_title(title)
    body = clean_body(body)
    _check_channel_and_language(channel, language)
    campaign = (campaign or "").strip()[:200]
    _reject_control_characters(campaign, "campaign")
    external_id = (external_id or "").strip() or None
    _reject_control_characters(external_id or "", "external_id")
    if external_id and len(external_id) > 200:
        raise Invalid("external_id is longer than 200 characters.", code="bad_external_id")
    found = compute_flags(body, language=language)
    try:
        with transaction.atomic():
            if external_id and Draft.objects.filter(author=author, external_id=external_id).exists():
                raise _duplicate_external_id(author, external_id)
            now = timezone.now()
            draft = Draft.objects.create(
                title=title,
                channel=channel,
                campaign=campaign,
                external_id=external_id,
                language=language,
                author=author,
                status=Status.GENERATING,
                created_at=now,
                updated_at=now,
                brief=brief,
                brief_variant=brief_variant,
            )
            version = _create_version(draft, number=1, body=body, author=author, source=source)
            Draft.objects.filter(pk=draft.pk).update(current_version=version, status=Status.IN_REVIEW)
            draft.current_version, draft.status = version, Status.IN_REVIEW
            audit.record(
                "draft.submitted",
                actor=author,
                obj=draft,
                draft=draft,
                data={"version": 1, "sha256": version.sha256, "channel": channel, "source": source},
            )
            _store_flags(version, found, actor=author)
    except IntegrityError:
        if external_id:  # a concurrent submit with the same external_id won the race
            raise _duplicate_external_id(author, external_id) from None
        raise
    return draft


def _duplicate_external_id(author: User, external_id: str) -> Conflict:
    existing = (
        Draft.objects.filter(author=author, external_id=external_id).values_list("pk", flat=True).first()
    )
    return Conflict(
        f"This external_id is already used by draft {existing}; add a version to it instead.",
        code="duplicate_external_id",
        draft=existing,
    )


def _lock(draft: Draft, *, related: tuple[str, ...] = ("current_version",)) -> Draft:
    """Lock the draft row, then read it with its related rows.

    Two queries on purpose: when a SELECT ... FOR UPDATE on PostgreSQL waits for a concurrent
    transaction, it re-checks only the locked row against the rows it joined before the wait, so a
    version or decision that transaction created comes back as NULL."""
    Draft.objects.select_for_update().filter(pk=draft.pk).values_list("pk", flat=True).get()
    return Draft.objects.select_related(*related).get(pk=draft.pk)


def add_version(draft: Draft, *, author: User, body: str, source: str = Source.HUMAN) -> Version | None:
    """Save new text. Identical text creates no version (returns None). Any approval is cleared and
    the draft goes back to review."""
    _require(author, "add_version")
    body = clean_body(body)
    digest = sha256_hex(body)
    found = compute_flags(body, language=draft.language)
    with transaction.atomic():
        locked = _lock(draft)
        if locked.status not in (Status.IN_REVIEW, Status.CHANGES_REQUESTED, Status.APPROVED):
            raise Conflict(
                f"Draft {locked.pk} is {locked.get_status_display()}; it cannot take new versions.",
                code="draft_closed",
            )
        previous = locked.current_version
        if previous.sha256 == digest:
            return None
        version = _create_version(locked, number=previous.number + 1, body=body, author=author, source=source)
        updated = Draft.objects.filter(pk=locked.pk, current_version=previous).update(
            current_version=version,
            status=Status.IN_REVIEW,
            approved_version=None,
            approval=None,
            updated_at=timezone.now(),
        )
        if updated != 1:
            raise Conflict("The draft changed while saving; reload it.", code="concurrent_change")
        audit.record(
            "version.added",
            actor=author,
            obj=version,
            draft=locked,
            data={
                "version": version.number,
                "sha256": digest,
                "source": source,
                "previous_status": locked.status,
                "approval_cleared": locked.status == Status.APPROVED,
            },
        )
        _store_flags(version, found, actor=author)
    return version


@dataclass(frozen=True)
class Override:
    flag_id: int
    reason: str


_DECISION_FROM = {
    DecisionKind.APPROVE: (Status.IN_REVIEW,),
    DecisionKind.REQUEST_CHANGES: (Status.IN_REVIEW,),
    DecisionKind.REJECT: (Status.IN_REVIEW, Status.CHANGES_REQUESTED),
}
_DECISION_TO = {
    DecisionKind.APPROVE: Status.APPROVED,
    DecisionKind.REQUEST_CHANGES: Status.CHANGES_REQUESTED,
    DecisionKind.REJECT: Status.REJECTED,
}


def allowed_decisions(status: str) -> list[str]:
    """The decisions a draft in this status can take (request changes / approve only while in review)."""
    return [kind for kind, statuses in _DECISION_FROM.items() if status in statuses]


def decide(
    draft: Draft,
    *,
    reviewer: User,
    kind: str,
    version: int,
    comment: str = "",
    overrides: Iterable[Override] = (),
    second_factor_verified: bool = False,
) -> Decision:
    """A reviewer's verdict on the version they saw (`version` is its number).

    `second_factor_verified` says whether the reviewer's session passed the second factor (the web view
    knows; an API token never has). It is recorded on the decision, and required for roles listed in
    REQUIRE_2FA_FOR.
    """
    _require(reviewer, "decide")
    _require_second_factor(reviewer, verified=second_factor_verified)
    if kind not in _DECISION_TO:
        raise Invalid(
            "Unknown decision; use approve, request_changes or reject.", code="bad_decision", field="decision"
        )
    comment = _clean_comment(comment)
    if kind != DecisionKind.APPROVE and not comment:
        raise Invalid(
            "Say what should change: a comment is required to request changes or reject.",
            code="comment_required",
        )
    if kind != DecisionKind.APPROVE and not _written(comment):
        raise Invalid(
            f"Say what should change in at least {WRITTEN_MIN} letters or digits.", code="comment_too_short"
        )
    reasons = {}
    for override in overrides:
        reasons[override.flag_id] = _clean_reason(override.reason)
    try:
        with transaction.atomic():
            return _decide_locked(draft, reviewer, kind, version, comment, reasons, second_factor_verified)
    except IntegrityError as error:
        if refusal := database_refusal(error):
            raise refusal from None
        # The partial unique index on approvals: another reviewer approved this version first.
        raise Conflict(
            "Another decision on this version was recorded first; reload the draft.",
            code="concurrent_decision",
        ) from None


def _require_second_factor(reviewer: User, *, verified: bool) -> None:
    if verified or not second_factor.is_required(reviewer):
        return
    if not second_factor.is_enrolled(reviewer):
        raise Forbidden(
            "Your role decides only with two-factor sign-in, and it is not set up for your account: set it "
            "up on the Two-factor sign-in page (/account/two-factor), then decide.",
            code="second_factor_required",
        )
    raise Forbidden(
        "Your role decides only in a session signed in with your second factor: sign in to the dashboard "
        "with your code and decide there (an API token cannot carry that verification).",
        code="second_factor_required",
    )


def _decide_locked(
    draft: Draft,
    reviewer: User,
    kind: str,
    number: int,
    comment: str,
    reasons: dict[int, str],
    second_factor_verified: bool,
) -> Decision:
    locked = _lock(draft)
    if wrote_any_version(locked, reviewer):
        raise Forbidden(
            "You wrote a version of this draft, so another reviewer must decide on it.", code="own_work"
        )
    _refuse_if_leased_to_another(locked, reviewer)
    current = locked.current_version
    if number != current.number:
        raise Conflict(
            f"You reviewed version {number}, but the draft is now at version {current.number}. "
            "Review the current text before deciding.",
            code="stale_version",
            current_version=current.number,
        )
    if locked.status not in _DECISION_FROM[kind]:
        raise Conflict(
            f"Draft {locked.pk} is {locked.get_status_display()}; it cannot be given this decision.",
            code="wrong_status",
            draft_status=locked.status,
        )
    now = timezone.now()
    flags = {flag.pk: flag for flag in current.flags.all()}
    unknown = sorted(set(reasons) - set(flags))
    if unknown:
        raise Invalid(
            f"Flags {unknown} are not on version {current.number} of this draft.",
            code="unknown_flag",
            flags=unknown,
        )
    for flag_id, reason in reasons.items():
        _apply_override(flags[flag_id], reviewer=reviewer, reason=reason, now=now)
    if reasons:
        _refresh_risk(locked.pk)
    if kind == DecisionKind.APPROVE:
        still_open = sorted(
            flag.pk
            for flag in flags.values()
            if flag.severity == Severity.BLOCKER
            and not (flag.status == FlagStatus.OVERRIDDEN and flag.overridden_by_id == reviewer.pk)
        )
        if still_open:
            raise Conflict(
                f"{len(still_open)} blocker flag(s) are open. Fix the copy, or override each blocker "
                "with a written reason when you approve.",
                code="open_blockers",
                flags=still_open,
            )
    decision = Decision.objects.create(
        draft=locked,
        version=current,
        sha256=current.sha256,
        kind=kind,
        comment=comment,
        reviewer=reviewer,
        second_factor_verified=second_factor_verified,
        created_at=now,
    )
    # A decision ends the reviewer's lease (reviewapp/leases.py) in the same UPDATE.
    changes = {"status": _DECISION_TO[kind], "updated_at": now, "claimed_by": None, "claimed_until": None}
    if kind == DecisionKind.APPROVE:
        changes.update(approved_version=current, approval=decision)
    updated = Draft.objects.filter(pk=locked.pk, status=locked.status, current_version=current).update(
        **changes
    )
    if updated != 1:
        raise Conflict("The draft changed while deciding; reload it.", code="concurrent_change")
    for flag_id in reasons:
        audit.record(
            "flag.overridden",
            actor=reviewer,
            obj=flags[flag_id],
            draft=locked,
            data={
                "version": current.number,
                "rule": flags[flag_id].rule,
                "severity": flags[flag_id].severity,
            },
        )
    audit.record(
        f"decision.{kind}",
        actor=reviewer,
        obj=decision,
        draft=locked,
        data={
            "version": current.number,
            "sha256": current.sha256,
            "status": _DECISION_TO[kind],
            "overridden_flags": sorted(reasons),
            "second_factor_verified": second_factor_verified,
        },
    )
    webhooks.copy_decided(locked, current, decision)
    return decision


def _refuse_if_leased_to_another(locked: Draft, reviewer: User) -> None:
    """Claims are respected on every path: while another reviewer's lease is live, they decide."""
    if locked.claimed_by_id not in (None, reviewer.pk) and locked.claimed_until > timezone.now():
        holder = User.objects.get(pk=locked.claimed_by_id)
        raise Conflict(
            f"{holder.display_name} has claimed this draft until "
            f"{timezone.localtime(locked.claimed_until):%H:%M}; they decide on it unless the claim runs out.",
            code="claimed",
            holder=holder.username,
        )


def _apply_override(flag: Flag, *, reviewer: User, reason: str, now) -> None:
    flag.status = FlagStatus.OVERRIDDEN
    flag.overridden_by = reviewer
    flag.override_reason = reason
    flag.overridden_at = now
    flag.save(update_fields=["status", "overridden_by", "override_reason", "overridden_at"])


def override_flag(flag: Flag, *, reviewer: User, reason: str) -> Flag:
    """Override one flag ahead of deciding (the dashboard's per-blocker override)."""
    _require(reviewer, "override")
    reason = _clean_reason(reason)
    with transaction.atomic():
        locked = _lock(flag.version.draft)
        if wrote_any_version(locked, reviewer):
            raise Forbidden(
                "You wrote a version of this draft, so you cannot override its flags.", code="own_work"
            )
        _refuse_if_leased_to_another(locked, reviewer)
        if flag.version_id != locked.current_version_id:
            raise Conflict("This flag is on an older version; the draft has moved on.", code="stale_version")
        if locked.status != Status.IN_REVIEW:
            raise Conflict(
                f"Draft {locked.pk} is {locked.get_status_display()}; flags are settled.", code="wrong_status"
            )
        flag = Flag.objects.select_for_update().get(pk=flag.pk)
        _apply_override(flag, reviewer=reviewer, reason=reason, now=timezone.now())
        _refresh_risk(locked.pk)
        audit.record(
            "flag.overridden",
            actor=reviewer,
            obj=flag,
            draft=locked,
            data={"version": locked.current_version.number, "rule": flag.rule, "severity": flag.severity},
        )
    return flag


SHA256_PATTERN = re.compile(r"^[0-9a-fA-F]{64}$")


def _clean_sha256(value) -> str:
    if not isinstance(value, str) or not SHA256_PATTERN.match(value):
        raise Invalid(
            "sha256 must be the SHA-256 of the approved text you mean to publish: 64 hexadecimal "
            "characters. Reload the draft to get it.",
            code="bad_sha256",
            field="sha256",
        )
    return value.lower()


def publish(draft: Draft, *, actor: User, expected_sha256: str | None = None) -> Draft:
    """Mark approved copy as published. Refused unless the exact current text was approved.

    `expected_sha256` binds the publication to the text the caller holds (the API's `sha256`, the web
    form's hidden field): when given, it must be the hash of the current text and of the approved
    text, else Conflict `sha256_mismatch` naming both, so a tool that loaded version 1 never
    publishes a version 2 approved since."""
    _require(actor, "publish")
    if expected_sha256 is not None:
        expected_sha256 = _clean_sha256(expected_sha256)
    with transaction.atomic():
        locked = _lock(draft, related=("current_version", "approval__reviewer"))
        current, approval = locked.current_version, locked.approval
        if expected_sha256 is not None and (
            expected_sha256 != current.sha256 or (approval is not None and expected_sha256 != approval.sha256)
        ):
            raise Conflict(
                "The text you mean to publish is not the current approved text of this draft: it changed "
                "since you loaded it. Reload the draft and check the text before publishing.",
                code="sha256_mismatch",
                current_sha256=current.sha256,
                approved_sha256=approval.sha256 if approval is not None else None,
            )
        if locked.status != Status.APPROVED:
            raise Conflict(
                f"Draft {locked.pk} is {locked.get_status_display()}; only approved copy can be published.",
                code="not_approved",
                draft_status=locked.status,
            )
        body_digest = sha256_hex(current.body)
        if not (
            locked.approved_version_id == current.pk
            and approval is not None
            and approval.kind == DecisionKind.APPROVE
            and approval.version_id == current.pk
            and approval.sha256 == body_digest == current.sha256
        ):
            raise Conflict("The current text is not the text that was approved.", code="approval_mismatch")
        now = timezone.now()
        updated = Draft.objects.filter(
            Q(pk=locked.pk, status=Status.APPROVED, current_version=current, approved_version=current)
        ).update(status=Status.PUBLISHED, updated_at=now)
        if updated != 1:
            raise Conflict("The draft changed while publishing; reload it.", code="concurrent_change")
        audit.record(
            "draft.published",
            actor=actor,
            obj=locked,
            draft=locked,
            data={"version": current.number, "sha256": body_digest, "approval": approval.pk},
        )
        webhooks.copy_published(locked, current, approval, actor=actor, at=now)
    locked.refresh_from_db()
    return locked


# --- Briefs: generated copy (SPEC §5) -------------------------------------------------------------

BRIEF_TEXT_MAX_CHARS = 5000
GENERATION_TASK = "reviewapp.tasks.generate_from_brief"


def _clean_brief_text(
    value: str, what: str, *, required: bool = False, max_chars: int = BRIEF_TEXT_MAX_CHARS
):
    value = (value or "").strip()
    if required and not value:
        raise Invalid(f"The {what} is empty.", code="empty_field", field=what)
    if len(value) > max_chars:
        raise Invalid(
            f"The {what} is longer than {max_chars:,} characters.", code="field_too_long", field=what
        )
    _reject_control_characters(value, what)
    return value


def request_brief(
    *,
    requester: User,
    product: str,
    audience: str = "",
    channel: str = Channel.EMAIL,
    tone: str = "",
    key_points: str = "",
    approved_facts: str = "",
    variants: int = 3,
    language: str = "en",
    campaign: str = "",
) -> Brief:
    """Store a brief and queue its generation (after commit). Only its id goes to the task queue."""
    _require(requester, "submit")
    _check_channel_and_language(channel, language)
    if not isinstance(variants, int) or not 1 <= variants <= VARIANTS_MAX:
        raise Invalid(f"Ask for 1 to {VARIANTS_MAX} variants.", code="bad_variants")
    fields = {
        "product": _clean_brief_text(product, "product", required=True, max_chars=200),
        "audience": _clean_brief_text(audience, "audience"),
        "tone": _clean_brief_text(tone, "tone", max_chars=200),
        "key_points": _clean_brief_text(key_points, "key points"),
        "approved_facts": _clean_brief_text(approved_facts, "approved facts"),
        "campaign": _clean_brief_text(campaign, "campaign", max_chars=200),
    }
    if not settings.GENERATION_CONFIGURED:
        raise Unavailable(
            "Generation is not configured on this server: set OPENAI_API_KEY (OpenAI) or OPENAI_BASE_URL "
            "(any OpenAI-compatible server).",
            code="generation_not_configured",
        )
    with transaction.atomic():
        brief = Brief.objects.create(
            requester=requester, channel=channel, variants=variants, language=language, **fields
        )
        audit.record(
            "brief.requested",
            actor=requester,
            obj=brief,
            data={"variants": variants, "channel": channel, "language": language},
        )
        brief_id = brief.pk
        transaction.on_commit(lambda: _enqueue_generation(brief_id))
    return brief


def _enqueue_generation(brief_id: int) -> None:
    from django_q.tasks import async_task

    async_task(GENERATION_TASK, brief_id, task_name=f"brief-{brief_id}", group="generation")


@dataclass(frozen=True)
class BriefClaim:
    brief: Brief
    token: uuid.UUID


def claim_brief(brief_id: int) -> BriefClaim | None:
    """Take a queued brief, or one whose worker died (its claim is older than a task may run), with a
    conditional UPDATE: of two workers, one wins. None when there is nothing to do."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.GENERATION_CLAIM_SECONDS)
    token = uuid.uuid4()
    with transaction.atomic():
        taken = (
            Brief.objects.filter(pk=brief_id)
            .filter(Q(status=BriefStatus.QUEUED) | Q(status=BriefStatus.RUNNING, claimed_at__lt=stale))
            .update(status=BriefStatus.RUNNING, claim=token, claimed_at=now, attempts=F("attempts") + 1)
        )
        if not taken:
            return None
        brief = Brief.objects.select_related("requester").get(pk=brief_id)
        audit.record("brief.started", actor=None, obj=brief, data={"attempt": brief.attempts})
    if brief.attempts > settings.GENERATION_MAX_ATTEMPTS:
        fail_brief(
            brief,
            claim=token,
            code="worker_stopped",
            reason=f"Generation was interrupted {brief.attempts - 1} times, so it was stopped. "
            "Submit the brief again.",
        )
        return None
    return BriefClaim(brief, token)


@dataclass(frozen=True)
class GeneratedCopy:
    title: str
    body: str


def complete_brief(claim: BriefClaim, *, copies: Sequence[GeneratedCopy], provenance: dict) -> list[Draft]:
    """Turn every variant into a draft in review (flags computed, provenance kept), all in one
    transaction keyed by the brief: a retried or racing worker cannot create a second set."""
    brief = claim.brief
    for copy in copies:
        compute_flags(copy.body, language=brief.language)  # parse before any lock is taken
    with transaction.atomic():
        locked = Brief.objects.select_for_update().get(pk=brief.pk)
        if locked.status != BriefStatus.RUNNING or locked.claim != claim.token:
            raise Conflict(f"Brief {brief.pk} was taken over or finished elsewhere.", code="claim_lost")
        drafts = []
        for number, copy in enumerate(copies, start=1):
            draft = submit(
                author=brief.requester,
                title=copy.title,
                body=copy.body,
                channel=brief.channel,
                campaign=brief.campaign,
                language=brief.language,
                source=Source.GENERATED,
                brief=locked,
                brief_variant=number,
            )
            usage = provenance.get("usage", {})
            Provenance.objects.create(
                version=draft.current_version,
                brief=locked,
                model=provenance["model"],
                prompt_template_version=provenance["prompt_template_version"],
                masked_prompt=provenance["masked_prompt"],
                entity_counts=provenance["entity_counts"],
                prompt_tokens=usage.get("prompt_tokens"),
                completion_tokens=usage.get("completion_tokens"),
                total_tokens=usage.get("total_tokens"),
                request_id=provenance.get("request_id") or "",
                latency_ms=provenance["latency_ms"],
            )
            drafts.append(draft)
        Brief.objects.filter(pk=locked.pk, claim=claim.token).update(
            status=BriefStatus.DONE, claim=None, finished_at=timezone.now(), error="", error_code=""
        )
        audit.record(
            "brief.completed",
            actor=None,
            obj=locked,
            data={
                "drafts": [draft.pk for draft in drafts],
                "model": provenance["model"],
                "entity_counts": provenance["entity_counts"],
            },
        )
    return drafts


def fail_brief(brief: Brief, *, code: str, reason: str, claim: uuid.UUID | None = None) -> bool:
    """Mark the brief failed with a reason its author can act on, record `brief.failed` and send it
    to subscribed webhooks. The brief's text stays as it was: nothing is lost. `reason` must hold no
    personal data (generation errors never do). False if the brief was already settled."""
    with transaction.atomic():
        locked = Brief.objects.select_for_update().get(pk=brief.pk)
        if locked.status in (BriefStatus.DONE, BriefStatus.FAILED):
            return False
        if claim is not None and locked.claim != claim:
            return False
        Brief.objects.filter(pk=locked.pk).update(
            status=BriefStatus.FAILED, error_code=code, error=reason, claim=None, finished_at=timezone.now()
        )
        audit.record("brief.failed", actor=None, obj=locked, data={"code": code, "attempts": locked.attempts})
        locked.refresh_from_db()
        webhooks.brief_failed(locked)
    return True
