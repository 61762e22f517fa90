"""Web pages: translate HTTP to workflow, lease and QuerySet calls and back. Messages and redirects
live here; every page works without JavaScript (static/js/app.js only adds shortcuts, the claim
heartbeat and live flag previews)."""

import contextlib
from dataclasses import dataclass
from functools import wraps

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from reviewapp import leases, metrics, second_factor, webhooks, workflow
from reviewapp.highlight import segments
from reviewapp.models import (
    OVERRIDE_REASON_MIN_CHARS,
    VARIANTS_MAX,
    AuditEvent,
    Brief,
    Category,
    Channel,
    Decision,
    DecisionKind,
    Draft,
    Flag,
    FlagStatus,
    Role,
    Severity,
    Status,
    Version,
    WebhookDelivery,
    latest_provenance,
)
from reviewapp.textdiff import diff

QUEUE_PAGE_SIZE = 25
MINE_PAGE_SIZE = 25
AUDIT_EVENTS_SHOWN = 100

# --- Forms ----------------------------------------------------------------------------------------


class SubmitForm(forms.Form):
    title = forms.CharField(max_length=workflow.TITLE_MAX_CHARS)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 10}), label="Copy", strip=False)
    channel = forms.ChoiceField(choices=Channel.choices, initial=Channel.WEB)
    campaign = forms.CharField(max_length=200, required=False)


class VersionForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 10}), label="New text", strip=False)


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=DecisionKind.choices, widget=forms.RadioSelect)
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args, status: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if status is not None:  # offer only what the draft can take; the workflow decides anyway
            allowed = workflow.allowed_decisions(status)
            self.fields["decision"].choices = [c for c in DecisionKind.choices if c[0] in allowed]


ANY = "any"


class QueueFilters(forms.Form):
    status = forms.ChoiceField(
        choices=[(ANY, "any status"), *Status.choices], required=False, initial=Status.IN_REVIEW
    )
    category = forms.ChoiceField(choices=[("", "any category"), *Category.choices], required=False)
    channel = forms.ChoiceField(choices=[("", "any channel"), *Channel.choices], required=False)
    mine = forms.BooleanField(label="Claimed by me", required=False)
    sort = forms.ChoiceField(
        choices=[("risk", "risk (blockers, warnings)"), ("age", "age (oldest first)")], required=False
    )

    def values(self) -> dict:
        """The filters as given, with defaults for anything missing or invalid."""
        data = self.cleaned_data if self.is_valid() else {}
        status = data.get("status") or Status.IN_REVIEW
        return {
            "status": None if status == ANY else status,
            "category": data.get("category") or "",
            "channel": data.get("channel") or "",
            "mine": bool(data.get("mine")),
            "order": data.get("sort") or "risk",
        }


