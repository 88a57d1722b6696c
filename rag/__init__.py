"""Answer layer: retrieval fusion, prompts, LLM client, citation checks, extractive answers, CLI."""

from newsrag.rag.records import Answer, AnswerSentence, Citation
from newsrag.rag.settings import Settings

__all__ = ["Answer", "AnswerSentence", "Citation", "Settings"]
