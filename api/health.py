"""GET /healthz (alive), /readyz (index loaded; LLM reachable or extractive), /metrics."""

from __future__ import annotations

import time
from typing import Annotated

import httpx2
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from newsrag.api.deps import Authorized, EngineDep, MetricsDep
from newsrag.api.schemas import HealthStatus

router = APIRouter(tags=["health"])

PROBE_TIMEOUT_S = 2.0
PROBE_TTL_S = 10.0


class LLMProbe:
    """Whether the configured LLM endpoint answers HTTP at all (any status < 500), cached."""

    def __init__(self, base_url: str | None) -> None:
        self.base_url = (base_url or "").rstrip("/")
        self._checked_at = float("-inf")
        self._result = "unknown"

    async def check(self) -> str:
        """'ok', or why the endpoint is not reachable."""
        now = time.monotonic()
        if now - self._checked_at < PROBE_TTL_S:
            return self._result
        try:
            async with httpx2.AsyncClient(timeout=PROBE_TIMEOUT_S) as client:
                response = await client.get(f"{self.base_url}/models")
            self._result = "ok" if response.status_code < 500 else f"HTTP {response.status_code}"
        except httpx2.HTTPError as exc:
            self._result = f"unreachable ({type(exc).__name__})"
        self._checked_at = now
        return self._result


async def get_probe(request: Request) -> LLMProbe:
    """The app's LLM probe."""
    probe: LLMProbe = request.app.state.probe
    return probe


ProbeDep = Annotated[LLMProbe, Depends(get_probe)]


@router.get("/healthz", response_model=HealthStatus)
async def healthz() -> HealthStatus:
    """The process is up and serving."""
    return HealthStatus(status="ok")


@router.get("/readyz", response_model=HealthStatus, responses={503: {"model": HealthStatus}})
async def readyz(engine: EngineDep, probe: ProbeDep) -> JSONResponse:
    """Ready when an index is loaded and the LLM is reachable (or none is configured)."""
    live = engine.live
    checks = {"index": (live.name or "loaded") if live else "not loaded"}
    if engine.model is None:
        checks["llm"] = "extractive mode"
    else:
        checks["llm"] = await probe.check()
    ready = live is not None and checks["llm"] in ("ok", "extractive mode")
    status = HealthStatus(status="ok" if ready else "unavailable", checks=checks)
    return JSONResponse(status.model_dump(), status_code=200 if ready else 503)


@router.get("/metrics", dependencies=[Authorized], response_class=Response)
async def metrics(registry: MetricsDep) -> Response:
    """Prometheus text exposition (needs the API key when one is set)."""
    return Response(registry.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")
