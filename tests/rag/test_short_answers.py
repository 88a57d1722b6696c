"""Short answers, votes, near misses and twin conflicts on invented articles."""

from __future__ import annotations

import numpy as np

from newsrag.index import Chunk, Hit
from newsrag.rag.candidates import name_present
from newsrag.rag.extractive import ExtractiveAnswerer
from newsrag.rag.facts import date_spans, ordinals
from newsrag.rag.questions import person_names, work_titles
from newsrag.rag.support import SentenceVectors


class BagEmbedder:
    """A deterministic test embedder: hashed bag of lowercased words (no model needed)."""

    name = "bag"
    dim = 256
    max_tokens = 256

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(t.split()) for t in texts]

    def embed_passages(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.casefold().replace(".", " ").replace("?", " ").split():
                out[i, hash(word.strip(",'\"")) % self.dim] += 1.0
        norms = np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
        return out / norms

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.embed_passages(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_passages([text])[0]


def hit(doc: str, text: str, rank: int, published_at: str | None = None) -> Hit:
    c = Chunk(f"{doc}#0", doc, 0, text, 0, len(text), 20, "", "web", published_at)
    return Hit(c, 1.0 / rank, rank)


def answer(question: str, hits: list[Hit]):  # type: ignore[no-untyped-def]
    return ExtractiveAnswerer().answer(question, hits, SentenceVectors(BagEmbedder()))


def test_values_of_each_type() -> None:
    assert [d.with_year(2020) for d in date_spans("opens on 15 November and closes Nov. 20")] == [
        "November 15, 2020",
        "November 20, 2020",
    ]
    assert ordinals("the fourth season and the 12th edition") == {4.0, 12.0}
    assert person_names("The regatta chair Rosa B. Lindqvist thanked the crews.") == [
        "Rosa B. Lindqvist"
    ]
    assert person_names("On Sunday Thirteen-year-old Pip sailed with the adult crews.") == []
    assert person_names("Harbour Regatta Results Announced For Every Class Today") == []
    assert "Glass Orchard" in work_titles('The film "Glass Orchard" won; Norvik\'s Tide lost.')
    assert "Norvik's" not in work_titles("Norvik's Tide lost.")


def test_name_present_requires_every_part_but_allows_demonyms() -> None:
    assert name_present("freedonian", {"freedonia", "port"})
    assert not name_present("iran", {"iraq", "oil"})
    assert not name_present("jordan", {"smith", "river"})


def test_short_answer_leads_and_the_asked_year_decides() -> None:
    hits = [
        hit("a", "Mara Quist won the 2017 Harbour Regatta after a tight final race.", 1),
        hit("b", "Ole Brandt won the 2019 Harbour Regatta after a tight final race.", 2),
    ]
    got = answer("Who won the 2017 Harbour Regatta?", hits)
    assert got.short_answer == "Mara Quist"
    assert got.text.startswith("Mara Quist [1].")
    assert "Ole Brandt" not in got.text


def test_a_near_miss_says_what_the_articles_cover() -> None:
    hits = [
        hit("b", "Ole Brandt won the 2019 Harbour Regatta after a tight final race.", 1),
        hit("c", "Ada Lind won the 2020 Harbour Regatta in strong winds.", 2),
    ]
    got = answer("Who won the 2017 Harbour Regatta?", hits)
    assert not got.answerable and got.near_miss
    assert "not for 2017" in got.text and "2019" in got.text
    assert got.citations and not any(c.supported for c in got.citations)


def test_copies_with_another_value_are_a_conflict_and_the_majority_leads() -> None:
    hits = [
        hit("a", "The Glass Orchard was directed by Mara Quist and opened in spring.", 1),
        hit("b", "The Glass Orchard was directed by Ole Brandt and opened in spring.", 2),
        hit("c", "Critics said Mara Quist directed The Glass Orchard with great care.", 3),
    ]
    got = answer("Who directed The Glass Orchard?", hits)
    assert got.conflict
    assert got.short_answer == "Mara Quist"
    assert "Ole Brandt" in got.text and "Sources disagree" in got.text


def test_a_sentence_that_asks_answers_nothing() -> None:
    hits = [hit("a", "Who directed The Glass Orchard, and would Mara Quist return?", 1)]
    assert not answer("Who directed The Glass Orchard?", hits).answerable
