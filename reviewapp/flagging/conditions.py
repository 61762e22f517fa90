"""Named checks a rule can require (`requires:`) or be cancelled by (`unless:`).

Each takes the parsed Doc and the matched Span and answers a question about the context. They are
the small vocabulary of code that rule packs refer to by name; everything else about a rule is data.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable
from functools import wraps

from spacy.tokens import Doc, Span

# A citation close to a figure makes it checkable: "according to", "source:", a footnote marker,
# a bracketed reference, a link, "(Smith et al., 2024)", a named study or survey.
_SOURCE = re.compile(
    r"according\s+to|\bsources?\s*:|\bsee\s+(?:note|footnote|page|terms)|\b(?:study|survey|report|trial|"
    r"poll|audit)\s+(?:by|of|from|conducted|published|commissioned)\b|\bdata\s+from\b|"
    r"\bpublished\s+in\b|\bet\s+al\b|\bcited\s+in\b|\bas\s+reported\s+by\b|\bverified\s+by\b|"
    r"\[\d+\]|[\u00b9\u00b2\u00b3\u2070-\u2079\u2020\u2021]|https?://|\bwww\.|\(n\s*=\s*\d|"
    r"(?<=[\w%).!?])\*(?!\*)|\(\s*(?:source|ref)\b|\([^()]{0,80}\b(?:19|20)\d{2}\s*\)",
    re.IGNORECASE,
)

_ROLE_MAILBOXES = frozenset(
    "info support hello help contact sales service services team press media news newsletter noreply "
    "no-reply donotreply marketing office admin enquiries inquiries orders billing care customercare "
    "feedback careers jobs hr legal privacy partners partnerships shop store bookings reservations "
    "webmaster accounts returns".split()
)
_TOLL_FREE = re.compile(
    r"^\s*(?:\+?1[\s.-]?)?\(?8(?:00|33|44|55|66|77|88)\)?|^\s*0800|^\s*0808|^\s*1800|^\s*1300"
)
_NEGATIONS = frozenset({"not", "n't", "no", "never", "neither", "nor", "without", "hardly"})
_POSSESSIVES = frozenset({"our", "my", "your", "their", "its", "his", "her"})
_SECOND_PERSON = frozenset({"you", "your", "yours", "yourself", "u", "ya"})
_SUPERLATIVE_QUALIFIERS = frozenset({"one", "among", "some", "few", "many"})
_ORDINALS = frozenset(
    "second third fourth fifth sixth seventh eighth ninth tenth 2nd 3rd 4th 5th 6th 7th 8th 9th 10th".split()
)


def sentence(span: Span) -> Span:
    """The sentence the span starts in (the whole Doc when it has no sentence boundaries). The
    boundaries are found once per Doc: `Span.sent` walks the sentence on every call, which adds up
    to quadratic time over a long sentence full of matches."""
    doc = span.doc
    starts = doc.user_data.get("flagging.sentence_starts")
    if starts is None:
        starts = [sent.start for sent in doc.sents] if doc.has_annotation("SENT_START") else []
        starts = doc.user_data["flagging.sentence_starts"] = starts or [0]
    k = max(bisect_right(starts, span.start) - 1, 0)
    return doc[starts[k] : starts[k + 1] if k + 1 < len(starts) else len(doc)]


def per_sentence(condition: Callable[[Doc, Span], bool]) -> Callable[[Doc, Span], bool]:
    """For a condition that reads only the match's sentence (and what follows it): worked out once
    per sentence of a Doc, so a long sentence full of matches is read once, not once per match."""
    key = f"flagging.{condition.__name__}"

    @wraps(condition)
    def once_per_sentence(doc: Doc, span: Span) -> bool:
        here = sentence(span)
        memo = doc.user_data.setdefault(key, {})
        bounds = (here.start, here.end)
        if bounds not in memo:
            memo[bounds] = condition(doc, span)
        return memo[bounds]

    return once_per_sentence


@per_sentence
def source_nearby(doc: Doc, span: Span) -> bool:
    """A source is cited in the same sentence, or a footnote/citation follows in the next one or two."""
    here = sentence(span)
    if _SOURCE.search(here.text):
        return True
    if not doc.has_annotation("SENT_START"):
        return False
    position = here.end
    for _ in range(2):
        if position >= len(doc):
            break
        following = sentence(doc[position : position + 1])
        if len(following) <= 40 and _SOURCE.search(following.text):
            return True
        position = following.end
    return False


def negated(doc: Doc, span: Span) -> bool:
    """The match is negated: "not the best", "isn't guaranteed", "no miracle". A negation elsewhere in
    the sentence ("Be quick, only 2 remain") does not count."""
    start = sentence(span).start
    for token in reversed(doc[max(span.start - 3, start) : span.start]):
        if token.is_punct:
            break
        if token.lower_ in _NEGATIONS:
            return True
    root = span.root
    if _negation_on(root, span):
        return True
    # "It isn't the best", "it won't last forever": the negation sits on the copula or verb the match
    # complements or modifies.
    return root.dep_ in {"attr", "acomp", "oprd", "advmod", "npadvmod"} and _negation_on(root.head, span)


_NEGATION_REACH = 6


def _negation_on(head, span: Span) -> bool:
    """A negation ("not", "n't", "never") attached to `head`, outside the match (a "never" inside it
    is part of what it says). Negations stand next to their word, so only a few tokens either side
    are read: walking all the children of a long sentence's root, per match, would be quadratic."""
    doc = head.doc
    for token in doc[max(head.i - _NEGATION_REACH, 0) : head.i + _NEGATION_REACH + 1]:
        if token.dep_ == "neg" and token.head.i == head.i and not span.start <= token.i < span.end:
            return True
    return False


