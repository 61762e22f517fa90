"""The masking measures of SPEC §11, from the dev data (`make eval`).

* Leak measure: the share of gold PII spans fully masked, by type. A span counts only if every
  letter and digit of it lies inside an entity the masker returned.
* Over-masking: the share of real shop-copy texts in which anything was masked.

Both are reported for the whole dev set and for its two halves (split by a hash of the row id:
one half was used for tuning, the other is a check that the tuning generalises).

    python -m generation.evaluate [--data ../shared/eval/dev] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path

from generation.masking import get_masker

LEAK_TYPES = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "STREET_ADDRESS",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "US_DRIVER_LICENSE",
    "IP_ADDRESS",
    "DATE_TIME",
    "ZIP_CODE",
)
DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "dev"


def half(row_id: str) -> str:
    """Deterministic split: 'A' (tuning) or 'B' (check), by the first byte of sha256(id)."""
    return "A" if hashlib.sha256(row_id.encode()).digest()[0] % 2 == 0 else "B"


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def fully_masked(text: str, start: int, end: int, spans: list[tuple[int, int, str]]) -> bool:
    covered = set()
    for s, e, _ in spans:
        covered.update(range(s, e))
    return all(i in covered for i in range(start, end) if text[i].isalnum())


def leak_measure(rows: list[dict], found: list[list[tuple[int, int, str]]]) -> dict:
    total, masked = Counter(), Counter()
    for row, spans in zip(rows, found, strict=True):
        for gold in row["spans"]:
            if gold["type"] not in LEAK_TYPES:
                continue
            total[gold["type"]] += 1
            masked[gold["type"]] += fully_masked(row["text"], gold["start"], gold["end"], spans)
    return {
        "by_type": {t: {"spans": total[t], "masked": masked[t]} for t in LEAK_TYPES if total[t]},
        "overall": {"spans": sum(total.values()), "masked": sum(masked.values())},
    }


def over_masking(rows: list[dict], found: list[list[tuple[int, int, str]]]) -> dict:
    return {"texts": len(rows), "masked": sum(bool(spans) for spans in found)}


def evaluate(data: Path) -> dict:
    masker = get_masker()
    pii = read_jsonl(data / "pii.jsonl")
    shop = read_jsonl(data / "manipulation.jsonl")
    pii_found = masker.find_many([row["text"] for row in pii])
    shop_found = masker.find_many([row["text"] for row in shop])
    report = {}
    for part in ("all", "A", "B"):
        keep = [part == "all" or half(row["id"]) == part for row in pii]
        keep_shop = [part == "all" or half(row["id"]) == part for row in shop]
        report[part] = {
            "leak": leak_measure(
                [row for row, k in zip(pii, keep, strict=True) if k],
                [spans for spans, k in zip(pii_found, keep, strict=True) if k],
            ),
            "over_masking": over_masking(
                [row for row, k in zip(shop, keep_shop, strict=True) if k],
                [spans for spans, k in zip(shop_found, keep_shop, strict=True) if k],
            ),
        }
    return report


def _share(part: dict) -> str:
    n, k = part.get("spans", part.get("texts")), part["masked"]
    return f"{k / n:.3f} ({k}/{n})" if n else "-"


def format_report(report: dict) -> str:
    lines = ["PII masking on pii.jsonl: share of gold spans fully masked (leak measure)", ""]
    header = f"{'type':<20}{'all':>18}{'half A (tuning)':>20}{'half B (check)':>20}"
    lines.append(header)
    for kind in LEAK_TYPES:
        if kind not in report["all"]["leak"]["by_type"]:
            continue
        cells = [
            _share(report[p]["leak"]["by_type"].get(kind, {"spans": 0, "masked": 0}))
            for p in ("all", "A", "B")
        ]
        lines.append(f"{kind:<20}{cells[0]:>18}{cells[1]:>20}{cells[2]:>20}")
    cells = [_share(report[p]["leak"]["overall"]) for p in ("all", "A", "B")]
    lines.append(f"{'OVERALL':<20}{cells[0]:>18}{cells[1]:>20}{cells[2]:>20}")
    lines += ["", "Over-masking on manipulation.jsonl: share of shop-copy texts with anything masked"]
    cells = [_share(report[p]["over_masking"]) for p in ("all", "A", "B")]
    lines.append(f"{'texts masked':<20}{cells[0]:>18}{cells[1]:>20}{cells[2]:>20}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="folder with pii.jsonl, manipulation.jsonl"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if not (args.data / "pii.jsonl").exists():
        print(f"No dev data at {args.data}: nothing to evaluate.", file=sys.stderr)
        return 2
    report = evaluate(args.data)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
