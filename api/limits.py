"""Request limits: body size (413) and a token bucket per client address (429 + Retry-After)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newsrag.api.errors import error_response

# Idle buckets refill to full and carry no information; past this many clients they are
# dropped so the table cannot grow without bound.
MAX_TRACKED_CLIENTS = 10_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """`per_minute` requests a client may burst, refilled continuously at per_minute/60 a second."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError(f"per_minute must be >= 1, got {per_minute}")
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens a second
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, client: str) -> float:
        """Spend one token of `client`; 0 when allowed, else seconds until one is available."""
        now = self.clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= MAX_TRACKED_CLIENTS:
                self._forget_idle(now)
            bucket = self._buckets[client] = _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    def _forget_idle(self, now: float) -> None:
        full_after = self.capacity / self.rate
        idle = [c for c, b in self._buckets.items() if now - b.updated >= full_after]
        for client in idle or list(self._buckets)[: len(self._buckets) // 2]:
            del self._buckets[client]


class RateLimitMiddleware:
    """Applies TokenBuckets to requests under `prefix` (the /v1 API), keyed by client address."""

    def __init__(self, app: ASGIApp, buckets: TokenBuckets, prefix: str = "/v1/") -> None:
        self.app = app
        self.buckets = buckets
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).startswith(self.prefix):
            client = scope.get("client")
            wait = self.buckets.take(client[0] if client else "unknown")
            if wait > 0:
                retry_after = str(max(1, math.ceil(wait)))
                response = error_response(
                    429,
                    f"rate limit exceeded; retry after {retry_after} s",
                    "rate_limited",
                    {"Retry-After": retry_after},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class BodyTooLarge(HTTPException):
    """Raised from `receive` once a body passes the limit; routes answer it as a 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is larger than {limit} bytes")


class BodyLimitMiddleware:
    """413 for a declared Content-Length over the limit, or once streamed bytes pass it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            message = f"request body is larger than {self.max_bytes} bytes"
            await error_response(413, message)(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)
