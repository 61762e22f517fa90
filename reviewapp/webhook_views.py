"""Webhook pages for admins: endpoints, their deliveries with every attempt, resend and send test.

A signing secret is shown once, on the page that answers the POST that created it (never through the
messages framework, which may keep it in a cookie)."""

from functools import wraps

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from reviewapp import webhooks
from reviewapp.models import (
    DeliveryState,
    Role,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)


def admin_required(view):
    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not (request.user.is_staff or request.user.has_role(Role.ADMIN)):
            raise PermissionDenied("Only admins manage webhooks.")
        return view(request, *args, **kwargs)

    return wrapper


class EndpointForm(forms.Form):
    url = forms.URLField(label="URL", max_length=2000, assume_scheme="https")
    description = forms.CharField(max_length=200, required=False)
    event_types = forms.MultipleChoiceField(
        label="Events",
        choices=WebhookEvent.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event.",
    )


@admin_required
def endpoint_list(request: HttpRequest) -> HttpResponse:
    # Disabled endpoints first: they are the ones that need an admin.
    endpoints = WebhookEndpoint.objects.with_delivery_counts().order_by("enabled", "id")
    return render(request, "webhooks/endpoint_list.html", {"endpoints": endpoints})


def _secret_page(request: HttpRequest, endpoint: WebhookEndpoint, secret: str, *, rotated: bool):
    """Callers are `never_cache`: the page must not be kept by the browser or a proxy."""
    context = {"endpoint": endpoint, "secret": secret, "rotated": rotated}
    return render(request, "webhooks/secret.html", context)


@admin_required
@never_cache
def endpoint_create(request: HttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint, secret = webhooks.create_endpoint(actor=request.user, **form.cleaned_data)
        except webhooks.WebhookError as exc:
            form.add_error(None, str(exc))
        else:
            return _secret_page(request, endpoint, secret, rotated=False)
    status = 400 if form.errors else 200
    return render(request, "webhooks/endpoint_form.html", {"form": form}, status=status)


@admin_required
def endpoint_detail(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id)
    deliveries = (
        WebhookDelivery.objects.filter(endpoint=endpoint)
        .select_related("message")
        .prefetch_related(Prefetch("attempts", queryset=WebhookAttempt.objects.order_by("-number")))
        .order_by("-id")
    )
    state = request.GET.get("state", "")
    if state in DeliveryState.values:
        deliveries = deliveries.filter(state=state)
    page = Paginator(deliveries, 25).get_page(request.GET.get("page"))
    context = {
        "endpoint": endpoint,
        "page": page,
        "state": state,
        "states": DeliveryState.choices,
        "events": [label for value, label in WebhookEvent.choices if endpoint.subscribes_to(value)],
    }
    return render(request, "webhooks/endpoint_detail.html", context)


@admin_required
@require_POST
def endpoint_test(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id)
    try:
        message = webhooks.send_test(endpoint, actor=request.user)
    except webhooks.WebhookError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Queued test event {message.msg_id}; its delivery is listed below.")
    return redirect("webhook-detail", endpoint_id=endpoint.pk)


@admin_required
@require_POST
@never_cache
def endpoint_rotate(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id)
    secret = webhooks.rotate_secret(endpoint, actor=request.user)
    return _secret_page(request, endpoint, secret, rotated=True)


@admin_required
@require_POST
def endpoint_disable(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id)
    reason = f"Disabled by {request.user.username}."
    if webhooks.disable_endpoint(endpoint, reason=reason, cause="manual", actor=request.user):
        messages.success(
            request, "Disabled. Pending deliveries were cancelled; resend them once it is enabled again."
        )
    return redirect("webhook-detail", endpoint_id=endpoint.pk)


@admin_required
@require_POST
def endpoint_enable(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id)
    if webhooks.enable_endpoint(endpoint, actor=request.user):
        messages.success(request, "Enabled. New events will be delivered again.")
    return redirect("webhook-detail", endpoint_id=endpoint.pk)


@admin_required
@require_POST
def delivery_resend(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = get_object_or_404(WebhookDelivery.objects.select_related("message"), pk=delivery_id)
    try:
        webhooks.resend(delivery, actor=request.user)
    except webhooks.WebhookError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"Queued {delivery.message.msg_id} to be sent again (same id, new signature)."
        )
    return redirect("webhook-detail", endpoint_id=delivery.endpoint_id)


urlpatterns = [
    path("", endpoint_list, name="webhook-list"),
    path("new", endpoint_create, name="webhook-create"),
    path("<int:endpoint_id>", endpoint_detail, name="webhook-detail"),
    path("<int:endpoint_id>/test", endpoint_test, name="webhook-test"),
    path("<int:endpoint_id>/rotate", endpoint_rotate, name="webhook-rotate"),
    path("<int:endpoint_id>/disable", endpoint_disable, name="webhook-disable"),
    path("<int:endpoint_id>/enable", endpoint_enable, name="webhook-enable"),
    path("deliveries/<int:delivery_id>/resend", delivery_resend, name="webhook-resend"),
]
