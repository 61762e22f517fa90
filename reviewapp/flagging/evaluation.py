"""Measure the engine on the labelled dev data (SPEC §11): `python -m reviewapp.flagging.evaluation`.

A text counts as flagged for category C when the engine returns at least one flag of category C with
severity blocker or warning. Info flags do not count: info is "for the reviewer's attention" (a
substantiated claim, an unsupported language), not a finding.

The dev rows are split deterministically into two halves by the SHA-256 of their id ("A": even,
"B": odd). Rules were tuned looking at half A only; half B is the check that they generalise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reviewapp.flagging.engine import Engine, Flag, default_engine

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = ROOT.parent / "shared" / "eval" / "dev"
FILES = ("manipulation", "unverifiable", "exaggeration")
COUNTING = frozenset({"blocker", "warning"})


def half(row_id: str) -> str:
    return "A" if int(hashlib.sha256(row_id.encode("utf-8")).hexdigest(), 16) % 2 == 0 else "B"


@dataclass
class Row:
    id: str
    text: str
    label: int
    category: str
    subtype: str
    flagged: bool = False
    rules: tuple[str, ...] = ()


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def add(self, row: Row) -> None:
        if row.label and row.flagged:
            self.tp += 1
        elif row.label:
            self.fn += 1
        elif row.flagged:
            self.fp += 1
        else:
            self.tn += 1


@dataclass
class Report:
    rows: dict[str, list[Row]] = field(default_factory=dict)

    def score(self, category: str, which: str = "all") -> Score:
        score = Score()
        for row in self.rows[category]:
            if which == "all" or half(row.id) == which:
                score.add(row)
        return score

    def figures(self) -> dict[str, dict[str, dict[str, float]]]:
        """{category: {"all"|"A"|"B": {"precision", "recall", "f1", "n"}}}, rounded to 3 places."""
        out: dict[str, dict[str, dict[str, float]]] = {}
        for category in self.rows:
            out[category] = {}
            for which in ("all", "A", "B"):
                score = self.score(category, which)
                out[category][which] = {
                    "precision": round(score.precision, 3),
                    "recall": round(score.recall, 3),
                    "f1": round(score.f1, 3),
                    "n": score.tp + score.fp + score.fn + score.tn,
                }
        return out


def load_rows(path: Path) -> list[Row]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                raw = json.loads(line)
                rows.append(
                    Row(
                        id=str(raw["id"]),
                        text=raw["text"],
                        label=int(raw["label"]),
                        category=raw["category"],
                        subtype=raw.get("subtype", ""),
                    )
                )
    return rows


def counts_for(flags: Sequence[Flag], category: str) -> tuple[bool, tuple[str, ...]]:
    hits = tuple(sorted({f.rule for f in flags if f.category == category and f.severity in COUNTING}))
    return bool(hits), hits


def evaluate(
    data_dir: Path = DEFAULT_DATA, *, engine: Engine | None = None, files: Iterable[str] = FILES
) -> Report:
    engine = engine or default_engine()
    report = Report()
    for name in files:
        rows = load_rows(data_dir / f"{name}.jsonl")
        for row, flags in zip(rows, engine.iter_flags(row.text for row in rows), strict=True):
            row.flagged, row.rules = counts_for(flags, row.category)
        report.rows[name] = rows
    return report


def _line(label: str, score: Score) -> str:
    return (
        f"  {label:<14} P {score.precision:.3f}  R {score.recall:.3f}  F1 {score.f1:.3f}"
        f"   (tp {score.tp}, fp {score.fp}, fn {score.fn}, tn {score.tn})"
    )


def render(report: Report, *, examples: int = 8) -> str:
    out = ["A text counts as flagged for a category when it gets a blocker or warning flag of it.", ""]
    for category, rows in report.rows.items():
        out.append(f"== {category} ({len(rows)} rows)")
        for which, label in (("all", "whole dev"), ("A", "half A (tune)"), ("B", "half B (check)")):
            out.append(_line(label, report.score(category, which)))
        out.append("  per subtype (recall for positives, flag rate for negatives): whole / half A / half B")
        by_subtype: dict[tuple[int, str], list[Row]] = defaultdict(list)
        for row in rows:
            by_subtype[(row.label, row.subtype)].append(row)
        for (label, subtype), members in sorted(
            by_subtype.items(), key=lambda item: (-item[0][0], item[0][1])
        ):
            kind = "recall" if label else "flag rate"
            shares = []
            for which in ("all", "A", "B"):
                chosen = [row for row in members if which == "all" or half(row.id) == which]
                shares.append(
                    f"{sum(row.flagged for row in chosen) / len(chosen):.3f}" if chosen else "  -  "
                )
            out.append(f"    {subtype:<28} n={len(members):<5} {kind:<9} {' / '.join(shares)}")
        false_positives = [row for row in rows if row.flagged and not row.label]
        misses = [row for row in rows if row.label and not row.flagged]
        by_rule = Counter(rule for row in false_positives for rule in row.rules)
        fired = Counter(rule for row in rows if row.flagged for rule in row.rules)
        if fired:
            out.append("  rules by false positives (fp / texts flagged):")
            for rule, total in fired.most_common():
                out.append(f"    {rule:<40} {by_rule.get(rule, 0):>4} / {total}")
        out.append(f"  worst false positives ({len(false_positives)}):")
        for row in false_positives[:examples]:
            out.append(f"    [{', '.join(row.rules)}] {_clip(row.text)}")
        missed_by_subtype = Counter(row.subtype for row in misses)
        out.append(f"  misses ({len(misses)}; by subtype: {dict(missed_by_subtype.most_common())}):")
        for row in misses[:examples]:
            out.append(f"    [{row.subtype}] {_clip(row.text)}")
        out.append("")
    return "\n".join(out)


def markdown_table(report: Report) -> str:
    figures = report.figures()
    lines = [
        "| category | precision | recall | F1 | F1 half A | F1 half B | rows |",
        "|---|---|---|---|---|---|---|",
    ]
    for category, by_half in figures.items():
        whole = by_half["all"]
        lines.append(
            f"| {category} | {whole['precision']:.3f} | {whole['recall']:.3f} | {whole['f1']:.3f} | "
            f"{by_half['A']['f1']:.3f} | {by_half['B']['f1']:.3f} | {whole['n']} |"
        )
    return "\n".join(lines)


def _clip(text: str, width: int = 150) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("EVAL_DATA", DEFAULT_DATA)),
        help="dev data directory",
    )
    parser.add_argument("--examples", type=int, default=8, help="false positives and misses to show per file")
    parser.add_argument("--markdown", action="store_true", help="also print the README table")
    args = parser.parse_args(argv)
    missing = [name for name in FILES if not (args.data / f"{name}.jsonl").is_file()]
    if missing:
        print(f"dev data not found in {args.data} (missing {', '.join(missing)})", file=sys.stderr)
        return 2
    report = evaluate(args.data)
    print(render(report, examples=args.examples))
    if args.markdown:
        print(markdown_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
