"""Knowledge-base use cases: datasets, documents (by URL, task, file, text), segments, transcripts, recovery."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from vidrag.domain.chunks import count_tokens
from vidrag.domain.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge, UnsupportedMediaType
from vidrag.domain.knowledge import DocumentKind, DocumentSource, IndexingStage
from vidrag.domain.tasks import AudioFormat, TaskOptions, TaskStatus
from vidrag.domain.transcripts import EXPORTERS, Transcript
from vidrag.jobs.base import JobRunner, owner_is_gone
from vidrag.pipeline.parse import kind_for
from vidrag.retrieval.embedding import Embedder
from vidrag.retrieval.terms import terms
from vidrag.retrieval.vectors import VectorStore
from vidrag.services.downloads import DownloadService, Readable
from vidrag.services.ingest_job import TERMINAL
from vidrag.settings import Settings
from vidrag.storage.db import Database
from vidrag.storage.knowledge_repo import DatasetRepository, DocumentRepository, SegmentRepository, TranscriptRepository
from vidrag.storage.media import safe_stem
from vidrag.storage.models import DatasetRow, DocumentRow, SegmentRow, utcnow
from vidrag.storage.repositories import MediaFileRepository, TaskRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LibraryEntry:
    document: DocumentRow
    dataset_name: str
    segment_count: int
    media_name: str | None  # the video (else audio) file, for media documents whose file is still there
    media_type: str | None
SNIFF = 8192
MEDIA_OPTIONS = TaskOptions(extract_audio=True, keep_video=True, audio_format=AudioFormat.M4A, subtitles=True)
MAX_TEXT_CHARS = 5_000_000


class KnowledgeService:
    def __init__(self, settings: Settings, db: Database, downloads: DownloadService, runner: JobRunner,
                 vectors: VectorStore, embedder: Embedder) -> None:
        self.settings = settings
        self.db = db
        self.downloads = downloads
        self.runner = runner
        self.vectors = vectors
        self.embedder = embedder

    # --- datasets ----------------------------------------------------------------------------------
    def create_dataset(self, name: str, description: str = "", process_rule: dict[str, Any] | None = None,
                       retrieval: dict[str, Any] | None = None) -> DatasetRow:
        name = name.strip()
        if not name:
            raise InvalidInput("name is empty; give the knowledge base a name", code="invalid_name")
        with self.db.session() as s:
            repo = DatasetRepository(s)
            if repo.by_name(name) is not None:
                raise Conflict(f"a knowledge base named '{name}' already exists; pick another name",
                               code="dataset_name_taken")
            self.db.ensure_vector_index(self.embedder.dimension)
            now = utcnow()
            row = DatasetRow(id=str(uuid.uuid4()), name=name, description=description,
                             embedding_model=self.embedder.name, embedding_dimension=self.embedder.dimension,
                             retrieval=retrieval or {}, process_rule=process_rule or {}, index_version=0,
                             created_at=now, updated_at=now)
            s.add(row)
        return row

    def dimensions_in_use(self) -> set[int]:
        with self.db.session() as s:
            return DatasetRepository(s).dimensions()

    def dataset(self, ref: str) -> DatasetRow:
        """By ID or by name (the CLI and the OpenAI endpoint name knowledge bases)."""
        with self.db.session() as s:
            repo = DatasetRepository(s)
            row = repo.get(ref) or repo.by_name(ref)
        if row is None:
            raise NotFound(f"knowledge base '{ref}' does not exist; create it first (POST /api/v1/datasets)",
                           code="dataset_not_found")
        return row

    def datasets(self, offset: int, limit: int) -> tuple[list[DatasetRow], int, dict[str, int]]:
        with self.db.session() as s:
            rows, total = DatasetRepository(s).page(offset, limit)
            return rows, total, DatasetRepository(s).document_counts([r.id for r in rows])

    def update_dataset(self, ref: str, name: str | None, description: str | None,
                       retrieval: dict[str, Any] | None) -> DatasetRow:
        dataset = self.dataset(ref)
        with self.db.session() as s:
            row = DatasetRepository(s).get(dataset.id)
            assert row is not None
            if name is not None and name.strip() and name.strip() != row.name:
                if DatasetRepository(s).by_name(name.strip()):
                    raise Conflict(f"a knowledge base named '{name}' already exists", code="dataset_name_taken")
                row.name = name.strip()
            if description is not None:
                row.description = description
            if retrieval is not None:
                row.retrieval = retrieval
        return self.dataset(dataset.id)

    def delete_dataset(self, ref: str) -> None:
        dataset = self.dataset(ref)
        with self.db.session() as s:
            for doc in DocumentRepository(s).of_dataset(dataset.id):
                self._forget_document(s, doc)
            row = DatasetRepository(s).get(dataset.id)
            if row is not None:
                s.delete(row)
        self.vectors.drop(dataset.id)

    # --- documents ---------------------------------------------------------------------------------
    def add_url(self, ref: str, url: str, name: str | None = None) -> DocumentRow:
        dataset = self.dataset(ref)
        task = self.downloads.submit_url(url, MEDIA_OPTIONS).task
        return self._new_document(dataset, DocumentSource.URL, name or url, kind=DocumentKind.VIDEO,
                                  source_url=url, task_id=task.id)

    def add_task(self, ref: str, task_id: str) -> DocumentRow:
        dataset = self.dataset(ref)
        task = self.downloads.get(task_id)
        if task.status in (TaskStatus.FAILED.value, TaskStatus.CANCELLED.value):
            raise Conflict(f"task {task_id} is {task.status}; retry it first", code="task_not_usable")
        name = (task.video_info or {}).get("title") or task.url or task_id
        kind = DocumentKind.VIDEO if (task.options or {}).get("keep_video", True) else DocumentKind.AUDIO
        return self._new_document(dataset, DocumentSource.TASK, name, kind=kind, source_url=task.url,
                                  task_id=task.id)

    def add_text(self, ref: str, name: str, text: str) -> DocumentRow:
        dataset = self.dataset(ref)
        if not text.strip():
            raise InvalidInput("text is empty; send the document's text", code="empty_text")
        if len(text) > MAX_TEXT_CHARS:
            raise PayloadTooLarge(f"text is longer than {MAX_TEXT_CHARS} characters; split it", code="text_too_long")
        return self._new_document(dataset, DocumentSource.TEXT, name or "text", kind=DocumentKind.TEXT,
                                  metadata={"text": text})

    def add_file(self, ref: str, filename: str | None, stream: Readable) -> DocumentRow:
        """A document (PDF, DOCX, HTML, Markdown, text, SRT/VTT) or a media file (by content)."""
        dataset = self.dataset(ref)
        head = stream.read(SNIFF)
        kind = kind_for(filename or "", head)
        if kind is None:
            try:
                media = self.downloads.submit_upload(filename, _Rewound(head, stream), MEDIA_OPTIONS).task
            except UnsupportedMediaType as exc:
                raise UnsupportedMediaType("unsupported file type: send a PDF, DOCX, HTML, Markdown, text, SRT or VTT "
                                           "document, or a video or audio file") from exc
            return self._new_document(dataset, DocumentSource.FILE, filename or "upload", kind=DocumentKind.VIDEO,
                                      task_id=media.id)
        limit = self.settings.max_upload_mb * 2**20
        doc_id = str(uuid.uuid4())
        rel = Path("documents") / doc_id / f"{safe_stem(Path(filename or 'document').stem)}.{kind}"
        target = self.settings.data_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        size = len(head)
        with target.open("wb") as out:
            out.write(head)
            while chunk := stream.read(1 << 20):
                size += len(chunk)
                if size > limit:
                    out.close()
                    target.unlink()
                    raise PayloadTooLarge(f"the file is larger than the {self.settings.max_upload_mb} MB limit")
                out.write(chunk)
        return self._new_document(dataset, DocumentSource.FILE, filename or "document", kind=DocumentKind(kind),
                                  file_path=str(rel), doc_id=doc_id)

    def _new_document(self, dataset: DatasetRow, source: DocumentSource, name: str, *, kind: DocumentKind,
                      source_url: str | None = None, task_id: str | None = None, file_path: str | None = None,
                      metadata: dict[str, Any] | None = None, doc_id: str | None = None) -> DocumentRow:
        now = utcnow()
        row = DocumentRow(id=doc_id or str(uuid.uuid4()), dataset_id=dataset.id, name=name[:500], source=source.value,
                          kind=kind.value, source_url=source_url, task_id=task_id, file_path=file_path,
                          enabled=True, indexing_status=IndexingStage.WAITING.value, stages={}, progress=0.0,
                          doc_metadata=metadata or {}, word_count=0, tokens=0, attempts=0,
                          created_at=now, updated_at=now)
        with self.db.session() as s:
            s.add(row)
        self.runner.enqueue(row.id)
        return row

    def document(self, ref: str, document_id: str) -> DocumentRow:
        dataset = self.dataset(ref)
        with self.db.session() as s:
            doc = DocumentRepository(s).get(document_id)
        if doc is None or doc.dataset_id != dataset.id:
            raise NotFound(f"document '{document_id}' is not in knowledge base '{dataset.name}'",
                           code="document_not_found")
        return doc

    def documents(self, ref: str, offset: int, limit: int, keyword: str | None = None
                  ) -> tuple[list[DocumentRow], int, dict[str, int]]:
        dataset = self.dataset(ref)
        with self.db.session() as s:
            repo = DocumentRepository(s)
            rows, total = repo.page(dataset.id, offset, limit, keyword)
            return rows, total, repo.segment_counts([r.id for r in rows])

    def library(self, offset: int, limit: int, kinds: Sequence[str] = (), keyword: str | None = None
                ) -> tuple[list[LibraryEntry], int]:
        """Documents of every knowledge base, newest first, with chunk counts, knowledge base names, media files."""
        with self.db.session() as s:
            repo = DocumentRepository(s)
            rows, total = repo.page(None, offset, limit, keyword, kinds)
            names = {d.id: d.name for d in DatasetRepository(s).by_ids({r.dataset_id for r in rows}).values()}
            counts = repo.segment_counts([r.id for r in rows])
            files = MediaFileRepository(s).of_tasks({r.task_id for r in rows if r.task_id})
            entries = []
            for r in rows:
                media = {f.kind: f for f in files.get(r.task_id or "", [])}
                main = media.get("video") or media.get("audio")
                entries.append(LibraryEntry(r, names.get(r.dataset_id, ""), counts.get(r.id, 0),
                                            main.name if main else None, main.content_type if main else None))
            return entries, total

    def delete_document(self, ref: str, document_id: str) -> None:
        doc = self.document(ref, document_id)
        with self.db.session() as s:
            row = DocumentRepository(s).get(doc.id)
            if row is not None:
                self._forget_document(s, row)
                DatasetRepository(s).bump_version(doc.dataset_id)

    def _forget_document(self, s: Any, doc: DocumentRow) -> None:
        SegmentRepository(s).delete_of_document(doc.id)
        if doc.file_path:
            path = self.settings.data_dir / doc.file_path
            path.unlink(missing_ok=True)
        s.delete(doc)

    def reindex(self, ref: str, document_id: str, *, keep_chunks: bool = False) -> DocumentRow:
        """Run the document again: from chunking (keeping the transcript), or only embed + index."""
        doc = self.document(ref, document_id)
        with self.db.session() as s:
            row = DocumentRepository(s).get(doc.id, for_update=True)
            assert row is not None
            if row.owner is not None and not owner_is_gone(row.owner):
                raise Conflict("the document is being indexed right now; try again when it is done",
                               code="document_busy")
            row.indexing_status = (IndexingStage.EMBED if keep_chunks else IndexingStage.WAITING).value
            row.error = row.error_code = None
            row.owner = None
            row.completed_at = None
            row.attempts = 0
        self.runner.enqueue(doc.id)
        return self.document(ref, document_id)

    def reembed(self, ref: str) -> DatasetRow:
        """Adopt the service's embedding model: every document is embedded again, nothing re-downloaded."""
        dataset = self.dataset(ref)
        with self.db.session() as s:
            row = DatasetRepository(s).get(dataset.id)
            assert row is not None
            row.embedding_model, row.embedding_dimension = self.embedder.name, self.embedder.dimension
            self.db.ensure_vector_index(self.embedder.dimension)
            ids = [d.id for d in DocumentRepository(s).of_dataset(dataset.id)]
        for doc_id in ids:
            self.reindex(dataset.id, doc_id, keep_chunks=True)
        self.vectors.drop(dataset.id)
        return self.dataset(dataset.id)

    # --- segments and transcripts ------------------------------------------------------------------
    def segments(self, ref: str, document_id: str, offset: int, limit: int, keyword: str | None,
                 enabled: bool | None) -> tuple[list[SegmentRow], int]:
        doc = self.document(ref, document_id)
        with self.db.session() as s:
            return SegmentRepository(s).page(doc.id, offset, limit, keyword, enabled)

    def segment(self, ref: str, document_id: str, segment_id: int) -> SegmentRow:
        doc = self.document(ref, document_id)
        with self.db.session() as s:
            seg = SegmentRepository(s).get(segment_id)
        if seg is None or seg.document_id != doc.id:
            raise NotFound(f"segment {segment_id} is not in document '{document_id}'", code="segment_not_found")
        return seg

    def update_segment(self, ref: str, document_id: str, segment_id: int, content: str | None,
                       enabled: bool | None) -> SegmentRow:
        seg = self.segment(ref, document_id, segment_id)
        with self.db.session() as s:
            row = SegmentRepository(s).get(seg.id)
            assert row is not None
            if content is not None:
                if not content.strip():
                    raise InvalidInput("content is empty", code="empty_content")
                row.content, row.tokens = content, count_tokens(content)
                SegmentRepository(s).set_embeddings([(row.id, self.embedder.embed_documents([content])[0])],
                                                     self.embedder.name)
                SegmentRepository(s).put_terms([(row.id, terms(f"{row.heading or ''} {content}"))])
            if enabled is not None:
                row.enabled = enabled
            DatasetRepository(s).bump_version(row.dataset_id)
        return self.segment(ref, document_id, segment_id)

    def transcript(self, ref: str, document_id: str, fmt: str) -> tuple[str, str]:
        doc = self.document(ref, document_id)
        if fmt not in EXPORTERS:
            raise InvalidInput(f"format '{fmt}' is not one of {', '.join(EXPORTERS)}", code="invalid_format")
        saved = self.transcript_of(doc.id)
        if saved is None:
            raise NotFound("this document has no transcript (yet); media documents get one when transcribed",
                           code="transcript_not_found")
        render, content_type = EXPORTERS[fmt]
        return render(saved), content_type

    def transcript_of(self, document_id: str) -> Transcript | None:
        """A media document's transcript (None until transcribed, and for other documents)."""
        with self.db.session() as s:
            saved = TranscriptRepository(s).get(document_id)
        return Transcript.from_json(saved.body) if saved else None

    def player(self, document_id: str) -> tuple[DocumentRow, str, str, Transcript | None]:
        """What the player page shows: the document, its media file (name, type) and its transcript."""
        with self.db.session() as s:
            doc = DocumentRepository(s).get(document_id)
            task = TaskRepository(s).get(doc.task_id) if doc and doc.task_id else None
        if doc is None or task is None:
            raise NotFound(f"no media document '{document_id}'", code="document_not_found")
        files = {f.kind: f for f in task.files}
        media = files.get("video") or files.get("audio")
        if media is None:
            raise NotFound("the media file of this document is gone (cleaned up?)", code="file_not_found")
        return doc, media.name, media.content_type, self.transcript_of(document_id)

    # --- recovery ----------------------------------------------------------------------------------
    def queue_for(self, document_id: str) -> str:
        """Scaled out: the Celery queue a document's next job belongs to — ``transcribe`` while a media document
        has no transcript, else ``index`` (chunk, embed, index; parse for documents)."""
        with self.db.session() as s:
            doc = DocumentRepository(s).get(document_id)
            if doc is None:
                return "index"
            media = doc.task_id is not None or doc.source in (DocumentSource.URL.value, DocumentSource.TASK.value)
            return "transcribe" if media and TranscriptRepository(s).get(doc.id) is None else "index"

    def on_task_finished(self, task_id: str) -> None:
        """A download ended: documents waiting for it go on (or fail, with the task's reason)."""
        with self.db.session() as s:
            waiting = [d.id for d in DocumentRepository(s).waiting_for_task(task_id) if d.owner is None]
        for doc_id in waiting:
            self.runner.enqueue(doc_id)

    def recover(self) -> None:
        """Take over documents whose process died, then queue every unfinished document nobody owns."""
        cutoff = utcnow() - timedelta(seconds=self.settings.task_lease_seconds)
        with self.db.session() as s:
            docs = DocumentRepository(s).with_status(*_UNFINISHED)
            for doc in docs:
                if doc.owner and doc.owner != self.runner.worker_id and (
                        owner_is_gone(doc.owner) or doc.heartbeat_at is None or doc.heartbeat_at < cutoff):
                    doc.owner = None
            ready = []
            tasks = TaskRepository(s)
            for d in docs:
                if d.owner is not None:
                    continue
                task = tasks.get(d.task_id) if d.indexing_status == IndexingStage.DOWNLOAD.value and d.task_id else None
                if task is None or not TaskStatus(task.status).is_active:
                    ready.append(d.id)
        for doc_id in ready:
            self.runner.enqueue(doc_id)


_UNFINISHED = [s.value for s in IndexingStage if s.value not in TERMINAL]


class _Rewound:
    """A stream whose first bytes were already read for sniffing."""

    def __init__(self, head: bytes, rest: Readable) -> None:
        self._head = head
        self._rest = rest

    def read(self, n: int = -1) -> bytes:
        if self._head:
            out, self._head = (self._head, b"") if n < 0 or n >= len(self._head) else (self._head[:n], self._head[n:])
            return out
        return self._rest.read(n)
