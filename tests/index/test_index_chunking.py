"""Chunking: token limits, exact offsets, ids, coverage and overlap, as properties."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from newsrag.index import Article, Chunk, ChunkingParams, IndexStore, chunk_article
from newsrag.index.chunking import CountTokens, embed_input, short_title, split_sentences
from newsrag.index.embedding import SentenceTransformerEmbedder

# A cheap stand-in for a word-piece tokenizer: words cost one piece per 4 characters, each
# punctuation mark one, plus [CLS] and [SEP]. Like BERT's, it splits on whitespace and
# punctuation, so a 5,000-character word costs 1,250 pieces and must be cut.
_PIECE = re.compile(r"\w{1,4}|[^\w\s]")


def fake_count(texts: list[str]) -> list[int]:
    """Word pieces of each text under the stand-in tokenizer, specials included."""
    return [2 + len(_PIECE.findall(text)) for text in texts]


def check_chunks(article: Article, params: ChunkingParams, count: CountTokens) -> list[Chunk]:
    """Chunk `article` and assert every property a chunk list must have."""
    chunks = chunk_article(article, params, count)
    title = short_title(article.title, params.max_title_tokens, count)
    for ordinal, chunk in enumerate(chunks):
        assert chunk.ordinal == ordinal
        assert chunk.id == f"{article.id}#{ordinal}"
        assert chunk.doc_id == article.id
        assert chunk.title == article.title
        assert article.text[chunk.start : chunk.end] == chunk.text
        assert chunk.text and chunk.text == chunk.text.strip()
        # The limit holds for exactly what the embedder will read.
        (size,) = count([embed_input(title, chunk.text)])
        assert size == chunk.n_tokens <= params.max_tokens
    for before, after in itertools.pairwise(chunks):
        assert before.start < after.start and before.end < after.end  # no window inside another
    covered = [False] * len(article.text)
    for chunk in chunks:
        covered[chunk.start : chunk.end] = [True] * (chunk.end - chunk.start)
    missed = [i for i, ch in enumerate(article.text) if not ch.isspace() and not covered[i]]
    assert missed == [], f"characters outside every chunk: {missed[:10]}"
    return chunks


WORDS = st.sampled_from(
    [
        *("the", "bank", "said", "on", "Monday", "rates", "rose", "3.5", "percent", "Mr."),
        *("Smith", "U.S.", "e.g.", "Alibaba's", "investment", "of", "$15", "billion"),
        *("(about", "12%)", "in", "cloud", "—", "“quoted”", "co-operation", "2021-06-15"),
        *("antidisestablishmentarianism", "pneumonoultramicroscopicsilicovolcanoconiosis"),
        *("北京", "Zürich", "naïve"),
    ]
)
PLAIN_WORDS = st.sampled_from(["the", "bank", "said", "rates", "rose", "sharply", "on", "Monday"])
SENTENCE_END = st.sampled_from([".", "!", "?", "…", ".”", "", ";"])
SEPARATOR = st.sampled_from([" ", " ", " ", "\n", "\n\n", "  \t", " \n "])


@st.composite
def article_texts(draw: st.DrawFn) -> str:
    """News-like text: sentences of varied length, paragraphs, sometimes a monster word."""
    sentences = []
    for _ in range(draw(st.integers(0, 40))):
        words = draw(st.lists(WORDS, min_size=1, max_size=draw(st.sampled_from([6, 25, 90]))))
        words[0] = words[0].capitalize()
        sentences.append(" ".join(words) + draw(SENTENCE_END) + draw(SEPARATOR))
    if draw(st.booleans()):
        position = draw(st.integers(0, len(sentences)))
        sentences.insert(position, "x" * draw(st.integers(1, 3000)) + " ")
    return "".join(sentences)


@st.composite
def chunking_params(draw: st.DrawFn) -> ChunkingParams:
    """Valid parameters, from tight limits to the MiniLM defaults."""
    max_tokens = draw(st.sampled_from([16, 24, 40, 64, 128, 256]))
    target = draw(st.integers(1, max_tokens))
    overlap = draw(st.integers(0, target - 1))
    title_tokens = draw(st.integers(0, max_tokens // 2))
    return ChunkingParams(max_tokens, target, overlap, title_tokens)


TITLES = st.lists(WORDS, max_size=40).map(" ".join)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=article_texts(), params=chunking_params(), title=TITLES)
@example(text="x" * 5000, params=ChunkingParams(), title="One huge word")
@example(text="word " * 2000, params=ChunkingParams(), title="No punctuation at all")
@example(text="\n" * 500, params=ChunkingParams(), title="Only newlines")
@example(text="a.b.c." * 900, params=ChunkingParams(40, 20, 5, 8), title="")
def test_chunk_properties_hold_for_any_text(text: str, params: ChunkingParams, title: str) -> None:
    check_chunks(Article(id="doc-1", title=title, text=text), params, fake_count)


@settings(max_examples=50, deadline=None)
@given(
    sentences=st.lists(
        st.lists(PLAIN_WORDS, min_size=2, max_size=6).map(lambda w: " ".join(w).capitalize() + "."),
        min_size=20,
        max_size=50,
    )
)
def test_consecutive_chunks_overlap_when_sentences_allow(sentences: list[str]) -> None:
    # Every sentence fits the overlap budget (and none has an abbreviation that would join it
    # to the next), so each window carries its last sentence(s) over.
    text = " ".join(sentences)
    params = ChunkingParams(max_tokens=128, target_tokens=60, overlap_tokens=24)
    assume(max(fake_count(sentences)) <= params.overlap_tokens)
    chunks = check_chunks(Article(id="d", title="T", text=text), params, fake_count)
    assert len(chunks) >= 2
    for before, after in itertools.pairwise(chunks):
        overlap = text[after.start : before.end]
        assert after.start < before.end, "no overlap"
        assert fake_count([overlap])[0] - 2 <= params.overlap_tokens
        spans = split_sentences(text)
        assert after.start in {s for s, _ in spans} and before.end in {e for _, e in spans}


def test_no_overlap_when_the_next_sentence_could_not_join_it() -> None:
    short = "Rates rose. " * 20
    long = "Regulators " + "approved the farm " * 40 + "today."
    text = short + long
    params = ChunkingParams(max_tokens=256, target_tokens=60, overlap_tokens=20)
    chunks = check_chunks(Article(id="d", title="", text=text), params, fake_count)
    assert chunks[-1].text == long  # alone, not repeated inside a shorter window before it


def test_pathological_inputs_with_the_fake_counter() -> None:
    params = ChunkingParams()
    monster = check_chunks(Article("w", "Word", "x" * 5000), params, fake_count)
    assert len(monster) > 1 and "".join(c.text for c in monster) == "x" * 5000
    flat = check_chunks(Article("f", "Flat", "word " * 2000), params, fake_count)
    assert len(flat) > 1
    assert check_chunks(Article("n", "Newlines", "\n" * 500), params, fake_count) == []


# The real MiniLM tokenizer, on a few inputs (it is slower, and the same code path).

REAL_CASES = {
    "one 5,000-character word": "x" * 5000,
    "a word that is all word pieces": "ab1-" * 1250,
    "no punctuation": " ".join(["market"] * 3000),
    "CJK without spaces": "阿里巴巴集团宣布投资" * 150,
    "only newlines": "\n" * 300,
    "emoji and accents": "Zürich naïve café 🎉🎉 " * 300,
}


@pytest.fixture(scope="module")
def real_count(embedder: SentenceTransformerEmbedder) -> CountTokens:
    """The bundled MiniLM's token counter."""
    assert embedder.max_tokens == 256
    return embedder.count_tokens


