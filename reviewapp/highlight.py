"""Split a text into segments for inline highlighting: each segment carries the flags covering it.

Overlapping flags split the text at every boundary, so each character is in exactly one segment and
the template can escape each segment's text on its own.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise


@dataclass(frozen=True)
class Segment:
    index: int
    text: str
    flags: tuple
    starts: tuple = ()  # the flags whose span begins here (keyboard navigation lands on them)

    @property
    def categories(self) -> list[str]:
        return sorted({flag.category for flag in self.flags})

    @property
    def severity(self) -> str:
        """The gravest severity among the covering flags, for the underline style."""
        order = ("blocker", "warning", "info")
        present = {flag.severity for flag in self.flags}
        return next((severity for severity in order if severity in present), "info")

    @property
    def start_ids(self) -> str:
        return " ".join(str(flag.pk) for flag in self.starts)


def segments(text: str, flags: Sequence) -> list[Segment]:
    """`flags` need `start`, `end` and `category`; spans outside the text are clipped."""
    bounds = {0, len(text)}
    for flag in flags:
        bounds.add(max(0, min(flag.start, len(text))))
        bounds.add(max(0, min(flag.end, len(text))))
    points = sorted(bounds)
    result = []
    for start, end in pairwise(points):
        if start == end:
            continue
        covering = tuple(flag for flag in flags if flag.start < end and flag.end > start)
        starts = tuple(flag for flag in covering if max(0, flag.start) == start)
        result.append(Segment(index=len(result), text=text[start:end], flags=covering, starts=starts))
    return result
