"""Answer layer: retrieval fusion, prompts, LLM client, citation checks, extractive answers, CLI.

The public names load on first use (PEP 562), so `rag --help` does not import pydantic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from newsrag.index.lazy import lazy_names

if TYPE_CHECKING:
    from newsrag.rag.records import Answer, AnswerSentence, Citation
    from newsrag.rag.settings import Settings

_HOMES = {"records": ["Answer", "AnswerSentence", "Citation"], "settings": ["Settings"]}

__all__ = ["Answer", "AnswerSentence", "Citation", "Settings"]

__getattr__, __dir__ = lazy_names(__name__, _HOMES, __all__)
