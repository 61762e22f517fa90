from datetime import datetime, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from reviewapp import audit


class Command(BaseCommand):
    help = (
        "Check the audit trail's keyed hash chain against the audit key(s) and the checkpoint file, and "
        "that every decision, draft, version, override and publication has its event; exit 1 naming the "
        "first bad or missing one."
    )

    def handle(self, *args, **options):
        count = 0
        try:
            for result in audit.verify():
                if isinstance(result, audit.Break):
                    where = f"event seq {result.seq}" + (
                        f" (id {result.event_id})" if result.event_id else ""
                    )
                    raise CommandError(f"Audit chain broken at {where}: {result.reason}.", returncode=1)
                count += 1
            checkpoints = audit.read_checkpoints()
        except audit.CheckpointError as exc:
            raise CommandError(f"Audit checkpoints cannot be trusted: {exc}", returncode=1) from None
        missing = audit.unrecorded()
        if missing:
            raise CommandError(
                f"Audit chain intact ({count} events), but history was written without it: "
                f"{'; '.join(missing)}.",
                returncode=1,
            )
        latest = audit.latest_checkpoint(checkpoints)
        limit = settings.AUDIT_CHECKPOINT_MAX_AGE_MINUTES
        if limit:
            age = None if latest is None else timezone.now() - datetime.fromisoformat(latest.at)
            if age is None or age > timedelta(minutes=limit):
                when = "there is none" if age is None else f"it is {age.total_seconds() / 60:.0f} minutes old"
                raise CommandError(
                    f"Audit chain intact ({count} events), but its latest checkpoint should be at most "
                    f"{limit} minutes old and {when} ({audit.checkpoint_path()}): is the worker running the "
                    "audit.checkpoint schedule, and is the file where AUDIT_CHECKPOINT_DIR says?",
                    returncode=1,
                )
        if latest is None:
            against = f"No checkpoint yet in {audit.checkpoint_path()} (checkpoint_audit writes them)"
        else:
            against = f"The chain matches its latest checkpoint ({latest.at}, event seq {latest.seq})"
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {count} events verified. {against}."))
        self.stdout.write(f"Current audit key id: {audit.keyring().current_id}.")
