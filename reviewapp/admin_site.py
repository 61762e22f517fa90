"""The admin site: Django's, with the app's two-step sign-in and its second factor, and every change made
through it in the audit trail.

Staff reach it only in a session verified with the second factor when REQUIRE_2FA_FOR names their role
(or whenever they have one set up). Its own sign-in form would sign in with a password alone, so it is
never offered: /admin/login/ sends people to the app's sign-in (reviewapp/account_views.py).

Every model registered on the site gets AuditedModelAdmin mixed in (AdminSite.register), whoever wrote
its ModelAdmin (reviewapp, Django's auth, django-q2, axes): each addition, change and deletion Django's
admin logs (LogEntry, outside the chain) is also an `admin.added` / `admin.changed` / `admin.deleted`
audit event naming the person, the model, the object's id and the names of the fields changed, never
their values, and saying whether the person was a superuser. That is how a superuser's acts in the admin
are audited like anyone's; the domain events (user.access_changed, webhook.endpoint_updated, …) come on
top with what changed.
"""

from django.contrib import admin, messages
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from reviewapp import audit, second_factor


def second_factor_allows(user) -> bool:
    """A verified session always; otherwise only for a user who needs no second factor and has none."""
    if second_factor.is_verified(user):
        return True
    return not second_factor.is_required(user) and not second_factor.is_enrolled(user)


def _changed_fields(message) -> list[str]:
    """The field labels of a LogEntry change message (a list of {"changed": {"fields": [...]}, ...});
    the names of inline objects it also carries are left out (they may be personal data)."""
    if not isinstance(message, list):
        return []
    fields: list[str] = []
    for entry in message:
        for part in entry.values() if isinstance(entry, dict) else []:
            fields += [str(name) for name in (part.get("fields") or [])] if isinstance(part, dict) else []
    return sorted(set(fields))


def _record(request: HttpRequest, verb: str, obj, message=None) -> None:
    user = request.user
    with transaction.atomic():  # a savepoint inside the admin's own transaction
        audit.record(
            f"admin.{verb}",
            actor=user,
            obj=obj,
            data={
                "model": obj._meta.label_lower,
                "fields": _changed_fields(message),
                "superuser": bool(user.is_superuser),
            },
        )


class AuditedModelAdmin(admin.ModelAdmin):
    """Django's admin logging, and the same act in the audit chain (see the module docstring)."""

    def log_addition(self, request, obj, message):
        _record(request, "added", obj, message)
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        _record(request, "changed", obj, message)
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            _record(request, "deleted", obj)
        return super().log_deletions(request, queryset)

    def response_action(self, request, queryset):
        # An action and the events it records commit together (Django runs actions outside a transaction).
        with transaction.atomic():
            return super().response_action(request, queryset)


class AdminSite(admin.AdminSite):
    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, AuditedModelAdmin):
            admin_class = type(
                admin_class.__name__, (AuditedModelAdmin, admin_class), {"__module__": admin_class.__module__}
            )
        return super().register(model_or_iterable, admin_class, **options)

    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and second_factor_allows(request.user)

    def login(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        user = request.user
        target = request.GET.get("next") or reverse("admin:index")
        if user.is_authenticated and user.is_active and user.is_staff:
            if not second_factor.is_enrolled(user):
                messages.info(request, "The admin needs two-factor sign-in: set it up first.")
                return redirect("two-factor")
            # Enrolled, but this session never passed the second factor: sign in again, both steps.
            messages.info(request, "Sign in again with your code to open the admin.")
            return redirect_to_login(target, reverse("login"))
        if user.is_authenticated:
            messages.error(request, "Your account has no access to the admin.")
            return redirect("home")
        return redirect_to_login(target, reverse("login"))
