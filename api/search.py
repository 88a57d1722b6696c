"""POST /v1/search: ranked passages with provenance."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from newsrag.api.deps import Authorized, EngineDep, SettingsDep
from newsrag.api.mapping import check_question, filters_of, result_of
from newsrag.api.schemas import ErrorResponse, SearchRequest, SearchResponse
from newsrag.rag.records import AnswerRequest

router = APIRouter(
    prefix="/v1",
    tags=["search"],
    dependencies=[Authorized],
    responses={401: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
)


@router.post("/search", response_model=SearchResponse)
async def search(body: SearchRequest, engine: EngineDep, settings: SettingsDep) -> SearchResponse:
    """Hybrid (dense + BM25) search over the live index."""
    query = check_question(body.query, settings, field="query")
    filters = filters_of(body)
    engine.require()
    request = AnswerRequest(query, k=body.k or settings.k, filters=filters)
    hits = await run_in_threadpool(engine.search, request)
    return SearchResponse(query=query, results=[result_of(h) for h in hits])
