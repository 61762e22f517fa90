"""Recognizers for the personal data Presidio's defaults miss, as Presidio `EntityRecognizer`s.

Each recognizer reads the text (and, where it helps, the spaCy Doc that the analyzer already made)
and returns `RecognizerResult`s with a score: 0.85 and above is a confident find, anything under
the masker's threshold (0.5) is dropped. Context decides most scores: a number is a phone number
because "call", "tel" or "Mobile:" stands near it, an id is an order number because "order no."
precedes it. The cue-word lists below are general language, not examples from any data set.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import phonenumbers
import tldextract
import yaml
from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

PERSON = "PERSON"
EMAIL = "EMAIL"
PHONE = "PHONE"
STREET_ADDRESS = "STREET_ADDRESS"
POSTCODE = "POSTCODE"
CREDIT_CARD = "CREDIT_CARD"
IBAN = "IBAN"
NATIONAL_ID = "NATIONAL_ID"
IP_ADDRESS = "IP_ADDRESS"
DATE_OF_BIRTH = "DATE_OF_BIRTH"
DATE = "DATE"
ACCOUNT_ID = "ACCOUNT_ID"

_WORDS_FILE = Path(__file__).with_name("data") / "words.yaml"


@cache
def _all_word_lists() -> dict[str, list[str]]:
    with _WORDS_FILE.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _word_list(name: str) -> frozenset[str]:
    return frozenset(_all_word_lists()[name])


CONFIDENT = 0.85
LIKELY = 0.7
WEAK = 0.3  # below the threshold: kept only if context lifts it


def _words(*phrases: str) -> str:
    """An alternation of phrases, longest first, with flexible inner whitespace."""
    ordered = sorted(phrases, key=len, reverse=True)
    return "|".join(r"\s+".join(re.escape(part) for part in phrase.split()) for phrase in ordered)


class RegexRecognizer(EntityRecognizer):
    """A recognizer over the raw text: subclasses yield (start, end, score) for one entity type."""

    ENTITY = ""

    def __init__(self) -> None:
        super().__init__(supported_entities=[self.ENTITY], name=type(self).__name__, supported_language="en")

    def load(self) -> None:  # nothing to load
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None):
        return [
            RecognizerResult(self.ENTITY, start, end, score)
            for start, end, score in self.find(text, nlp_artifacts)
            if end > start
        ]

    def find(self, text: str, nlp_artifacts: NlpArtifacts | None) -> Iterable[tuple[int, int, float]]:
        raise NotImplementedError


# --- E-mail ----------------------------------------------------------------------------------------

# Presidio's OfflineEmailRecognizer calls tldextract's module-level extractor, which downloads the public
# suffix list on first use. This one uses the snapshot shipped inside tldextract: never the network.
_OFFLINE_SUFFIXES = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)
_EMAIL = re.compile(
    r"(?<![\w.+-])[\w!#$%&'*+/=?^`{|}~-]+(?:\.[\w!#$%&'*+/=?^`{|}~-]+)*"
    r"@[^\W_](?:[\w-]*[^\W_])?(?:\.[^\W_](?:[\w-]*[^\W_])?)+"
)


# Mailboxes of a role, not of a person ("support@shop.com"): not personal data, left visible.
ROLE_MAILBOXES = _word_list("role_mailboxes")


class OfflineEmailRecognizer(RegexRecognizer):
    """E-mail addresses with a real top-level domain (checked offline), except role mailboxes."""

    ENTITY = EMAIL

    def find(self, text, nlp_artifacts):
        for match in _EMAIL.finditer(text):
            local = match.group().split("@", 1)[0].lower()
            if local in ROLE_MAILBOXES or not _OFFLINE_SUFFIXES(match.group()).suffix:
                continue
            yield match.start(), match.end(), CONFIDENT


# --- Payment cards, IBAN ---------------------------------------------------------------------------

_CARD = re.compile(r"(?<![\w.-])\d(?:[ -]?\d){11,18}(?![\w-])")


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


class LuhnCardRecognizer(RegexRecognizer):
    """12-19 digits, optionally grouped by spaces or dashes, passing the Luhn check."""

    ENTITY = CREDIT_CARD

    def find(self, text, nlp_artifacts):
        for match in _CARD.finditer(text):
            digits = re.sub(r"\D", "", match.group())
            if 12 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn_valid(digits):
                yield match.start(), match.end(), CONFIDENT


_IBAN = re.compile(r"(?<![\w])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![\w])")


def iban_valid(value: str) -> bool:
    compact = value.replace(" ", "")
    rearranged = compact[4:] + compact[:4]
    numeric = "".join(str(int(char, 36)) for char in rearranged)
    return int(numeric) % 97 == 1


class IbanChecksumRecognizer(RegexRecognizer):
    """IBANs of any country, validated by their mod-97 check digits."""

    ENTITY = IBAN

    def find(self, text, nlp_artifacts):
        for match in _IBAN.finditer(text):
            value = match.group().rstrip()
            if 15 <= len(value.replace(" ", "")) <= 34 and iban_valid(value):
                yield match.start(), match.start() + len(value), CONFIDENT


# --- Phone numbers ---------------------------------------------------------------------------------

_PHONE = re.compile(
    r"(?<![\w+/.,-])(?:\+|00)?\(?\d[\d ().\-/]{4,22}\d"
    r"(?:\s?(?:x|ext\.?|extension)\s?\d{1,6})?(?![\w/]|[.,-]\d)",
    re.IGNORECASE,
)
_PHONE_CUE_BEFORE = re.compile(
    r"(?:\b(?:"
    + _words(
        "call",
        "calling",
        "called",
        "phone",
        "phoned",
        "telephone",
        "tel",
        "mobile",
        "mob",
        "cell",
        "cellphone",
        "fax",
        "desk",
        "office",
        "landline",
        "whatsapp",
        "sms",
        "text",
        "text me",
        "texting",
        "dial",
        "ring",
        "hotline",
        "helpline",
        "number",
        "no",
        "messages to",
        "message me at",
        "reach me at",
        "reach us at",
        "answering at",
        "contact",
        "registered",
    )
    + r")\b\W{0,4}(?:\w+\W{1,3}){0,4}$)",
    re.IGNORECASE,
)
_PHONE_CUE_AFTER = re.compile(
    r"^\W{0,3}(?:\(?\b(?:office|fax|mobile|cell|home|work|phone|tel|landline|direct)\b)", re.IGNORECASE
)
_DATE_LIKE = re.compile(
    r"^(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?$"
)


_TOLL_FREE = re.compile(r"^(?:\+?1[ .-]?)?\(?8(?:00|33|44|55|66|77|88)\)?[ .-]?\d{3}[ .-]?\d{4}$|^0800|^0808")


def _phone_shaped(candidate: str) -> bool:
    """Grouping that people use for phone numbers, e.g. (555) 123-4567, 030 1234 5678, 0490-75-40-81."""
    groups = re.findall(r"\d+", candidate.split("x")[0].split("X")[0])
    return len(groups) >= 2 and all(len(group) <= 5 for group in groups[1:])


# Regions whose national numbers start with a trunk "0" and are written without a country code.
_NATIONAL_REGIONS = ("GB", "IE", "DE", "AT", "CH", "FR", "BE", "NL", "IT", "ES", "AU", "NZ")
_PERSONAL_LINES = frozenset(
    {
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        phonenumbers.PhoneNumberType.PERSONAL_NUMBER,
    }
)
# Freephone, premium, shared-cost and non-geographic lines (0800, 0870, 0345, 0180 …): a business's.
_BUSINESS_LINES = frozenset(
    {
        phonenumbers.PhoneNumberType.TOLL_FREE,
        phonenumbers.PhoneNumberType.PREMIUM_RATE,
        phonenumbers.PhoneNumberType.SHARED_COST,
        phonenumbers.PhoneNumberType.UAN,
    }
)
# Numbers that a shop writes after these words are codes of things, not phone numbers.
_NOT_PHONE_CUE_BEFORE = re.compile(
    r"\b(?:sku|ean|upc|gtin|isbn|barcode|item|art|article|model|part|serial|(?<!area\s)code|ref|batch|lot|qty|"
    r"quantity|pcs|units?|x)\b\W{0,4}(?:no\.?|nr\.?|number|#)?\W{0,3}$",
    re.IGNORECASE,
)


def _national_line(candidate: str) -> str | None:
    """What a national number ("07700 900123", "030 12345678", "0345 123 4567") is, as
    `phonenumbers` sees it: "personal" (a fixed or mobile line), "business" (only freephone,
    premium, shared-cost or non-geographic readings), "mixed" (both) or None (not valid, or not
    written the way people write their own numbers: a trunk 0 and 10 or 11 digits).

    The same digits can be valid in several regions ("030 …" is a Berlin line and a UK
    non-geographic one), so only the regions whose own grouping begins with the group as written
    have a say. A mobile reading in any of them makes it personal."""
    digits = re.sub(r"\D", "", candidate)
    if not (candidate.startswith("0") and not candidate.startswith("00") and 10 <= len(digits) <= 11):
        return None
    first_group = re.match(r"\d+", candidate).group()
    kinds = set()
    for region in _NATIONAL_REGIONS:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if not phonenumbers.is_valid_number(number):
            continue
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        if first_group != digits and re.match(r"\d+", national.lstrip("(")).group() != first_group:
            continue
        kinds.add(phonenumbers.number_type(number))
    personal, business = bool(kinds & _PERSONAL_LINES), bool(kinds & _BUSINESS_LINES)
    if phonenumbers.PhoneNumberType.MOBILE in kinds or (personal and not business):
        return "personal"
    if business:
        return "mixed" if personal else "business"
    return None


class ContextPhoneRecognizer(RegexRecognizer):
    """Phone numbers in national and international formats.

    A number with a country code that `phonenumbers` validates is a phone on its own. A national
    number (no country code) counts when a cue such as "call", "tel", "Mobile:" or a trailing
    "office" stands next to it; without a cue, a grouping that people use for phone numbers and at
    least 9 digits lifts it over the threshold, and so does a trunk-0 number of 10-11 digits that
    `phonenumbers` validates as a fixed or mobile line in a few regions ("07700 900123"). Freephone,
    premium and shared-cost lines ("0800 …", "0345 …") are a business's and stay visible, and so
    does a number after "SKU", "item no." or "code". Presidio's own
    phone recognizer scores every national number 0.4, under any sensible threshold.
    """

    ENTITY = PHONE

    def find(self, text, nlp_artifacts):
        dates = [(m.start(), m.end()) for m in _DATE.finditer(text)]
        for match in _PHONE.finditer(text):
            candidate = match.group()
            start, end = match.start(), match.end()
            if any(a < end and start < b for a, b in dates):
                continue
            if candidate.startswith("(") and ")" not in candidate:
                candidate, start = candidate[1:], start + 1
            digits = re.sub(r"\D", "", candidate.split("x")[0].split("X")[0])
            if not 7 <= len(digits) <= 15 or _DATE_LIKE.match(candidate.strip()):
                continue
            if re.fullmatch(r"\d{1,3}(?:\.\d{1,3}){3}", candidate):  # an IPv4 address
                continue
            line = _national_line(candidate)
            if _TOLL_FREE.match(candidate) or line == "business":
                continue  # a business line, not a person's number
            before = text[max(0, start - 60) : start]
            if _NOT_PHONE_CUE_BEFORE.search(before):
                continue  # "SKU 0123456789", "item no. …": a code, even after "no."
            after = text[end : end + 20]
            cued = bool(_PHONE_CUE_BEFORE.search(before) or _PHONE_CUE_AFTER.search(after))
            if candidate.startswith(("+", "00")) and _valid_international(candidate):
                score = CONFIDENT
            elif cued:
                score = CONFIDENT if _phone_shaped(candidate) or len(digits) >= 8 else LIKELY
            elif line == "mixed":
                score = WEAK  # a business's line in one reading: only a cue makes it a person's
            elif (_phone_shaped(candidate) and len(digits) >= 9) or line == "personal":
                score = 0.55
            else:
                score = WEAK
            yield start, end, score


def _valid_international(candidate: str) -> bool:
    raw = "+" + candidate[2:] if candidate.startswith("00") else candidate
    raw = re.split(r"\s?(?:x|ext)", raw, flags=re.IGNORECASE)[0]
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse(raw, None))
    except phonenumbers.NumberParseException:
        return False


# --- IP addresses ----------------------------------------------------------------------------------

_IPV4 = re.compile(r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\w.]\w)")
_IPV6 = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")


class IpAddressRecognizer(RegexRecognizer):
    ENTITY = IP_ADDRESS

    def find(self, text, nlp_artifacts):
        import ipaddress

        for pattern in (_IPV4, _IPV6):
            for match in pattern.finditer(text):
                try:
                    ipaddress.ip_address(match.group())
                except ValueError:
                    continue
                yield match.start(), match.end(), CONFIDENT


# --- National identifiers --------------------------------------------------------------------------

_SSN = re.compile(r"(?<![\w-])(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}(?![\w-])")
_NINO = re.compile(
    r"(?<![\w])(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
    r" ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![\w])"
)
_ID_CUE = re.compile(
    r"\b(?:"
    + _words(
        "ssn",
        "social security number",
        "social security no",
        "social security",
        "national insurance number",
        "national insurance no",
        "national insurance",
        "ni number",
        "nino",
        "driver's license",
        "drivers license",
        "driver license",
        "driver's licence",
        "driving licence",
        "driving license",
        "licence",
        "license",
        "passport",
        "national id",
        "id card",
        "identity card",
        "tax id",
        "tax number",
        "tin",
        "personal number",
        "personal identity number",
        "id number",
        "identification number",
        "bsn",
        "pesel",
        "personnummer",
        "aadhaar",
        "nif",
        "nie",
        "dni",
        "codice fiscale",
        "steuer-id",
    )
    + r")\b(?:\s+(?:number|no\.?|num|#))?\s*(?:is|was|:|#|=|-)?\s*(?:(?:my|his|her|the)\s+)?",
    re.IGNORECASE,
)
_ID_VALUE = re.compile(r"[A-Z0-9]*\d[A-Z0-9]*(?:[ -]\d[A-Z0-9]*)*(?![\w-])", re.IGNORECASE)


class NationalIdRecognizer(RegexRecognizer):
    """US SSNs and UK NINOs by format; any id-shaped value right after "SSN", "passport", "driver's
    license", "national insurance" and similar cues."""

    ENTITY = NATIONAL_ID

    def find(self, text, nlp_artifacts):
        for match in _SSN.finditer(text):
            yield match.start(), match.end(), LIKELY
        for match in _NINO.finditer(text):
            yield match.start(), match.end(), LIKELY
        for cue in _ID_CUE.finditer(text):
            value = _ID_VALUE.match(text, cue.end())
            if value and len(value.group()) >= 5 and sum(char.isdigit() for char in value.group()) >= 4:
                yield value.start(), value.end(), CONFIDENT


