"""HTTP service: FastAPI app, streaming, OpenAI-compatible endpoint, web page."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newsrag.api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> object:
    # Lazy (PEP 562): `rag` loads api.cli for every command; FastAPI loads only for `serve`.
    if name == "create_app":
        from newsrag.api.app import create_app

        return create_app
    raise AttributeError(f"module 'api' has no attribute {name!r}")
