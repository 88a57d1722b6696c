"""Answer layer: retrieval fusion, prompts, LLM client, citation checks, extractive answers, CLI.

The public names load on first use (PEP 562), so `rag --help` does not import pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newsrag.rag.records import Answer, AnswerSentence, Citation
    from newsrag.rag.settings import Settings

_HOME_OF = {
    "Answer": "records",
    "AnswerSentence": "records",
    "Citation": "records",
    "Settings": "settings",
}

__all__ = ["Answer", "AnswerSentence", "Citation", "Settings"]


def __getattr__(name: str) -> object:
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
