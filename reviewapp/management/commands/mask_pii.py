"""`python manage.py mask_pii [FILE|-]`: mask personal data in JSONL texts (SPEC §5).

Reads lines `{"id": ..., "text": "..."}` and writes one line per input, in input order:
`{"id": ..., "masked": "...", "entities": [{"start": int, "end": int, "type": str}]}`, offsets into
the original text. Each line is its own request (its own numbering). A bad line gets
`{"id": ..., "error": "..."}` and the run goes on; the exit status is 0 unless the input cannot be read.
"""

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from reviewapp import pii
from reviewapp.flagging.jsonl import invalid_character

BATCH = 256


class Command(BaseCommand):
    help = "Mask personal data in JSONL lines {id, text}; writes {id, masked, entities} per line."

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", default="-", help="JSONL file, or - for standard input")

    def handle(self, *args, file: str, **options):
        try:
            # Bytes, decoded line by line: one line of bad UTF-8 is reported on that line, not fatal.
            stream = sys.stdin.buffer if file == "-" else open(file, "rb")  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from None
        masker = pii.get_masker()
        batch: list[tuple[object, str | None, str | None]] = []
        try:
            for number, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                batch.append(_parse(line, number))
                if len(batch) >= BATCH:
                    self._flush(masker, batch)
                    batch = []
            self._flush(masker, batch)
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()

    def _flush(self, masker, batch) -> None:
        texts = [text for _, text, error in batch if error is None]
        results = iter(masker.mask_each(texts))
        for row_id, _, error in batch:
            if error is not None:
                out = {"id": row_id, "error": error}
            else:
                result = next(results)
                out = {
                    "id": row_id,
                    "masked": result.masked_text,
                    "entities": [{"start": e.start, "end": e.end, "type": e.type} for e in result.entities],
                }
            self.stdout.write(json.dumps(out, ensure_ascii=False))


def _parse(raw: bytes, number: int) -> tuple[object, str | None, str | None]:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, None, f"line {number} is not valid UTF-8 ({exc.reason} at byte {exc.start})"
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, None, f"line {number} is not JSON: {exc.msg}"
    if not isinstance(row, dict):
        return None, None, f"line {number} is not a JSON object"
    if problem := invalid_character(row):
        return None, None, f"line {number}: {problem}"
    row_id = row.get("id")
    text = row.get("text")
    if not isinstance(text, str):
        return row_id, None, f"line {number} has no string field 'text'"
    return row_id, text, None
