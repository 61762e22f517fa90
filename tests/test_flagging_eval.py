"""Regression guard on the dev data: no category's F1 may drop more than 0.02 below the figure the
README records (the README table is the one source of truth; `make eval --markdown` prints it)."""

import pytest

from reviewapp.flagging.evaluation import DEFAULT_DATA, FILES, evaluate
from tests.readme import figures_block

TOLERANCE = 0.02


def recorded_f1() -> dict[str, float]:
    figures = {}
    for line in figures_block("eval-figures").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and cells[0] in FILES:
            figures[cells[0]] = float(cells[3])
    return figures


def test_the_readme_records_a_figure_for_every_category():
    assert set(recorded_f1()) == set(FILES)


@pytest.mark.slow
def test_f1_on_the_dev_data_does_not_regress():
    if not all((DEFAULT_DATA / f"{name}.jsonl").is_file() for name in FILES):
        pytest.skip(f"dev data not found at {DEFAULT_DATA} (../shared/eval/dev next to the project)")
    report = evaluate(DEFAULT_DATA)
    recorded = recorded_f1()
    drops = {
        category: (round(report.score(category).f1, 3), recorded[category])
        for category in FILES
        if report.score(category).f1 < recorded[category] - TOLERANCE
    }
    assert not drops, f"F1 fell more than {TOLERANCE} below the README figure (now, recorded): {drops}"
