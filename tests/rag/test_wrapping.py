"""WordWrap: streamed text breaks at spaces, whatever the chunk boundaries."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len

from newsrag.rag.wrapping import WordWrap

WORD = st.text(alphabet="abcdefghij-.,$0123456789中", min_size=1, max_size=12)


def wrapped(chunks: list[str], width: int) -> str:
    written: list[str] = []
    wrap = WordWrap(written.append, lambda: width)
    for chunk in chunks:
        wrap.write(chunk)
    wrap.flush()
    return "".join(written)


def test_a_long_line_breaks_before_the_word_that_would_cross_the_edge() -> None:
    text = "Alibaba will build next-generation research hubs in eight countries."
    assert wrapped([text], 20).splitlines() == [
        "Alibaba will build",
        "next-generation",
        "research hubs in",
        "eight countries.",
    ]


def test_newlines_and_indentation_are_kept() -> None:
    out = wrapped(["[1] A title\n    the passage text\n"], 80)
    assert out == "[1] A title\n    the passage text\n"


def test_a_word_ending_a_chunk_waits_for_the_rest_of_it() -> None:
    written: list[str] = []
    wrap = WordWrap(written.append, lambda: 10)
    wrap.write("one two gene")
    assert "".join(written) == "one two"
    wrap.write("ration")
    wrap.flush()
    assert "".join(written) == "one two\ngeneration"


@given(
    words=st.lists(WORD, min_size=1, max_size=40),
    seps=st.lists(st.sampled_from([" ", "  ", "\n", " \n"]), min_size=40, max_size=40),
    cuts=st.lists(st.integers(min_value=0, max_value=600), max_size=8),
    width=st.integers(min_value=24, max_value=60),  # every word fits a line
)
def test_no_word_is_cut_and_nothing_is_lost(
    words: list[str], seps: list[str], cuts: list[int], width: int
) -> None:
    text = "".join(w + s for w, s in zip(words, seps, strict=False))
    bounds = sorted({0, len(text), *(c for c in cuts if c < len(text))})
    chunks = [text[a:b] for a, b in itertools.pairwise(bounds)]
    out = wrapped(chunks, width)
    assert out.split() == text.split()  # same words, in order, none split or merged
    for line in out.splitlines():
        assert cell_len(line) <= width, (line, width)
    assert out.count("\n") >= text.rstrip(" ").count("\n")  # the text's own breaks stay


def test_a_word_wider_than_the_line_is_left_whole_and_the_column_followed() -> None:
    # The terminal cuts the 14-cell word at 10 and the cursor ends at column 4: "ab" fits.
    assert wrapped(["x abcdefghijklmn ab cdefgh"], 10) == "x\nabcdefghijklmn ab\ncdefgh"


def test_linear_in_the_text() -> None:
    import time

    def seconds(n: int) -> float:
        text = "word " * n
        start = time.perf_counter()
        wrapped([text[i : i + 7] for i in range(0, len(text), 7)], 60)
        return time.perf_counter() - start

    small = min(seconds(5_000) for _ in range(3))
    large = min(seconds(50_000) for _ in range(3))
    assert large <= 15 * small
