"""Regression guard on the dev data: no masking figure may drop more than 0.02 below the one the
README records (the README block is the one source of truth; `make eval` prints it)."""

import re

import pytest

from generation.evaluate import DEFAULT_DATA, evaluate
from tests.readme import figures_block

TOLERANCE = 0.02


def recorded() -> dict[str, float]:
    """Leak measure per type and overall, and over-masking, from the README (column "all")."""
    figures = {}
    for line in figures_block("masking-figures").splitlines():
        row = re.match(r"(\S+(?: \S+)?)\s+(\d\.\d{3}) \(", line)
        if row:
            figures[row.group(1)] = float(row.group(2))
    return figures


def test_the_readme_records_the_overall_leak_measure_and_over_masking():
    figures = recorded()
    assert {"OVERALL", "PERSON", "DATE_TIME", "texts masked"} <= set(figures)
    assert figures["OVERALL"] >= 0.95 and figures["texts masked"] <= 0.05


@pytest.mark.slow
def test_masking_figures_on_the_dev_data_do_not_regress():
    if not (DEFAULT_DATA / "pii.jsonl").is_file() or not (DEFAULT_DATA / "manipulation.jsonl").is_file():
        pytest.skip(f"dev data not found at {DEFAULT_DATA} (../shared/eval/dev next to the project)")
    report = evaluate(DEFAULT_DATA)["all"]
    now = {kind: part["masked"] / part["spans"] for kind, part in report["leak"]["by_type"].items()}
    now["OVERALL"] = report["leak"]["overall"]["masked"] / report["leak"]["overall"]["spans"]
    over = report["over_masking"]["masked"] / report["over_masking"]["texts"]
    figures = recorded()
    drops = {
        kind: (round(now[kind], 3), figure)
        for kind, figure in figures.items()
        if kind in now and now[kind] < figure - TOLERANCE
    }
    assert not drops, f"leak measure fell more than {TOLERANCE} below the README (now, recorded): {drops}"
    assert over <= figures["texts masked"] + TOLERANCE, (round(over, 3), figures["texts masked"])