# --- Order, customer and loyalty numbers -----------------------------------------------------------

_ACCOUNT_CUE = re.compile(
    r"\b(?:"
    + _words(
        "order",
        "customer",
        "client",
        "loyalty",
        "loyalty card",
        "rewards",
        "reward card",
        "member",
        "membership",
        "account",
        "acct",
        "reference",
        "ref",
        "invoice",
        "booking",
        "reservation",
        "confirmation",
        "tracking",
        "ticket",
        "case",
        "policy",
        "subscriber",
        "subscription",
        "contract",
        "claim",
        "shipment",
        "parcel",
        "user id",
        "username",
    )
    + r")\b(?:\s+(?:number|no\.?|num|nr\.?|#|id|code))?\s*(?:is|was|:|#|=|-)?\s*",
    re.IGNORECASE,
)
_ACCOUNT_VALUE = re.compile(r"#?[A-Z0-9](?:[A-Z0-9]|[-/](?=[A-Z0-9])){3,29}(?![\w-])", re.IGNORECASE)


class AccountIdRecognizer(RegexRecognizer):
    """Order, customer, loyalty, booking and similar numbers, recognised by the cue before them."""

    ENTITY = ACCOUNT_ID

    def find(self, text, nlp_artifacts):
        for cue in _ACCOUNT_CUE.finditer(text):
            value = _ACCOUNT_VALUE.match(text, cue.end())
            if not value:
                continue
            token = value.group()
            digits = sum(char.isdigit() for char in token)
            if digits >= 5 or (digits >= 3 and len(token) >= 5 and re.search(r"[A-Za-z]", token)):
                yield value.start(), value.end(), CONFIDENT


# --- Dates -----------------------------------------------------------------------------------------

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_YEAR = r"(?:1[89]\d\d|20\d\d)"
_TIME = r"(?:[ T,]+(?:at\s+)?\d{1,2}:\d{2}(?::\d{2})?(?:\s?[ap]\.?m\.?)?)?"
_FULL_DATE = (
    r"(?:"
    rf"{_YEAR}[-/.](?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12]\d|3[01])"
    rf"|(?:0?[1-9]|[12]\d|3[01])[-/.](?:0?[1-9]|[12]\d|3[01])[-/.](?:{_YEAR}|\d\d)"
    rf"|{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}"
    rf"|{_MONTH}\s+{_DAY},?\s+{_YEAR}"
    r")"
) + _TIME
_DATE = re.compile(rf"(?<![\w/.-]){_FULL_DATE}(?![\w/-]|\.\d)", re.IGNORECASE)
_BIRTH_CUE = re.compile(
    r"\b(?:born|birth|birthday|birthdate|dob|d\.o\.b\.?|date of birth|b\.)\b", re.IGNORECASE
)
_BIRTH_DATE = re.compile(
    rf"(?<![\w/.-])(?:{_FULL_DATE}|{_MONTH}\s+{_YEAR}|{_DAY}\s+(?:of\s+)?{_MONTH}|{_MONTH}\s+{_DAY}|{_YEAR})"
    r"(?![\w/-]|\.\d)",
    re.IGNORECASE,
)


class DateOfBirthRecognizer(RegexRecognizer):
    """A date (or birth year, or day and month) within a few words after "born", "DOB", "birthday"."""

    ENTITY = DATE_OF_BIRTH

    def find(self, text, nlp_artifacts):
        for cue in _BIRTH_CUE.finditer(text):
            window_end = min(len(text), cue.end() + 50)
            date = _BIRTH_DATE.search(text, cue.end(), window_end)
            if date and not re.search(r"[.!?]\s", text[cue.end() : date.start()]):
                yield date.start(), date.end(), CONFIDENT


