"""Web pages: translate HTTP to workflow calls and back. Messages and redirects live here."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from reviewapp import workflow
from reviewapp.highlight import segments
from reviewapp.models import (
    OVERRIDE_REASON_MIN_CHARS,
    VARIANTS_MAX,
    AuditEvent,
    Brief,
    Channel,
    Decision,
    DecisionKind,
    Draft,
    Severity,
    Status,
)


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


@login_required
def draft_list(request: HttpRequest) -> HttpResponse:
    drafts = Draft.objects.with_flag_counts().select_related("author", "current_version")
    status = request.GET.get("status", "")
    if status in Status.values:
        drafts = drafts.filter(status=status)
    page = Paginator(drafts.order_by("-id"), 50).get_page(request.GET.get("page"))
    return render(request, "drafts/list.html", {"page": page, "status": status, "statuses": Status.choices})


def _detail_context(request: HttpRequest, draft: Draft) -> dict:
    version = draft.current_version
    provenance = getattr(version, "provenance", None)
    flags = list(version.flags.select_related("overridden_by"))
    user = request.user
    may_decide = workflow.can(user, "decide") and not workflow.wrote_any_version(draft, user)
    return {
        "draft": draft,
        "version": version,
        "flags": flags,
        "segments": segments(version.body, flags),
        "blockers": [flag for flag in flags if flag.severity == Severity.BLOCKER],
        "versions": draft.versions.select_related("created_by").order_by("-number"),
        "decisions": Decision.objects.filter(draft=draft)
        .select_related("reviewer", "version")
        .order_by("-id"),
        "events": AuditEvent.objects.filter(draft=draft).select_related("actor").order_by("-seq")[:100],
        "may_decide": may_decide and draft.status in (Status.IN_REVIEW, Status.CHANGES_REQUESTED),
        "may_edit": workflow.can(user, "add_version")
        and draft.status in (Status.IN_REVIEW, Status.CHANGES_REQUESTED, Status.APPROVED),
        "may_publish": workflow.can(user, "publish") and draft.status == Status.APPROVED,
        "decision_form": DecisionForm(initial={"version": version.number}, status=draft.status),
        "version_form": VersionForm(initial={"body": version.body}),
        "override_min": OVERRIDE_REASON_MIN_CHARS,
        "provenance": provenance,
    }


def _load(draft_id: int) -> Draft:
    return get_object_or_404(
        Draft.objects.select_related("author", "current_version__provenance"), pk=draft_id
    )


@login_required
def draft_detail(request: HttpRequest, draft_id: int) -> HttpResponse:
    return render(request, "drafts/detail.html", _detail_context(request, _load(draft_id)))


@login_required
def draft_submit(request: HttpRequest) -> HttpResponse:
    form = SubmitForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            draft = workflow.submit(author=request.user, **form.cleaned_data)
        except workflow.WorkflowError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Submitted for review as draft {draft.pk}.")
            return redirect("draft-detail", draft_id=draft.pk)
    status = 400 if form.errors else 200
    return render(request, "drafts/submit.html", {"form": form}, status=status)


def _overrides_from(request: HttpRequest) -> list[workflow.Override]:
    overrides = []
    for key, value in request.POST.items():
        if key.startswith("override-") and key[9:].isdigit() and value.strip():
            overrides.append(workflow.Override(flag_id=int(key[9:]), reason=value))
    return overrides


_DONE = {
    DecisionKind.APPROVE: "Approved version {v}. It can now be published.",
    DecisionKind.REQUEST_CHANGES: "Sent version {v} back to the author with your comment.",
    DecisionKind.REJECT: "Rejected the draft. It is closed.",
}


@login_required
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
        )
    except workflow.WorkflowError as exc:
        messages.error(request, exc.message)
        context = _detail_context(request, _load(draft_id))
        context["decision_form"] = form
        return render(request, "drafts/detail.html", context, status=exc.status)
    messages.success(request, _DONE[decision.kind].format(v=decision.version.number))
    return redirect("draft-detail", draft_id=draft.pk)


@login_required
@require_POST
def draft_edit(request: HttpRequest, draft_id: int) -> HttpResponse:
    draft = _load(draft_id)
    form = VersionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The new text is empty.")
        return redirect("draft-detail", draft_id=draft.pk)
    try:
        version = workflow.add_version(draft, author=request.user, body=form.cleaned_data["body"])
    except workflow.WorkflowError as exc:
        messages.error(request, exc.message)
        return redirect("draft-detail", draft_id=draft.pk)
    if version is None:
        messages.info(request, "The text is unchanged; no new version was saved.")
    else:
        messages.success(request, f"Saved version {version.number}; it is back in review.")
    return redirect("draft-detail", draft_id=draft.pk)


@login_required
@require_POST
def draft_publish(request: HttpRequest, draft_id: int) -> HttpResponse:
    draft = _load(draft_id)
    try:
        workflow.publish(draft, actor=request.user)
    except workflow.WorkflowError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Published.")
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


@login_required
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


@login_required
def brief_detail(request: HttpRequest, brief_id: int) -> HttpResponse:
    brief = get_object_or_404(
        Brief.objects.visible_to(request.user).select_related("requester").prefetch_related("drafts"),
        pk=brief_id,
    )
    drafts = sorted(brief.drafts.all(), key=lambda draft: draft.brief_variant or 0)
    return render(request, "briefs/detail.html", {"brief": brief, "drafts": drafts})
