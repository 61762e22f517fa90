from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from reviewapp import webhooks


class Command(BaseCommand):
    help = (
        "Re-encrypt every webhook signing secret with the first key of WEBHOOK_SECRET_KEY. To change that "
        "key: set WEBHOOK_SECRET_KEY=new,old, run this, then set WEBHOOK_SECRET_KEY=new."
    )

    def handle(self, *args, **options):
        try:
            count = webhooks.reencrypt_secrets()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Re-encrypted the secrets of {count} endpoint(s) with the first key.")
