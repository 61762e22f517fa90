"""From a brief to copy and back: mask the fields, build the prompt, restore the answer.

The vault that `prepare` returns is the only place the personal values live between the call and
the restore. Callers keep it in a local variable: never log it, store it or pass it to a task.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from generation import prompts
from generation.client import Completion, GenerationError
from generation.masking import Masker, unmask

# Fields that are labels chosen from a list, not free text: not masked.
_LABEL_FIELDS = ("channel", "language")


@dataclass(frozen=True)
class PreparedBrief:
    prompt: prompts.Prompt
    entity_counts: dict[str, int]
    vault: Mapping[str, str] = field(repr=False)


@dataclass(frozen=True)
class Copy:
    title: str
    body: str


def prepare(fields: Mapping[str, str], *, variants: int, masker: Masker) -> PreparedBrief:
    """Mask every free-text field of the brief with one numbering and build the prompt."""
    names = [name for name in prompts.FIELDS if name not in _LABEL_FIELDS]
    results = masker.mask_together([fields.get(name, "") or "" for name in names])
    masked = {name: result.masked_text for name, result in zip(names, results, strict=True)}
    for name in _LABEL_FIELDS:
        masked[name] = fields.get(name, "") or ""
    counts: dict[str, int] = {}
    for result in results:
        for kind, count in result.counts.items():
            counts[kind] = counts.get(kind, 0) + count
    vault = results[0].vault if results else {}
    return PreparedBrief(prompts.build(masked, variants=variants), dict(sorted(counts.items())), vault)


def restore(completion: Completion, vault: Mapping[str, str], *, product: str) -> list[Copy]:
    """Put the personal values back into every variant. A placeholder the model invented, or one of
    the brief's that appears in no variant, fails the whole answer: the copy would be wrong."""
    copies, seen, invented = [], set(), []
    for number, variant in enumerate(completion.variants, start=1):
        parts = []
        for text in (variant.headline, variant.body, variant.cta):
            result = unmask(text, vault)
            seen.update(p for p in vault if p not in result.missing)
            invented += [p for p in result.invented if p not in invented]
            parts.append(result.text.strip())
        headline, body, cta = parts
        title = (headline or f"{product} – variant {number}").splitlines()[0][:200]
        copies.append(Copy(title=title, body="\n\n".join(part for part in (headline, body, cta) if part)))
    missing = sorted(p for p in vault if p not in seen)
    if invented:
        raise GenerationError(
            "invented_placeholder",
            f"The model wrote placeholders that are not in the brief ({', '.join(invented)}); "
            "its copy cannot be restored safely.",
            request_id=completion.request_id,
        )
    if missing:
        raise GenerationError(
            "missing_placeholder",
            f"The model dropped or altered placeholders of the brief ({', '.join(missing)}), so the "
            "personal details they stand for could not be put back.",
            request_id=completion.request_id,
        )
    return copies
