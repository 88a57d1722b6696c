"""The extractive answerer: picks the passage sentences that answer a question, or refuses.

- `answerer`: ExtractiveAnswerer (rank, gate, select, refuse with a near-miss reason).
- `candidates`: each sentence scored against the question's terms, names, type and constraints.
- `matching`: words matched by stem or by word embedding (synonyms, related words).
- `short_answers`: the value asked ("$1 billion", "Olga Tokarczuk") and the vote among sources.
- `conflicts`: sources that give different values for the asked thing.

The question is analysed once (`newsrag.rag.questions.analyse`, shared with the LLM path's
checks); the general English word families the mechanisms share are in `newsrag.rag.lexicon`.
"""

from newsrag.rag.extractive.answerer import (
    CONFLICT_PREFIX,
    Extract,
    ExtractiveAnswerer,
    answer_units,
    near_miss_text,
)
from newsrag.rag.extractive.candidates import Candidate

__all__ = [
    "CONFLICT_PREFIX",
    "Candidate",
    "Extract",
    "ExtractiveAnswerer",
    "answer_units",
    "near_miss_text",
]
