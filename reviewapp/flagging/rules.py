"""Rule packs: YAML files in rules/ that are validated when loaded.

A pack that fails validation raises RulePackError naming the file and the offending rule, so a bad
edit stops start-up (the system check and the engine both load packs) instead of silently dropping
a rule.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from spacy.schemas import validate_token_pattern

RULES_DIR = Path(__file__).parent / "rules"

Category = Literal["exaggeration", "unverifiable", "manipulation", "pii", "sensitive_targeting"]
Severity = Literal["blocker", "warning", "info"]


class RulePackError(Exception):
    pass


class Rule(BaseModel):
    """One rule. A match is any of its `phrases` (case-insensitive, on token boundaries) or of its
    spaCy token-Matcher `patterns`; `unless_source_nearby` drops matches that cite a source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z]+(\.[a-z0-9_]+)+$")
    category: Category
    severity: Severity
    message: str = Field(min_length=10)
    suggestion: str = ""
    reference: str = Field(min_length=3)
    phrases: tuple[str, ...] = ()
    patterns: tuple[tuple[dict, ...], ...] = ()
    unless_source_nearby: bool = False

    @field_validator("phrases")
    @classmethod
    def _phrases_not_blank(cls, phrases: tuple[str, ...]) -> tuple[str, ...]:
        if any(not phrase.strip() for phrase in phrases):
            raise ValueError("phrases must not be blank")
        return phrases

    @field_validator("patterns")
    @classmethod
    def _patterns_are_spacy_patterns(cls, patterns: tuple[tuple[dict, ...], ...]):
        for pattern in patterns:
            errors = validate_token_pattern([dict(token) for token in pattern])
            if errors:
                raise ValueError(f"invalid token pattern {list(pattern)}: {'; '.join(errors)}")
        return patterns

    def model_post_init(self, __context) -> None:
        if not self.phrases and not self.patterns:
            raise ValueError(f"rule {self.id} has neither phrases nor patterns")


class RulePack(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pack: str
    description: str = ""
    rules: tuple[Rule, ...]


def load_pack(path: Path) -> RulePack:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RulePackError(f"rule pack {path.name}: cannot read it: {exc}") from exc
    try:
        return RulePack.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise RulePackError(f"rule pack {path.name} is invalid: {problems}") from exc


@cache
def load_rules(directory: Path = RULES_DIR) -> tuple[Rule, ...]:
    """All rules of all packs in `directory`, with ids checked for uniqueness."""
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
