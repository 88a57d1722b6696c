"""Dependencies, declared once as Annotated aliases: the engine, the settings, and API-key auth.

Auth (RAG_API_KEY set): every /v1 route and /metrics need `Authorization: Bearer <key>`
(metrics reveal traffic and corpus size; Prometheus sends a bearer token via its
`authorization` scrape setting). /healthz and /readyz stay open for probes, and so does
the web page at "/" (a static shell holding no data; its /v1 calls carry the key).

Every dependency is `async def`: FastAPI runs a plain `def` dependency in the threadpool,
a thread hop (and GIL hand-off) per dependency per request for what is an attribute read.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from newsrag.api.engine import Engine, Generation
from newsrag.api.errors import ApiError
from newsrag.api.metrics import Metrics
from newsrag.rag.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="RAG_API_KEY, when the server sets one.")


async def get_engine(request: Request) -> Engine:
    """The app's engine (built by the lifespan)."""
    engine: Engine = request.app.state.engine
    return engine


async def get_settings(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


async def get_metrics(request: Request) -> Metrics:
    """The app's metrics."""
    metrics: Metrics = request.app.state.metrics
    return metrics


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]


async def get_live(engine: EngineDep) -> Generation:
    """The live index generation (503 when none is loaded yet)."""
    return engine.require()


LiveDep = Annotated[Generation, Depends(get_live)]


async def require_api_key(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """401 unless the request carries the configured key (no-op when none is configured)."""
    if settings.api_key is None or not settings.api_key.get_secret_value():
        return
    expected = settings.api_key.get_secret_value().encode()
    given = credentials.credentials.encode() if credentials else b""
    if credentials is None or not secrets.compare_digest(given, expected):
        raise ApiError(
            401,
            "missing or invalid API key; send Authorization: Bearer <key>",
            code="invalid_api_key",
            headers={"WWW-Authenticate": 'Bearer realm="newsrag"'},
        )


Authorized = Depends(require_api_key)
