"""The ingestion job: a document's stages, each recorded with start, end and error, each a checkpoint.

media:     download (a download task) -> transcribe (captions first) -> chunk -> embed -> index
documents: parse -> chunk -> embed -> index;   text: chunk -> embed -> index

A resumed document skips what is done: the transcript is stored; chunks are stored before they are
embedded; only chunks without a vector of the dataset's model are embedded. Like the download job, every
write is conditional on this process still owning the document.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import update

from vidrag.domain.chunks import Chapter, ChunkDraft, ParsedDocument, ProcessRule, TextBlock, TranscriptChunkRule
from vidrag.domain.errors import StageFailed, TaskCancelled, VidragError
from vidrag.domain.knowledge import DocumentKind, DocumentSource, IndexingStage
from vidrag.domain.tasks import DownloadProgress, FileKind, TaskStatus
from vidrag.domain.transcripts import Transcript, TranscriptSource
from vidrag.jobs.base import JobControl
from vidrag.jobs.events import EventBus
from vidrag.observability.logs import log_context
from vidrag.observability.metrics import NO_METRICS, JobMetrics
from vidrag.pipeline.base import StageContext
from vidrag.pipeline.captions import CaptionFile, choose_captions, parse_captions
from vidrag.pipeline.chunk import chunk_document, chunk_transcript
from vidrag.pipeline.parse import parse_document
from vidrag.pipeline.transcribe import TranscribeRequest, transcribe
from vidrag.retrieval.embedding import Embedder
from vidrag.retrieval.terms import terms
from vidrag.settings import Settings
from vidrag.storage.db import Database
from vidrag.storage.knowledge_repo import DatasetRepository, DocumentRepository, SegmentRepository, TranscriptRepository
from vidrag.storage.media import MediaStore
from vidrag.storage.models import DocumentRow, SegmentRow, TaskRow, TranscriptRow, utcnow
from vidrag.storage.repositories import TaskRepository

log = logging.getLogger(__name__)
TERMINAL = (IndexingStage.COMPLETED.value, IndexingStage.ERROR.value)
# where each stage lands in the document's 0-100
SPANS = {IndexingStage.DOWNLOAD: (0, 20), IndexingStage.TRANSCRIBE: (20, 70), IndexingStage.PARSE: (0, 30),
         IndexingStage.CHUNK: (70, 75), IndexingStage.EMBED: (75, 97), IndexingStage.INDEX: (97, 100)}


@dataclass(frozen=True)
class _Source:
    """What the download task produced for a media document."""

    media: Path
    captions: list[CaptionFile]
    info: dict[str, Any]


class IngestJob:
    def __init__(self, settings: Settings, db: Database, media: MediaStore, events: EventBus,
                 embedder: Callable[[], Embedder]) -> None:
        self.settings = settings
        self.db = db
        self.media = media
        self.events = events
        self.embedder = embedder
        # Scaled out: after transcribing, hand the document to the index queue (set to the runner's enqueue), so
        # transcription and indexing can run on different workers; in-process runs every stage in one go.
        self.hand_off: Callable[[str], None] | None = None
        self.metrics: JobMetrics = NO_METRICS  # stage durations, transcription speed; set where metrics are served

    def __call__(self, document_id: str, control: JobControl) -> None:
        with log_context(task_id=document_id, job="ingest"):
            self._run(document_id, control)

    def _run(self, document_id: str, control: JobControl) -> None:
        owner = control.worker_id
        doc = self._claim(document_id, owner)
        if doc is None:
            return
        log.info("ingestion of document %s started at %s (attempt %d)", doc.name, doc.indexing_status, doc.attempts)
        run = _Run(self, doc, owner, control)
        try:
            run.execute()
        except TaskCancelled:
            if control.timed_out:
                run.fail("time_limit", control.time_limit_message())
            else:
                run.release()  # stopped by a shutdown or a delete: the next start resumes it
        except VidragError as exc:
            run.fail(exc.code, exc.message)
        except Exception as exc:
            log.exception("document %s failed unexpectedly", document_id)
            run.fail("internal_error", f"unexpected error: {type(exc).__name__}: {exc}")

    def heartbeat(self, document_ids: list[str], owner: str) -> None:
        with self.db.session() as s:
            s.execute(update(DocumentRow).where(DocumentRow.id.in_(document_ids), DocumentRow.owner == owner)
                      .values(heartbeat_at=utcnow()))

    def _claim(self, document_id: str, owner: str) -> DocumentRow | None:
        now = utcnow()
        with self.db.session() as s:
            claimed = s.execute(update(DocumentRow).where(
                DocumentRow.id == document_id, DocumentRow.owner.is_(None),
                DocumentRow.indexing_status.notin_(TERMINAL)).values(
                owner=owner, heartbeat_at=now, attempts=DocumentRow.attempts + 1, updated_at=now))
            if not getattr(claimed, "rowcount", 0):
                return None
            return DocumentRepository(s).get(document_id)

    def write(self, document_id: str, as_owner: str, *, release: bool = False, **values: Any) -> bool:
        """Write ``values`` if ``as_owner`` still owns the document (``release`` gives it up)."""
        now = utcnow()
        if release:
            values["owner"] = None
        with self.db.session() as s:
            result = s.execute(update(DocumentRow).where(DocumentRow.id == document_id, DocumentRow.owner == as_owner)
                               .values(updated_at=now, heartbeat_at=now, **values))
            return bool(getattr(result, "rowcount", 0))

    def publish(self, document_id: str) -> None:
        with self.db.session() as s:
            doc = DocumentRepository(s).get(document_id)
            if doc is not None:
                self.events.publish(f"doc:{document_id}", document_event(doc))


def document_event(doc: DocumentRow) -> dict[str, Any]:
    return {"type": "status", "document_id": doc.id, "indexing_status": doc.indexing_status,
            "progress": round(doc.progress, 1), "stages": doc.stages, "error": doc.error, "error_code": doc.error_code}


class _Run:
    """One attempt at one document."""

    def __init__(self, job: IngestJob, doc: DocumentRow, owner: str, control: JobControl) -> None:
        self.job = job
        self.doc = doc
        self.owner = owner
        self.control = control
        self.stages: dict[str, Any] = dict(doc.stages or {})
        self.last_write = 0.0

    # --- flow --------------------------------------------------------------------------------------
    def execute(self) -> None:
        doc, resume_at = self.doc, self.doc.indexing_status
        kind = DocumentKind(doc.kind) if doc.kind else None
        done_chunking = resume_at in (IndexingStage.EMBED.value, IndexingStage.INDEX.value) and self._has_segments()
        if not done_chunking:
            if doc.task_id is not None or doc.source in (DocumentSource.URL.value, DocumentSource.TASK.value):
                source = self._wait_for_download()
                if source is None:
                    return  # released; the download task's end enqueues it again
                transcribed_before = self._has_transcript()
                transcript = self._stage(IndexingStage.TRANSCRIBE, lambda: self._transcript(source))
                if (hand_off := self.job.hand_off) is not None and not transcribed_before:
                    self.release()
                    self.control.after.append(lambda: hand_off(doc.id))  # once this job no longer counts
                    return
                chapters = [Chapter(c.get("start_time") or 0.0, c.get("end_time"), c.get("title") or "")
                            for c in source.info.get("chapters") or []]
                drafts = self._stage(IndexingStage.CHUNK, lambda: chunk_transcript(
                    transcript, TranscriptChunkRule(**self._rule("transcript")), chapters))
            elif kind is DocumentKind.CAPTIONS:  # a transcript already: chunked by time, exportable like one
                captions = self._stage(IndexingStage.PARSE, self._caption_file)
                drafts = self._stage(IndexingStage.CHUNK, lambda: chunk_transcript(
                    captions, TranscriptChunkRule(**self._rule("transcript"))))
            else:
                parsed = self._stage(IndexingStage.PARSE, self._parse)
                drafts = self._stage(IndexingStage.CHUNK, lambda: chunk_document(
                    parsed, ProcessRule(**self._rule("document"))))
            if not drafts:
                raise StageFailed("no text to index: the source has no speech or words"
                                  if kind is None or kind.is_media else "no text to index", code="no_text")
            self._save_segments(drafts)
        self._stage(IndexingStage.EMBED, self._embed)
        self._stage(IndexingStage.INDEX, self._index)
        self._finish()

    def _stage(self, stage: IndexingStage, work: Callable[[], Any]) -> Any:
        self.control_check()
        entry = self.stages.get(stage.value, {})
        self.stages[stage.value] = {**entry, "started_at": utcnow().isoformat(), "completed_at": None, "error": None}
        self._set(stage, SPANS[stage][0], force=True)
        try:
            with self.job.metrics.stage(stage.value):
                result = work()
        except VidragError as exc:
            self.stages[stage.value]["error"] = exc.message
            raise
        self.stages[stage.value]["completed_at"] = utcnow().isoformat()
        self._set(stage, SPANS[stage][1], force=True)
        return result

    # --- stages ------------------------------------------------------------------------------------
    def _wait_for_download(self) -> _Source | None:
        with self.job.db.session() as s:
            task = TaskRepository(s).get(self.doc.task_id) if self.doc.task_id else None
        if task is None:
            raise StageFailed("the download task behind this document was deleted; add the URL again",
                              code="download_missing")
        if TaskStatus(task.status).is_active:
            self.stages.setdefault(IndexingStage.DOWNLOAD.value, {"started_at": utcnow().isoformat()})
            self._set(IndexingStage.DOWNLOAD, task.progress * 0.2, force=True)
            self.release()
            return None
        if task.status != TaskStatus.COMPLETED.value:
            raise StageFailed(f"the download failed: {task.error or task.status}", code="download_failed")
        stage = self.stages.setdefault(IndexingStage.DOWNLOAD.value, {"started_at": utcnow().isoformat()})
        stage["completed_at"] = stage.get("completed_at") or utcnow().isoformat()
        return self._source_of(task)

    def _source_of(self, task: TaskRow) -> _Source:
        by_kind: dict[str, Path] = {}
        captions = []
        for f in task.files:
            path = self.job.media.absolute(f.rel_path)
            if f.kind == FileKind.SUBTITLE.value:
                captions.append(CaptionFile(path, str(f.details.get("language") or ""),
                                            bool(f.details.get("automatic"))))
            else:
                by_kind.setdefault(f.kind, path)
        media = by_kind.get(FileKind.AUDIO.value) or by_kind.get(FileKind.VIDEO.value)
        if media is None or not media.exists():
            raise StageFailed("the download task has no audio or video file left (cleaned up?); add the URL again",
                              code="media_missing")
        info = task.video_info or {}
        self._merge_metadata(info)
        if info.get("title") and self.doc.name in (self.doc.source_url, task.url):
            self.doc.name = str(info["title"])[:500]  # "talk" reads better than its URL
            self.job.write(self.doc.id, self.owner, name=self.doc.name)
        return _Source(media, captions, info)

    def _transcript(self, source: _Source) -> Transcript:
        with self.job.db.session() as s:
            saved = TranscriptRepository(s).get(self.doc.id)
        if saved is not None:  # checkpoint: transcribed before a restart
            return Transcript.from_json(saved.body)
        chosen = choose_captions(source.captions, self.job.settings.caption_languages)
        if chosen is not None:
            kind = TranscriptSource.AUTO_CAPTIONS if chosen.automatic else TranscriptSource.MANUAL_CAPTIONS
            transcript = parse_captions(chosen.path, kind, chosen.language)
        else:
            st = self.job.settings
            started = time.monotonic()
            transcript = transcribe(self._context(IndexingStage.TRANSCRIBE), TranscribeRequest(
                audio=source.media, model=st.asr_model, device=st.asr_device, compute_type=st.asr_compute_type,
                threads=st.asr_threads, beam_size=st.asr_beam_size, vad=st.asr_vad, batch_size=st.asr_batch_size))
            self.job.metrics.transcribed(transcript.duration or 0.0, time.monotonic() - started)
        if not transcript.segments:
            raise StageFailed("no speech was found in the audio (silent, or not in a language the model knows)",
                              code="no_speech")
        self._save_transcript(transcript)
        return transcript

    def _caption_file(self) -> Transcript:
        assert self.doc.file_path is not None
        transcript = parse_captions(self.job.settings.data_dir / self.doc.file_path, TranscriptSource.MANUAL_CAPTIONS)
        if not transcript.segments:
            raise StageFailed("the caption file has no cues with text", code="no_text")
        self._save_transcript(transcript)
        return transcript

    def _save_transcript(self, transcript: Transcript) -> None:
        with self.job.db.session() as s:
            TranscriptRepository(s).put(TranscriptRow(document_id=self.doc.id, source=transcript.source.value,
                                                      language=transcript.language, model=transcript.model,
                                                      body=transcript.to_json(), created_at=utcnow()))
        self._merge_metadata({"transcript_source": transcript.source.value, "language": transcript.language,
                              "asr_model": transcript.model})

    def _parse(self) -> ParsedDocument:
        if self.doc.source == DocumentSource.TEXT.value:
            text = (self.doc.doc_metadata or {}).get("text", "")
            return ParsedDocument(self.doc.name, tuple(TextBlock(p) for p in text.split("\n\n") if p.strip()))
        assert self.doc.file_path is not None
        assert self.doc.kind is not None
        parsed: ParsedDocument = parse_document(self.job.settings.data_dir / self.doc.file_path, self.doc.kind)
        return parsed

    def _save_segments(self, drafts: list[ChunkDraft]) -> None:
        with self.job.db.session() as s:
            segments = SegmentRepository(s)
            segments.delete_of_document(self.doc.id)
            s.add_all(SegmentRow(dataset_id=self.doc.dataset_id, document_id=self.doc.id, position=d.position,
                                 content=d.text, tokens=d.tokens, start=d.start, end=d.end, page=d.page,
                                 heading=d.heading, chapter=d.chapter, enabled=True) for d in drafts)
        self.job.write(self.doc.id, self.owner, tokens=sum(d.tokens for d in drafts),
                       word_count=sum(len(d.text.split()) for d in drafts))

    def _embed(self) -> None:
        embedder = self.job.embedder()
        batch = self.job.settings.embedding_batch_size
        with self.job.db.session() as s:
            todo = [(seg.id, seg.content) for seg in SegmentRepository(s).needing_embedding(self.doc.id, embedder.name)]
        for start in range(0, len(todo), batch):
            self.control_check()
            part = todo[start:start + batch]
            vectors = embedder.embed_documents([text for _, text in part])
            with self.job.db.session() as s:
                SegmentRepository(s).set_embeddings([(segment_id, vector) for (segment_id, _), vector
                                                     in zip(part, vectors, strict=True)], embedder.name)
            lo, hi = SPANS[IndexingStage.EMBED]
            self._set(IndexingStage.EMBED, lo + (hi - lo) * (start + len(part)) / len(todo), force=False)

    def _index(self) -> None:
        with self.job.db.session() as s:
            segments = SegmentRepository(s)
            segments.put_terms([(seg.id, terms(f"{seg.heading or ''} {seg.content}"))
                                for seg in segments.of_document(self.doc.id)])
            DatasetRepository(s).bump_version(self.doc.dataset_id)

    # --- state -------------------------------------------------------------------------------------
    def _finish(self) -> None:
        if self.job.write(self.doc.id, self.owner, indexing_status=IndexingStage.COMPLETED.value, progress=100.0,
                          stages=self.stages, release=True, completed_at=utcnow(), error=None, error_code=None):
            self.job.metrics.job_finished("ingest", "completed")  # not when another worker took it over meanwhile
        log.info("ingestion completed")
        self.job.publish(self.doc.id)

    def fail(self, code: str, message: str) -> None:
        if self.job.write(self.doc.id, self.owner, indexing_status=IndexingStage.ERROR.value, error=message,
                          error_code=code, stages=self.stages, release=True, completed_at=utcnow()):
            self.job.metrics.job_finished("ingest", "failed")
        log.warning("ingestion failed: %s (%s)", message, code)
        self.job.publish(self.doc.id)

    def release(self) -> None:
        self.job.write(self.doc.id, self.owner, stages=self.stages, release=True)
        self.job.publish(self.doc.id)

    def control_check(self) -> None:
        if self.control.is_cancelled():
            raise TaskCancelled("stopped")

    def _set(self, stage: IndexingStage, progress: float, *, force: bool) -> None:
        now = time.monotonic()
        if not force and now - self.last_write < 1.0:
            return
        self.last_write = now
        if not self.job.write(self.doc.id, self.owner, indexing_status=stage.value, progress=progress,
                              stages=self.stages):
            raise TaskCancelled("the document was deleted or taken over")
        self.job.events.publish(f"doc:{self.doc.id}", {
            "type": "progress", "document_id": self.doc.id, "indexing_status": stage.value,
            "progress": round(progress, 1), "stages": self.stages, "error": None, "error_code": None})

    def _context(self, stage: IndexingStage) -> StageContext:
        lo, hi = SPANS[stage]

        def report(p: DownloadProgress) -> None:
            self._set(stage, lo + (hi - lo) * min(max(p.percent, 0.0), 100.0) / 100.0, force=False)

        return StageContext(self.doc.id, self.job.media.work_dir(f"doc-{self.doc.id}"), report,
                            self.control.is_cancelled)

    def _rule(self, key: str) -> dict[str, Any]:
        with self.job.db.session() as s:
            dataset = DatasetRepository(s).get(self.doc.dataset_id)
        return dict((dataset.process_rule or {}).get(key, {})) if dataset else {}

    def _has_transcript(self) -> bool:
        with self.job.db.session() as s:
            return TranscriptRepository(s).get(self.doc.id) is not None

    def _has_segments(self) -> bool:
        with self.job.db.session() as s:
            return bool(SegmentRepository(s).of_document(self.doc.id))

    def _merge_metadata(self, values: dict[str, Any]) -> None:
        keep = {k: v for k, v in values.items() if v is not None and k in METADATA_KEYS}
        merged = {**(self.doc.doc_metadata or {}), **keep}
        self.doc.doc_metadata = merged
        self.job.write(self.doc.id, self.owner, doc_metadata=merged)


METADATA_KEYS = ("title", "duration", "uploader", "upload_date", "webpage_url", "extractor", "id", "thumbnail",
                 "chapters", "transcript_source", "language", "asr_model")
