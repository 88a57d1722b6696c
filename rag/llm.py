"""LLM client: any OpenAI-compatible chat endpoint, with the project's only retry policy.

Retries live here and nowhere else (the `openai` client is built with max_retries=0):
429 (honouring Retry-After up to a cap), 5xx, timeouts and connection errors are retried
with exponential backoff, other 4xx are not, and an overall deadline bounds the whole call.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol, TypeVar, cast

from newsrag.rag.errors import DeadlineExceeded, LLMError, LLMTimeoutError

if TYPE_CHECKING:
    import httpx2
    from openai import Stream
    from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam

    from newsrag.rag.settings import Settings

# `openai` is imported by the methods that use it: importing it takes ~0.9 s, and without
# an LLM configured (extractive mode) nothing needs it (issue 13, bench/startup.py).

log = logging.getLogger(__name__)

T = TypeVar("T")
Messages = list[dict[str, str]]
# Local servers (Ollama, llama.cpp, vLLM) need no key, but the client insists on one.
PLACEHOLDER_API_KEY = "not-needed"


class ChatModel(Protocol):
    """A chat model: one completion, or the same completion as text deltas."""

    name: str

    def complete(self, messages: Messages) -> str:
        """The whole reply; raises LLMError."""
        ...

    def stream(self, messages: Messages) -> Iterator[str]:
        """The reply as text deltas; raises LLMError, also mid-stream."""
        ...


class OpenAIChatModel:
    """Chat completions through the `openai` package, with timeouts, retries and a deadline."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None,
        timeout_s: float,
        max_retries: int,
        deadline_s: float,
        temperature: float = 0.0,
        backoff_s: float = 0.5,
        max_retry_after_s: float = 10.0,
    ) -> None:
        if not base_url:
            raise ValueError("base_url is required")
        if not model:
            raise ValueError("model is required")
        if timeout_s <= 0 or deadline_s <= 0:
            raise ValueError("timeout_s and deadline_s must be positive")
        if max_retries < 0 or backoff_s < 0 or max_retry_after_s < 0:
            raise ValueError("max_retries, backoff_s and max_retry_after_s must be >= 0")
        self.name = model
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.deadline_s = deadline_s
        self.temperature = temperature
        self.backoff_s = backoff_s
        self.max_retry_after_s = max_retry_after_s
        self.calls = 0  # upstream HTTP attempts, retries included
        import openai

        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or PLACEHOLDER_API_KEY,
            timeout=openai.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
            max_retries=0,
        )

    def __repr__(self) -> str:
        return f"OpenAIChatModel(model={self.name!r}, base_url={self.base_url!r})"

    def complete(self, messages: Messages) -> str:
        """The whole reply (stream=False); raises LLMError after bounded retries."""
        return self._with_retries(lambda timeout: self._complete_once(messages, timeout))

    def stream(self, messages: Messages) -> Iterator[str]:
        """Text deltas as they arrive; retried only before the first delta, then a cut raises."""
        import httpx2
        import openai

        deadline = time.monotonic() + self.deadline_s
        stream = self._with_retries(lambda timeout: self._open_stream(messages, timeout), deadline)
        finished = False
        try:
            for chunk in stream:
                if time.monotonic() > deadline:
                    raise DeadlineExceeded(f"LLM stream ran past the {self.deadline_s}s deadline")
                if not chunk.choices:
                    continue  # e.g. a trailing usage chunk
                choice = chunk.choices[0]
                if choice.delta is not None and choice.delta.content:
                    yield choice.delta.content
                finished = finished or choice.finish_reason is not None
        except (openai.APITimeoutError, httpx2.TimeoutException) as exc:
            raise LLMTimeoutError(f"LLM stream stalled: {exc}") from exc
        except (openai.OpenAIError, httpx2.HTTPError, ValueError) as exc:
            raise LLMError(f"LLM stream broke: {exc}") from exc
        finally:
            stream.close()
        if not finished:
            # Servers end a complete stream with a finish_reason; without one it was cut.
            raise LLMError("LLM stream ended before the reply was finished")

    def _complete_once(self, messages: Messages, timeout: float) -> str:
        response = self._client.chat.completions.create(
            model=self.name,
            messages=cast("list[ChatCompletionMessageParam]", messages),
            temperature=self.temperature,
            stream=False,
            timeout=timeout,
        )
        choices = getattr(response, "choices", None)
        if not isinstance(choices, list) or not choices:
            raise LLMError("LLM reply has no choices")
        message = getattr(choices[0], "message", None)
        content = getattr(message, "content", None)
        if not isinstance(content, str) or not content.strip():
            raise LLMError("LLM reply is empty")
        return content

    def _open_stream(self, messages: Messages, timeout: float) -> Stream[ChatCompletionChunk]:
        return self._client.chat.completions.create(
            model=self.name,
            messages=cast("list[ChatCompletionMessageParam]", messages),
            temperature=self.temperature,
            stream=True,
            timeout=timeout,
        )

    def _with_retries(self, attempt: Callable[[float], T], deadline: float | None = None) -> T:
        """Run attempt(timeout) until it succeeds, a non-retryable error, or the deadline."""
        import openai

        deadline = deadline if deadline is not None else time.monotonic() + self.deadline_s
        for retry in range(self.max_retries + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeadlineExceeded(
                    f"LLM deadline of {self.deadline_s}s exceeded", attempts=retry
                )
            self.calls += 1
            try:
                return attempt(min(self.timeout_s, remaining))
            except (openai.OpenAIError, ValueError) as exc:
                error, delay = self._classify(exc, retry)
                error.attempts = retry + 1
                if delay is None or retry == self.max_retries:
                    raise error from exc
                if time.monotonic() + delay >= deadline:
                    raise DeadlineExceeded(
                        f"LLM deadline of {self.deadline_s}s leaves no time to retry ({error})",
                        status=error.status,
                        attempts=retry + 1,
                    ) from exc
            log.warning("LLM attempt failed, retrying", extra={"error": str(error), "delay": delay})
            time.sleep(delay)
        raise AssertionError("unreachable")  # the loop always returns or raises

    def _classify(self, exc: Exception, retry: int) -> tuple[LLMError, float | None]:
        """The LLMError for a failed attempt and the delay before a retry (None: no retry)."""
        import openai

        if isinstance(exc, openai.APIStatusError):
            code = exc.status_code
            error = LLMError(f"LLM endpoint answered HTTP {code}", status=code)
            if code == 429:
                wait = self._retry_after(exc.response)
                return error, wait if wait is not None else self._backoff(retry)
            return error, self._backoff(retry) if code >= 500 else None
        if isinstance(exc, openai.APITimeoutError):
            return LLMTimeoutError(f"LLM request timed out: {exc}"), self._backoff(retry)
        if isinstance(exc, openai.APIConnectionError):
            return LLMError(f"LLM endpoint unreachable: {exc}"), self._backoff(retry)
        return LLMError(f"LLM reply is malformed: {exc}"), None  # not retried: it would repeat

    def _backoff(self, retry: int) -> float:
        # Full jitter (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/).
        return random.uniform(0.5, 1.0) * self.backoff_s * 2**retry

    def _retry_after(self, response: httpx2.Response) -> float | None:
        """Seconds the server asked us to wait (Retry-After / retry-after-ms), capped."""
        for header, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
            value = response.headers.get(header)
            if value is None:
                continue
            try:
                seconds = float(value) / divisor
            except ValueError:
                continue  # an HTTP date: fall back to our own backoff
            return min(max(seconds, 0.0), self.max_retry_after_s)
        return None


def chat_model_from_settings(settings: Settings) -> ChatModel | None:
    """The configured LLM, or None when RAG_LLM_BASE_URL is unset (extractive mode)."""
    if not settings.llm_base_url:
        return None
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return OpenAIChatModel(
        base_url=settings.llm_base_url,
        model=settings.llm_model or "default",
        api_key=key,
        timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
        deadline_s=settings.llm_deadline_s,
        temperature=settings.llm_temperature,
    )
