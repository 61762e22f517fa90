"""Flagging engine (SPEC §4): exaggeration, unverifiable facts, manipulation.

    from reviewapp.flagging import find_flags
    find_flags("The best serum in the world. Only 2 left!")

No Django imports here or below (a test enforces it).
"""

from reviewapp.flagging.engine import Claim, Engine, Flag, default_engine, hidden_characters, load_nlp
from reviewapp.flagging.rules import Rule, RulePackError, load_rules


def find_flags(text: str, *, language: str = "en", claims: tuple[Claim, ...] = ()) -> list[Flag]:
    """Flags for one text, sorted by position. An unverifiable finding inside the wording of one of
    `claims` (substantiated claims) is downgraded to info and names the evidence."""
    return default_engine().find_flags(text, language=language, claims=claims)


def find_flags_many(texts, *, language: str = "en", claims: tuple[Claim, ...] = ()) -> list[list[Flag]]:
    """Flags for many texts in one `nlp.pipe` pass, in input order."""
    return default_engine().find_flags_many(texts, language=language, claims=claims)


__all__ = [
    "Claim",
    "Engine",
    "Flag",
    "Rule",
    "RulePackError",
    "default_engine",
    "find_flags",
    "find_flags_many",
    "hidden_characters",
    "load_nlp",
    "load_rules",
]
