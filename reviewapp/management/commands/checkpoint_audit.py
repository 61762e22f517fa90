from django.core.management.base import BaseCommand, CommandError

from reviewapp import audit


class Command(BaseCommand):
    help = (
        "Verify the audit chain since the latest checkpoint and append a signed checkpoint of its head "
        "to the checkpoint file (AUDIT_CHECKPOINT_DIR); exit 1 if the chain is broken."
    )

    def handle(self, *args, **options):
        try:
            point = audit.checkpoint()
        except audit.ChainBroken as exc:
            raise CommandError(f"Not checkpointed: {exc}.", returncode=1) from None
        except (audit.CheckpointError, OSError) as exc:
            raise CommandError(f"Not checkpointed: {exc}", returncode=1) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Checkpoint written: event seq {point.seq} (hash {point.hash[:12]}…, key {point.key_id}) "
                f"to {audit.checkpoint_path()}."
            )
        )
