"""Django admin for operators. History (versions, decisions, flags, audit) is read-only here:
statuses change only through reviewapp/workflow.py."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from reviewapp import accounts
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
    fieldsets = (*BaseUserAdmin.fieldsets, ("Profile", {"fields": ("name",)}))
    list_display = ("username", "name", "email", "is_active", "is_staff")
    search_fields = ("username", "name", "email")


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
    readonly_fields = ("user", "name", "prefix", "created_at", "last_used_at")
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
    """The claims library: substantiated claims with their evidence. A live claim downgrades matching
    "unverifiable" findings on new versions to info; `manage.py reflag` applies it to open drafts."""

    list_display = ("__str__", "is_pattern", "evidence_source", "owner", "expires_on", "live")
    list_filter = ("is_pattern", "expires_on")
    search_fields = ("text", "evidence_source", "document")
    fields = ("text", "is_pattern", "evidence_source", "evidence_url", "document", "owner", "expires_on")

    @admin.display(boolean=True)
    def live(self, claim: Claim) -> bool:
        return claim.is_live

    def get_changeform_initial_data(self, request):
        return {**super().get_changeform_initial_data(request), "owner": request.user.pk}


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