_YEAR_IN_CONTEXT = re.compile(
    rf"\b(?:in|of|since|during|from|until|till|by|circa|around|before|after|a|an|the|year)\s+({_YEAR})"
    r"(?![\w/%$€£:-]|[.,]\d|\s*(?:%|percent|people|customers|items|units|sold|left|reviews|orders))",
    re.IGNORECASE,
)


_WEEKDAY = (
    r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day|(?-i:Mon|Tue|Tues|Wed|Thu|Thur|Thurs|Fri|Sat|Sun)\.)"
)
# Words that make a date a shop's deadline or start ("Sale ends 31/12/2025", "valid until
# January 5, 2026", "launches 1 March 2026"): the reviewer must see those dates as written.
_DEADLINE_CUE = re.compile(
    r"\b(?:ends?|ending|ended|until|till|til|valid|expires?|expiring|expiry|expiration|by|from|before|"
    r"through|thru|to|starts?|starting|begins?|beginning|launch(?:es|ing)?|runs?|closes?|closing|"
    r"deadline|available|opens?|opening|releases?|released|ships?|shipping|delivery|dispatch(?:ed)?)"
    rf"\s*[:\u2013\u2014-]?\s*(?:(?:on|the|at|midnight|noon|end\s+of|{_WEEKDAY}),?\s+)*$",
    re.IGNORECASE,
)
# Words that make it a date in someone's life again ("she started on 3 May 2021", "my appointment
# runs until …", "born …").
_PERSONAL_CUE = re.compile(
    r"\b(?:i|me|my|mine|he|him|his|she|her|hers|they|them|their|born|birth|birthday|dob|"
    r"appointment|married|wedding|died|passed\s+away|hired|graduated|moved|lived|worked|employed)\b"
    r"|(?<![\w])(?:mr|mrs|ms|miss|mx|dr|prof)\.?\s",
    re.IGNORECASE,
)


def _shop_deadline(text: str, start: int, end: int) -> bool:
    """Whether the date text[start:end] is introduced by a deadline or start cue ("ends", "until",
    "valid", "from" …) and its sentence names no person or personal event."""
    before = re.split(r"[.!?](?:\s|$)|\n", text[max(0, start - 120) : start])[-1]
    if not _DEADLINE_CUE.search(before):
        return False
    after = re.split(r"[.!?](?:\s|$)|\n", text[end : end + 120])[0]
    sentence = f"{before} {after}"
    return not (_PERSONAL_CUE.search(sentence) or _PERSONAL_EVENT.search(sentence))


class CalendarDateRecognizer(RegexRecognizer):
    """Calendar dates with a year, timestamps, and years after "in", "since", "during", "a" …: the
    dates of events in a person's life (with a name nearby they identify the person).

    Relative and generic dates ("today", "ends Friday", "this weekend", "30 November") are not
    matched: they carry no personal data and the reviewer must see urgency wording as written. Nor
    are a shop's deadlines with a year ("Sale ends 31/12/2025", "valid until January 5, 2026")
    unless the sentence is about a person ("she worked there until 3 May 2021"); dates of birth
    are the DateOfBirthRecognizer's and stay masked whatever precedes them.
    """

    ENTITY = DATE

    def find(self, text, nlp_artifacts):
        for match in _DATE.finditer(text):
            if not _shop_deadline(text, match.start(), match.end()):
                yield match.start(), match.end(), LIKELY
        for match in _YEAR_IN_CONTEXT.finditer(text):
            if not _shop_deadline(text, match.start(1), match.end(1)):
                yield match.start(1), match.end(1), LIKELY


_DAYPART = r"(?:\s+(?:morning|afternoon|evening|night|noon|lunchtime))?"
_PERSONAL_WEEKDAY = re.compile(
    rf"\b(?:(?:on|next|this|last|coming|until|till|by|from)\s+)?(?:the\s+)?({_WEEKDAY}){_DAYPART}\b",
    re.IGNORECASE,
)
_EVENT_SUBJECT = (
    r"(?:\b(?:i|we|he|she|they)(?:['’](?:ll|d|m|re|ve|s))?"
    r"|(?<![\w.])(?:mr|mrs|ms|miss|mx|dr|prof)\.?\s+[^\W\d_][\w'’-]*)"
)
_EVENT_AUX = (
    r"(?:\s+(?:will|shall|would|can|could|must|should|am|are|is|was|were|have|has|had|be|been|"
    r"not|never|also|just|already|finally|then|only|usually|always|going\s+to|gonna|want\s+to|plan\s+to|"
    r"planning\s+to|hope\s+to|need\s+to|will\s+be|'ll\s+be|’ll\s+be))*"
)
_PERSONAL_EVENT = re.compile(
    rf"{_EVENT_SUBJECT}{_EVENT_AUX}\s+(?:{_words(*_word_list('personal_event_verbs'))})\b"
    # "our" is the shop's voice ("our birthday sale on Saturday"), not a person's.
    rf"|\b(?:my|his|her|their)\s+(?:\w+\s+)?(?:{_words(*_word_list('personal_event_nouns'))})\b",
    re.IGNORECASE,
)
# The clause ends at sentence punctuation, a line break or a new clause ("…, but the sale ends Friday").
_CLAUSE_BREAK = re.compile(
    r"[!?;\n]|\.(?:\s|$)|,\s*(?:but|and|while|so)\b|\b(?:sale|offer|deal|ends?|ending)\b", re.IGNORECASE
)


class PersonalEventDateRecognizer(RegexRecognizer):
    """A weekday that dates a person's own movements or appointments: "Ms. Ito flew to Oslo on
    Tuesday morning", "we could meet Thursday after work", "my appointment is on Friday". A person
    (a personal pronoun or a title with a name) and a verb of travel or meeting, or a possessive
    appointment noun, stand before it in the same clause.

    Weekdays in shop copy ("ends Friday", "order by Thursday", "arrives Monday") have no such
    person and event, and stay visible as SPEC §5 requires."""

    ENTITY = DATE

    def find(self, text, nlp_artifacts):
        for day in _PERSONAL_WEEKDAY.finditer(text):
            before = text[max(0, day.start() - 80) : day.start()]
            events = list(_PERSONAL_EVENT.finditer(before))
            if not events or _CLAUSE_BREAK.search(before[events[-1].end() :]):
                continue
            yield day.start(1), day.end(), LIKELY


# --- Postal addresses and postcodes ----------------------------------------------------------------

# Street types (USPS suffixes and their common abbreviations) and the endings street names take in
# other languages ("-gatan", "-vej", "-straße", "-kuja"...). General knowledge of addresses.
_STREET_TYPES = _word_list("street_types")
_STREET_ENDINGS = tuple(sorted(_word_list("street_endings")))
_UNIT = r"(?:apt|apartment|suite|ste|unit|flat|floor|fl|room|rm|box|p\.?\s?o\.?\s?box|bldg|building|#)"
_NUM = r"\d{1,6}[A-Za-z]?(?:[-/]\d{1,5}[A-Za-z]?)?"
_WORD = r"[^\W\d_][\w'’.-]*"
_STREET = re.compile(
    rf"(?<![\w.,/-])(?:(?:the\s+)?corner\s+of\s+)?(?P<num>{_NUM}(?:[ \t]+{_NUM})?)[ \t]+"
    rf"(?P<words>{_WORD}(?:[ \t]+{_WORD}){{0,5}})"
    rf"(?P<num2>[ \t]+{_NUM}(?![\w]))?",
    re.IGNORECASE,
)
_STREET_NAME_FIRST = re.compile(rf"(?<![\w.-])(?P<words>{_WORD})[ \t]+(?P<num>{_NUM})(?![\w])", re.IGNORECASE)
_MILITARY = re.compile(
    r"(?<![\w])(?:(?:PSC|CMR|Unit)\s+\d{3,5},?\s+Box\s+\d{3,5}|(?:USNS|USS|USCGC)\s+[A-Z][\w-]+)"
    r"(?=\s*\n\s*(?:APO|FPO|DPO)\b)",
    re.IGNORECASE,
)
_CORNER = re.compile(
    rf"(?:the\s+)?corner\s+of\s+[^\n!?]{{3,60}}?\s+and\s+(?:{_WORD}[ \t]+){{0,3}}{_WORD}(?:[ \t]+St\.)?",
    re.IGNORECASE,
)
_UNIT_AFTER = re.compile(rf"[.,]?[ \t]*(?:\n[^\w\n]*)?{_UNIT}\.?[ \t]*\d+[A-Za-z]?(?![\w])", re.IGNORECASE)
_UNIT_FIRST = re.compile(
    rf"(?<![\w])(?:{_UNIT})\.?[ \t]*\d+[A-Za-z]?(?:[ \t]+{_UNIT}\.?[ \t]*\d+)?(?![\w])", re.IGNORECASE
)
_ADDRESS_CUE = re.compile(
    r"\b(?:address(?:es)?|located\s+(?:at|on|in)|lives?\s+(?:at|on)|living\s+at|moved\s+to|"
    r"ship(?:ped|ping)?\s+(?:it\s+)?to|deliver(?:ed|y)?\s+(?:it\s+)?to|sen[dt]\s+(?:it\s+)?to|"
    r"mail(?:ed)?\s+(?:it\s+)?to|meet\s+(?:you\s+|me\s+|us\s+)?at|off\s+at|visit\s+(?:us|me)\s+at|"
    r"resid(?:e|es|ing|ence)|billing|shipping|postal|home|street|house|stay(?:ing)?\s+at)\b",
    re.IGNORECASE,
)
_NOT_POSTAL_ADDRESS = re.compile(r"\b(?:e-?mail|ip|web|mac|wallet|bitcoin)\s+address", re.IGNORECASE)
# Words that do not belong in an address line: English function words, minus the particles that
# street and place names use ("de", "la", "del", "van"...).
_PLACE_PARTICLES = _word_list("place_particles")
_LABEL_LINE = re.compile(r"^[^\w\n]*[^\W\d_][\w'-]*(?:[ -][\w'-]+){0,2}:")
_POSTCODE_SHAPE = (
    r"(?:\d{5}(?:-\d{4})?|\d{4}(?:-\d{3}|\s?[A-Z]{2})?|\d{3}\s\d{2}|\d{2}-\d{3}"
    r"|[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}|[A-Z]\d[A-Z]\s?\d[A-Z]\d)"
)


