from itertools import islice

from django.core.management.base import BaseCommand
from django.db import IntegrityError
from tqdm import tqdm

from reviewapp import workflow
from reviewapp.flagging import find_flags_many
from reviewapp.models import Draft

BATCH = 64


class Command(BaseCommand):
    help = (
        "Recompute the flags of every draft whose current version has no decision yet, with the current "
        "rule packs and live claims. Decided versions are never touched: a decision's flags are history."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options):
        claims = workflow.live_claims()
        drafts = Draft.objects.undecided().select_related("current_version").order_by("pk")
        total = drafts.count()
        changed = unchanged = skipped = refused = 0
        rows = drafts.iterator(chunk_size=BATCH)
        with tqdm(total=total, unit="draft", disable=options["no_progress"], file=self.stderr) as bar:
            while chunk := list(islice(rows, BATCH)):
                by_language: dict[str, list[Draft]] = {}
                for draft in chunk:
                    by_language.setdefault(draft.language, []).append(draft)
                for language, members in by_language.items():
                    bodies = [draft.current_version.body for draft in members]
                    for draft, found in zip(
                        members, find_flags_many(bodies, language=language, claims=claims), strict=True
                    ):
                        try:
                            result = workflow.reflag(draft, found=found)
                        except IntegrityError as error:
                            # The gate refused this draft's new flags; the others go on.
                            refused += 1
                            # Only the gate's fixed message: a constraint's text could quote a stored value.
                            refusal = workflow.database_refusal(error)
                            why = (
                                refusal.message if refusal else "a database constraint refused the new flags."
                            )
                            self.stderr.write(f"Draft {draft.pk}: {why}")
                            bar.update(1)
                            continue
                        if result is None:
                            skipped += 1
                        elif result:
                            changed += 1
                        else:
                            unchanged += 1
                        bar.update(1)
        self.stdout.write(
            f"Re-flagged {total} undecided draft(s): {changed} changed, {unchanged} unchanged, "
            f"{skipped} skipped (decided or edited meanwhile)"
            + (f", {refused} refused by the database." if refused else ".")
        )
