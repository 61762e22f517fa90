"""Django admin for operators. History (versions, decisions, flags, audit) is read-only here:
statuses change only through reviewapp/workflow.py."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

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
    """Role and access changes made here are recorded in the audit trail, naming the admin."""

    fieldsets = (*BaseUserAdmin.fieldsets, ("Profile", {"fields": ("name",)}))
    list_display = ("username", "name", "email", "is_active", "is_staff")
    search_fields = ("username", "name", "email")
    actions = ["reset_second_factor"]

    @admin.action(description="Reset second factor (the user sets it up again)", permissions=["change"])
    def reset_second_factor(self, request, queryset):
        count = sum(accounts.reset_second_factor(user, actor=request.user) for user in queryset)
        self.message_user(request, f"Reset the second factor of {count} user(s); they set it up again.")

    def save_model(self, request, obj, form, change):
        # Read what is stored before this save; the request carries it to save_related (the admin
        # instance is shared between requests).
        request.access_before = accounts.access_of(obj) if change else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        before = getattr(request, "access_before", None)
        accounts.record_access_change(form.instance, before=before, actor=request.user)


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
    """Tokens are created with `manage.py add_user --token`; here they can only be seen and revoked."""

    list_display = ("__str__", "user", "name", "created_at", "last_used_at", "revoked_at")
    # Nothing is editable: a revoked token is never brought back (revoking is the audited action).
    readonly_fields = ("user", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    exclude = ("digest",)
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke selected tokens")
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