# Counted things that follow numbers in shop copy: "12 HRS 40 MINS", "15 OFF 60".
_NOT_STREET_WORDS = _word_list("not_street_words")


def _is_stopword(word: str) -> bool:
    from spacy.lang.en.stop_words import STOP_WORDS

    lowered = word.lower().strip(".,'’")
    if word.isupper() and 2 <= len(word) <= 3:  # region codes: ON, IN, OR, ME
        return False
    return lowered in STOP_WORDS and lowered not in _PLACE_PARTICLES and lowered not in _STREET_TYPES


def _street_word(word: str) -> bool:
    lowered = word.lower().rstrip(".,")
    return lowered in _STREET_TYPES or lowered.endswith(_STREET_ENDINGS)


def _trim_words(words: str) -> str:
    """The leading run of words before the first English function word."""
    kept = []
    for match in re.finditer(r"\S+", words):
        if _is_stopword(match.group()):
            break
        kept.append(match)
    return words[: kept[-1].end()] if kept else ""


_CONT_TOKEN = re.compile(rf"(?:{_WORD}|\(\s*{_WORD}(?:\s+{_WORD})*\s*\)|{_NUM}|\d[\dA-Z]{{1,5}}|,)")


def _continuation_tokens(line: str) -> int:
    """Length of the address-like prefix of a line: place names, region codes, postcodes."""
    end = 0
    for match in re.finditer(r"[^\s,]+|,", line):
        piece = match.group()
        bare = piece.rstrip(".?!")
        if piece == ",":
            end = match.end()
            continue
        if _is_stopword(bare) or not _CONT_TOKEN.fullmatch(bare):
            break
        # Place names, codes and particles; lower-case words only in all-lower-case addresses.
        if not (bare[0].isupper() or bare[0].isdigit() or bare.lower() in _PLACE_PARTICLES or bare.isalpha()):
            break
        end = match.end()
        if piece.endswith(".") and not re.fullmatch(r"[A-Za-z]{1,4}\.", piece):
            break
    return end


def _extend_address(text: str, end: int) -> int:
    """Follow an address across the same line (", CITY 12345") and the lines under it."""
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    rest = text[end:line_end]
    same_line = re.match(r"[ \t]*,?[ \t]*", rest)
    prefix = same_line.end()
    if prefix and rest[prefix : prefix + 1] not in ("", "."):
        length = _continuation_tokens(rest[prefix:])
        if length:
            end += prefix + length
            if text[end : end + 1] not in ("\n", ""):
                return end
    for _ in range(6):
        nxt = re.match(r"[ \t]*,?[ \t]*\n(?:[ \t]*\n)?[^\w\n(]*", text[end:])
        if not nxt:
            break
        start = end + nxt.end()
        line_end = text.find("\n", start)
        line_end = len(text) if line_end < 0 else line_end
        line = text[start:line_end]
        if not line.strip() or _LABEL_LINE.match(line):
            break
        length = _continuation_tokens(line[:60])
        whole_line = len(line) <= 60 and not line[length:].strip(" \t.,?!")
        ends_with_code = re.search(rf"{_POSTCODE_SHAPE}$", line[:length].rstrip(" ,.")) is not None
        if nxt.group().count("\n") > 1 and not ends_with_code:
            break  # past a blank line only the last line of an address: "Spain 28001"
        if not length or not (whole_line or ends_with_code):
            break
        end = start + length
        if not whole_line:
            break
    return end


_STREET_ABBREVIATION = re.compile(r"[A-Z][a-z]{0,2}[./]$")
# A street without a number after a preposition of place: "shows on Halden Bridge Street".
_NAMED_STREET = re.compile(
    r"\b(?:on|in|at|along|off|near|down|up)\s+(?P<street>(?:[A-Z][\w'’-]+\s+){1,3}"
    r"(?:Street|Road|Avenue|Lane|Boulevard|Drive|Terrace|Crescent))\b(?![ \t]+[A-Z]|['’-])",
)


def _street_name_before(text: str, start: int) -> int:
    """Start of the capitalised street name that ends right before `start` ("Via Roma", "C/ Mayor")."""
    for word in reversed(list(re.finditer(r"\S+", text[max(0, start - 50) : start]))):
        value = word.group()
        if "\n" in text[max(0, start - 50) + word.end() : start]:
            break
        capitalised = value[0].isupper() or not value[0].isascii()
        if not (_STREET_ABBREVIATION.match(value) or (capitalised and re.fullmatch(_WORD, value))):
            break
        if _is_stopword(value):
            break
        start = max(0, start - 50) + word.start()
    return start


class StreetAddressRecognizer(RegexRecognizer):
    """Postal addresses in the formats of many countries: "12 High Street", "Rantatie 14 Apt. 5",
    "Rue de la Paix 3", "PO Box 120", with the lines that follow (town, region, postcode, country).

    A house number followed by words is an address only with evidence: a street type or ending
    ("Road", "-gatan", "-straße"), a second number ("410 Ranna 27"), a unit ("Apt. 5"), or an address
    cue before it ("ship to", "located at", "address:"). "20 songs" or "3 days left" have none.
    """

    ENTITY = STREET_ADDRESS

    def find(self, text, nlp_artifacts):
        found = []
        for match in _STREET.finditer(text):
            words = _trim_words(match.group("words"))
            if not words or _DATE.match(text, match.start()):  # "1 March 2026" is a date
                continue
            words_end = match.start("words") + len(words)
            end = words_end
            second_number = False
            if words == match.group("words") and match.group("num2"):
                counted = re.match(r"[ \t]+([^\W\d_]+)", text[match.end("num2") :])
                # "… Wrap Skirt 9 minutes ago", "IN THE LAST 48 HOURS": a count, not a house number.
                if not (counted and counted.group(1).lower() in _NOT_STREET_WORDS):
                    end, second_number = match.end("num2"), True
            unit = _UNIT_AFTER.match(text, end)
            if unit:
                end = unit.end()
            before = text[max(0, match.start() - 60) : match.start()]
            cue = bool(_ADDRESS_CUE.search(before)) and not _NOT_POSTAL_ADDRESS.search(before)
            if any(word.lower().strip(".") in _NOT_STREET_WORDS for word in words.split()):
                continue
            street = any(_street_word(word) for word in words.split())
            capitalised = all(w[0].isupper() or not w[0].isascii() for w in words.split())
            if not (street or second_number or unit or (cue and capitalised)):
                continue
            if not (street or second_number or unit) and re.fullmatch(r"\d{1,2}", match.group("num")):
                continue  # "at 5 Guys" – a bare small number with a cue is too weak
            start = match.start()
            if words.islower() and all(_street_word(word) for word in words.split()):
                # "a flat on Via Roma 18 street": the name stands before the number.
                start = _street_name_before(text, start)
            found.append((start, _extend_address(text, end), CONFIDENT))
        for match in _NAMED_STREET.finditer(text):
            found.append((match.start("street"), match.end("street"), LIKELY))
        for match in _STREET_NAME_FIRST.finditer(text):
            if not _street_word(match.group("words")):
                continue
            start = match.start()
            for word in reversed(list(re.finditer(rf"({_WORD})[ \t]+$", text[max(0, start - 40) : start]))):
                if _is_stopword(word.group(1)) or not (
                    word.group(1)[0].isupper() or not word.group(1).isascii()
                ):
                    break
                start = max(0, start - 40) + word.start()
            end = match.end()
            unit = _UNIT_AFTER.match(text, end)
            if unit:
                end = unit.end()
            found.append((start, _extend_address(text, end), CONFIDENT))
        for pattern in (_MILITARY, _CORNER):
            for match in pattern.finditer(text):
                found.append((match.start(), _extend_address(text, match.end()), CONFIDENT))
        for match in _UNIT_FIRST.finditer(text):
            before = text[max(0, match.start() - 2) : match.start()]
            if match.start() == 0 or "\n" in before or re.search(r"po|box", match.group(), re.IGNORECASE):
                found.append((match.start(), _extend_address(text, match.end()), LIKELY))
        found.extend(_labelled_addresses(text))
        return found


