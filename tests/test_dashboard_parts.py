"""The plain-Python parts behind the dashboard: word diffs, highlight segments, chart geometry and the
queue-over-time sweep of the metrics page. No database."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from reviewapp import charts, metrics
from reviewapp.highlight import segments
from reviewapp.textdiff import diff, tokens


def test_tokens_keep_words_whitespace_and_punctuation_apart():
    assert tokens("Don\u2019t wait:  buy now!") == [
        "Don\u2019t",
        " ",
        "wait",
        ":",
        "  ",
        "buy",
        " ",
        "now",
        "!",
    ]


def test_a_word_diff_marks_whole_words_and_rebuilds_both_texts():
    old = "The best serum in the world, only 3 left."
    new = "A gentle serum in a glass bottle, 30 ml."
    result = diff(old, new)

    assert "".join(p.text for p in result.pieces if p.kind != "added") == old
    assert "".join(p.text for p in result.pieces if p.kind != "removed") == new
    kinds = [(p.kind, p.text) for p in result.pieces]
    assert ("removed", "best") in kinds and ("added", "gentle") in kinds
    assert result.changed and result.added_words == 7 and result.removed_words == 7


def test_identical_texts_have_no_changes():
    result = diff("Same text.", "Same text.")
    assert not result.changed and result.pieces[0].kind == "same"


@dataclass
class FakeFlag:
    pk: int
    start: int
    end: int
    category: str
    severity: str = "warning"


def test_overlapping_flags_split_the_text_and_each_flag_starts_in_one_segment():
    text = "Only 3 left today"
    outer = FakeFlag(1, 0, 11, "manipulation", "blocker")
    inner = FakeFlag(2, 5, 6, "unverifiable")
    parts = segments(text, [outer, inner])

    assert "".join(part.text for part in parts) == text
    assert [part.text for part in parts] == ["Only ", "3", " left", " today"]
    assert parts[1].flags == (outer, inner) and parts[1].categories == ["manipulation", "unverifiable"]
    assert parts[1].severity == "blocker" and parts[1].starts == (inner,)
    assert parts[0].starts == (outer,) and parts[3].flags == ()


def test_axis_maxima_are_round_numbers_in_four_steps():
    assert charts.nice_ceiling(6, whole=True) == 8
    assert charts.nice_ceiling(0, whole=True) == 4
    assert charts.nice_ceiling(1, whole=True) == 4
    assert charts.nice_ceiling(0.3) == 0.4
    assert charts.nice_ceiling(130) == 200


def test_a_line_chart_places_points_inside_the_plot():
    chart = charts.line_chart("Queue", "d", ["a", "b", "c"], [("size", "series-a", [0, 4, 2])], whole=True)
    xs = [x for x, _ in chart.lines[0].dots]
    ys = [y for _, y in chart.lines[0].dots]
    assert xs[0] == chart.plot_left and xs[-1] == chart.plot_right
    assert ys[1] == charts.TOP  # 4 is the top of the axis
    assert ys[0] == chart.plot_bottom
    assert chart.rows == [("a", "0"), ("b", "4"), ("c", "2")]


def test_a_stacked_bar_chart_lays_parts_side_by_side():
    chart = charts.bar_chart("D", "d", [("Rhea", [3, 1, 0])], [("x", "a"), ("y", "b"), ("z", "c")])
    first, second = chart.rows[0].bars  # the empty part draws nothing
    assert first.x == chart.label_width and second.x == first.x + first.width
    assert chart.rows[0].note == "4"


def at(hours: float) -> datetime:
    return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=hours)


def test_queue_over_time_counts_waiting_versions_and_the_oldest_age():
    intervals = [
        metrics.Interval(at(0), at(5)),  # decided after 5 h
        metrics.Interval(at(2), None),  # still waiting
        metrics.Interval(at(3), at(4)),
    ]
    sizes, oldest = metrics.queue_over_time(intervals, [at(1), at(3.5), at(4.5), at(6)])
    assert sizes == [1, 3, 2, 1]
    assert oldest == [1.0, 3.5, 4.5, 4.0]


def test_percentile_is_nearest_rank():
    values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert metrics.percentile(values, 0.9) == 9
    assert metrics.percentile([4], 0.9) == 4
