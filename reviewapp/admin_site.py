"""The admin site: Django's, with the app's two-step sign-in and its second factor.

Staff reach it only in a session verified with the second factor when REQUIRE_2FA_FOR names their role
(or whenever they have one set up). Its own sign-in form would sign in with a password alone, so it is
never offered: /admin/login/ sends people to the app's sign-in (reviewapp/account_views.py).
"""

from django.contrib import admin, messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from reviewapp import second_factor


def second_factor_allows(user) -> bool:
    """A verified session always; otherwise only for a user who needs no second factor and has none."""
    if second_factor.is_verified(user):
        return True
    return not second_factor.is_required(user) and not second_factor.is_enrolled(user)


class AdminSite(admin.AdminSite):
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