_ADDRESS_LABEL = re.compile(
    r"(?<![\w-])(?:address(?:\s+is|:)|addressed\s+to:?)[ \t]*(?:\n[ \t>]*)?", re.IGNORECASE
)


def _labelled_addresses(text: str) -> Iterable[tuple[int, int, float]]:
    """The value after "Address:" or "my address is": one line, plus the address lines under it."""
    for label in _ADDRESS_LABEL.finditer(text):
        if _NOT_POSTAL_ADDRESS.search(text[max(0, label.start() - 12) : label.end()]):
            continue
        start = label.end()
        line_end = text.find("\n", start)
        line_end = len(text) if line_end < 0 else line_end
        line = text[start:line_end]
        value = re.match(r"[^.!?]*", line).group().rstrip(" ,")
        if not re.search(r"\d", value) and not re.search(r"\b[A-Z]", value):
            continue
        if len(value) < 4 or "@" in value:
            continue
        yield start, _extend_address(text, start + len(value)), LIKELY


_POSTCODE_CUE = re.compile(
    r"\b(?:zip\s*code|zipcode|zip|post\s*code|postcode|postal\s+code|plz|cep|pin\s*code|eircode)\b"
    r"(?:\s+is)?\s*[:#]?\s*",
    re.IGNORECASE,
)
_POSTCODE_VALUE = re.compile(r"[A-Z0-9]{2,5}(?:[ -][A-Z0-9]{2,4})?(?![\w-])", re.IGNORECASE)
_UK_POSTCODE = re.compile(r"(?<![\w-])[A-Z]{1,2}\d[A-Z\d]?\s?\d[ABD-HJLNP-UW-Z]{2}(?![\w-])")
_CA_POSTCODE = re.compile(
    r"(?<![\w-])[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z]\s?\d[ABCEGHJ-NPRSTV-Z]\d(?![\w-])"
)
_PLACE_THEN_CODE = re.compile(
    rf"\b(?:in|at|near|from|to)\s+(?P<place>{_WORD}(?:\s+{_WORD}){{0,3}})\s+"
    r"(?P<code>\d{4,5}|\d{3}\s\d{2}|\d{2}-\d{3}|\d{4}-\d{3}|\d{4}\s?[A-Z]{2})(?![\w%$€£-]|[.,]\d)"
)
_SEASONS_AND_MONTHS = re.compile(
    rf"^(?:{_MONTH}|spring|summer|autumn|fall|winter|christmas|easter|class|version|model|series|size)$",
    re.IGNORECASE,
)


class PostcodeRecognizer(RegexRecognizer):
    """Postcodes: after "ZIP"/"postcode" cues, in the distinctive UK and Canadian formats, and after a
    place name ("in Aarhus 8000"). Postcodes inside a street address are covered by that address."""

    ENTITY = POSTCODE

    def find(self, text, nlp_artifacts):
        for cue in _POSTCODE_CUE.finditer(text):
            value = _POSTCODE_VALUE.match(text, cue.end())
            if value and re.search(r"\d", value.group()):
                yield value.start(), value.end(), CONFIDENT
        for pattern in (_UK_POSTCODE, _CA_POSTCODE):
            for match in pattern.finditer(text):
                yield match.start(), match.end(), LIKELY
        for match in _PLACE_THEN_CODE.finditer(text):
            place = match.group("place").split()
            if any(_is_stopword(word) for word in place) or _SEASONS_AND_MONTHS.match(place[-1]):
                continue
            yield match.start("code"), match.end("code"), LIKELY


# --- Names -----------------------------------------------------------------------------------------

# Words that start sentences, shout in ads or name days and months: never a name on their own.
NOT_NAMES = _word_list("not_names")
_TITLE = re.compile(
    r"(?<![\w])(?:mr|mrs|ms|miss|mx|dr|prof|sir|dame|madam|mme|mlle|herr|frau|sr|sra|srta|sig|sig\.ra)"
    r"(?:\.|(?=\s))\s*",
    re.IGNORECASE,
)
_NAME_CUE = re.compile(
    r"(?<![\w])(?:my\s+name\s+is|name\s+is|names?\s*:|full\s+name\s*:|named|called|call\s+me|"
    r"i\s+am\s+called|dear|signed|(?:regards|sincerely|best|thanks|cheers),?(?=\s*\n)|"
    r"user\s*:|customer\s*:|client\s*:|patient\s*:|from\s*:|to\s*:|contact\s*:|attn\.?:?|c/o|"
    r"beneficiary|on\s+behalf\s+of|account\s+holder|cardholder|card\s+holder|"
    # The answer to a question for the name: "Could you give me your surname? Okafor".
    r"(?:your|the|his|her)\s+(?:(?:first|last|full|family|given|middle)\s+)?(?:name|surname)\s*\?)\s*",
    re.IGNORECASE,
)
_WEAK_NAME_CUE = re.compile(
    r"(?<![\w])(?:hi|hello|hey|thanks|thank\s+you|contact|ask\s+for|speak\s+(?:to|with)|talk\s+to|"
    r"this\s+is|i\s+am|i'm|under|with|by|to|and|is|was|from|for|about|meet|tell|told|asked|gave|"
    r"let|shouted\s+at|said\s+to|married|met|love|loves|visit|visited|wife|husband|son|daughter|"
    r"mother|father|brother|sister|friend|colleague|boss|grandmother|grandfather)\s+",
    re.IGNORECASE,
)
_NAME_TOKEN = re.compile(r"[^\W\d_](?:[^\W\d_]|['’-](?=[^\W\d_]))*\.?")
_INITIAL = re.compile(r"[A-Z]\.?")
_SUFFIX = re.compile(r"(?:jr|sr|ii|iii|iv)\.?", re.IGNORECASE)


def _name_tokens(text: str, start: int, *, lowercase_ok: bool, max_tokens: int = 4) -> int:
    """End of a run of name-like words starting at `start` (or `start` if there is none)."""
    end, count = start, 0  # count: name words taken so far (not every word seen)
    for match in re.finditer(r"\S+", text[start:]):
        if count and text[start + match.start() - 1 : start + match.start()] == "\n":
            break
        word = match.group()
        core = word.rstrip(",;:!?)\"'”")
        if re.search(r"['’](?:ll|d|re|ve|m|t)$", core, re.IGNORECASE) or core in ("I", "i"):
            break
        if core.endswith("'s") or core.endswith("’s"):
            core = core[:-2]
        bare = core.rstrip(".")
        if not _NAME_TOKEN.fullmatch(core) and not (count and _INITIAL.fullmatch(core)):
            break
        lowered = bare.lower()
        # "Will Turner", "May Chen": a capitalised stop word starts a name when a name follows.
        followed_by_name = bool(re.match(r"\s+[A-Z][^\W\d_]+", text[start + match.end() :]))
        capitalised_stopword = count == 0 and bare[:1].isupper() and _is_stopword(bare) and followed_by_name
        month_name = lowered in ("may", "june", "april", "august")
        if (lowered in NOT_NAMES and not (month_name and count == 0 and followed_by_name)) or (
            _is_stopword(bare) and not capitalised_stopword and not (count and _INITIAL.fullmatch(core))
        ):
            break
        if count and _SUFFIX.fullmatch(core):
            end = start + match.start() + len(core)
            break
        if not bare[:1].isupper() and not lowercase_ok:
            break
        if bare.isupper() and len(bare) > 1 and not lowercase_ok and count == 0 and len(bare) < 3:
            break
        end = start + match.start() + len(bare)
        count += 1  # noqa: SIM113 (counts accepted words only)
        if core != word or count >= max_tokens:
            break
    return end


_POST_NOMINAL = re.compile(r",?\s+(?:jr|sr|ii|iii|iv|dds|md|phd|esq|dvm|rn|cpa)\.?(?![\w])", re.IGNORECASE)


def _suffix_end(text: str, end: int) -> int:
    suffix = _POST_NOMINAL.match(text, end)
    return suffix.end() if suffix else end


class NameInContextRecognizer(RegexRecognizer):
    """Names the NER model misses because they are lower-case, foreign or alone: after a title
    ("Mr. …", "ms. …", which joins the name's placeholder) and after a cue ("my name is …",
    "Dear …", "Name: …", "called …"). Marketing words and day/month names are never names."""

    ENTITY = PERSON

    def find(self, text, nlp_artifacts):
        for match in _TITLE.finditer(text):
            # "mr. abernathy" (all lower case) or "Mr Ahmed Al-Farsi arrived" (capitals decide).
            end = _name_tokens(
                text, match.end(), lowercase_ok=not text[match.end() : match.end() + 1].isupper()
            )
            if end > match.end():
                # The title goes with the name: "Mrs. Ana Kovač" is one placeholder.
                yield match.start(), _suffix_end(text, end), CONFIDENT
        for match in _NAME_CUE.finditer(text):
            end = _name_tokens(text, match.end(), lowercase_ok=True)
            if end > match.end():
                yield match.end(), _suffix_end(text, end), CONFIDENT


