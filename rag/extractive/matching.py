"""Soft term matching: a question's word counts as present when a sentence uses it or a synonym.

Questions are often phrased without the article's words ("penalty" for "fined", "scientists"
for "researchers"). Exact stems miss those; whole-sentence embeddings blur them with everything
else in the sentence. Here each word is embedded on its own with the same model and two words
match when their cosine clears SYNONYM.
"""

from __future__ import annotations

import re

import numpy as np

from newsrag.rag.facts import stem, terms
from newsrag.rag.support import SentenceVectors

_HYPHENATED = re.compile(r"\b[a-z]+(?:-[a-z]+)+\b")
# all-MiniLM-L6-v2 cosine between two single words above which they name the same thing:
# penalty~fined 0.65, scientists~researchers 0.72, stock~shares 0.68, shoppers~buyers 0.62;
# related but different: university~academy 0.52, founded~active 0.42, revenue~quarter 0.35.
SYNONYM = 0.6
# Looser: the word a question measures may come back as a related one (budget~spent 0.56,
# workforce~staff 0.60), but not as another measure (revenue~buyers 0.46, profit~shares 0.40).
RELATED = 0.5
# What a synonym is worth against the word itself.
SYNONYM_CREDIT = 0.8


def stem_words(text: str) -> dict[str, str]:
    """Content terms of `text`, stem -> first surface word with that stem."""
    found: dict[str, str] = {}
    joined = [w.replace("-", "") for w in _HYPHENATED.findall(text.casefold())]
    for word in [*terms(text), *joined]:
        found.setdefault(stem(word), word)
    return found


class TermMatcher:
    """Credits for a question's terms in sentences: 1 for the term, SYNONYM_CREDIT for a synonym."""

    def __init__(self, vectors: SentenceVectors, question_terms: dict[str, str]) -> None:
        self.vectors = vectors
        self.terms = question_terms  # stem -> surface word
        self._words: dict[str, dict[str, str]] = {}  # text -> stem_words(text)
        self._vectors: dict[str, np.ndarray] = {}  # text -> its words' vectors, (p, dim)

    def _present(self, text: str) -> dict[str, str]:
        """stem_words(text), split once per text (credits and related ask for the same ones)."""
        found = self._words.get(text)
        if found is None:
            found = self._words[text] = stem_words(text)
        return found

    def _have(self, text: str) -> np.ndarray:
        """The vectors of the words of `text` (credits and related compare the same ones)."""
        found = self._vectors.get(text)
        if found is None:
            found = self._vectors[text] = self.vectors.embed(list(self._present(text).values()))
        return found

    def prepare(self, texts: list[str]) -> None:
        """Embed, in one batch before scoring, the words `credits` will compare in `texts`.

        Only texts lacking a question term compare words (each costs a model run): the
        question's missing terms and the text's words. What `related` or `same` ask beyond
        those is embedded when asked.
        """
        words: set[str] = set()
        for text in texts:
            present = self._present(text)
            missing = [self.terms[t] for t in self.terms if t not in present]
            if missing and present:
                words.update(missing)
                words.update(present.values())
        self.vectors.embed(sorted(words))

    def credits(self, text: str) -> dict[str, float]:
        """Each question stem's credit in `text` (0 when neither it nor a synonym occurs)."""
        present = self._present(text)
        credits = {t: 1.0 for t in self.terms if t in present}
        missing = [t for t in self.terms if t not in present]
        if not missing or not present:
            return credits | {t: 0.0 for t in missing}
        wanted = self.vectors.embed([self.terms[t] for t in missing])  # (m, dim)
        have = self._have(text)  # (p, dim)
        best = (wanted @ have.T).max(axis=1)  # (m,)
        for term, cosine in zip(missing, best, strict=True):
            credits[term] = SYNONYM_CREDIT if cosine >= SYNONYM else 0.0
        return credits

    def related(self, word: str, text: str) -> bool:
        """Whether `text` has `word`, or a word at least RELATED to it."""
        present = self._present(text)
        if stem(word) in present:
            return True
        if not present:
            return False
        wanted = self.vectors.embed([word])[0]
        have = self._have(text)
        return float((have @ wanted).max()) >= RELATED

    def same(self, a: str, b: str) -> bool:
        """Whether two words are the same term or synonyms."""
        if stem(a) == stem(b):
            return True
        va, vb = self.vectors.embed([a, b])
        return float(np.dot(va, vb)) >= SYNONYM


def weighted_share(credits: dict[str, float], weights: dict[str, float]) -> float:
    """The weighted share of the terms in `weights` that `credits` covers."""
    total = sum(weights.values())
    if not total:
        return 0.0
    return sum(w * credits.get(t, 0.0) for t, w in weights.items()) / total
