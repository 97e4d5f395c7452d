"""Knowledge bases under /api/v1 (Dify's dataset API shape): datasets, documents, segments, retrieve."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, File, Form, Query, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import AfterValidator
from sse_starlette import EventSourceResponse

from vidrag.api.deps import ContainerDep, KnowledgeDep, SearchDep
from vidrag.api.schemas.knowledge import (
    ByText,
    ByUrl,
    DatasetCreate,
    DatasetOut,
    DatasetUpdate,
    DocumentCreated,
    DocumentOut,
    FromTask,
    IndexingStatus,
    Page,
    Record,
    RetrieveRequest,
    RetrieveResponse,
    SegmentOut,
    SegmentUpdateBody,
    no_nul,
)
from vidrag.domain.errors import NotFound
from vidrag.services.ingest_job import TERMINAL, document_event

router = APIRouter(prefix="/api/v1/datasets", tags=["knowledge bases"])
PageQ = Annotated[int, Query(ge=1, le=100_000)]
LimitQ = Annotated[int, Query(ge=1, le=100)]
KeywordQ = Annotated[str | None, Query(max_length=200), AfterValidator(no_nul)]
T = TypeVar("T")


def _page(items: list[T], total: int, page: int, limit: int) -> Page[T]:
    return Page[T](data=items, has_more=page * limit < total, limit=limit, total=total, page=page)


@router.post("", status_code=201, response_model=DatasetOut)
def create_dataset(body: DatasetCreate, kb: KnowledgeDep) -> DatasetOut:
    """Create a knowledge base; it records the embedding model it is built with."""
    rules = body.process_rule.stored() if body.process_rule else None
    retrieval = body.retrieval_model.stored() if body.retrieval_model else None
    return DatasetOut.of(kb.create_dataset(body.name, body.description, rules, retrieval))


@router.get("", response_model=Page[DatasetOut])
def list_datasets(kb: KnowledgeDep, page: PageQ = 1, limit: LimitQ = 20) -> Page[DatasetOut]:
    """Knowledge bases, newest first."""
    rows, total, counts = kb.datasets((page - 1) * limit, limit)
    return _page([DatasetOut.of(r, counts.get(r.id, 0)) for r in rows], total, page, limit)


@router.get("/{dataset_id}", response_model=DatasetOut)
def get_dataset(dataset_id: str, kb: KnowledgeDep) -> DatasetOut:
    """One knowledge base (by ID or name)."""
    return DatasetOut.of(kb.dataset(dataset_id))


@router.patch("/{dataset_id}", response_model=DatasetOut)
def update_dataset(dataset_id: str, body: DatasetUpdate, kb: KnowledgeDep) -> DatasetOut:
    """Rename, describe, or change default retrieval settings."""
    retrieval = body.retrieval_model.stored() if body.retrieval_model else None
    return DatasetOut.of(kb.update_dataset(dataset_id, body.name, body.description, retrieval))


@router.delete("/{dataset_id}", status_code=204)
def delete_dataset(dataset_id: str, kb: KnowledgeDep) -> Response:
    """Delete a knowledge base with its documents and chunks (downloaded media stay in the library)."""
    kb.delete_dataset(dataset_id)
    return Response(status_code=204)


@router.post("/{dataset_id}/reembed", response_model=DatasetOut)
def reembed(dataset_id: str, kb: KnowledgeDep) -> DatasetOut:
    """Embed every chunk again with the service's current model (no re-download, no re-transcription)."""
    return DatasetOut.of(kb.reembed(dataset_id))


# --- documents ----------------------------------------------------------------------------------------
def _created(doc: DocumentOut) -> DocumentCreated:
    return DocumentCreated(document=doc, batch=doc.id)


@router.post("/{dataset_id}/document/create-by-url", status_code=201, response_model=DocumentCreated)
def create_by_url(dataset_id: str, body: ByUrl, kb: KnowledgeDep) -> DocumentCreated:
    """Add a video or audio by URL: downloaded, transcribed (captions first), chunked with times, indexed."""
    return _created(DocumentOut.of(kb.add_url(dataset_id, body.url, body.name)))


@router.post("/{dataset_id}/document/create-from-task", status_code=201, response_model=DocumentCreated)
def create_from_task(dataset_id: str, body: FromTask, kb: KnowledgeDep) -> DocumentCreated:
    """Add the media of a download task."""
    return _created(DocumentOut.of(kb.add_task(dataset_id, body.task_id)))


@router.post("/{dataset_id}/document/create-by-text", status_code=201, response_model=DocumentCreated)
def create_by_text(dataset_id: str, body: ByText, kb: KnowledgeDep) -> DocumentCreated:
    """Add a text document."""
    return _created(DocumentOut.of(kb.add_text(dataset_id, body.name, body.text)))


@router.post("/{dataset_id}/document/create-by-file", status_code=201, response_model=DocumentCreated)
def create_by_file(dataset_id: str, kb: KnowledgeDep, file: Annotated[UploadFile, File()],
                   name: Annotated[str | None, Form(max_length=500), AfterValidator(no_nul)] = None) -> DocumentCreated:
    """Upload PDF, DOCX, HTML, Markdown, text, SRT/VTT, or a video/audio file (type checked by content)."""
    return _created(DocumentOut.of(kb.add_file(dataset_id, name or file.filename, file.file)))


@router.get("/{dataset_id}/documents", response_model=Page[DocumentOut])
def list_documents(dataset_id: str, kb: KnowledgeDep, page: PageQ = 1, limit: LimitQ = 20,
                   keyword: KeywordQ = None) -> Page[DocumentOut]:
    """Documents of a knowledge base, newest first."""
    rows, total, counts = kb.documents(dataset_id, (page - 1) * limit, limit, keyword)
    return _page([DocumentOut.of(r, counts.get(r.id, 0)) for r in rows], total, page, limit)