_LIST_NAME = r"[^\W\d_][\w'’-]*(?:[ \t]+[^\W\d_][\w'’-]*)?"
# At most a dozen names before the "and": a list of people is short, and an open-ended repetition
# would rescan a long comma list from every word (quadratic time).
_NAME_LIST = (
    rf"(?P<list>{_LIST_NAME}(?:[ \t]*,[ \t]*{_LIST_NAME}){{0,12}},?[ \t]+(?:and|&)[ \t]+{_LIST_NAME})"
)
_ROLE = rf"(?:{_words(*_word_list('person_role_nouns'))})"
_ROLE_BEFORE_LIST = re.compile(
    rf"\b{_ROLE}(?:[ \t]*[:,\u2013\u2014-]|[ \t]+(?:are|were|was|is|include|included|including|namely))"
    rf"[ \t]*{_NAME_LIST}(?![\w'’-])",
    re.IGNORECASE,
)
_ROLE_AFTER_LIST = re.compile(
    rf"(?<![\w'’-]){_NAME_LIST}[ \t]+(?:are|were|became|have\s+been|had\s+been|remain|remained)"
    rf"[ \t]+(?:[\w-]+[ \t]+){{0,3}}?{_ROLE}\b",
    re.IGNORECASE,
)


class PeopleListRecognizer(RegexRecognizer):
    """Lists of capitalised words that a role noun says are people: "the founders: Okafor, Lindqvist
    and Brandt", "Hale and Baker were session musicians". The names may be English words too
    ("Baker", "Mason"); the role noun is the evidence. Lists of things ("Ingredients: Salt, Sugar and
    Flour", "Black and White were bestsellers") have no role noun for people."""

    ENTITY = PERSON

    def find(self, text, nlp_artifacts):
        for pattern in (_ROLE_BEFORE_LIST, _ROLE_AFTER_LIST):
            for match in pattern.finditer(text):
                members = _list_members(match.group("list"))
                if all(_list_member(value) for _, _, value in members):
                    offset = match.start("list")
                    for start, end, _ in members:
                        yield offset + start, offset + end, CONFIDENT


_LIST_SEPARATOR = re.compile(r"[ \t]*,[ \t]*(?:(?:and|&)[ \t]+)?|[ \t]+(?:and|&)[ \t]+", re.IGNORECASE)


def _list_members(value: str) -> list[tuple[int, int, str]]:
    members, position = [], 0
    for separator in _LIST_SEPARATOR.finditer(value):
        members.append((position, separator.start(), value[position : separator.start()]))
        position = separator.end()
    members.append((position, len(value), value[position:]))
    return members


def _list_member(value: str) -> bool:
    words = value.split()
    return all(
        word[0].isupper()
        and not (word.isupper() and len(word) > 1)
        and word.lower() not in NOT_NAMES
        and not _is_stopword(word)
        for word in words
    )


class Lexicon:
    """What the name recognizers know about words: English dictionary words (WordNet's index, as
    shipped in the spaCy pipeline's lemmatizer tables, plus stop words) and given names of many
    countries (the name dictionary that gender-guesser ships)."""

    def __init__(self, english_words: frozenset[str], first_names: frozenset[str]):
        self.english_words = english_words
        self.first_names = first_names

    @classmethod
    def for_pipeline(cls, nlp) -> Lexicon:
        from spacy.lang.en.stop_words import STOP_WORDS

        words = set(STOP_WORDS)
        if "lemmatizer" in nlp.pipe_names:
            lookups = getattr(nlp.get_pipe("lemmatizer"), "lookups", None)
            if lookups is not None and lookups.has_table("lemma_index"):
                for entries in lookups.get_table("lemma_index").values():
                    words.update(word for word in entries if "_" not in word)
        return cls(frozenset(words), _first_names())

    def is_word(self, token) -> bool:
        lowered = token.lower_
        words = self.english_words
        return (
            lowered in words
            or token.lemma_.lower() in words
            or lowered in NOT_NAMES
            or (lowered.endswith("s") and (lowered[:-1] in words or lowered[:-2] in words))
            or (lowered.endswith("ies") and lowered[:-3] + "y" in words)
            or (lowered.endswith("ed") and lowered[:-2] in words)
            or (lowered.endswith("ing") and lowered[:-3] in words)
        )


# Greetings that the name dictionary also lists as given names: "Hi John Smith" starts with a greeting.
_GREETINGS = frozenset({"hi", "hey", "yo", "hiya", "hello", "howdy"})


def _first_names() -> frozenset[str]:
    from gender_guesser.detector import Detector

    names = Detector(case_sensitive=False).names
    return frozenset(name for name in names if len(name) > 1 and name not in _GREETINGS)


# spaCy's small model often calls foreign names ORG, so only places and groups block a name.
_NOT_PERSON_ENTS = frozenset({"GPE", "LOC", "FAC", "NORP", "LANGUAGE"})
_PRODUCT_DESCRIPTORS = _word_list("product_descriptors")
_PRODUCT_VERBS = _word_list("product_verbs")
_PERSON_CUES_BEFORE = _word_list("person_cues_before")
_PERSONAL_PRONOUNS = frozenset({"he", "she", "him", "her", "his", "hers", "himself", "herself"})


@cache
def _country_names() -> frozenset[str]:
    """English names of the world's countries and territories, lower case ("france", "jordan"),
    from the region names that `phonenumbers` ships."""
    from phonenumbers import SUPPORTED_REGIONS
    from phonenumbers.geocoder import LOCALE_DATA

    names = set()
    for region in SUPPORTED_REGIONS:
        names_by_language = LOCALE_DATA.get(region, {})
        name = names_by_language.get("en", "")
        while name.startswith("*"):  # "*aa": the same name as for that language
            name = names_by_language.get(name[1:], "")
        if name:
            names.add(name.lower())
    return frozenset(names)


_PURCHASE = re.compile(
    r"\b(?:purchased|bought|ordered|booked|subscribed|signed\s+up|joined|added|reviewed|is\s+viewing|"
    r"just\s+\w+)",
    re.IGNORECASE,
)


_NAME_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


