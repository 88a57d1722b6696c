"""ExtractiveAnswerer: question types, type-aware selection, refusals and conflicts."""

from __future__ import annotations

import pytest

from newsrag.index import IndexStore, SentenceTransformerEmbedder
from newsrag.rag.citations import parse_markers
from newsrag.rag.extractive.answerer import CONFLICT_PREFIX, ExtractiveAnswerer
from newsrag.rag.questions import analyse, person_names
from newsrag.rag.retrieval import HybridRetriever
from newsrag.rag.support import SentenceVectors
from tests.rag.articles import store_of

ORBIT = [
    {"id": "orbit-a", "title": "Orbit Foods reshuffles its board", "source": "Wire",
     "published_at": "2024-02-01",
     "text": "Orbit Foods named Dana Whitfield as its chief financial officer on Monday. "
     "The snack maker also said sales rose 12% to $840 million last year. "
     "Its factories in Leeds and Cork employ 2,300 people."},
    {"id": "orbit-b", "title": "Snack maker Orbit appoints finance chief", "source": "Courier",
     "published_at": "2024-02-02",
     "text": "Orbit Foods appointed Dana Whitman as its chief financial officer this week. "
     "The company, based in Leeds, has been expanding its crisp brands across Europe."},
]  # fmt: skip


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How much will Alibaba invest?", "amount"),
        ("What sum did it pay?", "amount"),
        ("What was Amazon's revenue in 2020?", "amount"),
        ("How many researchers is it hiring?", "count"),
        ("Who is the chief technology officer?", "person"),
        ("When did the cloud unit turn profitable?", "date"),
        ("In what year was it founded?", "date"),
        ("Where will the data center open?", "place"),
        ("Which countries will host the labs?", "place"),
        ("What is the initiative called?", "entity"),
        ("Why did regulators fine Alibaba?", "other"),
    ],
)
def test_question_types(question: str, kind: str) -> None:
    assert analyse(question).answer_type == kind


def test_person_names_skip_organisations() -> None:
    text = "Officer Jeff Zhang of Alibaba Cloud met Anusha Rehman and the Damo Academy in New York."
    assert person_names(text) == ["Jeff Zhang", "Anusha Rehman"]


def answer(store: IndexStore, embedder: SentenceTransformerEmbedder, question: str, k: int = 8):  # type: ignore[no-untyped-def]
    hits = HybridRetriever(store).search(question, k)
    return hits, ExtractiveAnswerer().answer(question, hits, SentenceVectors(embedder))


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How much will Alibaba invest in its overseas research hubs?", "$15 billion"),
        ("What sum is going into Alibaba's cloud push in Southeast Asia?", "$1 billion"),
        ("How many engineers and scientists work at Alibaba?", "25,000"),
        ("When did Alibaba Cloud first become profitable?", "December quarter"),
        (
            "Where will Alibaba Cloud open its first data center by the end of the year?",
            "Philippines",
        ),
        ("What is the Southeast Asia initiative called?", "AsiaForward"),
    ],
)
def test_answers_are_typed_and_cited(
    corpus_store: IndexStore, embedder: SentenceTransformerEmbedder, question: str, expected: str
) -> None:
    hits, extract = answer(corpus_store, embedder, question)
    assert extract.answerable, question
    assert expected in extract.text
    markers = parse_markers(extract.text)
    assert markers and {c.marker for c in extract.citations} == set(markers)
    assert any(expected in hits[m - 1].chunk.text for m in markers)


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of Australia?",
        "How many employees does Alibaba Cloud have in the Philippines?",
        "Who is the CEO of Tencent?",
        "Who won the 2018 World Cup?",
        "How many data centers does Alibaba Cloud operate in Japan?",
    ],
)
def test_refuses_instead_of_returning_the_nearest_sentence(
    corpus_store: IndexStore, embedder: SentenceTransformerEmbedder, question: str
) -> None:
    hits, extract = answer(corpus_store, embedder, question)
    assert hits  # something was retrieved, yet nothing answers
    assert not extract.answerable and extract.sentences == ()
    # A near miss may say what the passages cover, citing them only as unsupported context.
    assert extract.near_miss or (extract.text == "" and extract.citations == ())
    assert not any(c.supported for c in extract.citations)


def test_amount_question_prefers_a_sentence_with_an_amount(
    corpus_store: IndexStore, embedder: SentenceTransformerEmbedder
) -> None:
    question = "How much did Alibaba spend on research a year on average?"
    hits = HybridRetriever(corpus_store).search(question, 8)
    ranked = ExtractiveAnswerer().rank(question, hits, SentenceVectors(embedder))
    assert ranked[0].values and "$3 billion" in ranked[0].text
    untyped = [c for c in ranked if not c.values]
    assert untyped and untyped[0].score < ranked[0].score


