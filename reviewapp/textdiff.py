"""Word-level differences between two versions of a text, for the version history.

Texts are split into words, runs of whitespace and single punctuation marks, and compared with
difflib on those tokens, so a changed word shows as one deletion and one insertion rather than as
scattered letters. The result is plain data; the template escapes every piece.
"""

import difflib
import re
from dataclasses import dataclass

# Words keep their apostrophes (straight or typographic): "don't" is one token.
_TOKEN = re.compile(r"\s+|\w+(?:['\u2019]\w+)*|[^\w\s]", re.UNICODE)


@dataclass(frozen=True)
class Piece:
    kind: str  # "same", "added" or "removed"
    text: str


@dataclass(frozen=True)
class Diff:
    pieces: tuple[Piece, ...]

    @property
    def added_words(self) -> int:
        return sum(_words(piece.text) for piece in self.pieces if piece.kind == "added")

    @property
    def removed_words(self) -> int:
        return sum(_words(piece.text) for piece in self.pieces if piece.kind == "removed")

    @property
    def changed(self) -> bool:
        return any(piece.kind != "same" for piece in self.pieces)


def _words(text: str) -> int:
    return len(re.findall(r"\w+", text))


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def diff(old: str, new: str) -> Diff:
    """The pieces that turn `old` into `new`: joining the "same" and "added" texts gives `new`,
    joining the "same" and "removed" texts gives `old`."""
    a, b = tokens(old), tokens(new)
    pieces: list[Piece] = []

    def add(kind: str, parts: list[str]) -> None:
        text = "".join(parts)
        if not text:
            return
        if pieces and pieces[-1].kind == kind:
            pieces[-1] = Piece(kind, pieces[-1].text + text)
        else:
            pieces.append(Piece(kind, text))

    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            add("same", a[a0:a1])
        else:
            add("removed", a[a0:a1])
            add("added", b[b0:b1])
    return Diff(tuple(pieces))
