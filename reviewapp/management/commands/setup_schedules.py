from django.core.management.base import BaseCommand
from django.db import transaction
from django_q.models import Schedule

# Recurring background work: (name, dotted function, minutes between runs). Idempotent by name.
SCHEDULES = [
    ("webhooks.sweep", "reviewapp.webhooks.sweep", 1),
    ("idempotency.prune", "reviewapp.api.idempotency.prune", 60),
    # Signed checkpoints of the audit chain's head, outside the database (reviewapp/audit.py).
    ("audit.checkpoint", "reviewapp.audit.checkpoint", 10),
]


class Command(BaseCommand):
    help = "Create or update the django-q2 schedules the app needs (safe to run on every start or deploy)."

    @transaction.atomic
    def handle(self, *args, **options):
        for name, func, minutes in SCHEDULES:
            # next_run is left out: re-running must not postpone a schedule that is due.
            _, created = Schedule.objects.update_or_create(
                name=name,
                defaults={
                    "func": func,
                    "schedule_type": Schedule.MINUTES,
                    "minutes": minutes,
                    "repeats": -1,
                },
            )
            verb = "Created" if created else "Checked"
            self.stdout.write(f"{verb} schedule {name}: {func} every {minutes} minute(s).")