@per_sentence
def question(doc: Doc, span: Span) -> bool:
    """The match sits in a question ("Is it the best?")."""
    return sentence(span).text.rstrip().endswith("?")


def qualified_superlative(doc: Doc, span: Span) -> bool:
    """A superlative that is scoped, not absolute: "one of the best", "our best price", "at least"."""
    first = span[0]
    start = sentence(span).start
    previous = doc[max(first.i - 3, start) : first.i]
    words = [token.lower_ for token in previous]
    if any(word in _POSSESSIVES for word in words[-2:]):
        return True
    if len(words) >= 2 and words[-2] in _SUPERLATIVE_QUALIFIERS and words[-1] == "of":
        return True
    if words and words[-1] in {"at", "among"}:
        return True
    # a ranked place, not first: "the third-largest bakery", "the second biggest city"
    if any(word in _ORDINALS for word in words[-2:]):
        return True
    # "best before", "best regards", "best wishes", "best practice", "best-seller lists" are fixed phrases.
    following = doc[first.i + 1] if first.i + 1 < len(doc) else None
    return following is not None and following.lower_ in {
        "before",
        "regards",
        "wishes",
        "practice",
        "practices",
    }


@per_sentence
def second_person(doc: Doc, span: Span) -> bool:
    """The sentence addresses the reader ("you", "your")."""
    return any(token.lower_ in _SECOND_PERSON for token in sentence(span))


def role_mailbox(doc: Doc, span: Span) -> bool:
    """An email address of a team or function (info@, support@), not of a person."""
    local = span.text.split("@", 1)[0].lower()
    return local in _ROLE_MAILBOXES or local.split(".")[0] in _ROLE_MAILBOXES


def toll_free(doc: Doc, span: Span) -> bool:
    """A business hotline (0800, 1-800, 1300 …), not a person's number."""
    return bool(_TOLL_FREE.match(span.text))


def luhn_valid(doc: Doc, span: Span) -> bool:
    """The digits pass the Luhn checksum that every payment card number carries."""
    digits = [int(char) for char in span.text if char.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def iban_valid(doc: Doc, span: Span) -> bool:
    """The ISO 13616 mod-97 checksum holds."""
    compact = re.sub(r"\s+", "", span.text).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", compact):
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(char, 36)) for char in rearranged)
    return int(number) % 97 == 1


@per_sentence
def person_nearby(doc: Doc, span: Span) -> bool:
    """A person's name (PERSON entity) is in the same sentence."""
    here = sentence(span)
    return any(ent.label_ == "PERSON" for ent in doc.ents if here.start <= ent.start < here.end)


_OFFER_WORDS = frozenset(
    {"off", "save", "saving", "savings", "discount", "code", "coupon", "sale", "deal", "voucher"}
)
_PRICE_CUES = frozenset(
    {"only", "just", "from", "now", "was", "at", "per", "each", "price", "priced", "costs", "for"}
)


@per_sentence
def offer_context(doc: Doc, span: Span) -> bool:
    """The sentence is about a price or a deal ("only $19.99", "20% off", "save"): a shop's own terms."""
    for token in sentence(span):
        if token.lower_ in _OFFER_WORDS:
            return True
        if token.ent_type_ == "MONEY" and token.i > 0 and token.ent_iob_ == "B":
            previous = doc[token.i - 1]
            if previous.lower_ in _PRICE_CUES or (
                previous.text in {"$", "£", "€"} and token.i > 1 and doc[token.i - 2].lower_ in _PRICE_CUES
            ):
                return True
    return False


_DECLINE_WORDS = frozenset(
    {"no", "nope", "nah", "naw", "skip", "decline", "not", "maybe", "i", "i'm", "i'll", "i'd"}
)


def opt_out_label(doc: Doc, span: Span) -> bool:
    """The match reads as an opt-out label: it opens its sentence, or its sentence (or a short one just
    before it, as in "No thanks. I prefer …") opens with a decline word."""
    here = sentence(span)
    first = _first_word(here)
    if first is None:
        return False
    if first.i == span.start or first.lower_ in _DECLINE_WORDS:
        return True
    if here.start > 0 and doc.has_annotation("SENT_START"):
        previous = sentence(doc[here.start - 1 : here.start])
        opening = _first_word(previous)
        return len(previous) <= 5 and opening is not None and opening.lower_ in _DECLINE_WORDS
    return False


