from django.core.management.base import BaseCommand, CommandError

from reviewapp import webhooks
from reviewapp.models import WebhookEvent


class Command(BaseCommand):
    help = (
        "Add a webhook endpoint. Prints its signing secret (whsec_…) alone on the last line of output: "
        "it is stored encrypted and never shown again (rotate it on the endpoint's page if lost)."
    )

    def add_arguments(self, parser):
        parser.add_argument("url", help="The receiver, e.g. https://cms.example.com/hooks/copy-review")
        parser.add_argument(
            "--events",
            default="",
            help=f"Comma-separated event types (default: all): {', '.join(WebhookEvent.values)}",
        )
        parser.add_argument("--description", default="", help="What this endpoint is for")

    def handle(self, *args, url, events, description, **options):
        try:
            endpoint, secret = webhooks.create_endpoint(
                url=url, description=description, event_types=events.split(",")
            )
        except webhooks.WebhookError as exc:
            raise CommandError(str(exc)) from None
        subscribed = ", ".join(endpoint.event_types) or "all events"
        self.stdout.write(f"Created webhook endpoint {endpoint.pk} for {subscribed}.")
        self.stdout.write("Signing secret (shown once; store it now):")
        self.stdout.write(secret)
