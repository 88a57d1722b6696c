"""Synonym matching, what a question measures, and the refusals and answers they drive."""

from __future__ import annotations

import numpy as np
import pytest

from newsrag.index import IndexStore, SentenceTransformerEmbedder
from newsrag.rag.extractive.answerer import ExtractiveAnswerer
from newsrag.rag.extractive.matching import TermMatcher, stem_words
from newsrag.rag.facts import stem
from newsrag.rag.questions import analyse, counted_words, person_names
from newsrag.rag.retrieval import HybridRetriever
from newsrag.rag.support import SentenceVectors
from tests.rag.articles import store_of

# An invented airline, so no test leans on the shipped corpus or its gold questions.
KESTREL = [
    {"id": "kestrel-ops", "title": "Kestrel Air expands its fleet", "source": "Wire",
     "published_at": "2025-03-02",
     "text": "Kestrel Air reported 4.2 million passengers in the March quarter. "
     "The carrier will hire 300 pilots this year. "
     "It operates 45 aircraft across 12 countries. "
     "Kestrel Air partnered with Northfield Bank on a loyalty card. "
     "Kestrel Air chief pilot Maria Olsen said the new routes to the islands start in June."},
    {"id": "kestrel-fine", "title": "Regulator fines Kestrel Air", "source": "Courier",
     "published_at": "2025-05-10",
     "text": "Kestrel Air was fined $12 million by the aviation regulator in May "
     "for cancelling flights without notice."},
    {"id": "kestrel-norway", "title": "Kestrel Air opens a base in Norway", "source": "Wire",
     "published_at": "2025-04-20",
     "text": "Kestrel Air opened a maintenance base in Norway in April. "
     "The carrier employs 2,400 staff. "
     "In Norway, it runs 40 flights a week."},
]  # fmt: skip


