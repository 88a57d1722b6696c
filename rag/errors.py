"""Errors of the answer layer.

RuntimeError
└── RagError              anything the answer layer raises on purpose
    └── LLMError          the LLM upstream failed: HTTP status, malformed or empty reply, cut stream
        ├── LLMTimeoutError   one request ran past its timeout (after retries)
        └── DeadlineExceeded  the overall deadline across retries ran out
"""

from __future__ import annotations


class RagError(RuntimeError):
    """Base class of every error the answer layer raises on purpose."""


class LLMError(RagError):
    """The LLM upstream failed: an HTTP error status, a timeout, or a malformed reply."""

    def __init__(self, message: str, *, status: int | None = None, attempts: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts


class LLMTimeoutError(LLMError):
    """One LLM request ran past its timeout and no retry was left."""


class DeadlineExceeded(LLMError):
    """The overall deadline across retries ran out before the LLM answered."""
