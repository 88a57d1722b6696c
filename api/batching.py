"""Group commit for query embeddings: queries that arrive while the model is busy share its
next call, with no timer (a lone query never waits for company).

Leader/follower: the first caller to find no leader runs one model call over the waiting
queries (its own first, at most `limit`), then hands the lead to the oldest query still
waiting and returns. Followers sleep on their own event, so a finished batch wakes exactly
its members rather than every thread queued at the model.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass(slots=True, eq=False)
class _Slot:
    """One query waiting for its vector, or for the lead."""

    text: str
    ready: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    vector: np.ndarray | None = None
    error: BaseException | None = None


class QueryBatcher:
    """Runs `embed(texts) -> (n, dim)` once for all queries that wait together."""

    def __init__(self, embed: Callable[[list[str]], np.ndarray], limit: int = 32) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self._embed = embed
        self.limit = limit
        self._lock = threading.Lock()
        self._waiting: list[_Slot] = []
        self._leading = False  # invariant: no leader => nothing waiting

    def embed(self, text: str) -> np.ndarray:
        """(dim,) vector of `text`, computed in whichever batch it joins."""
        slot = _Slot(text)
        with self._lock:
            self._waiting.append(slot)
            if not self._leading:
                self._leading = slot.lead = True
        if not slot.lead:
            slot.ready.wait()  # done by a leader, or promoted to lead
        if slot.lead:
            self._run_batch()  # our slot is first in line, so this batch includes it
        if slot.error is not None:
            raise slot.error
        assert slot.vector is not None
        return slot.vector

    @property
    def waiting(self) -> int:
        """Queries queued for a model call now."""
        with self._lock:
            return len(self._waiting)

    def _run_batch(self) -> None:
        with self._lock:
            batch = self._waiting[: self.limit]
            del self._waiting[: self.limit]
        texts = list(dict.fromkeys(s.text for s in batch))
        try:
            vectors = self._embed(texts)  # (len(texts), dim)
            found = dict(zip(texts, vectors, strict=True))
            for slot in batch:
                slot.vector = found[slot.text].copy()
        except BaseException as exc:  # every member of the batch gets the failure
            for slot in batch:
                slot.error = exc
        finally:
            for slot in batch:
                slot.ready.set()
            with self._lock:
                if self._waiting:
                    following = self._waiting[0]
                    following.lead = True
                    following.ready.set()
                else:
                    self._leading = False
