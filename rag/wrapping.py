"""Word wrapping for streamed terminal output: lines break at spaces, never inside a word.

A terminal wraps a long line wherever its edge falls ("next-generatio" / "n"), and a stream of
tokens cannot be handed to a paragraph wrapper because it never sees the whole text. WordWrap
keeps the cursor's column, holds back the word a token ends in (the next token may continue
it) and starts a new line before a word that would cross the edge. Widths are terminal cells
(rich's cell_len: CJK and emoji count two). Linear in the text written.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from rich.cells import cell_len

_PIECE = re.compile(r"\n|[^\S\n]+|\S+")


class WordWrap:
    """A write() that wraps at word boundaries for an output `width()` cells wide."""

    def __init__(self, out: Callable[[str], None], width: Callable[[], int]) -> None:
        self._out = out
        self._width = width
        self._column = 0
        self._space = ""  # whitespace after the last word written, sent only before the next
        self._word: list[str] = []  # a word not yet ended: the next write may continue it

    def write(self, text: str) -> None:
        """Write text; a word at its end waits for the next write, a newline or flush()."""
        out: list[str] = []
        for match in _PIECE.finditer(text):
            piece = match.group()
            if piece == "\n":
                self._end_word(out)
                out.append("\n")
                self._column, self._space = 0, ""
            elif piece[0].isspace():
                self._end_word(out)
                self._space += piece
            else:
                self._word.append(piece)
        if out:
            self._out("".join(out))

    def flush(self) -> None:
        """Write the word held back."""
        out: list[str] = []
        self._end_word(out)
        if out:
            self._out("".join(out))

    def _end_word(self, out: list[str]) -> None:
        if not self._word:
            return
        word = "".join(self._word)
        self._word = []
        width = max(self._width(), 1)
        size = cell_len(word)
        space = self._space.replace("\t", " ")
        self._space = ""
        if self._column and self._column + len(space) + size > width:
            out.append("\n")  # the space it replaces is dropped
            self._column = 0
        elif space:  # between words, or indentation after a newline
            out.append(space)
            self._column += len(space)
        out.append(word)
        self._column += size
        if self._column > width:  # a word wider than the line: the terminal cuts it
            self._column %= width
