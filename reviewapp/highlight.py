"""Split a text into segments for inline highlighting: each segment carries the flags covering it.

Overlapping flags split the text at every boundary, so each character is in exactly one segment and
the template can escape each segment's text on its own.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise


@dataclass(frozen=True)
class Segment:
    text: str
    flags: tuple

    @property
    def categories(self) -> str:
        return " ".join(sorted({flag.category for flag in self.flags}))


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
        result.append(Segment(text=text[start:end], flags=covering))
    return result
