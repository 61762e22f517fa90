from django.core.management.base import BaseCommand, CommandError

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
        latest = max(checkpoints, key=lambda point: point.seq, default=None)
        if latest is None:
            against = f"No checkpoint yet in {audit.checkpoint_path()} (checkpoint_audit writes them)"
        else:
            against = f"The chain matches its latest checkpoint ({latest.at}, event seq {latest.seq})"
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {count} events verified. {against}."))
        self.stdout.write(f"Current audit key id: {audit.keyring().current_id}.")