@pytest.fixture(scope="module")
def orbit_store(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> IndexStore:
    return store_of(ORBIT, tmp_path_factory.mktemp("orbit"), embedder)


def test_conflicting_sources_are_both_cited(
    orbit_store: IndexStore, embedder: SentenceTransformerEmbedder
) -> None:
    _, extract = answer(orbit_store, embedder, "Who is Orbit Foods' chief financial officer?")
    assert extract.conflict and CONFLICT_PREFIX in extract.text
    assert extract.short_answer in ("Dana Whitfield", "Dana Whitman")
    assert extract.text.startswith(f"{extract.short_answer} [")  # the value asked leads
    assert "Dana Whitfield" in extract.text and "Dana Whitman" in extract.text
    assert {c.doc_id for c in extract.citations} == {"orbit-a", "orbit-b"}


def test_agreeing_sources_are_no_conflict(
    orbit_store: IndexStore, embedder: SentenceTransformerEmbedder
) -> None:
    _, extract = answer(orbit_store, embedder, "Which city is Orbit Foods based in?")
    assert extract.answerable and not extract.conflict and "Leeds" in extract.text


def test_corpus_conflict_on_the_technology_chief(
    corpus_store: IndexStore, embedder: SentenceTransformerEmbedder
) -> None:
    _, extract = answer(corpus_store, embedder, "Who is Alibaba's chief technology officer?")
    assert extract.conflict
    assert "Jeff Zhang" in extract.text and "Jeff Chang" in extract.text
    assert len({c.doc_id for c in extract.citations}) == 2


def test_answerer_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="min_similarity"):
        ExtractiveAnswerer(min_similarity=2.0)


def test_each_part_of_a_two_part_question_is_answered_or_said_missing() -> None:
    from tests.rag.extractive.test_short_answers import answer, hit

    text = (
        "The drama Harbour Lights was directed by Mara Quist, the studio said. "
        "Harbour Lights will be released on 9 March 2023 on Channel Five."
    )
    got = answer(
        "Who directed Harbour Lights and when will it be released?",
        [hit("lights", text, 1, published_at="2022-05-10")],
    )
    assert got.short_answer == "Mara Quist; March 9, 2023"
    assert "Mara Quist" in got.text and "March 9, 2023" in got.text
    assert [c.marker for c in got.citations] == [1]
    half = answer(
        "Who directed Harbour Lights and who composed its score?",
        [hit("lights", text, 1, published_at="2022-05-10")],
    )
    assert half.short_answer == "Mara Quist"
    assert half.text.endswith("The articles do not say: Who composed its score?")
    none = answer(
        "Who composed the score of Harbour Lights and who designed its posters?",
        [hit("lights", text, 1, published_at="2022-05-10")],
    )
    assert not none.answerable


def test_a_near_miss_says_other_names_only_when_every_close_passage_is_one() -> None:
    from types import SimpleNamespace

    from newsrag.rag.extractive.answerer import near_miss_text
    from newsrag.rag.questions import analyse

    asked = analyse("How much did Acme invest in Ostland?")
    inside = SimpleNamespace(time="unknown", other_name=True)
    plain = SimpleNamespace(time="unknown", other_name=False)
    only = near_miss_text(asked, [inside, inside], [1, 2])  # type: ignore[list-item]
    assert "only within the names of other organisations" in only
    mixed = near_miss_text(asked, [plain, inside], [1, 2])  # type: ignore[list-item]
    assert mixed.startswith("The articles discuss") and "within" not in mixed


def test_who_is_a_name_is_answered_by_what_the_articles_say_the_person_is() -> None:
    from tests.rag.extractive.test_short_answers import answer, hit

    text = (
        "The season opens in May, League Commissioner Mara Quist said on Monday. "
        "Quist met Ole Brandt, the chief executive of Lumo, in Norvik to discuss the rights."
    )
    hits = [hit("league", text, 1, published_at="2024-03-04")]
    brandt = answer("Who is Ole Brandt?", hits)
    assert brandt.short_answer == "the chief executive of Lumo" and brandt.answerable
    assert brandt.text.startswith("the chief executive of Lumo [1].")
    quist = answer("Who is Mara Quist?", hits)
    assert quist.short_answer == "League Commissioner"
    # A name the passage gives no role for is no answer: refused, not "met Ole Brandt".
    other = [hit("talks", "Ole Brandt met Mara Quist in Norvik on Monday.", 1)]
    assert not answer("Who is Ole Brandt?", other).answerable


def test_how_many_people_is_answered_by_a_count_of_any_kind_of_person() -> None:
    from tests.rag.extractive.test_short_answers import answer, hit

    text = "Acme is hiring 120 engineers for its Norvik lab, and opening 8 offices there."
    got = answer("How many people is Acme hiring for its Norvik lab?", [hit("acme", text, 1)])
    assert got.short_answer == "120"
    offices = "Acme is opening 8 offices for its Norvik lab."
    assert not answer(
        "How many people is Acme hiring for its Norvik lab?", [hit("a", offices, 1)]
    ).answerable


def test_a_why_question_takes_a_reason_sentence_at_half_the_similarity_floor() -> None:
    from types import SimpleNamespace

    from newsrag.rag.questions import analyse

    answerer = ExtractiveAnswerer()
    why = analyse("Why did the Norvik Authority fine Acme?")
    reason = SimpleNamespace(
        coverage=1.0, text="Acme was fined in May by the Norvik Authority for hiding reports."
    )
    plain = SimpleNamespace(coverage=1.0, text="Acme was fined in May by the Norvik Authority.")
    assert answerer.floor(why, reason) == answerer.min_similarity / 2  # type: ignore[arg-type]
    assert answerer.floor(why, plain) == answerer.min_similarity  # type: ignore[arg-type]
    when = analyse("When did the Norvik Authority fine Acme?")
    assert answerer.floor(when, reason) == answerer.min_similarity  # type: ignore[arg-type]
    what_for = analyse("What was the Norvik fine for?")  # asks why, in other words
    assert answerer.floor(what_for, reason) == answerer.min_similarity / 2  # type: ignore[arg-type]
