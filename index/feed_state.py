"""What is remembered of each feed between polls (issue 17): `feeds.json` in the index folder.

Per feed address: its ETag and Last-Modified (the next poll is a conditional GET) and the ids
of the entries already ingested, newest last, at most MAX_SEEN. Written after each commit by
a temp file, fsync and rename, under a lock of its own, merged with what another process may
have written meanwhile; an unreadable file is logged and started afresh (entries read again
are found unchanged by their content hash: nothing is embedded twice).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

STATE_FILE = "feeds.json"
STATE_VERSION = 1
MAX_SEEN = 5_000  # entry ids remembered per feed (feeds list their newest few dozen)


@dataclass(slots=True)
class FeedState:
    """What is remembered of one feed between polls."""

    etag: str | None = None
    last_modified: str | None = None
    seen: list[str] = field(default_factory=list)  # entry ids already ingested, oldest first


def load_state(index_dir: Path) -> dict[str, FeedState]:
    """The remembered state of every feed (empty when none, or unreadable: logged)."""
    path = index_dir / STATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        feeds = data["feeds"] if data.get("version") == STATE_VERSION else {}
        return {
            url: FeedState(s.get("etag"), s.get("last_modified"), list(s.get("seen", [])))
            for url, s in feeds.items()
        }
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("feed state %s unreadable (%s); starting afresh", path, exc)
        return {}


def save_state(index_dir: Path, updates: dict[str, FeedState]) -> None:
    """Merge `updates` into feeds.json atomically (temp file, fsync, rename), one writer at once."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / ".feeds.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        states = load_state(index_dir)
        for url, state in updates.items():
            old = states.get(url)
            if old is not None:  # another process may have polled meanwhile: keep its ids
                state.seen = list(dict.fromkeys(old.seen + state.seen))[-MAX_SEEN:]
            states[url] = state
        payload = {
            "version": STATE_VERSION,
            "feeds": {
                url: {"etag": s.etag, "last_modified": s.last_modified, "seen": s.seen}
                for url, s in sorted(states.items())
            },
        }
        tmp = index_dir / f".{STATE_FILE}.tmp-{os.getpid()}"
        with tmp.open("w", encoding="utf-8") as handle:
            json.dump(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, index_dir / STATE_FILE)
        fd = os.open(index_dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
