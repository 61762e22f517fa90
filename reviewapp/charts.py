"""Geometry for small server-rendered SVG charts: plain numbers the templates turn into <svg> elements
(no chart library, no CDN, nothing inline that the CSP would refuse). Colours come from CSS classes.

Every chart keeps its data rows too, so the page can offer the same figures as a table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

WIDTH = 640
LEFT, RIGHT, TOP, BOTTOM = 56, 30, 16, 40  # plot margins for axes and labels


def nice_ceiling(value: float, *, whole: bool = False) -> float:
    """The axis maximum: four equal steps of 1, 2, 2.5 or 5 times a power of ten, at or above
    `value`, so every tick is a round number (`whole`: steps of at least 1, for counts)."""
    if value <= 0:
        return 4 if whole else 1
    raw = value / 4
    power = 10 ** math.floor(math.log10(raw))
    step = next(k * power for k in (1, 2, 2.5, 5, 10) if raw <= k * power)
    if whole:
        step = max(math.ceil(step), 1)
    return step * 4


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Line:
    name: str
    css: str
    points: str  # "x,y x,y …" for <polyline>
    dots: tuple[tuple[float, float], ...]


@dataclass
class LineChart:
    title: str
    description: str
    width: int
    height: int
    lines: list[Line]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    rows: list[tuple] = field(default_factory=list)  # (label, value per line…) for the data table
    columns: list[str] = field(default_factory=list)

    @property
    def plot_left(self) -> int:
        return LEFT

    @property
    def plot_right(self) -> int:
        return self.width - RIGHT

    @property
    def plot_bottom(self) -> int:
        return self.height - BOTTOM


def line_chart(
    title: str,
    description: str,
    labels: list[str],
    series: list[tuple[str, str, list[float]]],
    *,
    height: int = 220,
    format_value=lambda value: f"{value:g}",
    x_label_every: int = 1,
    whole: bool = False,
) -> LineChart:
    """`series` is (name, css class, values), one value per label."""
    top = nice_ceiling(max((v for _, _, values in series for v in values), default=0), whole=whole)
    inner_w, inner_h = WIDTH - LEFT - RIGHT, height - TOP - BOTTOM
    count = max(len(labels) - 1, 1)

    def x(i: int) -> float:
        return round(LEFT + inner_w * i / count, 1)

    def y(value: float) -> float:
        return round(TOP + inner_h * (1 - value / top), 1)

    lines = []
    for name, css, values in series:
        dots = tuple((x(i), y(v)) for i, v in enumerate(values))
        lines.append(Line(name, css, " ".join(f"{a},{b}" for a, b in dots), dots))
    y_ticks = [Tick(y(top * k / 4), format_value(top * k / 4)) for k in range(5)]
    x_ticks = [Tick(x(i), label) for i, label in enumerate(labels) if i % x_label_every == 0]
    rows = [(label, *(format_value(values[i]) for _, _, values in series)) for i, label in enumerate(labels)]
    return LineChart(
        title, description, WIDTH, height, lines, y_ticks, x_ticks, rows, [name for name, _, _ in series]
    )


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    css: str
    value: float
    label: str  # the value as shown


@dataclass(frozen=True)
class BarRow:
    label: str
    y: float
    bars: tuple[Bar, ...]  # stacked left to right
    note: str  # the total as text, after the bar
    note_x: float


@dataclass
class BarChart:
    title: str
    description: str
    width: int
    height: int
    label_width: int
    bar_height: int
    rows: list[BarRow]
    legend: list[tuple[str, str]]  # (css class, name)
    x_ticks: list[Tick]
    table: list[tuple] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)

    @property
    def plot_left(self) -> int:
        return self.label_width

    @property
    def plot_bottom(self) -> int:
        return self.height - 24


def bar_chart(
    title: str,
    description: str,
    rows: list[tuple[str, list[float]]],
    parts: list[tuple[str, str]],
    *,
    maximum: float | None = None,
    format_value=lambda value: f"{value:g}",
    note=None,
    label_width: int = 250,
    whole: bool = True,
) -> BarChart:
    """Horizontal stacked bars: `rows` is (label, one value per part); `parts` is (css class, name)."""
    bar_height, gap = 18, 8
    top = maximum or nice_ceiling(max((sum(values) for _, values in rows), default=0), whole=whole)
    inner = WIDTH - label_width - 110  # room for the total after the bar
    result = []
    for index, (label, values) in enumerate(rows):
        y = 8 + index * (bar_height + gap)
        x = float(label_width)
        bars = []
        for (css, _name), value in zip(parts, values, strict=True):
            width = round(inner * value / top, 1) if top else 0
            if value:
                bars.append(Bar(round(x, 1), max(width, 1.0), css, value, format_value(value)))
            x += width
        total = sum(values)
        text = note(label, values) if note else format_value(total)
        result.append(BarRow(label, y, tuple(bars), text, round(x + 6, 1)))
    height = 8 + len(rows) * (bar_height + gap) + 24
    ticks = [Tick(round(label_width + inner * k / 4, 1), format_value(top * k / 4)) for k in range(5)]
    table = [(label, *(format_value(v) for v in values)) for label, values in rows]
    return BarChart(
        title,
        description,
        WIDTH,
        height,
        label_width,
        bar_height,
        result,
        parts,
        ticks,
        table,
        [name for _, name in parts],
    )
