"""Template context shared by every page."""

from django.http import HttpRequest

from reviewapp.models import WebhookEndpoint


def webhook_alerts(request: HttpRequest) -> dict:
    """How many webhook endpoints are disabled, for the admins' navigation: an endpoint disabled by a
    410 or by days of failures must not go unnoticed until someone opens the webhooks page. A callable,
    so the count is only queried where the template shows it (staff pages)."""

    def disabled() -> int:
        return WebhookEndpoint.objects.filter(enabled=False).count()

    return {"disabled_webhooks": disabled}
