"""Django admin for operators. History (versions, decisions, flags, audit) is read-only here:
statuses change only through reviewapp/workflow.py. What the `admin` role may do on each page is
accounts.ADMIN_PERMISSIONS; every change made here is audited (reviewapp/admin_site.py)."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import transaction
from django.http import HttpResponseRedirect
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_q import admin as q_admin
from django_q.models import Failure, OrmQ, Schedule, Success

from reviewapp import accounts, claims, webhooks
from reviewapp.models import (
    ApiToken,
    AuditEvent,
    Brief,
    Claim,
    Decision,
    Draft,
    Flag,
    Provenance,
    Role,
    User,
    Version,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    WebhookMessage,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """Role and access changes made here are recorded in the audit trail, naming the admin.

    Roles are groups; staff status follows the `admin` role, and superuser status and per-user
    permissions are not editable from the web (createsuperuser is the operator's break-glass tool), so
    an admin cannot grant themselves more than their role. Only a superuser changes a superuser (an
    admin who could set one's password could become one). Users are deactivated, never deleted: their
    decisions and audit events name them."""

    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Profile", {"fields": ("name", "first_name", "last_name", "email")}),
        ("Access", {"fields": ("is_active", "groups", "is_staff", "is_superuser")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    readonly_fields = ("is_staff", "is_superuser", "last_login", "date_joined")
    list_display = ("username", "name", "email", "is_active", "is_staff")
    search_fields = ("username", "name", "email")
    actions = ["reset_second_factor"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is None:
            return form
        actor = request.user

        class TwoPeopleForReviewers(form):
            # Making someone a reviewer is refused to themselves and to whoever holds one of their
            # credentials (accounts.refuse_reviewer_grant): they could sign in and approve as them.
            def clean(self):
                cleaned = super().clean()
                groups = cleaned.get("groups") or []
                granted = any(group.name == Role.REVIEWER for group in groups)
                if granted and not obj.groups.filter(name=Role.REVIEWER).exists():
                    try:
                        accounts.refuse_reviewer_grant(obj, actor=actor)
                    except accounts.AccountError as refusal:
                        self.add_error("groups", str(refusal))
                return cleaned

        return TwoPeopleForReviewers

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Reset second factor (the user sets it up again)", permissions=["change"])
    def reset_second_factor(self, request, queryset):
        allowed = [user for user in queryset if self.has_change_permission(request, user)]
        count = 0
        for user in allowed:
            try:
                count += accounts.reset_second_factor(user, actor=request.user)
            except accounts.AccountError as refusal:
                self.message_user(request, f"{user.username}: {refusal}", level=messages.ERROR)
        self.message_user(request, f"Reset the second factor of {count} user(s); they set it up again.")

    def save_model(self, request, obj, form, change):
        # Read what is stored before this save; the request carries it to save_related (the admin
        # instance is shared between requests).
        request.access_before = accounts.access_of(obj) if change else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        user = form.instance
        staff = user.is_superuser or user.groups.filter(name=Role.ADMIN).exists()
        if user.is_staff != staff:
            user.is_staff = staff
            user.save(update_fields=["is_staff"])
        before = getattr(request, "access_before", None)
        accounts.record_access_change(user, before=before, actor=request.user)

    def user_change_password(self, request, id, form_url=""):
        """Django's password form, and then: audited naming the admin, the user's sessions end and their
        tokens are revoked (accounts.record_password_set), all in one transaction. Refused to the admin who
        reset the user's second factor recently (accounts.refuse_second_credential)."""
        if request.method == "POST":
            target = User.objects.filter(pk=unquote(id)).first()
            try:
                if target is not None:
                    accounts.refuse_second_credential(target, actor=request.user, resetting="password")
            except accounts.AccountError as refusal:
                self.message_user(request, str(refusal), level=messages.ERROR)
                return HttpResponseRedirect(request.path)
        with transaction.atomic(), accounts.recording_password_set():
            stored = User.objects.filter(pk=unquote(id)).values_list("password", flat=True)
            before = stored.first()
            response = super().user_change_password(request, id, form_url)
            if before is not None and stored.first() != before:
                accounts.record_password_set(
                    User.objects.get(pk=unquote(id)),
                    actor=request.user,
                    keep_session=request.session.session_key,
                )
        return response


# django-q2's pages, view-only for everyone (superusers too): a schedule or a task names any function with
# any arguments, so adding, editing or resubmitting one from the web would run code on the worker host.
# Schedules come only from `manage.py setup_schedules`.
class _ReadOnlyQueue(ReadOnlyAdmin):
    actions = []  # no "resubmit", no delete_selected


class ScheduleAdmin(_ReadOnlyQueue, q_admin.ScheduleAdmin):
    pass


class SuccessAdmin(_ReadOnlyQueue, q_admin.TaskAdmin):
    pass


class FailureAdmin(_ReadOnlyQueue, q_admin.FailAdmin):
    pass


class QueueAdmin(_ReadOnlyQueue, q_admin.QueueAdmin):
    pass


for _model, _admin_class in [
    (Schedule, ScheduleAdmin),
    (Success, SuccessAdmin),
    (Failure, FailureAdmin),
    (OrmQ, QueueAdmin),
]:
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
    admin.site.register(_model, _admin_class)


# Second-factor devices are not admin pages: a device's secret, or one an admin adds, would let them sign in
# as its user. Resetting a user's second factor is the audited action on users above.
admin.site.unregister([TOTPDevice, StaticDevice])


class VersionInline(admin.TabularInline):
    model = Version
    fields = ("number", "sha256", "source", "created_by", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Draft)
class DraftAdmin(ReadOnlyAdmin):
    list_display = ("id", "title", "status", "channel", "campaign", "author", "updated_at")
    list_filter = ("status", "channel")
    search_fields = ("title", "campaign", "external_id")
    inlines = [VersionInline]


@admin.register(Version)
class VersionAdmin(ReadOnlyAdmin):
    list_display = ("draft", "number", "source", "created_by", "created_at")


@admin.register(Flag)
class FlagAdmin(ReadOnlyAdmin):
    list_display = ("rule", "category", "severity", "status", "version")
    list_filter = ("category", "severity", "status")


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = ("draft", "version", "kind", "reviewer", "created_at")
    list_filter = ("kind",)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("seq", "created_at", "action", "actor", "object_type", "object_id")
    list_filter = ("action",)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created with `manage.py add_user --token`; here they can only be seen and revoked,
    never deleted (a database trigger refuses that too, migration 0015): a token's row is what its
    audit events and its last use refer to."""

    list_display = ("__str__", "user", "name", "created_at", "last_used_at", "revoked_at")
    # Nothing is editable: a revoked token is never brought back (revoking is the audited action).
    readonly_fields = ("user", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    exclude = ("digest",)
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # and so no delete_selected action either

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        count = sum(accounts.revoke_token(token, actor=request.user) for token in queryset)
        self.message_user(request, f"Revoked {count} token(s).")


@admin.register(Claim)
class ClaimAdmin(admin.ModelAdmin):
    """The claims library: substantiated claims with their evidence. A live claim downgrades the
    "unverifiable" findings inside its wording on new versions to info; `manage.py reflag` applies it
    to open drafts. Filing, changing and expiring a claim are audited (reviewapp/claims.py); claims
    are never deleted, so "Expire now" is how one is retired."""

    list_display = ("__str__", "evidence_source", "owner", "expires_on", "live")
    list_filter = ("expires_on",)
    search_fields = ("text", "evidence_source", "document")
    fields = claims.EDITABLE
    actions = ["expire_now"]

    @admin.display(boolean=True)
    def live(self, claim: Claim) -> bool:
        return claim.is_live

    def get_changeform_initial_data(self, request):
        return {**super().get_changeform_initial_data(request), "owner": request.user.pk}

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            claims.change(obj, actor=request.user)
        else:
            claims.file(obj, actor=request.user)

    @admin.action(description="Expire selected claims now")
    def expire_now(self, request, queryset):
        count = sum(claims.expire(claim, actor=request.user) for claim in queryset)
        self.message_user(request, f"Expired {count} claim(s).")


@admin.register(Brief)
class BriefAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "product",
        "status",
        "error_code",
        "requester",
        "variants",
        "attempts",
        "created_at",
    )
    list_filter = ("status", "channel")


@admin.register(Provenance)
class ProvenanceAdmin(ReadOnlyAdmin):
    list_display = ("version", "brief", "model", "prompt_template_version", "total_tokens", "latency_ms")


# --- Webhooks: endpoints are created with a secret shown once (dashboard or `add_webhook`); here they
# can be edited, enabled, disabled and tested. Deliveries and attempts are a read-only log. -----------


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(label="URL", max_length=2000, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        choices=WebhookEvent.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("url", "description", "event_types")

    def clean_url(self):
        # The same rules as every other way of adding an endpoint, shown on the form, not as a 500.
        try:
            return webhooks.clean_url(self.cleaned_data["url"])
        except webhooks.WebhookError as exc:
            raise forms.ValidationError(str(exc)) from None


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ("id", "host", "description", "enabled", "disabled_reason", "failing_since", "created_at")
    list_filter = ("enabled",)
    search_fields = ("url", "description")
    readonly_fields = ("enabled", "disabled_reason", "disabled_at", "failing_since", "failed_attempts")
    actions = ["send_test", "disable", "enable"]

    @admin.display(description="host")
    def host(self, endpoint):
        return webhooks.host_of(endpoint.url)

    def has_add_permission(self, request):
        return False  # the secret must be shown once, on a page of its own: see /webhooks/new

    def has_delete_permission(self, request, obj=None):
        return False  # deliveries refer to it: disable it instead

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        webhooks.update_endpoint(
            obj,
            url=data["url"],
            description=data["description"],
            event_types=data["event_types"],
            actor=request.user,
        )

    @admin.action(description="Send a test event")
    def send_test(self, request, queryset):
        sent = 0
        for endpoint in queryset:
            try:
                webhooks.send_test(endpoint, actor=request.user)
                sent += 1
            except webhooks.WebhookError as exc:
                self.message_user(request, f"Endpoint {endpoint.pk}: {exc}", messages.WARNING)
        self.message_user(request, f"Queued a test event for {sent} endpoint(s).")

    @admin.action(description="Disable")
    def disable(self, request, queryset):
        count = sum(
            webhooks.disable_endpoint(
                endpoint, reason=f"Disabled by {request.user.username}.", cause="manual", actor=request.user
            )
            for endpoint in queryset
        )
        self.message_user(request, f"Disabled {count} endpoint(s).")

    @admin.action(description="Enable")
    def enable(self, request, queryset):
        count = sum(webhooks.enable_endpoint(endpoint, actor=request.user) for endpoint in queryset)
        self.message_user(request, f"Enabled {count} endpoint(s).")


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ("number", "trigger", "started_at", "duration_ms", "status_code", "error_kind", "succeeded")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "message",
        "endpoint",
        "state",
        "attempt_count",
        "next_attempt_at",
        "last_status_code",
    )
    list_filter = ("state", "endpoint")
    list_select_related = ("message", "endpoint")
    inlines = [WebhookAttemptInline]
    actions = ["resend"]

    @admin.action(description="Resend (same message id, new signature)")
    def resend(self, request, queryset):
        sent = 0
        for delivery in queryset:
            try:
                webhooks.resend(delivery, actor=request.user)
                sent += 1
            except webhooks.WebhookError as exc:
                self.message_user(request, f"Delivery {delivery.pk}: {exc}", messages.WARNING)
        self.message_user(request, f"Queued {sent} delivery(ies) to be sent again.")


@admin.register(WebhookMessage)
class WebhookMessageAdmin(ReadOnlyAdmin):
    list_display = ("msg_id", "event_type", "draft", "created_at")
    list_filter = ("event_type",)
    search_fields = ("msg_id",)


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(ReadOnlyAdmin):
    list_display = ("delivery", "number", "trigger", "started_at", "status_code", "error_kind", "succeeded")
    list_filter = ("succeeded", "error_kind", "trigger")
