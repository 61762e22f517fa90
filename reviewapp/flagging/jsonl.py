"""The JSONL contract of `manage.py flag_copy` (SPEC §4), as a pure function the command and the
benchmark share:

    in:  {"id": ..., "text": "..."}                       one object per line
    out: {"id": ..., "flags": [{"start", "end", "category", "rule", "severity", "message"}]}
         {"id": ..., "error": "..."}                      for a line that cannot be flagged

One output line per input line, in input order; blank lines are skipped. Texts go through the engine
(and so `nlp.pipe`) in batches, so memory stays flat however long the input is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice

from reviewapp.flagging.engine import Claim, Engine, Flag

BATCH = 256


def invalid_character(item: dict) -> str | None:
    """Why the line's "id" or "text" cannot be used, if it holds a lone surrogate ("\\ud800" is valid
    JSON, but not a character: it cannot be written back out or read by the pipeline)."""
    for field in ("id", "text"):
        value = item.get(field)
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                return (
                    f"{field!r} contains an invalid character (lone surrogate U+{ord(value[exc.start]):04X} "
                    f"at position {exc.start})"
                )
    return None


def _parse(raw: bytes | str) -> tuple[object, str | None, str | None]:
    """(id, text, error) for one input line."""
    try:
        line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        return None, None, f"line is not valid UTF-8 ({exc.reason} at byte {exc.start})"
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, None, f"invalid JSON: {exc.msg} (column {exc.colno})"
    if not isinstance(item, dict):
        return None, None, "each line must be a JSON object with 'id' and 'text'"
    if problem := invalid_character(item):
        return None, None, problem
    ident = item.get("id")
    if "text" not in item:
        return ident, None, "missing 'text'"
    if not isinstance(item["text"], str):
        return ident, None, f"'text' must be a string, not {type(item['text']).__name__}"
    return ident, item["text"], None


def flag_dict(flag: Flag) -> dict:
    return {
        "start": flag.start,
        "end": flag.end,
        "category": flag.category,
        "rule": flag.rule,
        "severity": flag.severity,
        "message": flag.message,
    }


def flag_lines(
    lines: Iterable[bytes | str], engine: Engine, *, claims: Sequence[Claim] = (), batch: int = BATCH
) -> Iterator[str]:
    """Output lines (without newline) for input lines, in order."""
    parsed = (_parse(raw) for raw in lines if raw.strip())
    while chunk := list(islice(parsed, batch)):
        texts = [text for _, text, error in chunk if error is None]
        results = iter(engine.find_flags_many(texts, claims=claims))
        for ident, _, error in chunk:
            if error is not None:
                yield json.dumps({"id": ident, "error": error}, ensure_ascii=False)
            else:
                flags = [flag_dict(flag) for flag in next(results)]
                yield json.dumps({"id": ident, "flags": flags}, ensure_ascii=False)
