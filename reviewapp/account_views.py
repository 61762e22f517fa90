"""Sign-in in two steps and the two-factor settings page.

Step one is the password form (django-axes counts its failures). For an account with two-factor sign-in
set up it signs nobody in: it remembers, in the still anonymous session, who passed it and when; step two
asks for a code and only then signs in, with the session marked verified by the device that took the
code. Accounts whose role needs a second factor (REQUIRE_2FA_FOR) and have none are sent to set it up.
"""

import time

import django_otp
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from reviewapp import second_factor
from reviewapp.models import User

PENDING_KEY = "second_factor_pending"


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=64,
        strip=True,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )


class LoginView(auth_views.LoginView):
    redirect_authenticated_user = True

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        if user.is_authenticated and second_factor.is_enrolled(user) and not second_factor.is_verified(user):
            # A session from before the second factor was set up: it starts again, with both steps.
            auth_logout(request)
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form):
        user = form.get_user()
        if second_factor.is_enrolled(user):
            session = self.request.session
            session.cycle_key()
            session[PENDING_KEY] = {
                "user": user.pk,
                "backend": user.backend,
                "password": user.get_session_auth_hash(),  # a password changed meanwhile ends step two
                "at": int(time.time()),
                "next": self.get_success_url(),
            }
            return redirect("login-code")
        response = super().form_valid(form)
        if second_factor.is_required(user):
            messages.info(
                self.request,
                "Your role needs two-factor sign-in. Set it up now: you cannot decide on copy until you do.",
            )
            return redirect("two-factor")
        return response


def _pending_user(request: HttpRequest) -> tuple[User, dict] | None:
    """Who passed the password step in this session, if that was recently and nothing changed since."""
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None
    if time.time() - pending.get("at", 0) > settings.LOGIN_SECOND_STEP_SECONDS:
        del request.session[PENDING_KEY]
        return None
    user = User.objects.filter(pk=pending.get("user"), is_active=True).first()
    if user is None or not constant_time_compare(pending.get("password", ""), user.get_session_auth_hash()):
        del request.session[PENDING_KEY]
        return None
    return user, pending


@sensitive_post_parameters("code")
@never_cache
def login_code(request: HttpRequest) -> HttpResponse:
    """Step two of signing in: a code from the authenticator app, or a recovery code."""
    found = _pending_user(request)
    if found is None:
        messages.info(request, "Sign in with your username and password first.")
        return redirect("login")
    user, pending = found
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            device = second_factor.check(user, form.cleaned_data["code"], purpose="login", actor=None)
        except second_factor.CodeRefused as refused:
            form.add_error("code", refused.message)
            status = refused.http_status
        else:
            del request.session[PENDING_KEY]
            user.otp_device = device  # django_otp's user_logged_in handler keeps it in the session
            auth_login(request, user, backend=pending["backend"])
            django_otp.login(request, device)
            if second_factor.kind_of(device) == "recovery_code":
                left = second_factor.recovery_codes_left(user)
                messages.warning(
                    request,
                    f"You signed in with a recovery code; it is used up. {left} recovery code(s) left: "
                    "when they run low, turn two-factor sign-in off and set it up again for new ones.",
                )
            return redirect(pending["next"])
    elif request.method == "POST":
        status = 400
    return render(request, "registration/login_code.html", {"form": form}, status=status)


@sensitive_post_parameters("code")
@never_cache
@login_required
def two_factor(request: HttpRequest) -> HttpResponse:
    """Set up, see and turn off two-factor sign-in for the signed-in user."""
    user = request.user
    enrolled = second_factor.is_enrolled(user)
    action = request.POST.get("action", "") if request.method == "POST" else ""
    form = CodeForm(request.POST if action in ("confirm", "remove") else None)
    status = 200
    if action == "restart" and not enrolled:
        second_factor.pending_authenticator(user, fresh=True)
        messages.info(request, "A new secret: scan the new QR code; the old one no longer works.")
        return redirect("two-factor")
    if action == "confirm" and not enrolled and form.is_valid():
        try:
            enrolment = second_factor.confirm(user, form.cleaned_data["code"])
        except second_factor.CodeRefused as refused:
            form.add_error("code", refused.message)
            status = refused.http_status
        else:
            django_otp.login(request, enrolment.device)  # this session has just proved the device
            # Shown once, in this response alone (never_cache: no-store).
            return render(request, "account/recovery_codes.html", {"codes": enrolment.recovery_codes})
    if action == "remove" and enrolled and form.is_valid():
        try:
            second_factor.remove(user, form.cleaned_data["code"])
        except second_factor.CodeRefused as refused:
            form.add_error("code", refused.message)
            status = refused.http_status
        else:
            note = " Your role needs it: set it up again before you decide."
            note = note if second_factor.is_required(user) else ""
            messages.success(request, "Two-factor sign-in is off for your account." + note)
            return redirect("two-factor")
    if action and form.errors and status == 200:
        status = 400
    context = {
        "form": form,
        "enrolled": enrolled,
        "required": second_factor.is_required(user),
        "verified": second_factor.is_verified(user),
    }
    if enrolled:
        context["recovery_left"] = second_factor.recovery_codes_left(user)
    else:
        device = second_factor.pending_authenticator(user)
        context.update(secret=second_factor.secret_text(device), otpauth=device.config_url)
    # never_cache (no-store): the page shows the secret while setting up.
    return render(request, "account/two_factor.html", context, status=status)


@never_cache
@login_required
def two_factor_qr(request: HttpRequest) -> HttpResponse:
    """The QR code of the authenticator being set up, as an SVG image of its own (CSP: img-src 'self')."""
    device = second_factor.pending_or_none(request.user)
    if device is None:
        raise Http404("No authenticator is being set up.")
    return HttpResponse(second_factor.qr_svg(device), content_type="image/svg+xml")
