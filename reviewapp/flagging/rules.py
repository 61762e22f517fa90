"""Rule packs: YAML files in rules/ that are validated when loaded.

A pack that fails validation raises RulePackError naming the file and the offending rule, so a bad
edit stops start-up (the system check and the engine both load packs) instead of silently dropping
a rule.

A rule matches in up to four ways, all read from the same parsed Doc:

- `phrases`: literal word sequences, case-insensitive, on token boundaries (spaCy PhraseMatcher);
- `patterns`: spaCy token-Matcher patterns (LEMMA, POS, TAG, ENT_TYPE, LIKE_NUM, ...);
- `dependency_patterns`: spaCy DependencyMatcher patterns over the parse tree;
- `regex`: regular expressions over the text, for shapes that tokenisation splits (emails, phone
  numbers, countdown clocks); a match is widened to whole tokens.

and then passes through conditions, all of which are data too:

- `unless` / `requires`: named checks from `conditions.CONDITIONS` (e.g. `source_nearby`);
- `unless_in_sentence` / `requires_in_sentence`: words (lower-case forms or lemmas) that must not /
  must occur in the sentence of the match;
- `unless_before` / `unless_after`: words that cancel the match when they occur within three tokens
  before it ("not the best") or two tokens after it ("20% off").
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from spacy.schemas import validate_token_pattern

from reviewapp.flagging.conditions import CONDITIONS

RULES_DIR = Path(__file__).parent / "rules"

Category = Literal["exaggeration", "unverifiable", "manipulation", "pii", "sensitive_targeting"]
Severity = Literal["blocker", "warning", "info"]
SEVERITY_RANK = {"info": 0, "warning": 1, "blocker": 2}

_DEP_NODE_KEYS = {"RIGHT_ID", "RIGHT_ATTRS", "LEFT_ID", "REL_OP"}
_DEP_OPERATORS = {
    "<",
    ">",
    "<<",
    ">>",
    ".",
    ".*",
    ";",
    ";*",
    "$+",
    "$-",
    "$++",
    "$--",
    ">+",
    ">-",
    "<+",
    "<-",
}


class RulePackError(Exception):
    pass


class _PackLoader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false. Under YAML 1.1 the words "no", "on", "off" and "yes" in a
    word list would silently become booleans, and word lists are what rule packs are made of."""


_PackLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_PackLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _words(values: tuple[str, ...]) -> tuple[str, ...]:
    if any(not value.strip() for value in values):
        raise ValueError("must not contain blank entries")
    return tuple(value.lower() for value in values)


