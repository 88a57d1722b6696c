"""Citation markers, fact normalisation, and verification against real passages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsrag.index import Hit, IndexStore, SentenceTransformerEmbedder
from newsrag.rag.citations import (
    attach_markers,
    parse_markers,
    renumber,
    sentence_pieces,
    split_cited,
    strip_markers,
    verify_citations,
)
from newsrag.rag.facts import entities_supported, numbers_supported, quantities, values
from newsrag.rag.records import Answer, AnswerSentence, Citation
from newsrag.rag.retrieval import HybridRetriever
from newsrag.rag.support import SentenceVectors

QUESTION = "How much will Alibaba invest in its overseas research hubs?"


@pytest.mark.parametrize(
    ("text", "markers"),
    [
        ("It rose [1].", [1]),
        ("It rose [1, 2].", [1, 2]),
        ("It rose [1][2] and fell [3].", [1, 2, 3]),
        ("It rose [1-3].", [1, 2, 3]),
        ("It rose [2–4; 7].", [2, 3, 4, 7]),
        ("It rose [ 2 ] then [2].", [2]),
        ("A list [a] or a year (2021) is no marker.", []),
        ("A silly range [1-500] is not expanded.", [1, 500]),
    ],
)
def test_parse_markers(text: str, markers: list[int]) -> None:
    assert parse_markers(text) == markers


def test_split_cited_keeps_markers_that_follow_the_full_stop() -> None:
    parts = split_cited("Alibaba will invest $15 billion. [1] It will hire 100 researchers [2][3].")
    assert parts == [
        ("Alibaba will invest $15 billion.", (1,)),
        ("It will hire 100 researchers.", (2, 3)),
    ]
    assert attach_markers("It rose.", (1, 2)) == "It rose [1][2]."
    assert attach_markers("It rose", ()) == "It rose"


@given(
    st.lists(
        st.tuples(
            st.text(alphabet="abcdefgh ", min_size=1, max_size=20),
            st.lists(st.integers(min_value=1, max_value=99), min_size=1, max_size=3),
        ),
        min_size=1,
        max_size=5,
    ),
    st.sampled_from(["[{}]", "[{}]", "[{}] "]),
    st.sampled_from([", ", ",", "; ", "]["]),
)
def test_markers_round_trip(parts: list[tuple[str, list[int]]], wrap: str, separator: str) -> None:
    text = " ".join(word + " " + wrap.format(separator.join(map(str, ns))) for word, ns in parts)
    expected = list(dict.fromkeys(n for _, ns in parts for n in ns))
    assert parse_markers(text) == expected
    stripped = strip_markers(text)
    assert parse_markers(stripped) == [] and "[" not in stripped


@given(
    st.integers(min_value=1, max_value=999),
    st.sampled_from([("b", 1e9), ("bn", 1e9), (" billion", 1e9), (" million", 1e6), ("m", 1e6)]),
)
def test_amounts_normalise_across_spellings(number: int, scale: tuple[str, float]) -> None:
    suffix, factor = scale
    written = f"${number}{suffix}"
    spelled = f"{number}{' billion' if factor == 1e9 else ' million'}"
    assert values(written) == values(spelled) == {round(number * factor, 6)}
    assert numbers_supported(f"They paid {written}.", f"a deal worth {spelled} in cash")


def test_quantities_kinds_and_glued_numbers() -> None:
    found = {(q.value, q.kind) for q in quantities("a 31% rise to 823.8 million, COVID-19, $2.8bn")}
    assert found == {(31.0, "percent"), (823.8e6, "number"), (2.8e9, "money")}
    assert numbers_supported("It costs $20 billion.", "It costs $15 billion.") is False
    assert numbers_supported("It hired 100 people.", "It hired one hundred people.")


def test_entities_must_appear_in_the_evidence() -> None:
    evidence = "Officer Jeff Zhang, Alibaba's Chief Technology Officer, said the academy will grow."
    assert entities_supported("Jeff Zhang is the CTO.", evidence)  # acronym by initials
    assert not entities_supported("Jeff Chang is the CTO.", evidence)
    assert not entities_supported("Tencent will grow.", evidence)
    assert entities_supported("Analysts expect growth.", evidence)  # an opener, not a name


@pytest.fixture(scope="module")
def hits(corpus_store: IndexStore) -> list[Hit]:
    return HybridRetriever(corpus_store).search(QUESTION, 6)


def test_verification_keeps_supported_and_drops_unknown(
    hits: list[Hit], embedder: SentenceTransformerEmbedder
) -> None:
    fact = next(n for n, h in enumerate(hits, 1) if "$15 billion" in h.chunk.text)
    other = next(n for n, h in enumerate(hits, 1) if "$15 billion" not in h.chunk.text)
    text = (
        f"Alibaba will invest $15 billion in overseas research hubs [{fact}]. "
        f"It will also build a hotel on the Moon [{other}]. Tencent is hiring [42]."
    )
    checked = verify_citations(text, hits, SentenceVectors(embedder))
    assert [s.supported for s in checked.sentences] == [True, False, False]
    assert checked.text == f"Alibaba will invest $15 billion in overseas research hubs [{fact}]."
    assert checked.dropped_markers == 1
    flags = {c.marker: c.supported for c in checked.citations}
    assert flags == {fact: True, other: False}


def test_wrong_marker_is_recited_to_a_supporting_passage(
    hits: list[Hit], embedder: SentenceTransformerEmbedder
) -> None:
    wrong = next(n for n, h in enumerate(hits, 1) if "15 billion" not in h.chunk.text)
    checked = verify_citations(
        f"Alibaba will invest $15 billion to expand overseas research hubs [{wrong}].",
        hits,
        SentenceVectors(embedder),
    )
    assert checked.recited == 1 and checked.supported
    (marker,) = parse_markers(checked.text)
    assert "15 billion" in hits[marker - 1].chunk.text


def test_changed_number_is_not_supported(
    hits: list[Hit], embedder: SentenceTransformerEmbedder
) -> None:
    checked = verify_citations(
        "Alibaba will invest $25 billion in overseas research hubs [1].",
        hits,
        SentenceVectors(embedder),
    )
    assert not checked.supported and checked.text == ""


def _citation(marker: int, chunk_id: str) -> Citation:
    return Citation(marker, chunk_id, "doc", "Title", None, None, "text", 0, 4)


def test_renumber_maps_text_sentences_and_citations_together() -> None:
    answer = Answer(
        question="q",
        answer="Sources disagree: A rose [5]. B fell [2][5].",
        answerable=True,
        refusal_reason=None,
        mode="extractive",
        degraded=False,
        citations=(_citation(2, "two"), _citation(5, "five"), _citation(7, "seven")),
        timings_ms={},
        sentences=(AnswerSentence("A rose.", (5,), True), AnswerSentence("B fell.", (2, 5), True)),
    )
    renumbered = renumber(answer)
    assert renumbered.answer == "Sources disagree: A rose [1]. B fell [2][1]."
    assert [s.markers for s in renumbered.sentences] == [(1,), (2, 1)]
    # The passage a marker pointed at keeps its marker's new number; uncited ones come last.
    assert [(c.marker, c.chunk_id) for c in renumbered.citations] == [
        (1, "five"),
        (2, "two"),
        (3, "seven"),
    ]
    assert sentence_pieces(renumbered) == ["Sources disagree: A rose [1].", " B fell [2][1]."]
