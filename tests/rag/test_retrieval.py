"""HybridRetriever on the shipped corpus and small synthetic articles: fusion, collapse, filters."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsrag.index import Hit, IndexStore, SentenceTransformerEmbedder, ingest, open_index
from newsrag.rag.retrieval import (
    HybridRetriever,
    SearchFilters,
    jaccard,
    min_max,
    rrf,
    shingles,
    z_score,
)
from tests.rag.articles import store_of

WIRE = (
    "Acme Robotics said on Monday it will buy the drone maker SkyLift for $420 million in cash. "
    "The deal, approved by both boards, is expected to close in the third quarter. "
    "SkyLift employs 300 engineers in Lyon and Toulouse. "
    "Acme chief executive Maria Okafor said the purchase doubles its aerial inspection business."
)
ARTICLES = [
    {"id": "wire", "title": "Acme Robotics to buy SkyLift", "text": WIRE, "source": "Wire",
     "published_at": "2023-03-06"},
    # A syndicated copy: same story, different outlet, one word changed.
    {"id": "copy", "title": "Acme Robotics to buy SkyLift", "text": WIRE.replace("Monday", "Mon."),
     "source": "Daily Courier", "published_at": "2023-03-07"},
    {"id": "bakery", "title": "Village bakery wins award",
     "text": "The Old Mill bakery in Hexham won the national sourdough award on Saturday. "
     "Its owner Tom Reed said the prize money of 5,000 pounds will buy a new oven.",
     "source": "Hexham Courant", "published_at": "2022-11-19"},
    {"id": "undated", "title": "Drone rules tightened",
     "text": "Regulators tightened the rules for commercial drone flights over cities, "
     "requiring a licence for every aircraft heavier than 250 grams.", "source": "wire"},
]  # fmt: skip


@pytest.fixture(scope="module")
def small_store(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> IndexStore:
    """Four synthetic articles, one a syndicated copy of another."""
    return store_of(ARTICLES, tmp_path_factory.mktemp("small"), embedder)


def test_rrf_and_normalisers() -> None:
    assert rrf(1) == pytest.approx(1 / 61)
    assert rrf(None) == 0.0
    assert rrf(1) > rrf(2)
    assert min_max([2.0, 4.0, 3.0]) == [0.0, 1.0, 0.5]
    assert min_max([1.0, 1.0]) == [0.0, 0.0]
    z = z_score([1.0, 2.0, 3.0])
    assert z[0] < z[1] < z[2] and z[1] == pytest.approx(0.5)


def test_shingle_jaccard() -> None:
    a = shingles("The quick brown fox jumps over the lazy dog")
    assert jaccard(a, a) == 1.0
    assert jaccard(a, shingles("An entirely different sentence about markets")) == 0.0


def test_hybrid_finds_the_amount_passage(corpus_store: IndexStore) -> None:
    hits = HybridRetriever(corpus_store).search(
        "How much will Alibaba invest in its overseas research hubs?", 5
    )
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    assert "$15 billion" in hits[0].chunk.text
    assert all(h.score == h.scores["fused"] for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert {"dense", "bm25", "fused"} <= set(hits[0].scores)


def test_rrf_fuses_both_rankings(corpus_store: IndexStore) -> None:
    query = "Project AsiaForward upskill local developers"
    dense = HybridRetriever(corpus_store, mode="dense").search(query, 14)
    bm25 = HybridRetriever(corpus_store, mode="bm25").search(query, 14)
    hybrid = HybridRetriever(corpus_store, fusion="rrf", collapse=False).search(query, 3)
    dense_rank = {h.chunk.id: h.rank for h in dense}
    bm25_rank = {h.chunk.id: h.rank for h in bm25}
    top = hybrid[0]
    assert top.score == pytest.approx(
        rrf(dense_rank.get(top.chunk.id)) + rrf(bm25_rank.get(top.chunk.id))
    )
    assert dense[0].score == dense[0].scores["dense"]
    assert bm25[0].score == bm25[0].scores["bm25"]


@pytest.mark.parametrize("fusion", ["rrf", "score", "dbsf"])
def test_every_fusion_ranks_the_obvious_passage_first(
    corpus_store: IndexStore, fusion: str
) -> None:
    retriever = HybridRetriever(corpus_store, fusion=fusion)  # type: ignore[arg-type]
    hits = retriever.search("Pinduoduo active buyers rise", 3)
    assert "Pinduoduo reported a 31% rise" in hits[0].chunk.text


def test_overlapping_windows_merge_into_one_passage(corpus_store: IndexStore) -> None:
    query = "Alibaba research centres researchers investment"
    loose = HybridRetriever(corpus_store, collapse=False).search(query, 14)
    tight = HybridRetriever(corpus_store).search(query, 14)

    def overlapping(hits: list[Hit]) -> int:
        return sum(
            a.chunk.doc_id == b.chunk.doc_id
            and a.chunk.start < b.chunk.end
            and b.chunk.start < a.chunk.end
            for i, a in enumerate(hits)
            for b in hits[i + 1 :]
        )

    assert overlapping(loose) > 0
    assert overlapping(tight) == 0
    assert tight[0].chunk.id == loose[0].chunk.id  # the best window leads, keeping its id
    for hit in tight:  # merged passages are still exact slices of their article
        article = corpus_store.articles[hit.chunk.doc_id]
        assert article.text[hit.chunk.start : hit.chunk.end] == hit.chunk.text
    widened = [h for h in tight if len(h.chunk.text) > len(corpus_store.chunks[0].text) * 1.2]
    assert widened, "some overlapping windows were merged"
    inside = [
        c.chunk.id
        for c in loose
        if c.chunk.doc_id == widened[0].chunk.doc_id
        and widened[0].chunk.start <= c.chunk.start < c.chunk.end <= widened[0].chunk.end
    ]
    assert len(inside) >= 2  # one passage now holds several windows


def test_merging_stops_at_the_length_cap(corpus_store: IndexStore) -> None:
    hits = HybridRetriever(corpus_store, max_merged_chars=1).search("Alibaba research", 14)
    assert all(
        h.chunk == corpus_store.chunks[[c.id for c in corpus_store.chunks].index(h.chunk.id)]
        for h in hits
    )


def test_syndicated_copy_collapses(small_store: IndexStore) -> None:
    query = "How much will Acme pay for SkyLift?"
    loose = HybridRetriever(small_store, collapse=False).search(query, 4)
    tight = HybridRetriever(small_store).search(query, 4)
    assert {h.chunk.doc_id for h in loose[:2]} == {"wire", "copy"}
    assert [h.chunk.doc_id for h in tight].count("wire") + [h.chunk.doc_id for h in tight].count(
        "copy"
    ) == 1


def test_source_filter_is_case_insensitive(small_store: IndexStore) -> None:
    hits = HybridRetriever(small_store).search("drone", 4, filters=SearchFilters(source="WIRE"))
    assert hits and {h.chunk.source for h in hits} == {"Wire", "wire"}


def test_date_filter_excludes_unknown_dates(small_store: IndexStore) -> None:
    retriever = HybridRetriever(small_store, collapse=False)
    since = retriever.search("drone", 4, filters=SearchFilters(since="2023-03-07"))
    assert [h.chunk.doc_id for h in since] == ["copy"]
    until = retriever.search("award bakery drone", 4, filters=SearchFilters(until="2022-12-31"))
    assert [h.chunk.doc_id for h in until] == ["bakery"]
    both = SearchFilters(since="2023-03-06", until="2023-03-06")
    assert [h.chunk.doc_id for h in retriever.search("drone", 4, filters=both)] == ["wire"]
    assert retriever.search("drone", 4, filters=SearchFilters(since="2030-01-01")) == []


def test_filters_are_validated() -> None:
    with pytest.raises(ValueError, match="since"):
        SearchFilters(since="last week")
    with pytest.raises(ValueError, match="after"):
        SearchFilters(since="2024-01-02", until="2024-01-01")
    assert not SearchFilters().active


def test_arguments_are_checked(small_store: IndexStore) -> None:
    with pytest.raises(ValueError, match="mode"):
        HybridRetriever(small_store, mode="sparse")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="k must be"):
        HybridRetriever(small_store).search("drone", 0)
    assert HybridRetriever(small_store).search("   ", 3) == []


def test_empty_index(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> None:
    (tmp_path / "a.txt").write_text("Only one short article about tea.", encoding="utf-8")
    ingest([tmp_path / "a.txt"], tmp_path / "index", embedder)
    store = open_index(tmp_path / "index", embedder)
    hits = HybridRetriever(store).search("coffee prices", 5)
    assert len(hits) == 1 and hits[0].scores["bm25"] == 0.0


REGATTAS = [
    {"id": f"regatta-{year}", "title": f"Harbour Regatta {year}",
     "text": f"The {year} Harbour Regatta was won by a crew from Norvik after a close final race "
     f"in strong winds off the harbour wall.", "source": "Courant",
     "published_at": f"{year}-07-01"}
    for year in (2017, 2018, 2019, 2020)
]  # fmt: skip


def test_the_asked_year_promotes_and_other_years_demote(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    store = store_of(REGATTAS, tmp_path, embedder)
    plain = HybridRetriever(store, constraint_weight=0.0)
    constrained = HybridRetriever(store)
    question = "Who won the 2018 Harbour Regatta?"
    assert constrained.search(question, 1)[0].chunk.doc_id == "regatta-2018"
    # Without a time in the question both rank alike.
    undated = "Who won the Harbour Regatta?"
    assert [h.chunk.id for h in plain.search(undated, 4)] == [
        h.chunk.id for h in constrained.search(undated, 4)
    ]
    promoted = {h.chunk.doc_id: h.score for h in constrained.search(question, 4)}
    flat = {h.chunk.doc_id: h.score for h in plain.search(question, 4)}
    assert promoted["regatta-2018"] > flat["regatta-2018"]
    assert promoted["regatta-2020"] < flat["regatta-2020"]