@pytest.mark.parametrize("text", REAL_CASES.values(), ids=REAL_CASES.keys())
def test_pathological_inputs_with_the_real_tokenizer(text: str, real_count: CountTokens) -> None:
    title = "A fairly long headline about markets, rates and the economy " * 3
    check_chunks(Article("p", title, text), ChunkingParams(), real_count)


def test_corpus_chunks_fit_the_model_and_point_into_their_articles(
    corpus_store: IndexStore, real_count: CountTokens
) -> None:
    params = ChunkingParams(**corpus_store.manifest.chunking)
    assert params.max_tokens == 256
    for article in corpus_store.articles.values():
        chunks = check_chunks(article, params, real_count)
        stored = [c for c in corpus_store.chunks if c.doc_id == article.id]
        assert stored == chunks


@settings(max_examples=15, deadline=None)
@given(text=article_texts(), title=TITLES)
def test_chunk_properties_with_the_real_tokenizer(
    text: str, title: str, real_count: CountTokens
) -> None:
    params = ChunkingParams(max_tokens=64, target_tokens=40, overlap_tokens=10, max_title_tokens=8)
    check_chunks(Article("r", title, text), params, real_count)


def test_parameters_are_checked_when_built() -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        ChunkingParams(max_tokens=8)
    with pytest.raises(ValueError, match="target_tokens"):
        ChunkingParams(target_tokens=300)
    with pytest.raises(ValueError, match="overlap_tokens"):
        ChunkingParams(target_tokens=50, overlap_tokens=50)
    with pytest.raises(ValueError, match="max_title_tokens"):
        ChunkingParams(max_tokens=32, target_tokens=16, overlap_tokens=4, max_title_tokens=20)


def test_sentence_split_respects_abbreviations_and_decimals() -> None:
    text = "Mr. Smith paid $3.5 billion for U.S. assets. Shares rose! Did they? Yes"
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "Mr. Smith paid $3.5 billion for U.S. assets.",
        "Shares rose!",
        "Did they?",
        "Yes",
    ]
