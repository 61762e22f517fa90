"""The domain model of SPEC §3. Statuses change only in reviewapp/workflow.py.

Database constraints here are the last line of defence behind the workflow's row locks and
conditional UPDATEs: whatever path writes a row (web, API, admin, shell, task), an approved or
published draft always points at the version that was approved.
"""

import hashlib
import secrets
import unicodedata

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import (
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Length
from django.utils import timezone
from django.utils.functional import cached_property

models.CharField.register_lookup(Length)
models.TextField.register_lookup(Length)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def letters_and_digits(text: str) -> str:
    """The letters and decimal digits of `text`, lower-cased: what a written reason is measured by,
    so that blanks, punctuation and combining marks alone never count as writing. The database's
    gate triggers measure the same way (PostgreSQL: [[:alnum:]] under a UTF-8 locale)."""
    return "".join(
        char
        for char in text.lower()
        if unicodedata.category(char).startswith("L") or unicodedata.category(char) == "Nd"
    )


class HistoryDeletionError(Exception):
    pass


class HistoryQuerySet(models.QuerySet):
    """History is never deleted through the ORM (admin, shell, code); triggers back this on PostgreSQL."""

    def delete(self):
        raise HistoryDeletionError(f"{self.model.__name__} rows are history and are never deleted.")


class HistoryModel(models.Model):
    objects = HistoryQuerySet.as_manager()

    class Meta:
        abstract = True

    def delete(self, *args, **kwargs):
        raise HistoryDeletionError(f"{type(self).__name__} rows are history and are never deleted.")


class Role(models.TextChoices):
    COPYWRITER = "copywriter"
    REVIEWER = "reviewer"
    ADMIN = "admin"
    INTEGRATION = "integration"


class User(AbstractUser):
    name = models.CharField("full name", max_length=150, blank=True)

    @cached_property
    def roles(self) -> frozenset[str]:
        return frozenset(group.name for group in self.groups.all())

    def has_role(self, *roles: str) -> bool:
        return self.is_active and not self.roles.isdisjoint(roles)

    @property
    def display_name(self) -> str:
        return self.name or self.username


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    PUSH = "push", "Push"
    AD = "ad", "Ad"
    SOCIAL = "social", "Social"
    WEB = "web", "Web"


class Status(models.TextChoices):
    # Lower-case labels: they are read inside sentences ("Draft 4 is approved; …") and as badges.
    GENERATING = "generating", "generating"
    IN_REVIEW = "in_review", "in review"
    CHANGES_REQUESTED = "changes_requested", "changes requested"
    APPROVED = "approved", "approved"
    PUBLISHED = "published", "published"
    REJECTED = "rejected", "rejected"


APPROVED_STATES = (Status.APPROVED, Status.PUBLISHED)


def _count_of_current_flags(**conditions) -> Subquery:
    """How many flags on the outer draft's current version match `conditions`, as a correlated
    subquery: an index range count per draft, where a JOIN + GROUP BY would aggregate every flag of
    every matching draft before sorting."""
    flags = (
        Flag.objects.filter(version=OuterRef("current_version_id"), **conditions)
        .order_by()
        .values("version")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(flags, output_field=models.IntegerField()), 0)


# An open blocker outweighs any number of warnings in the queue's risk order.
_BLOCKER_WEIGHT = 1_000_000


def _risk_of_current_version() -> Coalesce:
    """One number per draft to sort the queue by: open blockers, then warnings, on the current
    version (stored in Draft.risk by `refresh_risk`). One index range scan per draft."""
    weights = Case(
        When(severity="blocker", status="open", then=Value(_BLOCKER_WEIGHT)),
        When(severity="warning", then=Value(1)),
        default=Value(0),
    )
    risk = (
        Flag.objects.filter(version=OuterRef("current_version_id"))
        .order_by()
        .values("version")
        .annotate(risk=Sum(weights))
        .values("risk")
    )
    return Coalesce(Subquery(risk, output_field=models.BigIntegerField()), 0)


def _own_work(user: "User") -> Q:
    """Gate invariant 2 as a condition: `user` wrote the draft or a version of it, or asked for the
    brief it was generated from (workflow.wrote_any_version asks the same of one draft)."""
    return (
        Q(author=user)
        | Q(brief__isnull=False, brief__requester=user)
        | Exists(Version.objects.filter(draft=OuterRef("pk"), created_by=user))
    )


class DraftQuerySet(models.QuerySet):
    def awaiting_review(self):
        return self.filter(status=Status.IN_REVIEW)

    def undecided(self):
        """Drafts whose current version has no decision yet: their flags may still be recomputed."""
        return self.filter(current_version__isnull=False).exclude(current_version__decisions__isnull=False)

    def authored_by(self, user: "User"):
        return self.filter(author=user)

    def with_flag_counts(self):
        """Annotate open blocker and warning counts on each draft's current version."""
        return self.annotate(
            blocker_count=_count_of_current_flags(severity="blocker", status="open"),
            warning_count=_count_of_current_flags(severity="warning"),
        )

    def with_flag_category(self, category: str):
        """Drafts whose current version has at least one flag of this category."""
        return self.filter(
            Exists(Flag.objects.filter(version=OuterRef("current_version_id"), category=category))
        )

    def by_risk(self):
        """Most open blockers first, then most warnings, then the longest waiting."""
        return self.order_by("-risk", "current_version__created_at", "id")

    def refresh_risk(self) -> int:
        """Recompute the stored risk of these drafts from their current version's flags."""
        return self.update(risk=_risk_of_current_version())

    def by_age(self):
        """The longest waiting first (since the version under review was saved)."""
        return self.order_by("current_version__created_at", "id")

    # --- Leases (reviewapp/leases.py takes and releases them) ----------------------------------------

    def leased_to(self, user: "User", *, now=None):
        return self.filter(claimed_by=user, claimed_until__gt=now or timezone.now())

    def lease_free_for(self, user: "User", *, now=None):
        """Drafts nobody else holds a live lease on."""
        return self.filter(
            Q(claimed_by__isnull=True) | Q(claimed_until__lte=now or timezone.now()) | Q(claimed_by=user)
        )

    def reviewable_by(self, user: "User"):
        """Drafts in review that are not `user`'s own work (gate invariant 2)."""
        return self.awaiting_review().exclude(_own_work(user))

    def with_authorship(self, user: "User"):
        """Annotate `wrote_a_version`: whether the draft is `user`'s own work (so they may not decide)."""
        return self.annotate(
            wrote_a_version=ExpressionWrapper(_own_work(user), output_field=models.BooleanField())
        )

    def queue(
        self,
        *,
        status: str | None = Status.IN_REVIEW,
        category: str = "",
        channel: str = "",
        leased_to: "User | None" = None,
        order: str = "risk",
    ):
        """The review queue, filtered and sorted (add `with_flag_counts()` for the counts to show).
        `status=None` means every status; `leased_to` keeps only drafts that user has claimed."""
        drafts = self
        if status:
            drafts = drafts.filter(status=status)
        if category:
            drafts = drafts.with_flag_category(category)
        if channel:
            drafts = drafts.filter(channel=channel)
        if leased_to is not None:
            drafts = drafts.leased_to(leased_to)
        return drafts.by_age() if order == "age" else drafts.by_risk()

    def with_last_decision(self):
        """Annotate the latest decision on each draft: its kind, comment, reviewer's name and version."""
        latest = Decision.objects.filter(draft=OuterRef("pk")).order_by("-id")
        return self.annotate(
            last_decision_kind=Subquery(latest.values("kind")[:1]),
            last_decision_comment=Subquery(latest.values("comment")[:1]),
            last_decision_by=Subquery(latest.values("reviewer__username")[:1]),
            last_decision_by_name=Subquery(latest.values("reviewer__name")[:1]),
            last_decision_version=Subquery(latest.values("version__number")[:1]),
        )


class Draft(models.Model):
    title = models.CharField(max_length=200)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.WEB)
    campaign = models.CharField(max_length=200, blank=True)
    # NULL, not "", when absent: the per-author uniqueness applies only to ids that were given.
    external_id = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    language = models.CharField(max_length=16, default="en")
    author = models.ForeignKey(User, on_delete=models.PROTECT, related_name="drafts")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.IN_REVIEW)
    current_version = models.ForeignKey(
        "Version", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_version = models.ForeignKey(
        "Version", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approval = models.ForeignKey(
        "Decision", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Drafts generated from a brief: one per variant, at most once (the generation task is idempotent).
    brief = models.ForeignKey("Brief", on_delete=models.PROTECT, null=True, blank=True, related_name="drafts")
    brief_variant = models.PositiveSmallIntegerField(null=True, blank=True)
    # A reviewer's time-limited lease (reviewapp/leases.py): while `claimed_until` is in the future,
    # nobody else decides on the draft. An expired lease is simply ignored; nothing sweeps it.
    claimed_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    claimed_until = models.DateTimeField(null=True, blank=True)
    # The queue's sort key: open blockers (weighted) and warnings on the current version, kept by
    # workflow.py whenever those flags change (DraftQuerySet.refresh_risk), so sorting thousands of
    # drafts by risk reads one indexed column instead of counting flags per draft.
    risk = models.BigIntegerField(default=0, editable=False)

    objects = DraftQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "id"]), models.Index(fields=["status", "-risk", "id"])]
        constraints = [
            models.UniqueConstraint(
                fields=["author", "external_id"],
                condition=Q(external_id__isnull=False),
                name="draft_external_id_unique_per_author",
            ),
            # Gate invariant 5: approved/published always means "the current version is the approved
            # one, and an approving decision is recorded"; any other status carries no approval.
            models.CheckConstraint(
                condition=(
                    Q(
                        status__in=APPROVED_STATES,
                        approved_version__isnull=False,
                        approved_version=F("current_version"),
                        approval__isnull=False,
                    )
                    | (
                        ~Q(status__in=APPROVED_STATES)
                        & Q(approved_version__isnull=True, approval__isnull=True)
                    )
                ),
                name="draft_approval_matches_status",
            ),
            models.CheckConstraint(
                condition=Q(status=Status.GENERATING) | Q(current_version__isnull=False),
                name="draft_has_text_unless_generating",
            ),
            models.CheckConstraint(condition=Q(status__in=Status.values), name="draft_status_valid"),
            models.UniqueConstraint(
                fields=["brief", "brief_variant"],
                condition=Q(brief__isnull=False),
                name="draft_one_per_brief_variant",
            ),
            models.CheckConstraint(
                condition=Q(claimed_by__isnull=True) | Q(claimed_until__isnull=False),
                name="draft_lease_has_an_end",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    def lease_holder(self, *, now=None) -> "User | None":
        """The reviewer holding a live lease on this draft, if any."""
        if self.claimed_by_id and self.claimed_until and self.claimed_until > (now or timezone.now()):
            return self.claimed_by
        return None

    def is_claimed_by_another(self, user: "User", *, now=None) -> bool:
        holder = self.lease_holder(now=now)
        return holder is not None and holder.pk != user.pk


class Source(models.TextChoices):
    HUMAN = "human"
    GENERATED = "generated"


class Version(HistoryModel):
    """Immutable text of a draft. A database trigger refuses any UPDATE of its text."""

    draft = models.ForeignKey(Draft, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    body = models.TextField()
    sha256 = models.CharField(max_length=64)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.HUMAN)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["draft", "number"]
        constraints = [
            models.UniqueConstraint(fields=["draft", "number"], name="version_number_unique"),
            models.CheckConstraint(condition=Q(number__gte=1), name="version_number_positive"),
            models.CheckConstraint(condition=Q(sha256__length=64), name="version_sha256_length"),
        ]

    def __str__(self) -> str:
        return f"draft {self.draft_id} v{self.number}"


class Category(models.TextChoices):
    EXAGGERATION = "exaggeration"
    UNVERIFIABLE = "unverifiable"
    MANIPULATION = "manipulation"
    PII = "pii"
    SENSITIVE_TARGETING = "sensitive_targeting", "sensitive targeting"


class Severity(models.TextChoices):
    BLOCKER = "blocker"
    WARNING = "warning"
    INFO = "info"


class FlagStatus(models.TextChoices):
    OPEN = "open"
    OVERRIDDEN = "overridden"


OVERRIDE_REASON_MIN_CHARS = 10


class ClaimQuerySet(models.QuerySet):
    def live(self, on=None):
        """Claims whose substantiation is still valid on `on` (today by default)."""
        return self.filter(expires_on__gte=on or timezone.localdate())


CLAIM_YEARS = 2  # evidence is looked at again at least this often: a claim expires within two years


def years_later(day, years: int):
    """The same calendar day `years` later (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


class Claim(models.Model):
    """A substantiated claim in the claims library. While live, an "unverifiable" finding that lies
    inside the claim's wording, where a sentence states it, is downgraded to info with a link to the
    evidence; once expired it clears nothing. Claims are phrases, never patterns. Claims are not
    deleted (flags name the claim that cleared them): expiring one is the audited way to retire it."""

    text = models.TextField(
        help_text="The claim's wording as it appears in copy: matched as whole words in order, in any "
        "case and with any punctuation or spacing between them. It clears only findings inside it."
    )
    evidence_source = models.CharField(
        max_length=300, help_text="What substantiates it, e.g. 'Clinical trial, Dermatest GmbH, n=120, 2025'."
    )
    evidence_url = models.URLField("evidence link", max_length=500, blank=True)
    document = models.CharField(
        max_length=300, blank=True, help_text="Where the evidence document is filed (reference or path)."
    )
    owner = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="claims", help_text="Who answers for the evidence."
    )
    expires_on = models.DateField(
        help_text=f"Last day the evidence supports the claim; at most {CLAIM_YEARS} years after it is filed."
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = ClaimQuerySet.as_manager()

    class Meta:
        ordering = ["expires_on", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(text=""), name="claim_text_not_empty"),
            models.CheckConstraint(condition=~Q(evidence_source=""), name="claim_evidence_not_empty"),
        ]

    def __str__(self) -> str:
        return self.text[:80]

    def clean(self) -> None:
        errors = {}
        if len(letters_and_digits(self.text)) < 4:
            errors["text"] = (
                "A claim is a phrase of words as they appear in copy (at least 4 letters or digits)."
            )
        if not self.evidence_source.strip():
            errors["evidence_source"] = "Name the evidence that substantiates the claim."
        if self.expires_on:
            filed = timezone.localdate(self.created_at) if self.created_at else timezone.localdate()
            if self.expires_on > years_later(filed, CLAIM_YEARS):
                errors["expires_on"] = f"A claim expires at most {CLAIM_YEARS} years after it is filed."
        if errors:
            raise ValidationError(errors)

    @property
    def is_live(self) -> bool:
        return self.expires_on >= timezone.localdate()

    @property
    def evidence_link(self) -> str:
        return self.evidence_url or self.document


class Flag(models.Model):
    version = models.ForeignKey(Version, on_delete=models.PROTECT, related_name="flags")
    category = models.CharField(max_length=20, choices=Category.choices)
    rule = models.CharField(max_length=80)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    text = models.TextField()
    message = models.TextField()
    suggestion = models.TextField(blank=True)
    reference = models.TextField(blank=True)
    status = models.CharField(max_length=12, choices=FlagStatus.choices, default=FlagStatus.OPEN)
    overridden_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    override_reason = models.TextField(blank=True)
    overridden_at = models.DateTimeField(null=True, blank=True)
    # The library claim that downgraded this finding to info (its evidence is the link to show).
    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, null=True, blank=True, related_name="flags")

    class Meta:
        ordering = ["version", "start", "id"]
        # The queue counts open blockers and warnings per current version: an index-only range count.
        indexes = [models.Index(fields=["version", "severity", "status"], name="flag_version_severity")]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="flag_span_not_empty"),
            models.CheckConstraint(
                condition=(
                    Q(status=FlagStatus.OPEN, overridden_by__isnull=True)
                    | Q(
                        status=FlagStatus.OVERRIDDEN,
                        overridden_by__isnull=False,
                        override_reason__length__gte=OVERRIDE_REASON_MIN_CHARS,
                    )
                ),
                name="flag_override_has_reviewer_and_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule} [{self.start}:{self.end}]"

    @property
    def is_open_blocker(self) -> bool:
        return self.severity == Severity.BLOCKER and self.status == FlagStatus.OPEN


class DecisionKind(models.TextChoices):
    APPROVE = "approve"
    REQUEST_CHANGES = "request_changes", "request changes"
    REJECT = "reject"


class Decision(HistoryModel):
    """A reviewer's verdict on one version. Immutable: a database trigger refuses UPDATEs."""

    draft = models.ForeignKey(Draft, on_delete=models.PROTECT, related_name="decisions")
    version = models.ForeignKey(Version, on_delete=models.PROTECT, related_name="decisions")
    sha256 = models.CharField(max_length=64)
    kind = models.CharField(max_length=20, choices=DecisionKind.choices)
    comment = models.TextField(blank=True)
    reviewer = models.ForeignKey(User, on_delete=models.PROTECT, related_name="decisions")
    # Whether the reviewer's session had passed the second factor (never true for an API token).
    second_factor_verified = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["draft", "id"]
        constraints = [
            # Gate invariant 5: two reviewers racing cannot both approve the same text.
            models.UniqueConstraint(
                fields=["version"], condition=Q(kind=DecisionKind.APPROVE), name="one_approval_per_version"
            ),
            models.CheckConstraint(
                condition=Q(kind=DecisionKind.APPROVE) | ~Q(comment=""), name="decision_comment_required"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} of {self.version}"


class AuditEvent(HistoryModel):
    """Append-only, hash-chained log. A trigger refuses UPDATE and DELETE; PROTECT stops cascades.

    `hash` = HMAC-SHA256 with the audit key named by `key_id` (AUDIT_KEY, outside the database) over
    prev_hash + canonical JSON of the row; `verify_audit` recomputes the chain (reviewapp/audit.py).
    `data` holds ids, numbers, hashes and rule ids: never copy text or personal data.
    """

    seq = models.PositiveBigIntegerField(unique=True)
    created_at = models.DateTimeField()
    actor = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    action = models.CharField(max_length=60)
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    draft = models.ForeignKey(Draft, on_delete=models.PROTECT, null=True, blank=True, related_name="events")
    data = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)
    # The id of the audit key that signed the row (audit.key_id()): the key itself is never stored.
    key_id = models.CharField(max_length=16, default="")

    class Meta:
        ordering = ["seq"]
        indexes = [
            models.Index(fields=["draft", "seq"]),
            # verify_audit looks up each row's own event (audit.unrecorded).
            models.Index(fields=["object_type", "object_id"], name="auditevent_object"),
        ]

    def __str__(self) -> str:
        return f"{self.seq} {self.action}"


class AuditHead(models.Model):
    """One row: the end of the audit chain. Appending locks it, so the chain never forks."""

    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"audit head at {self.seq}"


TOKEN_PREFIX = "rva"  # noqa: S105 (a public marker, not a secret)


class ApiTokenQuerySet(models.QuerySet):
    def live(self):
        return self.filter(revoked_at__isnull=True, user__is_active=True)


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 is stored; `prefix` identifies it in lists and logs."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{TOKEN_PREFIX}_{self.prefix}…"

    @classmethod
    def issue(cls, user: User, *, name: str = "") -> tuple["ApiToken", str]:
        """Create a token; the plain value is returned once and never stored."""
        prefix = secrets.token_hex(4)
        plain = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
        token = cls.objects.create(user=user, name=name, prefix=prefix, digest=sha256_hex(plain))
        return token, plain

    @classmethod
    def authenticate(cls, plain: str) -> "ApiToken | None":
        return cls.objects.live().select_related("user").filter(digest=sha256_hex(plain)).first()


class IdempotencyRecord(models.Model):
    """The first successful response to a creating POST, replayed for the same Idempotency-Key.

    A row without a status code is a claim: the request that inserted it is still running (or crashed;
    `reviewapp.api.idempotency` lets such a claim expire)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    request_sha256 = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    response = models.JSONField(null=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique"),
            models.CheckConstraint(
                condition=Q(status_code__isnull=True, response__isnull=True)
                | Q(status_code__isnull=False, response__isnull=False),
                name="idempotency_claim_or_response",
            ),
        ]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"


# --- Generation (SPEC §5) -------------------------------------------------------------------------


class BriefStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


VARIANTS_MAX = 5


class BriefQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Copywriters and integrations see their own briefs; reviewers and admins see all."""
        if Brief.sees_every_brief(user):
            return self
        return self.filter(requester=user)


class Brief(models.Model):
    """A request for generated copy. Its text may hold personal data: it is masked before any model
    sees it, and neither the text nor the values are copied into the audit trail or task arguments."""

    requester = models.ForeignKey(User, on_delete=models.PROTECT, related_name="briefs")
    product = models.CharField(max_length=200)
    audience = models.TextField(blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    tone = models.CharField(max_length=200, blank=True)
    key_points = models.TextField(blank=True)
    approved_facts = models.TextField(blank=True)
    variants = models.PositiveSmallIntegerField(default=3)
    language = models.CharField(max_length=16, default="en")
    campaign = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=BriefStatus.choices, default=BriefStatus.QUEUED)
    # Why generation failed, in words for the author (never personal data), and a stable code.
    error_code = models.CharField(max_length=40, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Set when a worker claims the brief; a retried task may only take over a stale claim.
    claim = models.UUIDField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = BriefQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(variants__gte=1, variants__lte=VARIANTS_MAX), name="brief_variants_1_to_5"
            ),
            models.CheckConstraint(condition=Q(status__in=BriefStatus.values), name="brief_status_valid"),
            models.CheckConstraint(
                condition=~Q(status=BriefStatus.FAILED) | ~Q(error=""), name="brief_failure_has_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"brief {self.pk} ({self.status})"

    @staticmethod
    def sees_every_brief(user) -> bool:
        return user.has_role(Role.REVIEWER, Role.ADMIN)

    def may_be_seen_by(self, user) -> bool:
        """The brief, and what was sent to a model for it (a draft's provenance), is for its requester
        and for reviewers and admins; other copywriters and integrations see neither."""
        return Brief.sees_every_brief(user) or self.requester_id == user.pk

    @property
    def is_pending(self) -> bool:
        return self.status in (BriefStatus.QUEUED, BriefStatus.RUNNING)


class Provenance(models.Model):
    """Where a generated version came from. Holds the masked prompt exactly as sent and counts of
    masked entities by type; never the personal values (the vault is not stored anywhere)."""

    version = models.OneToOneField(Version, on_delete=models.PROTECT, related_name="provenance")
    brief = models.ForeignKey(Brief, on_delete=models.PROTECT, related_name="+")
    model = models.CharField(max_length=200)
    prompt_template_version = models.CharField(max_length=40)
    masked_prompt = models.JSONField()
    entity_counts = models.JSONField(default=dict)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    total_tokens = models.PositiveIntegerField(null=True, blank=True)
    request_id = models.CharField(max_length=200, blank=True)
    latency_ms = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"provenance of {self.version}"


def latest_provenance(versions) -> Provenance | None:
    """Where a draft's copy was generated: the provenance of its newest generated version among
    `versions` (loaded with `select_related("provenance")`). It stays once people edit the text."""
    generated = [version for version in versions if getattr(version, "provenance", None) is not None]
    return max(generated, key=lambda version: version.number).provenance if generated else None


# --- Webhooks (SPEC §8). State changes live in reviewapp/webhooks.py, one named function each. --------


class WebhookEvent(models.TextChoices):
    # Labelled with their values: the names campaign tools code against are what admins should see.
    COPY_APPROVED = "copy.approved", "copy.approved"
    COPY_CHANGES_REQUESTED = "copy.changes_requested", "copy.changes_requested"
    COPY_REJECTED = "copy.rejected", "copy.rejected"
    COPY_PUBLISHED = "copy.published", "copy.published"
    BRIEF_FAILED = "brief.failed", "brief.failed"
    WEBHOOK_TEST = "webhook.test", "webhook.test"
    # Sent only to the endpoint AUDIT_CHECKPOINT_WEBHOOK_ENDPOINT names (reviewapp/audit.py).
    AUDIT_CHECKPOINT = "audit.checkpoint", "audit.checkpoint"


class WebhookEndpointQuerySet(models.QuerySet):
    def receiving(self, event_type: str) -> list["WebhookEndpoint"]:
        """Enabled endpoints subscribed to the event (in Python: SQLite cannot search inside JSON lists)."""
        return [endpoint for endpoint in self.filter(enabled=True) if endpoint.subscribes_to(event_type)]

    def with_delivery_counts(self):
        return self.annotate(
            pending_count=Count("deliveries", filter=Q(deliveries__state=DeliveryState.PENDING)),
            exhausted_count=Count("deliveries", filter=Q(deliveries__state=DeliveryState.EXHAUSTED)),
        )


class WebhookEndpoint(models.Model):
    """A campaign tool's receiver. The signing secret is stored encrypted (webhooks.encrypt_secret);
    after a rotation the previous one keeps signing, beside the new one, until it expires."""

    url = models.URLField("URL", max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    # Event types this endpoint receives; an empty list means every event.
    event_types = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    # Since the first failed attempt after the last success, and the attempts failed since then.
    failing_since = models.DateTimeField(null=True, blank=True)
    failed_attempts = models.PositiveIntegerField(default=0)
    secret_encrypted = models.TextField()
    previous_secret_encrypted = models.TextField(blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    objects = WebhookEndpointQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(enabled=True, disabled_at__isnull=True)
                | Q(enabled=False, disabled_at__isnull=False),
                name="webhookendpoint_disabled_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"webhook endpoint {self.pk}"

    def subscribes_to(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


def new_webhook_message_id() -> str:
    """`msg_` + 26 Crockford base32 characters: 48 bits of milliseconds, then 80 random bits, so ids
    sort by creation time and never collide in practice."""
    value = (int(timezone.now().timestamp() * 1000) << 80) | secrets.randbits(80)
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    return "msg_" + "".join(alphabet[(value >> shift) & 31] for shift in range(125, -1, -5))


class WebhookMessage(models.Model):
    """One event, frozen: `body` is the exact JSON signed and sent on every attempt to every endpoint."""

    msg_id = models.CharField("message id", max_length=40, unique=True, default=new_webhook_message_id)
    event_type = models.CharField(max_length=40, choices=WebhookEvent.choices)
    body = models.TextField()
    draft = models.ForeignKey(Draft, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.event_type} {self.msg_id}"


class DeliveryState(models.TextChoices):
    PENDING = "pending"  # waiting for its next attempt (or being attempted: see claim in webhooks.py)
    DELIVERED = "delivered"
    EXHAUSTED = "exhausted"  # every attempt of the retry schedule failed
    CANCELLED = "cancelled"  # the endpoint was disabled before it got through


class WebhookDeliveryQuerySet(models.QuerySet):
    def due(self, now):
        return self.filter(state=DeliveryState.PENDING, next_attempt_at__lte=now).order_by("next_attempt_at")

    def of_event(self, event_type: str, *, draft: "Draft", since):
        """Deliveries of the draft's `event_type` messages recorded at or after `since`."""
        return self.filter(
            message__draft=draft, message__event_type=event_type, message__created_at__gte=since
        )


class WebhookDelivery(models.Model):
    """One message to one endpoint: the outbox row that background work claims, attempts and updates.

    `state`, not `status`: a draft's status changes only in workflow.py (tests/test_architecture.py);
    a delivery's state changes only in webhooks.py. While pending, `next_attempt_at` is when it is due;
    claiming an attempt moves it past a lease, so a second worker finds nothing due."""

    message = models.ForeignKey(WebhookMessage, on_delete=models.PROTECT, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.PROTECT, related_name="deliveries")
    state = models.CharField(max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    attempt_count = models.PositiveIntegerField(default=0)
    # Attempts since the delivery was created or last resent: the position in the retry schedule.
    round_attempts = models.PositiveIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error_kind = models.CharField(max_length=20, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = WebhookDeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["message", "endpoint"], name="webhookdelivery_once_per_endpoint"),
            models.CheckConstraint(
                condition=Q(state=DeliveryState.PENDING, next_attempt_at__isnull=False)
                | (~Q(state=DeliveryState.PENDING) & Q(next_attempt_at__isnull=True)),
                name="webhookdelivery_pending_has_due_time",
            ),
            models.CheckConstraint(
                condition=~Q(state=DeliveryState.DELIVERED) | Q(delivered_at__isnull=False),
                name="webhookdelivery_delivered_has_time",
            ),
            models.CheckConstraint(
                condition=Q(state__in=DeliveryState.values), name="webhookdelivery_state_valid"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state=DeliveryState.PENDING),
                name="webhookdelivery_due",
            ),
            models.Index(fields=["endpoint", "-id"], name="webhookdelivery_endpoint"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} of {self.message_id} to endpoint {self.endpoint_id}"


class AttemptTrigger(models.TextChoices):
    EVENT = "event"  # enqueued when the change that caused the event committed
    SWEEP = "sweep"  # the every-minute sweep: retries, and first attempts whose task was lost
    RESEND = "resend"
    TEST = "test"


class WebhookAttempt(models.Model):
    """One try at sending a delivery. Created when claimed; `succeeded` stays None if the worker died."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.PROTECT, related_name="attempts")
    number = models.PositiveIntegerField()
    trigger = models.CharField(max_length=10, choices=AttemptTrigger.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error_kind = models.CharField(max_length=20, blank=True)
    response_excerpt = models.TextField(blank=True)
    succeeded = models.BooleanField(null=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="webhookattempt_number_unique"),
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"
