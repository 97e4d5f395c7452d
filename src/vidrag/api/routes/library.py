"""The library across knowledge bases, the player's data, and what the service is configured with."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from vidrag import __version__
from vidrag.api.deps import ContainerDep, KnowledgeDep
from vidrag.api.schemas.knowledge import DocumentOut, Page
from vidrag.api.schemas.library import LibraryDocument, ModelInfo, PlayerOut, SystemOut, TranscriptLine
from vidrag.domain.knowledge import DocumentKind

router = APIRouter(prefix="/api/v1", tags=["library"])
KINDS = {"video": (DocumentKind.VIDEO.value,), "audio": (DocumentKind.AUDIO.value,),
         "media": tuple(k.value for k in DocumentKind if k.is_media),
         "document": tuple(k.value for k in DocumentKind if not k.is_media)}


@router.get("/documents", response_model=Page[LibraryDocument])
def library(kb: KnowledgeDep, kind: Literal["all", "video", "audio", "media", "document"] = "all",
            keyword: Annotated[str | None, Query(max_length=200)] = None,
            page: Annotated[int, Query(ge=1, le=100_000)] = 1,
            limit: Annotated[int, Query(ge=1, le=100)] = 24) -> Page[LibraryDocument]:
    """Documents of every knowledge base, newest first, with their media and thumbnail links."""
    entries, total = kb.library((page - 1) * limit, limit, KINDS.get(kind, ()), keyword)
    return Page[LibraryDocument](data=[LibraryDocument.of_entry(e) for e in entries],
                                 has_more=page * limit < total, limit=limit, total=total, page=page)


@router.get("/documents/{document_id}/player", response_model=PlayerOut)
def player(document_id: str, kb: KnowledgeDep) -> PlayerOut:
    """A media document with its file and transcript lines: what the console's player shows."""
    doc, name, content_type, transcript = kb.player(document_id)
    video = content_type.startswith("video/")
    chunks = kb.segments(doc.dataset_id, doc.id, 0, 1, None, None)[1]
    return PlayerOut(document=DocumentOut.of(doc, chunks), dataset_id=doc.dataset_id, media_url=f"/api/v1/files/{name}",
                     media_type=content_type, thumbnail_url=f"/api/v1/files/{name}/thumbnail" if video else None,
                     segments=TranscriptLine.lines_of(transcript))


@router.get("/system", response_model=SystemOut)
def system(c: ContainerDep) -> SystemOut:
    """Versions, deployment kind, configured models and limits (no secrets)."""
    s = c.settings
    asr = ModelInfo(name=s.asr_model or "tiny.en (bundled)",
                    detail={"device": s.asr_device, "compute_type": s.asr_compute_type, "beam_size": s.asr_beam_size,
                            "vad": s.asr_vad})
    embedder = c.search.embedder
    embedding = ModelInfo(name=embedder.name, detail={"backend": s.embedding_backend,
                                                          "dimension": embedder.dimension})
    llm = ModelInfo(name=s.llm_model or "extractive (no language model configured)",
                    detail={"configured": bool(s.llm_base_url and s.llm_model)})
    rerank = ModelInfo(name=s.rerank_model or "none", detail={"configured": bool(s.rerank_base_url)})
    return SystemOut(version=__version__, deployment="scaled" if c.scaled else "embedded",
                     database="postgresql" if c.db.postgres else "sqlite", ffmpeg=c.ffmpeg,
                     api_keys_required=bool(s.api_keys),
                     models={"transcription": asr, "embedding": embedding, "answers": llm, "rerank": rerank},
                     limits={"max_upload_mb": s.max_upload_mb, "max_download_mb": s.max_download_mb,
                             "retention_max_age_hours": s.retention_max_age_hours,
                             "retention_max_total_mb": s.retention_max_total_mb,
                             "retention_keep_newest": s.retention_keep_newest, "min_free_disk_mb": s.min_free_disk_mb})