class NameRecognizer(EntityRecognizer):
    """Names by their shape, on the spaCy Doc: a known given name with what follows it (initials,
    surnames), two or more capitalised words that are not English words ("Zsófia Kertész"), and
    names listed beside one ("Okafor, Lindqvist and Brandt").

    A given name that is also an English word ("Will", "Hope", "Summer") counts only when a
    surname-like word follows. A first name alone as the subject of a shop's purchase notification
    ("Priya in Leeds bought …") is the stock social-proof widget: pseudonymous, and the
    flagging engine shows it to the reviewer as manipulation, so it is not masked.
    """

    def __init__(self, lexicon: Lexicon, *, name: str = "NameRecognizer"):
        super().__init__(supported_entities=[PERSON], name=name, supported_language="en")
        self.lexicon = lexicon

    def load(self) -> None:
        pass

    def _capitalised(self, token) -> bool:
        text = token.text
        return (
            text[:1].isupper() and not (text.isupper() and len(text) > 1) and bool(_NAME_WORD.fullmatch(text))
        )

    def _initial(self, token) -> bool:
        return len(token.text.rstrip(".")) == 1 and token.text[0].isupper()

    def _surname_like(self, token) -> bool:
        return self._capitalised(token) and not self.lexicon.is_word(token) and len(token.text) > 1

    def _given(self, token) -> bool:
        return self._capitalised(token) and token.lower_ in self.lexicon.first_names and not token.is_stop

    def _blocked(self, token) -> bool:
        return token.ent_type_ in _NOT_PERSON_ENTS

    def _not_a_person(self, doc, start: int, end: int) -> bool:
        """Spans the name shapes take that name a place or a product: a country standing alone
        ("made in (France)") unless the model calls it a person or a word before it speaks to or
        of a person ("spoke with Jordan", "Dear Georgia"), or a given name that is also an English
        word followed only by English words that name a shade or a product ("Rose Quartz face
        roller", "Ruby Red") where no word before it speaks to or of a person ("Thanks Ruby Red").

        A product phrase needs a lower-case noun after it ("… face roller") or a colour, gem or
        material as its last word. A title before it makes it a person again, and so does, for a
        colour, a verb after it that products do not do ("Pearl White starred …") or any verb in a
        sentence that speaks of him or her ("Ruby Red is … she"). "Rose Tyler called" and "Ruby
        Patel" (no English word) stay names."""
        tokens = [t for t in doc[start:end] if not t.is_punct]
        if not tokens:
            return False
        if " ".join(t.lower_ for t in tokens) in _country_names():
            previous = doc[start - 1].lower_ if start > 0 else ""
            return previous not in _PERSON_CUES_BEFORE and any(t.ent_type_ != "PERSON" for t in tokens)
        first, rest = tokens[0], tokens[1:]
        # The dictionary has names too ("david", "maria", "smith"): only a given name that is itself
        # a colour, gem or material ("Rose", "Ruby", "Pearl") can start a shade's name.
        if not rest or not (self._given(first) and first.lower_ in _PRODUCT_DESCRIPTORS):
            return False
        if any(not self.lexicon.is_word(t) or self._initial(t) for t in rest):
            return False
        if start > 0 and (
            _TITLE.fullmatch(doc[start - 1].text + " ") or doc[start - 1].lower_ in _PERSON_CUES_BEFORE
        ):
            return False
        after = doc[end] if end < len(doc) else None
        if after is not None and after.is_lower and after.is_alpha and after.pos_ == "NOUN":
            return True  # "… face roller", "… lipstick"
        if tokens[-1].lower_ not in _PRODUCT_DESCRIPTORS:
            return False
        if after is None:
            return True  # "… in Ruby Red" at the end of the text
        if after.pos_ == "VERB" and after.lemma_.lower() not in _PRODUCT_VERBS:
            return False
        sentence_start, sentence_end = _sentence_bounds(doc, start)
        nearby = doc[max(sentence_start, start - 20) : min(sentence_end, end + 20)]
        speaks_of_a_person = after.pos_ in ("VERB", "AUX") and any(
            t.lower_ in _PERSONAL_PRONOUNS for t in nearby
        )
        return not speaks_of_a_person

    def analyze(self, text, entities, nlp_artifacts):
        doc = nlp_artifacts.tokens
        spans: list[tuple[int, int]] = []
        i = 0
        while i < len(doc):
            token = doc[i]
            end = i
            if self._given(token) and not self._place(doc, token):
                # The small model often calls a given name a place; the name list wins unless the
                # context says place ("in New Hartley", "from Westbrook").
                running_text = not _in_heading(doc, doc[i : i + 1])
                ambiguous = self.lexicon.is_word(token)
                end = self._extend(doc, i + 1, running_text=running_text and not ambiguous)
                if (
                    end == i + 1
                    and ambiguous
                    and not (
                        running_text
                        and token.pos_ == "PROPN"
                        and not _starts_sentence(token)
                        and not (i + 1 < len(doc) and doc[i + 1].text[:1].isupper())
                        and not (i > 0 and doc[i - 1].text[:1].isupper())
                    )
                ):
                    end = i  # an English word that is also a given name, alone: "Hope", "Will"
            elif self._surname_like(token) and not self._blocked(token):
                run = self._extend(doc, i + 1)
                if run - i >= 2 and any(self._surname_like(doc[k]) for k in range(i + 1, run)):
                    end = run
            elif self._lowercase_given(token):
                end = i + 1
                while end < len(doc) and end - i < 3 and self._lowercase_surname(doc[end]):
                    end += 1
            if end > i:
                spans.append((i, end))
                i = end
            else:
                i += 1
        spans += self._listed_beside(doc, spans)
        results = []
        for start, end in spans:
            if self._purchase_notification(doc, start, end) or self._thing_bought(doc, start):
                continue
            if self._not_a_person(doc, start, end):
                continue
            results.append(
                RecognizerResult(PERSON, doc[start].idx, doc[end - 1].idx + len(doc[end - 1]), CONFIDENT)
            )
        return results

    def _after_place_preposition(self, doc, token) -> bool:
        ent = next((e for e in doc.ents if e.start <= token.i < e.end), None)
        first = ent.start if ent is not None else token.i
        before = doc[first - 1].lower_ if first else ""
        return before in ("in", "from", "at", "near", "to", ",", "around", "across", "visit", "visiting")

    def _place(self, doc, token) -> bool:
        """A given name inside a place the model found: "New Hartley", "San Diego", "in Savannah"."""
        if token.ent_type_ not in _NOT_PERSON_ENTS:
            return False
        ent = next((e for e in doc.ents if e.start <= token.i < e.end), None)
        if ent is None:
            return False
        if ent[0].lower_ in _PLACE_PREFIXES and ent[0].i != token.i:
            return True
        return self._after_place_preposition(doc, token)

    def _lowercase_given(self, token) -> bool:
        """A given name written in lower case ("wendeline"), in text written in lower case: only names
        that are no English word. In normally capitalised text ("San jose") it is not a name."""
        return (
            token.is_lower
            and token.is_alpha
            and len(token) >= 4
            and token.lower_ in self.lexicon.first_names
            and not self.lexicon.is_word(token)
            and _lowercase_line(token)
        )

    def _lowercase_surname(self, token) -> bool:
        return token.is_lower and token.is_alpha and len(token) > 2 and not self.lexicon.is_word(token)

    def _extend(self, doc, k: int, *, running_text: bool = False) -> int:
        """Past the initials, given names and surname-like words that follow (at most three). In
        running text a capitalised proper noun right after a given name is its surname even when it
        is also an English word ("Annika Baker", "Ilse M Fuller")."""
        end = k
        while end < len(doc) and end - k < 3:
            token = doc[end]
            if token.whitespace_ == "" and end + 1 < len(doc) and doc[end + 1].text in ("-", "'"):
                break
            surname = running_text and (
                self._capitalised(token)
                and token.pos_ == "PROPN"
                and not token.is_stop
                and token.lower_ not in NOT_NAMES
                and not any(self._capitalised(t) and not self._initial(t) for t in doc[end + 1 : end + 2])
            )
            if self._initial(token) or self._surname_like(token) or self._given(token) or surname:
                if "\n" in doc[end - 1].whitespace_ or "\n" in token.text:
                    break
                end += 1
            else:
                break
        return end

    def _listed_beside(self, doc, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """ "A, B and C" where one of them is a name: the other single capitalised words are too."""
        taken = {k for start, end in spans for k in range(start, end)}
        separators = (",", "and", "&", "or")
        extra = []
        for start, end in spans:
            for direction, k in ((-1, start - 1), (1, end)):
                while 0 <= k < len(doc) and doc[k].lower_ in separators:
                    while 0 <= k < len(doc) and doc[k].lower_ in separators:
                        k += direction
                    if not 0 <= k < len(doc) or k in taken:
                        break
                    token = doc[k]
                    # Beside a name, a capitalised word is a name even if it is also a word
                    # ("Okafor, Lindqvist and Brandt", "Hale and Baker").
                    if not self._capitalised(token) or token.is_stop or token.lower_ in NOT_NAMES:
                        break
                    extra.append((k, k + 1))
                    taken.add(k)
                    k += direction
        return extra

    def _purchase_notification(self, doc, index: int, end: int | None = None) -> bool:
        """ "Priya in Leeds bought …", "Tomas K. purchased …": a first name (and an initial) as the
        subject of a shop's purchase notification."""
        end = index + 1 if end is None else end
        if end - index > 2 or (end - index == 2 and not self._initial(doc[index + 1])):
            return False
        sentence = _sentence_bounds(doc, index)
        said = doc.user_data.setdefault("masking_purchase_sentences", {})
        if sentence not in said:
            said[sentence] = bool(_PURCHASE.search(doc[sentence[0] : sentence[1]].text))
        if not said[sentence]:
            return False
        nxt = doc[end] if end < len(doc) else None
        if nxt is not None and _PURCHASE.match(nxt.text):
            return True
        if nxt is None or nxt.lower_ not in ("in", "from") or end + 1 >= len(doc):
            return False
        return doc[end + 1].text[:1].isupper()

    def _thing_bought(self, doc, start: int) -> bool:
        """ "… bought a Northway Parka": what follows a purchase verb is a product, unless a
        preposition says otherwise ("bought flowers for Anna")."""
        for k in range(start - 1, max(-1, start - 7), -1):
            token = doc[k]
            if token.lower_ in ("for", "from", "to", "by", "with", "and", ".", "!", "?"):
                return False
            if _PURCHASE.match(token.text) and token.lower_ not in ("just",):
                return True
        return False


_SPEAKER_LINE = re.compile(
    r"^[ \t>]*(?P<name>[^\W\d_][\w'’-]*(?:[ \t]+[^\W\d_][\w'’-]*)?)[ \t]*:[ \t]*(?P<speech>[^\n]+)",
    re.MULTILINE,
)
_SPEECH = re.compile(r"[\"“”?]|\b(?:I|I['’]m|me|my|you|your|we|us)\b")
_SPEECH_CUE = re.compile(
    r"(?<=[!?,.\"“”’'])[\"“”’']?\s+(?:said|asked|replied|answered|shouted|whispered|cried|sighed|added)\s+",
    re.IGNORECASE,
)
_FOLD = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "đ": "d", "ł": "l", "ı": "i", "þ": "th"})


def _folded(value: str) -> str:
    """Lower-case ASCII letters only: "Jørgensen" -> "jorgensen", "M." -> "m"."""
    value = unicodedata.normalize("NFKD", value.lower().translate(_FOLD))
    return "".join(char for char in value if "a" <= char <= "z")


