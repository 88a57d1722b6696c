"""/v1/documents: list, read, upload (incremental ingest) and delete articles."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, UploadFile
from starlette.concurrency import run_in_threadpool

from newsrag.api.deps import Authorized, EngineDep, LiveDep
from newsrag.api.errors import ApiError
from newsrag.api.schemas import (
    DeleteResponse,
    DocumentList,
    DocumentOut,
    DocumentSummary,
    ErrorResponse,
    IngestSummary,
    UploadResponse,
    UploadResult,
)
from newsrag.api.uploads import Upload, ingest_uploads

router = APIRouter(
    prefix="/v1/documents",
    tags=["documents"],
    dependencies=[Authorized],
    responses={401: {"model": ErrorResponse}, 503: {"model": ErrorResponse}},
)


@router.get("", response_model=DocumentList)
async def list_documents(live: LiveDep) -> DocumentList:
    """Every article of the live generation, with metadata."""
    entries = live.store.manifest.articles
    return DocumentList(
        documents=[
            DocumentSummary(
                id=a.id,
                title=a.title,
                source=a.source,
                published_at=a.published_at,
                url=a.url,
                author=a.author,
                category=a.category,
                n_chunks=entries[a.id].n_chunks if a.id in entries else 0,
            )
            for a in live.store.articles.values()
        ]
    )


@router.get("/{doc_id}", response_model=DocumentOut, responses={404: {"model": ErrorResponse}})
async def get_document(doc_id: str, live: LiveDep) -> DocumentOut:
    """One article with its cleaned text; citation start/end index into `text`."""
    article = live.store.articles.get(doc_id)
    if article is None:
        raise ApiError(404, f"no document with id {doc_id!r}")
    return DocumentOut(
        id=article.id,
        title=article.title,
        source=article.source,
        published_at=article.published_at,
        url=article.url,
        author=article.author,
        category=article.category,
        text=article.text,
    )


@router.post("", response_model=UploadResponse, responses={413: {"model": ErrorResponse}})
async def upload_documents(
    files: Annotated[list[UploadFile], File(description="Articles (.md .txt .html .json .jsonl).")],
    engine: EngineDep,
) -> UploadResponse:
    """Add or update articles; each file gets its own result and a bad file fails alone."""
    uploads = [Upload(f.filename or f"upload-{n}", await f.read()) for n, f in enumerate(files)]
    outcome = await run_in_threadpool(ingest_uploads, engine, uploads)
    results = [
        UploadResult(filename=o.filename, status=o.status, doc_ids=list(o.doc_ids), error=o.error)
        for o in outcome.files
    ]
    report = outcome.report
    summary = None
    if report is not None:
        summary = IngestSummary(
            added=len(report.added),
            updated=len(report.updated),
            unchanged=len(report.unchanged),
            failed=sum(r.status == "failed" for r in results),
            chunks_embedded=report.chunks_embedded,
            total_chunks=report.total_chunks,
            seconds=report.seconds,
        )
    return UploadResponse(results=results, generation=outcome.generation, ingest=summary)


@router.delete(
    "/{doc_id}", response_model=DeleteResponse, responses={404: {"model": ErrorResponse}}
)
async def delete_document(doc_id: str, engine: EngineDep) -> DeleteResponse:
    """Remove one article; answers switch to the new generation when it is live."""
    try:
        report = await run_in_threadpool(engine.delete, doc_id)
    except KeyError:
        raise ApiError(404, f"no document with id {doc_id!r}") from None
    return DeleteResponse(deleted=doc_id, generation=report.generation or "")
