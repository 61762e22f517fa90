import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from reviewapp import workflow
from reviewapp.flagging import default_engine
from reviewapp.flagging.jsonl import flag_lines


class Command(BaseCommand):
    help = (
        'Flag copy from JSONL: reads {"id", "text"} lines from FILE (or - for stdin) and writes one '
        '{"id", "flags": [...]} line per input, in order; a bad line gets {"id", "error"} and the run '
        "goes on."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", default="-", help="JSONL file, or - for standard input")
        parser.add_argument(
            "--no-claims", action="store_true", help="ignore the claims library (flag as if it were empty)"
        )

    def handle(self, *args, **options):
        claims = () if options["no_claims"] else self._claims()
        engine = default_engine()
        path = options["file"]
        try:
            handle = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
        try:
            for line in flag_lines(handle, engine, claims=claims):
                self.stdout.write(line)
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        finally:
            if handle is not sys.stdin.buffer:
                handle.close()

    def _claims(self):
        try:
            return workflow.live_claims()
        except DatabaseError as exc:  # no database yet: flag without the claims library, and say so
            self.stderr.write(f"claims library unavailable ({exc.__class__.__name__}); flagging without it")
            return ()
