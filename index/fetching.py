"""HTTP fetches for feeds and their pages (issue 17): conditional GET, per-host pacing, caps.

Everything a remote server controls is bounded: the connection and each read time out, the
whole transfer has a deadline (a server dripping one byte a second cannot hold a fetch for
long), the body is read in pieces and refused past a byte cap (decompressed bytes count, so a
gzip bomb stops at the cap), redirects are followed a few times at most, and only http(s)
addresses are fetched. Failures raise FeedError with one line saying what happened.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from newsrag.index.errors import FeedError

USER_AGENT = "newsrag-feeds/0.1"
MAX_REDIRECTS = 5


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """What one fetch may cost."""

    timeout_s: float = 10.0  # connect and each read; the whole transfer gets twice this
    max_bytes: int = 10_000_000  # body bytes (after decompression)
    host_interval_s: float = 1.0  # least time between two requests to one host

    def __post_init__(self) -> None:
        if self.timeout_s <= 0 or self.max_bytes < 1 or self.host_interval_s < 0:
            raise ValueError("timeout_s must be > 0, max_bytes >= 1, host_interval_s >= 0")


@dataclass(frozen=True, slots=True)
class Fetched:
    """One response: 304 means the cached copy is current (body empty)."""

    url: str  # after redirects
    status: int
    body: bytes
    etag: str | None
    last_modified: str | None
    content_type: str | None

    @property
    def not_modified(self) -> bool:
        """Whether the server said nothing changed since the given validators."""
        return self.status == 304


class HostPacer:
    """At most one request per `interval_s` to each host (a per-host rate limit)."""

    def __init__(
        self,
        interval_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}  # host -> earliest time of its next request
        self._lock = threading.Lock()

    def wait(self, host: str) -> float:
        """Block until `host` may be asked again; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next.get(host, now))
            self._next[host] = start + self.interval_s
            if len(self._next) > 10_000:  # bounded: forget hosts whose turn has long passed
                self._next = {h: t for h, t in self._next.items() if t > now}
        delay = start - now
        if delay > 0:
            self._sleep(delay)
        return delay


class Fetcher:
    """GETs with the limits above; one httpx client (connection reuse) for a run."""

    def __init__(self, limits: FetchLimits | None = None, pacer: HostPacer | None = None) -> None:
        self.limits = limits or FetchLimits()
        self.pacer = pacer or HostPacer(self.limits.host_interval_s)
        timeout = httpx.Timeout(self.limits.timeout_s)
        self._client = httpx.Client(
            timeout=timeout,
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            headers={"User-Agent": USER_AGENT},
            trust_env=False,  # tests and users name the feed; no proxy from the environment
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._client.close()

    def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        max_bytes: int | None = None,
    ) -> Fetched:
        """The body of `url`, or a 304 when the validators still hold; FeedError otherwise."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FeedError(f"{url}: not an http(s) address")
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        cap = max_bytes or self.limits.max_bytes
        self.pacer.wait(parts.hostname)
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                if response.status_code == 304:
                    return _fetched(response, b"")
                if response.status_code >= 400:
                    raise FeedError(f"{url}: HTTP {response.status_code} {response.reason_phrase}")
                body = self._read(response, url, cap)
                return _fetched(response, body)
        except httpx.TooManyRedirects:
            raise FeedError(f"{url}: more than {MAX_REDIRECTS} redirects") from None
        except httpx.TimeoutException:
            raise FeedError(f"{url}: timed out after {self.limits.timeout_s:g} s") from None
        except httpx.HTTPError as exc:
            raise FeedError(f"{url}: {type(exc).__name__}: {exc}") from None

    def _read(self, response: httpx.Response, url: str, cap: int) -> bytes:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > cap:  # refused before reading
            raise FeedError(f"{url}: {int(declared):,} bytes, over the limit of {cap:,}")
        deadline = time.monotonic() + 2 * self.limits.timeout_s
        parts: list[bytes] = []
        size = 0
        for piece in response.iter_bytes():  # as it arrives (a chunk size would buffer)
            size += len(piece)
            if size > cap:
                raise FeedError(f"{url}: over the limit of {cap:,} bytes")
            if time.monotonic() > deadline:
                raise FeedError(f"{url}: transfer took over {2 * self.limits.timeout_s:g} s")
            parts.append(piece)
        return b"".join(parts)


def _fetched(response: httpx.Response, body: bytes) -> Fetched:
    return Fetched(
        url=str(response.url),
        status=response.status_code,
        body=body,
        etag=response.headers.get("ETag"),
        last_modified=response.headers.get("Last-Modified"),
        content_type=response.headers.get("Content-Type"),
    )