class Rule(BaseModel):
    """One rule: how it matches, what it says to the copywriter, and which regulation it rests on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z_]+(\.[a-z0-9_]+)+$")
    category: Category
    severity: Severity
    message: str = Field(min_length=20)
    suggestion: str = ""
    reference: str = Field(min_length=3)
    phrases: tuple[str, ...] = ()
    patterns: tuple[tuple[dict, ...], ...] = ()
    dependency_patterns: tuple[tuple[dict, ...], ...] = ()
    regex: tuple[str, ...] = ()
    regex_ignore_case: bool = True
    unless: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    unless_in_sentence: tuple[str, ...] = ()
    requires_in_sentence: tuple[str, ...] = ()
    unless_before: tuple[str, ...] = ()
    unless_after: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    counterexamples: tuple[str, ...] = ()

    @field_validator("phrases")
    @classmethod
    def _phrases_not_blank(cls, phrases: tuple[str, ...]) -> tuple[str, ...]:
        if any(not phrase.strip() for phrase in phrases):
            raise ValueError("phrases must not be blank")
        return phrases

    @field_validator("unless_in_sentence", "requires_in_sentence", "unless_before", "unless_after")
    @classmethod
    def _word_lists(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _words(values)

    @field_validator("patterns")
    @classmethod
    def _patterns_are_spacy_patterns(cls, patterns: tuple[tuple[dict, ...], ...]):
        for pattern in patterns:
            errors = validate_token_pattern([dict(token) for token in pattern])
            if errors:
                raise ValueError(f"invalid token pattern {list(pattern)}: {'; '.join(errors)}")
        return patterns

    @field_validator("dependency_patterns")
    @classmethod
    def _dependency_patterns_are_well_formed(cls, patterns: tuple[tuple[dict, ...], ...]):
        for pattern in patterns:
            if not pattern:
                raise ValueError("a dependency pattern needs at least one node")
            seen: set[str] = set()
            for index, node in enumerate(pattern):
                unknown = set(node) - _DEP_NODE_KEYS
                if unknown:
                    raise ValueError(f"dependency pattern node has unknown keys {sorted(unknown)}")
                if "RIGHT_ID" not in node or "RIGHT_ATTRS" not in node:
                    raise ValueError("every dependency pattern node needs RIGHT_ID and RIGHT_ATTRS")
                if index and (node.get("LEFT_ID") not in seen or node.get("REL_OP") not in _DEP_OPERATORS):
                    raise ValueError(
                        f"node {node['RIGHT_ID']!r} must name an earlier LEFT_ID and a valid REL_OP"
                    )
                errors = validate_token_pattern([dict(node["RIGHT_ATTRS"])])
                if errors:
                    raise ValueError(f"invalid RIGHT_ATTRS in {node['RIGHT_ID']!r}: {'; '.join(errors)}")
                seen.add(node["RIGHT_ID"])
        return patterns

    @field_validator("regex")
    @classmethod
    def _regexes_compile(cls, regexes: tuple[str, ...]) -> tuple[str, ...]:
        for expression in regexes:
            try:
                re.compile(expression)
            except re.error as exc:
                raise ValueError(f"regex {expression!r} does not compile: {exc}") from exc
        return regexes

    @field_validator("unless", "requires")
    @classmethod
    def _known_conditions(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [name for name in names if name not in CONDITIONS]
        if unknown:
            raise ValueError(f"unknown condition(s) {unknown}; known: {', '.join(sorted(CONDITIONS))}")
        return names

    @model_validator(mode="after")
    def _matches_something(self) -> Rule:
        if not (self.phrases or self.patterns or self.dependency_patterns or self.regex):
            raise ValueError(f"rule {self.id} has no phrases, patterns, dependency_patterns or regex")
        if not self.id.startswith(self.category.split("_")[0] + "."):
            raise ValueError(f"rule id {self.id} must start with its category ({self.category})")
        return self


class RulePack(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pack: str
    description: str = ""
    rules: tuple[Rule, ...]


def load_pack(path: Path) -> RulePack:
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_PackLoader)  # noqa: S506 (a SafeLoader)
    except (OSError, yaml.YAMLError) as exc:
        raise RulePackError(f"rule pack {path.name}: cannot read it: {exc}") from exc
    try:
        return RulePack.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(_describe(raw, err) for err in exc.errors())
        raise RulePackError(f"rule pack {path.name} is invalid: {problems}") from exc


def _describe(raw, error) -> str:
    """'rules.3 (exaggeration.puffery).severity: Input should be ...' — names the rule by its id."""
    loc = error["loc"]
    where = ".".join(str(part) for part in loc)
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int) and isinstance(raw, dict):
        try:
            rule_id = raw["rules"][loc[1]].get("id")
        except (AttributeError, IndexError, KeyError, TypeError):
            rule_id = None
        if rule_id:
            where = f"rules.{loc[1]} ({rule_id})" + "".join(f".{part}" for part in loc[2:])
    return f"{where}: {error['msg']}"


def load_rules(directory: Path | None = None) -> tuple[Rule, ...]:
    """All rules of all packs in `directory` (default: the packaged rules/), with ids checked for
    uniqueness. Parsed once per directory per process."""
    return _load_rules(Path(directory or RULES_DIR))


@cache
def _load_rules(directory: Path) -> tuple[Rule, ...]:
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    paths = sorted(directory.glob("*.yaml"))
    if not paths:
        raise RulePackError(f"no rule packs (*.yaml) found in {directory}")
    for path in paths:
        for rule in load_pack(path).rules:
            if rule.id in seen:
                raise RulePackError(f"rule id {rule.id} is defined in both {seen[rule.id]} and {path.name}")
            seen[rule.id] = path.name
            rules.append(rule)
    return tuple(rules)
