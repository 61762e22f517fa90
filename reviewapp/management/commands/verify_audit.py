from django.core.management.base import BaseCommand, CommandError

from reviewapp import audit


class Command(BaseCommand):
    help = "Check the audit trail's hash chain; exit 1 naming the first broken event."

    def handle(self, *args, **options):
        count = 0
        for result in audit.verify():
            if isinstance(result, audit.Break):
                where = f"event seq {result.seq}" + (f" (id {result.event_id})" if result.event_id else "")
                raise CommandError(f"Audit chain broken at {where}: {result.reason}.", returncode=1)
            count += 1
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {count} events verified."))