def role_required(view):
    """Signed in and holding at least one role (as the API's reads require): an account an admin has
    not given a role yet sees a page saying so, and nothing else."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.has_role(*Role.values):
            return render(request, "no_role.html", status=403)
        return view(request, *args, **kwargs)

    return wrapped


# --- Home, queue, next ----------------------------------------------------------------------------


@role_required
def home(request: HttpRequest) -> HttpResponse:
    if not workflow.can(request.user, "decide") and workflow.can(request.user, "submit"):
        return redirect("mine")
    return redirect("queue")


@role_required
def queue(request: HttpRequest) -> HttpResponse:
    filters = QueueFilters(request.GET or None)
    chosen = filters.values()
    user = request.user
    ordered = Draft.objects.queue(
        status=chosen["status"],
        category=chosen["category"],
        channel=chosen["channel"],
        leased_to=user if chosen["mine"] else None,
        order=chosen["order"],
    )
    # Paginate on ids alone (the risk order reads the stored Draft.risk), then load the page's rows:
    # the counts, authorship and related rows are computed for 25 drafts, not for every draft
    # before the page (a deep page of 10,000 drafts would otherwise compute them all).
    page = Paginator(ordered.values_list("pk", flat=True), QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    ids = list(page.object_list)
    rows = (
        Draft.objects.filter(pk__in=ids)
        .with_flag_counts()
        .with_authorship(user)
        .select_related("author", "current_version", "claimed_by")
        .defer("current_version__body")
        if ids
        else []
    )
    by_id = {draft.pk: draft for draft in rows}
    page.object_list = [by_id[pk] for pk in ids]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "drafts/queue.html",
        {
            "page": page,
            "filters": filters if filters.is_bound else QueueFilters(initial={"status": Status.IN_REVIEW}),
            "chosen": chosen,
            "query": query.urlencode(),
            "may_review": workflow.can(user, "decide"),
            "status_label": Status(chosen["status"]).label if chosen["status"] else "any status",
        },
    )


SKIPPED_KEY = "queue_skipped"  # drafts this reviewer moved past with "next", kept in the session


@role_required
@require_POST
def queue_next(request: HttpRequest) -> HttpResponse:
    """Claim the next draft nobody else holds. Drafts the reviewer moved past are not offered again
    until nothing else is left; then they come round once more."""
    skip = None
    if request.POST.get("skip", "").isdigit():
        skip = Draft.objects.filter(pk=int(request.POST["skip"])).first()
    skipped = [pk for pk in request.session.get(SKIPPED_KEY, []) if isinstance(pk, int)]
    if skip is not None:
        skipped = [*skipped, skip.pk][-200:]
    order = "age" if request.POST.get("sort") == "age" else "risk"
    try:
        lease = leases.claim_next(request.user, skip=skip, exclude=skipped, order=order)
    except workflow.WorkflowError as exc:
        messages.error(request, exc.message)
        return redirect("queue")
    if lease is None:
        request.session[SKIPPED_KEY] = []
        note = f" (you skipped {len(set(skipped))}; “Review next draft” offers them again)" if skipped else ""
        messages.info(
            request, f"Nothing left in the queue for you: every draft in review is claimed or yours{note}."
        )
        return redirect("queue")
    request.session[SKIPPED_KEY] = skipped
    draft = Draft.objects.get(pk=lease.draft_id)
    messages.success(
        request,
        f"You claimed “{draft.title}” (draft {draft.pk}) until {_clock(lease.until)}; "
        "the claim renews while you work on it.",
    )
    return redirect("draft-detail", draft_id=draft.pk)


# --- Copywriter pages -----------------------------------------------------------------------------


@role_required
def mine(request: HttpRequest) -> HttpResponse:
    drafts = (
        Draft.objects.authored_by(request.user)
        .with_flag_counts()
        .with_last_decision()
        .select_related("current_version")
        .defer("current_version__body")
        .order_by("-updated_at", "-id")
    )
    status = request.GET.get("status", "")
    if status in Status.values:
        drafts = drafts.filter(status=status)
    page = Paginator(drafts, MINE_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "drafts/mine.html",
        {"page": page, "status": status, "statuses": Status.choices, "may_submit": _may_write(request)},
    )


def _highlight(body: str, flags: list) -> list:
    """Segments for inline highlighting; each flag learns the segment where it starts, for the
    "show in text" links and keyboard navigation."""
    result = segments(body, flags)
    for segment in result:
        for flag in segment.starts:
            flag.segment_index = segment.index
    return result


@dataclass
class PreviewFlag:
    """An engine finding shaped like a stored Flag, for previews that save nothing."""

    pk: str
    category: str
    rule: str
    severity: str
    start: int
    end: int
    text: str
    message: str
    suggestion: str
    reference: str
    status: str = FlagStatus.OPEN

    def get_category_display(self) -> str:
        return Category(self.category).label if self.category in Category.values else self.category


def _preview(body: str, *, language: str = "en") -> dict:
    """Run the flagging engine on unsaved text: what the page shows before anything is stored."""
    try:
        body = workflow.clean_body(body)
    except workflow.WorkflowError as exc:
        return {"preview_error": exc.message}
    found = workflow.compute_flags(body, language=language)
    flags = [
        PreviewFlag(
            pk=f"p{index}",
            category=f.category,
            rule=f.rule,
            severity=f.severity,
            start=f.start,
            end=f.end,
            text=f.text,
            message=f.message,
            suggestion=f.suggestion,
            reference=f.reference,
        )
        for index, f in enumerate(found, start=1)
    ]
    return {
        "preview_flags": flags,
        "preview_segments": _highlight(body, flags),
        "preview_blockers": sum(flag.severity == Severity.BLOCKER for flag in flags),
    }


def _may_write(request: HttpRequest) -> bool:
    return workflow.can(request.user, "submit")


@role_required
def draft_submit(request: HttpRequest) -> HttpResponse:
    form = SubmitForm(request.POST or None)
    context = {"form": form, "may_submit": _may_write(request)}
    if request.method == "POST" and request.POST.get("action") == "check" and context["may_submit"]:
        context.update(_preview(request.POST.get("body", "")), checked=True)
        return render(request, "drafts/submit.html", context)
    if request.method == "POST" and form.is_valid():
        try:
            draft = workflow.submit(author=request.user, **form.cleaned_data)
        except workflow.WorkflowError as exc:
            form.add_error(None, exc.message)
        else:
            flags = draft.current_version.flags.all()
            blockers = sum(flag.severity == Severity.BLOCKER for flag in flags)
            messages.success(
                request,
                f"Submitted “{draft.title}” for review as draft {draft.pk}: it is in the reviewers' queue "
                f"with {_count(len(flags), 'flag')}"
                + (f", {_count(blockers, 'blocker')} among them." if blockers else "."),
            )
            return redirect("draft-detail", draft_id=draft.pk)
    status = 400 if form.errors else 200
    return render(request, "drafts/submit.html", context, status=status)


@role_required
@require_POST
def draft_preview(request: HttpRequest) -> HttpResponse:
    """The flags the engine would raise on the posted text; nothing is saved (the live preview)."""
    if not _may_write(request):
        return HttpResponse("Only a copywriter may check copy.", status=403, content_type="text/plain")
    context = _preview(request.POST.get("body", ""), language=request.POST.get("language") or "en")
    status = 422 if "preview_error" in context else 200
    return render(request, "drafts/_preview.html", context, status=status)


# --- The draft page -------------------------------------------------------------------------------


def _load(draft_id: int) -> Draft:
    return get_object_or_404(
        Draft.objects.select_related("author", "current_version", "claimed_by", "brief"),
        pk=draft_id,
    )


def _detail_context(request: HttpRequest, draft: Draft) -> dict:
    user = request.user
    version = draft.current_version
    flags = list(version.flags.select_related("overridden_by", "claim"))
    versions = list(draft.versions.select_related("created_by", "provenance__brief").order_by("-number"))
    provenance = latest_provenance(versions)
    if provenance is not None and not provenance.brief.may_be_seen_by(user):
        provenance = None  # what was sent to the model is for those who may see the brief
    decisions = list(
        Decision.objects.filter(draft=draft).select_related("reviewer", "version").order_by("-id")
    )
    events = AuditEvent.objects.filter(draft=draft).select_related("actor").order_by("-seq")
    wrote = (  # gate invariant 2, from rows already loaded (workflow.wrote_any_version asks the database)
        draft.author_id == user.pk
        or (draft.brief is not None and draft.brief.requester_id == user.pk)
        or any(v.created_by_id == user.pk for v in versions)
    )
    now = timezone.now()
    holder = draft.lease_holder(now=now)
    held_by_other = holder is not None and holder.pk != user.pk
    reviewer = workflow.can(user, "decide") and not wrote
    in_review = draft.status == Status.IN_REVIEW
    open_blockers = [flag for flag in flags if flag.is_open_blocker]
    last_approval = next((d for d in decisions if d.kind == DecisionKind.APPROVE), None)
    last_request = next((d for d in decisions if d.kind == DecisionKind.REQUEST_CHANGES), None)
    return {
        "draft": draft,
        "version": version,
        "flags": flags,
        "segments": _highlight(version.body, flags),
        "open_blockers": open_blockers,
        "needs_my_override": [
            flag
            for flag in flags
            if flag.severity == Severity.BLOCKER
            and not (flag.status == FlagStatus.OVERRIDDEN and flag.overridden_by_id == user.pk)
        ],
        "history": _history(versions, last_approval),
        "decisions": decisions,
        "last_request": last_request if draft.status == Status.CHANGES_REQUESTED else None,
        "last_approval": last_approval,
        "events": events[:AUDIT_EVENTS_SHOWN],
        "holder": holder,
        "held_by_me": holder is not None and holder.pk == user.pk,
        "held_by_other": held_by_other,
        "may_claim": reviewer and in_review and holder is None,
        "may_override": reviewer and in_review and not held_by_other,
        "may_decide": reviewer
        and not held_by_other
        and draft.status in (Status.IN_REVIEW, Status.CHANGES_REQUESTED),
        "may_review": workflow.can(user, "decide"),
        # REQUIRE_2FA_FOR: this session cannot decide until it passed the second factor.
        "second_factor_missing": reviewer
        and second_factor.is_required(user)
        and not second_factor.is_verified(user),
        "own_work": wrote and workflow.can(user, "decide"),
        "may_edit": workflow.can(user, "add_version")
        and draft.status in (Status.IN_REVIEW, Status.CHANGES_REQUESTED, Status.APPROVED),
        "may_publish": workflow.can(user, "publish") and draft.status == Status.APPROVED,
        "decision_form": DecisionForm(initial={"version": version.number}, status=draft.status),
        "version_form": VersionForm(initial={"body": version.body}),
        "override_min": OVERRIDE_REASON_MIN_CHARS,
        "provenance": provenance,
        "lease_minutes": leases.lease_length().seconds // 60,
    }


@dataclass(frozen=True)
class HistoryEntry:
    version: Version
    against_previous: object  # textdiff.Diff | None
    against_approved: object  # textdiff.Diff | None, when an older version was approved
    approved_number: int | None


def _history(versions: list[Version], last_approval: Decision | None) -> list[HistoryEntry]:
    """Newest first. Each version is compared with the one before it; the current version is also
    compared with the last approved version when that is an older one."""
    entries = []
    approved = last_approval.version if last_approval else None
    for index, version in enumerate(versions):
        previous = versions[index + 1] if index + 1 < len(versions) else None
        against_approved = None
        if index == 0 and approved is not None and approved.pk != version.pk:
            approved_body = next((v.body for v in versions if v.pk == approved.pk), approved.body)
            against_approved = diff(approved_body, version.body)
        entries.append(
            HistoryEntry(
                version=version,
                against_previous=diff(previous.body, version.body) if previous else None,
                against_approved=against_approved,
                approved_number=approved.number if against_approved is not None else None,
            )
        )
    return entries


@role_required
def draft_detail(request: HttpRequest, draft_id: int) -> HttpResponse:
    return render(request, "drafts/detail.html", _detail_context(request, _load(draft_id)))


def _refused(request: HttpRequest, draft_id: int, exc: workflow.WorkflowError, **extra) -> HttpResponse:
    """Show the draft page again with what went wrong and the status code the workflow gave."""
    messages.error(request, exc.message)
    context = _detail_context(request, _load(draft_id))
    context.update(extra)
    return render(request, "drafts/detail.html", context, status=exc.status)


def _keep_lease(request: HttpRequest, draft: Draft) -> None:
    """Every page action of the lease holder renews the lease."""
    if draft.claimed_by_id == request.user.pk:
        # If it ran out and someone else took it, the page says who holds it now.
        with contextlib.suppress(workflow.WorkflowError):
            leases.renew(draft, reviewer=request.user)


def _overrides_from(request: HttpRequest) -> list[workflow.Override]:
    overrides = []
    for key, value in request.POST.items():
        if key.startswith("override-") and key[9:].isdigit() and value.strip():
            overrides.append(workflow.Override(flag_id=int(key[9:]), reason=value))
    return overrides


def _done(decision: Decision, draft: Draft) -> str:
    number, author = decision.version.number, draft.author.display_name
    event = webhooks.DECISION_EVENTS[decision.kind]
    sent = WebhookDelivery.objects.of_event(event, draft=draft, since=decision.created_at).count()
    notice = (
        f" The {event} webhook is on its way to {sent} campaign tool{'s' if sent != 1 else ''}."
        if sent
        else ""
    )
    if decision.kind == DecisionKind.APPROVE:
        return (
            f"Approved version {number}.{notice} {author} can now publish it; "
            "any edit sends it back to review."
        )
    if decision.kind == DecisionKind.REQUEST_CHANGES:
        return (
            f"Sent version {number} back to {author} with your comment.{notice} "
            "It leaves the queue until they save a new version."
        )
    return f"Rejected the draft: it is closed and cannot be published or edited.{notice}"


@role_required
@require_POST
def draft_decide(request: HttpRequest, draft_id: int) -> HttpResponse:
    draft = _load(draft_id)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a decision.")
        return redirect("draft-detail", draft_id=draft.pk)
    try:
        decision = workflow.decide(
            draft,
            reviewer=request.user,
            kind=form.cleaned_data["decision"],
            version=form.cleaned_data["version"],
            comment=form.cleaned_data["comment"],
            overrides=_overrides_from(request),
            second_factor_verified=second_factor.is_verified(request.user),
        )
    except workflow.WorkflowError as exc:
        _keep_lease(request, draft)
        # Shown again with what the reviewer chose and wrote.
        return _refused(request, draft_id, exc, decision_form=form)
    messages.success(request, _done(decision, draft))
    return redirect("draft-detail", draft_id=draft.pk)


@role_required
@require_POST
def flag_override(request: HttpRequest, draft_id: int, flag_id: int) -> HttpResponse:
    draft = _load(draft_id)
    flag = get_object_or_404(Flag.objects.select_related("version__draft"), pk=flag_id, version__draft=draft)
    reason = request.POST.get("reason", "")
    try:
        # Working on a draft claims it, so nobody else starts on it meanwhile.
        leases.claim(draft, reviewer=request.user)
        workflow.override_flag(flag, reviewer=request.user, reason=reason)
    except workflow.WorkflowError as exc:
        return _refused(request, draft_id, exc, override_error_flag=flag.pk, override_reason=reason)
    still_open = Flag.objects.filter(
        version_id=draft.current_version_id, severity=Severity.BLOCKER, status=FlagStatus.OPEN
    ).count()
    messages.success(
        request,
        f"Overrode the blocker “{flag.text}” ({flag.rule}) with your reason. "
        + (
            f"{_count(still_open, 'blocker')} still open."
            if still_open
            else "No blocker is open now: you can approve."
        ),
    )
    return redirect(reverse("draft-detail", args=[draft.pk]) + f"#flag-{flag.pk}")


@role_required
@require_POST
def draft_claim(request: HttpRequest, draft_id: int) -> HttpResponse:
    draft = _load(draft_id)
    try:
        lease = leases.claim(draft, reviewer=request.user)
    except workflow.WorkflowError as exc:
        messages.error(request, exc.message)
        return redirect("draft-detail", draft_id=draft.pk)
    messages.success(
        request,
        f"You claimed this draft until {_clock(lease.until)}. Nobody else can decide on it meanwhile; "
        "the claim renews while you work.",
    )
    return redirect("draft-detail", draft_id=draft.pk)


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@role_required
@require_POST
def draft_renew(request: HttpRequest, draft_id: int) -> HttpResponse:
    """The heartbeat of a reviewer's claim (JSON for the page's script; a redirect without JS)."""
    draft = _load(draft_id)
    try:
        lease = leases.renew(draft, reviewer=request.user)
    except workflow.WorkflowError as exc:
        if _wants_json(request):
            return JsonResponse({"ok": False, "message": exc.message}, status=exc.status)
        messages.error(request, exc.message)
        return redirect("draft-detail", draft_id=draft.pk)
    if _wants_json(request):
        return JsonResponse({"ok": True, "until": lease.until.isoformat(), "clock": _clock(lease.until)})
    messages.success(request, f"Your claim now runs until {_clock(lease.until)}.")
    return redirect("draft-detail", draft_id=draft.pk)


@role_required
@require_POST
def draft_release(request: HttpRequest, draft_id: int) -> HttpResponse:
    draft = _load(draft_id)
    if leases.release(draft, reviewer=request.user):
        messages.success(request, "Released your claim: another reviewer can pick this draft up.")
    else:
        messages.info(request, "You held no claim on this draft.")
    return redirect("draft-detail", draft_id=draft.pk)


@role_required
@require_POST
def draft_edit(request: HttpRequest, draft_id: int) -> HttpResponse:
    draft = _load(draft_id)
    form = VersionForm(request.POST)
    if request.POST.get("action") == "check" and workflow.can(request.user, "add_version"):
        context = _detail_context(request, draft)
        context.update(_preview(request.POST.get("body", ""), language=draft.language), checked=True)
        context["version_form"] = form
        return render(request, "drafts/detail.html", context)
    if not form.is_valid():
        messages.error(request, "The new text is empty.")
        return redirect("draft-detail", draft_id=draft.pk)
    was_approved = draft.status == Status.APPROVED
    try:
        version = workflow.add_version(draft, author=request.user, body=form.cleaned_data["body"])
    except workflow.WorkflowError as exc:
        messages.error(request, exc.message)
        return redirect("draft-detail", draft_id=draft.pk)
    if version is None:
        messages.info(request, "The text is unchanged; no new version was saved.")
    else:
        flags = version.flags.all()
        cleared = " The earlier approval no longer applies: a reviewer must approve this text."
        messages.success(
            request,
            f"Saved version {version.number} with {_count(len(flags), 'flag')}; it is back in the review "
            "queue." + (cleared if was_approved else ""),
        )
    return redirect("draft-detail", draft_id=draft.pk)


@role_required
@require_POST
def draft_publish(request: HttpRequest, draft_id: int) -> HttpResponse:
    draft = _load(draft_id)
    try:
        # The form carries the sha256 of the approved text the page showed: publish that text or nothing.
        published = workflow.publish(
            draft, actor=request.user, expected_sha256=request.POST.get("sha256", "")
        )
    except workflow.WorkflowError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Published version {published.current_version.number}: it may go out now.")
    return redirect("draft-detail", draft_id=draft.pk)


# --- Briefs: ask for generated copy ----------------------------------------------------------------


class BriefForm(forms.Form):
    product = forms.CharField(max_length=200, help_text="What the copy is for.")
    audience = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    channel = forms.ChoiceField(choices=Channel.choices, initial=Channel.EMAIL)
    tone = forms.CharField(max_length=200, required=False, help_text="e.g. warm, plain, no exclamation marks")
    key_points = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False, label="Key points")
    approved_facts = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        label="Approved facts",
        help_text="Substantiated facts the copy may use. The model is told to claim nothing else.",
    )
    variants = forms.TypedChoiceField(
        choices=[(n, n) for n in range(1, VARIANTS_MAX + 1)], coerce=int, initial=3, label="Variants"
    )
    language = forms.CharField(max_length=16, initial="en")
    campaign = forms.CharField(max_length=200, required=False)


@role_required
def brief_new(request: HttpRequest) -> HttpResponse:
    form = BriefForm(request.POST or None)
    configured = settings.GENERATION_CONFIGURED
    if request.method == "POST" and form.is_valid():
        try:
            brief = workflow.request_brief(requester=request.user, **form.cleaned_data)
        except workflow.WorkflowError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Brief {brief.pk} is queued; its drafts appear here when ready.")
            return redirect("brief-detail", brief_id=brief.pk)
    recent = Brief.objects.visible_to(request.user).select_related("requester")[:20]
    context = {
        "form": form,
        "configured": configured,
        "recent": recent,
        "may_request": workflow.can(request.user, "submit"),
    }
    return render(request, "briefs/new.html", context, status=400 if form.errors else 200)


@role_required
def brief_detail(request: HttpRequest, brief_id: int) -> HttpResponse:
    brief = get_object_or_404(
        Brief.objects.visible_to(request.user).select_related("requester").prefetch_related("drafts"),
        pk=brief_id,
    )
    drafts = sorted(brief.drafts.all(), key=lambda draft: draft.brief_variant or 0)
    return render(request, "briefs/detail.html", {"brief": brief, "drafts": drafts})


# --- Metrics --------------------------------------------------------------------------------------


@role_required
def metrics_page(request: HttpRequest) -> HttpResponse:
    days = request.GET.get("days", "")
    days = int(days) if days.isdigit() and int(days) in metrics.WINDOWS else metrics.DEFAULT_WINDOW
    return render(request, "metrics.html", {"report": metrics.report(days=days), "windows": metrics.WINDOWS})


# --- Helpers --------------------------------------------------------------------------------------


def _clock(moment) -> str:
    return f"{timezone.localtime(moment):%H:%M}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