class SpeakerAndSenderRecognizer(EntityRecognizer):
    """Names that context gives away, with no cue word before them:

    * the speakers of a dialogue ("Ana: Where were you?" / "Ben: I told you."), two or more lines
      of a name and a colon whose text is speech (a question, quotes, "I", "you");
    * a name inverted after a quotation ("… jealous!" said Maslow to Irena);
    * the words an e-mail address of the text is made of ("hanna k. ruud" beside
      hannakruud@example.com): people write their name into their address.
    """

    def __init__(self, lexicon: Lexicon):
        super().__init__(
            supported_entities=[PERSON], name="SpeakerAndSenderRecognizer", supported_language="en"
        )
        self.lexicon = lexicon

    def load(self) -> None:
        pass

    def _name_word(self, word: str) -> bool:
        lowered = word.lower()
        if lowered in NOT_NAMES or _is_stopword(word):
            return False
        return lowered in self.lexicon.first_names or lowered not in self.lexicon.english_words

    def analyze(self, text, entities, nlp_artifacts):
        spans = (
            list(self._speakers(text)) + list(self._inverted_speech(text)) + list(self._address_owners(text))
        )
        return [RecognizerResult(PERSON, start, end, LIKELY) for start, end in spans]

    def _speakers(self, text):
        lines = [
            line
            for line in _SPEAKER_LINE.finditer(text)
            if all(word[0].isupper() and self._name_word(word) for word in line.group("name").split())
        ]
        if len(lines) < 2 or not any(_SPEECH.search(line.group("speech")) for line in lines):
            return
        for line in lines:
            yield line.start("name"), line.end("name")

    def _inverted_speech(self, text):
        for cue in _SPEECH_CUE.finditer(text):
            end = _name_tokens(text, cue.end(), lowercase_ok=False, max_tokens=3)
            if end == cue.end() or not self._name_word(text[cue.end() : end].split()[0]):
                continue
            yield cue.end(), end
            addressee = re.match(r"\s+to\s+", text[end:])
            if addressee:
                start = end + addressee.end()
                other = _name_tokens(text, start, lowercase_ok=False, max_tokens=3)
                if other > start and self._name_word(text[start:other].split()[0]):
                    yield start, other

    def _address_owners(self, text):
        locals_ = set()
        for match in _EMAIL.finditer(text):
            local = match.group().split("@", 1)[0]
            if local.lower() not in ROLE_MAILBOXES and len(_folded(local)) >= 5:
                locals_.add(_folded(local))
        if not locals_:
            return
        words = list(re.finditer(r"[^\W\d_][\w'’-]*\.?", text))
        for i in range(len(words)):
            folded = ""
            for j in range(i, min(i + 4, len(words))):
                if j > i and not re.fullmatch(r"[ \t]+", text[words[j - 1].end() : words[j].start()]):
                    break
                folded += _folded(words[j].group())
                if folded in locals_ and (j > i or self._name_word(words[i].group().rstrip("."))):
                    yield words[i].start(), words[j].end() - words[j].group().endswith(".")
                    break


_PLACE_PREFIXES = _word_list("place_prefixes")


def _lines(doc) -> tuple[list[int], list[tuple[int, int]]]:
    """Line number of every token and (start, end) token range of every line, computed once per Doc."""
    cached = doc.user_data.get("masking_lines")
    if cached is None:
        line_of, bounds, start = [], [], 0
        for token in doc:
            line_of.append(len(bounds))
            if "\n" in token.whitespace_ or "\n" in token.text or token.i == len(doc) - 1:
                bounds.append((start, token.i + 1))
                start = token.i + 1
        cached = doc.user_data["masking_lines"] = (line_of, bounds)
    return cached


def _sentence_bounds(doc, i: int) -> tuple[int, int]:
    """Token range of the sentence token `i` stands in (the whole Doc when it has no sentence
    boundaries). `Token.sent` and `has_annotation` walk the Doc on every call; these bounds are
    found once per Doc."""
    if "masking_sentence_starts" not in doc.user_data:
        doc.user_data["masking_sentence_starts"] = (
            [t.i for t in doc if t.is_sent_start] if doc.has_annotation("SENT_START") else [0]
        )
    starts = doc.user_data["masking_sentence_starts"]
    k = max(bisect_right(starts, i) - 1, 0)
    return starts[k], starts[k + 1] if k + 1 < len(starts) else len(doc)


def _lowercase_line(token) -> bool:
    """Whether the token's line is written in lower case: at most a tenth of its words (after the
    first) start with a capital. Worked out once per line."""
    line_of, bounds = _lines(token.doc)
    line = line_of[token.i]
    verdicts = token.doc.user_data.setdefault("masking_lowercase_lines", {})
    if line not in verdicts:
        start, end = bounds[line]
        words = [t for t in token.doc[start + 1 : end] if t.is_alpha and len(t) > 1 and t.lower_ != "i"]
        verdicts[line] = sum(t.text[0].isupper() for t in words) <= 0.1 * len(words)
    return verdicts[line]


def _starts_sentence(token) -> bool:
    previous = [t for t in token.doc[max(0, token.i - 3) : token.i] if t.text.strip()]
    return token.is_sent_start or not previous or previous[-1].text in (".", "!", "?", ":", '"', "“")


def _in_heading(doc, span) -> bool:
    """Whether the span stands in a heading, label or list of title-case words, where capitals say
    nothing: its line has no lower-case word outside the span."""
    line_of, bounds = _lines(doc)
    line_start = bounds[line_of[span.start]][0]
    line_end = bounds[line_of[span.end - 1]][1]
    lower = _lower_words_before(doc)  # prefix counts: no walk over the line per span
    in_line = lower[line_end] - lower[line_start]
    in_span = lower[span.end] - lower[span.start]
    return in_line == in_span


def _lower_words_before(doc) -> list[int]:
    """For every token index i (and len(doc)), how many lower-case words stand before it."""
    counts = doc.user_data.get("masking_lower_words")
    if counts is None:
        counts = [0]
        for token in doc:
            counts.append(counts[-1] + (token.is_alpha and token.is_lower))
        doc.user_data["masking_lower_words"] = counts
    return counts


class NerPersonRecognizer(NameRecognizer):
    """spaCy's PERSON entities, checked against the lexicon: title-case product phrases that the
    small model takes for people ("Rose Quartz", "Travel Adapter Set") are dropped, trailing
    ordinary words are trimmed ("Tomas K. Purchased")."""

    def __init__(self, lexicon: Lexicon):
        super().__init__(lexicon, name="NerPersonRecognizer")

    def _name_evidence(self, tokens, *, heading: bool) -> bool:
        """In running text: no more ordinary English words than name-like ones. In headings and
        labels, where every word is capitalised and capitals say nothing, at least one word that can
        only be a name (a given name or surname-like word that is not an English word, an initial)
        and no more ordinary words than that, or given names only."""
        if not heading:
            names = sum(self._given(t) or self._surname_like(t) or self._initial(t) for t in tokens)
            ordinary = sum(self.lexicon.is_word(t) and not self._given(t) for t in tokens)
            if names == 0 or ordinary > names:
                return False
            # "Travel Kit", "Baby Grow": an ordinary last word needs a given name in front.
            return not (len(tokens) > 1 and self.lexicon.is_word(tokens[-1]) and not self._given(tokens[0]))
        strong = sum(
            (self._given(t) and not self.lexicon.is_word(t)) or self._surname_like(t) or self._initial(t)
            for t in tokens
        )
        ordinary = sum(self.lexicon.is_word(t) and not self._given(t) for t in tokens)
        if strong:
            return ordinary <= strong
        return len(tokens) > 1 and all(self._given(t) for t in tokens)

    def _leading_ordinary(self, token, following) -> bool:
        """A greeting or verb the model took along before a given name: "Meet Anna Berg"."""
        return self._given(following) and (
            token.lower_ in NOT_NAMES
            or (
                token.pos_ in ("VERB", "AUX", "INTJ")
                and self.lexicon.is_word(token)
                and not self._given(token)
            )
        )

    def analyze(self, text, entities, nlp_artifacts):
        doc = nlp_artifacts.tokens
        results = []
        for ent in doc.ents:
            if ent.label_ not in ("PERSON", "PER"):
                continue
            tokens = [t for t in ent if not t.is_punct]
            # "ex-Beatle Ostrowski"; a speaker's label the tokenizer glued on ('Anna:"I\'m Ben\'s').
            while tokens and not (
                tokens[0].text[:1].isupper()
                and (_NAME_WORD.fullmatch(tokens[0].text) or self._initial(tokens[0]))
            ):
                tokens.pop(0)
            # "Tomas K. Purchased a …": the notification's verb is not part of the name; nor is "'s".
            while len(tokens) > 1 and (
                _PURCHASE.fullmatch(tokens[-1].text) or tokens[-1].lower_ in ("'s", "’s")
            ):
                tokens.pop()
            # A verb or greeting the model took along at the start: "Meet Anna Berg", "Thanks Anna".
            while len(tokens) > 1 and self._leading_ordinary(tokens[0], tokens[1]):
                tokens.pop(0)
            whole = len(tokens)
            # "Thanks David Brown." is a short line of capitals, but a salutation, not a heading
            heading = _in_heading(doc, ent) and not (
                tokens and tokens[0].i > 0 and doc[tokens[0].i - 1].lower_ in _PERSON_CUES_BEFORE
            )
            # In running text, the model's PERSON that starts with a given name is a name as it
            # stands ("John Smith", "Rachel Green"); otherwise trailing ordinary words go.
            if heading or not (tokens and self._given(tokens[0]) and len(tokens) <= 4):
                while tokens and self.lexicon.is_word(tokens[-1]) and not self._given(tokens[-1]):
                    tokens.pop()
            if not tokens or any(
                t.like_num or not (_NAME_WORD.fullmatch(t.text) or self._initial(t)) for t in tokens
            ):
                continue
            if len(tokens) > 1 and all(t.is_upper for t in tokens):
                continue
            # A span that lost ordinary words at its end ("Amber Lamp") must show real name evidence.
            if not self._name_evidence(tokens, heading=heading or len(tokens) < whole):
                continue
            if self._purchase_notification(doc, tokens[0].i, tokens[-1].i + 1) or self._thing_bought(
                doc, tokens[0].i
            ):
                continue
            if self._not_a_person(doc, tokens[0].i, tokens[-1].i + 1):
                continue
            start, end = tokens[0].idx, tokens[-1].idx + len(tokens[-1])
            results.append(RecognizerResult(PERSON, start, end, CONFIDENT))
        return results
