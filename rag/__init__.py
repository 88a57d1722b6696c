"""Answer layer: retrieval fusion, prompts, LLM client, citation checks, extractive answers, CLI."""

from rag.records import Answer, AnswerSentence, Citation
from rag.settings import Settings

__all__ = ["Answer", "AnswerSentence", "Citation", "Settings"]