@router.get("/{dataset_id}/documents/{document_id}", response_model=DocumentOut)
def get_document(dataset_id: str, document_id: str, kb: KnowledgeDep) -> DocumentOut:
    """One document with its per-stage record."""
    doc = kb.document(dataset_id, document_id)
    return DocumentOut.of(doc, kb.segments(dataset_id, document_id, 0, 1, None, None)[1])


@router.delete("/{dataset_id}/documents/{document_id}", status_code=204)
def delete_document(dataset_id: str, document_id: str, kb: KnowledgeDep) -> Response:
    """Remove a document and its chunks from the knowledge base."""
    kb.delete_document(dataset_id, document_id)
    return Response(status_code=204)


@router.post("/{dataset_id}/documents/{document_id}/reindex", response_model=DocumentOut)
def reindex(dataset_id: str, document_id: str, kb: KnowledgeDep) -> DocumentOut:
    """Chunk, embed and index again (a stored transcript is reused)."""
    return DocumentOut.of(kb.reindex(dataset_id, document_id))


@router.get("/{dataset_id}/documents/{batch}/indexing-status")
def indexing_status(dataset_id: str, batch: str, kb: KnowledgeDep) -> dict[str, list[IndexingStatus]]:
    """Per-stage progress and timestamps (`batch` is the document ID)."""
    doc = kb.document(dataset_id, batch)
    return {"data": [IndexingStatus.of(doc, kb.segments(dataset_id, batch, 0, 1, None, None)[1])]}


@router.get("/{dataset_id}/documents/{document_id}/events", response_class=EventSourceResponse)
async def document_events(dataset_id: str, document_id: str, c: ContainerDep) -> EventSourceResponse:
    """Server-Sent Events with the document's stage and progress until it is indexed or fails."""
    await run_in_threadpool(c.knowledge.document, dataset_id, document_id)
    return EventSourceResponse(_stream(c, dataset_id, document_id), ping=15)


async def _stream(c: ContainerDep, dataset_id: str, document_id: str) -> AsyncIterator[dict[str, str]]:
    async with c.events.subscribe(f"doc:{document_id}") as queue:
        event = document_event(await run_in_threadpool(c.knowledge.document, dataset_id, document_id))
        yield {"event": "status", "data": json.dumps(event)}
        while event["indexing_status"] not in TERMINAL:
            try:
                event = await asyncio.wait_for(queue.get(), 10.0)
            except TimeoutError:
                try:
                    event = document_event(await run_in_threadpool(c.knowledge.document, dataset_id, document_id))
                except NotFound:
                    return
            yield {"event": event["type"], "data": json.dumps(event)}


@router.get("/{dataset_id}/documents/{document_id}/transcript")
def transcript(dataset_id: str, document_id: str, kb: KnowledgeDep,
               format: Literal["srt", "vtt", "txt", "json"] = "json") -> Response:
    """The media document's transcript as SRT, VTT, TXT or JSON."""
    body, content_type = kb.transcript(dataset_id, document_id, format)
    return Response(body, media_type=content_type,
                    headers={"Content-Disposition": f'inline; filename="{document_id}.{format}"'})


# --- segments -----------------------------------------------------------------------------------------
@router.get("/{dataset_id}/documents/{document_id}/segments", response_model=Page[SegmentOut])
def list_segments(dataset_id: str, document_id: str, kb: KnowledgeDep, page: PageQ = 1, limit: LimitQ = 20,
                  keyword: KeywordQ = None,
                  status: Literal["enabled", "disabled"] | None = None) -> Page[SegmentOut]:
    """Chunks of a document in order, with their times, pages and headings."""
    enabled = None if status is None else status == "enabled"
    rows, total = kb.segments(dataset_id, document_id, (page - 1) * limit, limit, keyword, enabled)
    return _page([SegmentOut.of(r) for r in rows], total, page, limit)


@router.get("/{dataset_id}/documents/{document_id}/segments/{segment_id}", response_model=SegmentOut)
def get_segment(dataset_id: str, document_id: str, segment_id: int, kb: KnowledgeDep) -> SegmentOut:
    """One chunk."""
    return SegmentOut.of(kb.segment(dataset_id, document_id, segment_id))


@router.post("/{dataset_id}/documents/{document_id}/segments/{segment_id}", response_model=SegmentOut)
def update_segment(dataset_id: str, document_id: str, segment_id: int, body: SegmentUpdateBody,
                   kb: KnowledgeDep) -> SegmentOut:
    """Edit a chunk's text (re-embedded at once) or enable/disable it."""
    seg = body.segment
    return SegmentOut.of(kb.update_segment(dataset_id, document_id, segment_id, seg.content, seg.enabled))


# --- retrieval ----------------------------------------------------------------------------------------
@router.post("/{dataset_id}/retrieve", response_model=RetrieveResponse)
def retrieve(dataset_id: str, body: RetrieveRequest, kb: KnowledgeDep, search: SearchDep, response: Response
             ) -> RetrieveResponse:
    """Hit testing: semantic, keyword (full text) or hybrid search with filters; media hits carry times.

    `X-Vidrag-Cache: hit` tells that the same query on the unchanged knowledge base was answered from the
    retrieval cache (VIDRAG_RETRIEVAL_CACHE_SECONDS; shared by every replica when scaled out)."""
    results, cached = search.lookup(kb.dataset(dataset_id).id, body.retrieval_model.query(body.query))
    response.headers["X-Vidrag-Cache"] = "hit" if cached else "miss"
    return RetrieveResponse(query={"content": body.query}, records=[Record.of(r) for r in results])