def _first_word(span: Span):
    for token in span:
        if not (token.is_punct or token.is_space):
            return token
    return None


_DATE_SHAPE = re.compile(
    r"^\s*(?:\d{1,4}[./-]\d{1,2}[./-]\d{1,4}|(?:19|20)\d{2}\s*[-\u2013]\s*(?:19|20)?\d{2})\s*$"
)


def phone_like(doc: Doc, span: Span) -> bool:
    """9 to 15 digits in the shape of a phone number, not a date range, price or plain big number."""
    text = span.text
    digits = sum(char.isdigit() for char in text)
    if not 9 <= digits <= 15 or _DATE_SHAPE.match(text):
        return False
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", text.strip()):
        return False
    before = doc[span.start - 1].text if span.start else ""
    return before not in {"$", "£", "€", "#"}


@per_sentence
def contact_details_nearby(doc: Doc, span: Span) -> bool:
    """The sentence also holds an email address or a long run of digits (a phone number)."""
    here = sentence(span)
    if any(token.like_email for token in here):
        return True
    return sum(char.isdigit() for char in here.text) >= 9


_GROUP_MODIFIERS_OK = frozenset({"all", "most", "many", "every", "these", "those", "real", "modern", "today"})


def generic_group(doc: Doc, span: Span) -> bool:
    """The group is spoken of as a whole ("Women love …", "All men need …"), not a particular set of
    people ("the women in our trial", "three men")."""
    for token in span:
        if token.dep_ not in {"nsubj", "nsubjpass"}:
            continue
        for child in token.children:
            if (
                child.dep_ in {"det", "poss", "nummod", "prep", "relcl", "acl", "compound"}
                and child.lower_ not in _GROUP_MODIFIERS_OK
            ):
                return False
        return True
    return False


_CHANGE_VERBS = frozenset(
    "increase decrease rise fall drop cut double triple halve grow decline reduce soar plummet raise lower "
    "lose gain create add spend save go pay cost owe borrow produce build send pass deliver sell serve "
    "help plant recycle invest donate hire employ train open launch win".split()
)


@per_sentence
def reports_fact(doc: Doc, span: Span) -> bool:
    """The sentence reports a past fact or a change ("we have planted 10,000 trees", "sales rose"),
    not a product specification ("comes in 3 colours") or a plan."""
    for token in sentence(span):
        if token.tag_ == "VBD":
            return True
        if token.tag_ == "VBN" and any(child.lemma_ == "have" for child in token.children):
            return True
        if token.pos_ == "VERB" and token.lemma_ in _CHANGE_VERBS:
            return True
    return False


_INTENT_LEMMAS = frozenset(
    {"want", "plan", "hope", "intend", "aim", "think", "guess", "believe", "expect", "wish"}
)
_INTENT_NOUNS = frozenset({"target", "goal", "expectation", "ambition", "aspiration", "plan", "proposal"})


@per_sentence
def intention_or_opinion(doc: Doc, span: Span) -> bool:
    """The sentence states a plan, target or opinion ("I want to give …", "our goal is 10%", "I think"),
    not a fact that has happened or a property the product has."""
    tokens = list(sentence(span))
    for index, token in enumerate(tokens):
        if token.lemma_ in _INTENT_LEMMAS and token.pos_ in {"VERB", "AUX"}:
            return True
        if token.lemma_ in _INTENT_NOUNS and token.pos_ == "NOUN":
            return True
        if token.lower_ == "going" and index + 1 < len(tokens) and tokens[index + 1].lower_ == "to":
            return True
    return False


def hyphenated(doc: Doc, span: Span) -> bool:
    """The match's last word runs on into a hyphenated compound: "2 left-hand gloves", "3 in-store"."""
    hyphens = ("-", "\u2010", "\u2011")
    return not doc[span.end - 1].whitespace_ and span.end + 1 < len(doc) and doc[span.end].text in hyphens


CONDITIONS: dict[str, Callable[[Doc, Span], bool]] = {
    "source_nearby": source_nearby,
    "negated": negated,
    "question": question,
    "qualified_superlative": qualified_superlative,
    "second_person": second_person,
    "role_mailbox": role_mailbox,
    "toll_free": toll_free,
    "luhn_valid": luhn_valid,
    "iban_valid": iban_valid,
    "person_nearby": person_nearby,
    "offer_context": offer_context,
    "opt_out_label": opt_out_label,
    "phone_like": phone_like,
    "contact_details_nearby": contact_details_nearby,
    "generic_group": generic_group,
    "reports_fact": reports_fact,
    "intention_or_opinion": intention_or_opinion,
    "hyphenated": hyphenated,
}
