"""A cheap HTTP/1.1 load client for loopback benchmarks: raw asyncio streams, keep-alive.

The bench client shares the 2-core machine with the server, so every CPU-millisecond it
spends per request is taken from the server. httpx costs several ms a request in Python;
this client writes pre-encoded request bytes and reads the reply by Content-Length (or
chunks), about ten times less. It speaks just enough HTTP for JSON POSTs to our own server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

_HEAD_END = b"\r\n\r\n"


class ProtocolError(RuntimeError):
    """The server's reply was not the HTTP/1.1 this client understands."""


class Connection:
    """One keep-alive HTTP/1.1 connection; requests on it go one at a time."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"need an http://host:port URL, got {url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post_json(self, path: str, body: object) -> tuple[int, bytes]:
        """POST `body` as JSON; (status, response body). Reconnects once after a dropped link."""
        payload = json.dumps(body, separators=(",", ":")).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        ).encode()
        for attempt in (0, 1):
            if self._writer is None:
                await self._open()
            try:
                return await self._exchange(head + payload)
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def close(self) -> None:
        """Close the socket (idempotent)."""
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def _exchange(self, request: bytes) -> tuple[int, bytes]:
        assert self._reader is not None and self._writer is not None
        self._writer.write(request)
        head = await self._reader.readuntil(_HEAD_END)
        status_line, *header_lines = head[: -len(_HEAD_END)].split(b"\r\n")
        try:
            status = int(status_line.split(b" ", 2)[1])
        except (IndexError, ValueError):
            raise ProtocolError(f"bad status line {status_line[:80]!r}") from None
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if b"content-length" in headers:
            body = await self._reader.readexactly(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            body = await self._read_chunked()
        else:
            raise ProtocolError("reply has neither Content-Length nor chunked encoding")
        if headers.get(b"connection", b"").lower() == b"close":
            await self.close()
        return status, body

    async def _read_chunked(self) -> bytes:
        assert self._reader is not None
        parts: list[bytes] = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self._reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self._reader.readexactly(size))
            await self._reader.readexactly(2)


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What a closed-loop run measured (client side)."""

    latencies: list[float]  # seconds, one per finished request
    errors: int  # non-200 replies and transport failures
    seconds: float  # wall time of the run
    cpu_seconds: float  # this process's CPU time during the run


async def closed_loop(
    url: str,
    path: str,
    body: Callable[[int], object],
    clients: int,
    seconds: float,
    max_requests: int,
) -> LoadResult:
    """`clients` connections POST `body(n)` back to back until time or the request cap runs out."""
    latencies: list[float] = []
    errors = sent = 0
    cpu_before = time.process_time()
    connections = [Connection(url) for _ in range(clients)]
    started = time.perf_counter()
    stop_at = started + seconds

    async def worker(connection: Connection) -> None:
        nonlocal errors, sent
        while time.perf_counter() < stop_at and sent < max_requests:
            n, sent = sent, sent + 1
            t0 = time.perf_counter()
            try:
                status, _ = await connection.post_json(path, body(n))
                ok = status == 200
            except (OSError, asyncio.IncompleteReadError, ProtocolError):
                ok = False
            latencies.append(time.perf_counter() - t0)
            errors += not ok

    try:
        await asyncio.gather(*(worker(c) for c in connections))
    finally:
        elapsed = time.perf_counter() - started
        await asyncio.gather(*(c.close() for c in connections))
    return LoadResult(latencies, errors, elapsed, time.process_time() - cpu_before)