@pytest.fixture(scope="module")
def kestrel_store(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> IndexStore:
    return store_of(KESTREL, tmp_path_factory.mktemp("kestrel"), embedder)


def ask(store: IndexStore, embedder: SentenceTransformerEmbedder, question: str):  # type: ignore[no-untyped-def]
    hits = HybridRetriever(store).search(question, 8)
    return ExtractiveAnswerer().answer(question, hits, SentenceVectors(embedder))


@pytest.mark.parametrize(
    ("question", "kind", "measured"),
    [
        ("How many data centers does Kestrel operate?", "count", ("data", "centers")),
        ("How many researchers (Kestrel hiring)?", "count", ("researchers",)),
        ("What was Kestrel's net profit for fiscal 2024?", "amount", ("profit",)),
        ("How big was the penalty handed to Kestrel?", "amount", ("penalty",)),
        ("What is Kestrel's typical annual R&D budget?", "amount", ("budget",)),
        ("How much is Kestrel investing?", "amount", ()),
        ("How much did Kestrel earn in profit last year?", "amount", ("profit",)),
        ("In which Irish city is Kestrel based?", "place", ()),
    ],
)
def test_what_a_question_measures(question: str, kind: str, measured: tuple[str, ...]) -> None:
    asked = analyse(question)
    assert (asked.answer_type, asked.measured) == (kind, measured)


def test_counted_words_are_phrase_heads() -> None:
    assert counted_words("Eight research centres in ten countries") == ["centres", "countries"]
    assert counted_words("it will employ 100 other researchers in the field") == ["researchers"]


def test_person_names_drop_titles_and_participles() -> None:
    assert person_names("and IT Ministry Anusha Rehman has said so") == ["Anusha Rehman"]
    assert person_names("The Jack Ma-led company was fined") == ["Jack Ma"]
    assert person_names("Officer Jeff Zhang, Alibaba's Chief Technology said") == ["Jeff Zhang"]


def test_synonyms_get_credit_and_unrelated_words_none(
    embedder: SentenceTransformerEmbedder,
) -> None:
    matcher = TermMatcher(SentenceVectors(embedder), stem_words("penalty revenue scientists"))
    credits = matcher.credits("The firm was fined and hired researchers; buyers rose.")
    assert credits["penalti"] > 0 and credits["scientist"] > 0
    assert credits["revenu"] == 0  # "buyers" is another measure, not a synonym
    assert matcher.related("budget", "it spent $3 billion") and not matcher.related(
        "profit", "shares closed lower"
    )


class RecordingVectors(SentenceVectors):
    """SentenceVectors that records each batch it is asked for."""

    def __init__(self, embedder: SentenceTransformerEmbedder) -> None:
        super().__init__(embedder)
        self.batches: list[list[str]] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.batches.append(list(texts))
        return super().embed(texts)


def test_prepare_embeds_only_the_words_credits_compare(
    embedder: SentenceTransformerEmbedder,
) -> None:
    question = stem_words("How big was the penalty handed to Kestrel?")
    whole = "Kestrel was handed a big penalty, paid in May."  # every question term: none compared
    lacking = "Kestrel Air was fined $12 million."  # no "penalty": its words are compared
    vectors = RecordingVectors(embedder)
    matcher = TermMatcher(vectors, question)
    matcher.prepare([whole, lacking, "   "])
    missing = {question[t] for t in question if t not in stem_words(lacking)}
    assert vectors.batches == [sorted(missing | set(stem_words(lacking).values()))]
    assert "paid" not in vectors.batches[0] and "penalty" in vectors.batches[0]
    unprepared = TermMatcher(SentenceVectors(embedder), question)
    for text in (whole, lacking):  # the same credits as without preparing
        assert matcher.credits(text) == unprepared.credits(text)
    assert matcher.credits(lacking)[stem("penalty")] > 0  # fined ~ penalty


def test_refuses_when_the_measure_asked_is_not_in_the_articles(
    kestrel_store: IndexStore, embedder: SentenceTransformerEmbedder
) -> None:
    # A passage has a number for the same company and quarter, but of passengers.
    extract = ask(
        kestrel_store, embedder, "What was Kestrel Air's net profit in the March quarter?"
    )
    assert not extract.answerable
    extract = ask(kestrel_store, embedder, "How many passengers did Kestrel Air carry?")
    assert extract.answerable and "4.2 million" in extract.text


def test_refuses_a_measure_named_after_the_verb(
    kestrel_store: IndexStore, embedder: SentenceTransformerEmbedder
) -> None:
    # "earn in profit": the $12 million fine for cancelled flights is an amount, not a profit.
    question = "How much did Kestrel Air earn in profit from cancelling flights?"
    assert not ask(kestrel_store, embedder, question).answerable
    fine = ask(kestrel_store, embedder, "How much was Kestrel Air fined in penalty?")
    assert fine.answerable and "$12 million" in fine.text


def test_a_figure_asked_for_a_place_must_be_stated_for_it(
    kestrel_store: IndexStore, embedder: SentenceTransformerEmbedder
) -> None:
    # The company-wide headcount sits in the Norway article (whose title names Norway) but
    # does not say how many work in Norway; the flights sentence does name Norway.
    assert analyse("How many staff does Kestrel Air employ in Norway?").scopes == ("norway",)
    assert not ask(
        kestrel_store, embedder, "How many staff does Kestrel Air employ in Norway?"
    ).answerable
    staff = ask(kestrel_store, embedder, "How many staff does Kestrel Air employ?")
    assert staff.answerable and "2,400" in staff.text
    flights = ask(kestrel_store, embedder, "How many flights does Kestrel Air run in Norway?")
    assert flights.answerable and "40 flights" in flights.text
    assert analyse("How large was the fine Kestrel Air paid in May?").scopes == ()  # a date


def test_a_count_of_something_else_does_not_answer(
    kestrel_store: IndexStore, embedder: SentenceTransformerEmbedder
) -> None:
    pilots = ask(kestrel_store, embedder, "How many pilots will Kestrel Air hire?")
    assert pilots.answerable and "300" in pilots.text and "45 aircraft" not in pilots.text
    planes = ask(kestrel_store, embedder, "How many aircraft does Kestrel Air operate?")
    assert planes.answerable and "45" in planes.text and "300" not in planes.text


def test_which_noun_must_be_named(
    kestrel_store: IndexStore, embedder: SentenceTransformerEmbedder
) -> None:
    assert not ask(
        kestrel_store, embedder, "Which university is Kestrel Air partnering with?"
    ).answerable
    bank = ask(kestrel_store, embedder, "Which bank is Kestrel Air partnering with?")
    assert bank.answerable and "Northfield Bank" in bank.text


def test_paraphrased_question_is_answered(
    kestrel_store: IndexStore, embedder: SentenceTransformerEmbedder
) -> None:
    extract = ask(
        kestrel_store, embedder, "How big was the penalty handed to Kestrel Air by the regulator?"
    )
    assert extract.answerable and "$12 million" in extract.text
    assert [c.doc_id for c in extract.citations] == ["kestrel-fine"]


def test_a_name_in_a_nearby_sentence_does_not_answer_who(
    kestrel_store: IndexStore, embedder: SentenceTransformerEmbedder
) -> None:
    assert not ask(kestrel_store, embedder, "Who founded Kestrel Air?").answerable
    pilot = ask(kestrel_store, embedder, "Who is Kestrel Air's chief pilot?")
    assert pilot.answerable and "Maria Olsen" in pilot.text


def test_a_multi_word_name_must_occur_as_that_name(
    kestrel_store: IndexStore, embedder: SentenceTransformerEmbedder
) -> None:
    # "Northfield" and "Air" both occur in the passage, but nothing there is "Northfield Air".
    question = "Which bank did {} partner with on a loyalty card?"
    assert not ask(kestrel_store, embedder, question.format("Northfield Air")).answerable
    bank = ask(kestrel_store, embedder, question.format("Kestrel Air"))
    assert bank.answerable and "Northfield Bank" in bank.text
