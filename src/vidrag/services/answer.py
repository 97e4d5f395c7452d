"""Answers with numbered citations: retrieve, then a language model (or, with none, the extractive fallback) writes.

Numbering: the retrieved chunks are numbered 1..k in retrieval order (best first) and given to the model under those
numbers; the answer's ``[n]`` markers and the citation numbers are the same numbers.

Which sources come back: ``sources`` lists every chunk given to the model (or to the extractive writer), each with
``cited`` set when the answer's text carries its ``[n]``; ``citations`` is the cited subset, so its numbers can have
gaps ([1], [3]). An answer that says the knowledge base does not know cites nothing and has no citations.

No support: when nothing is retrieved, or no hit's semantic similarity reaches ``VIDRAG_ANSWER_MIN_SIMILARITY``
(default 0.25, see below), the answer is
``NO_ANSWER`` with no citations, and no model is asked (it cannot invent what it is not asked).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from vidrag.domain.chunks import count_tokens
from vidrag.domain.knowledge import RetrievalQuery, SearchMethod
from vidrag.domain.transcripts import Transcript
from vidrag.llm import extractive
from vidrag.llm.client import ChatClient, DeltaStream, Message
from vidrag.llm.prompts import Source, build_messages
from vidrag.services.knowledge import KnowledgeService
from vidrag.services.search import SearchResult, SearchService
from vidrag.settings import Settings

# Support is judged on meaning: the best hit's cosine similarity (the semantic half of the hybrid score), not the
# hybrid score itself, whose keyword half is BM25 divided by the best BM25 of the same query, so one shared common
# word ("best", "water") earns its full 0.3. Measured with the default embedder (all-MiniLM-L6-v2, int8 ONNX) on
# three short documents and 28 questions: 14 off-topic ones reached cosine 0.00-0.21; 10 answerable ones 0.33-0.76
# (plus a vague "What happened in 1815?" at 0.22, lost); near misses ("library open on Sunday?" 0.46) pass and are
# left to the model's "the sources do not say". The hybrid score could not separate them: off-topic "best pizza
# dough recipe?" scored 0.45, answerable "effect of volcanoes on the climate?" 0.41. Other embedders spread cosines
# differently (multilingual-e5 puts unrelated text near 0.7): measure again before changing the model. The
# threshold is the setting `answer_min_similarity`.
NO_ANSWER = "The knowledge base has nothing on this question."
MAX_TOP_K = 20
_MARKER = re.compile(r"[\[【]\s*(\d+(?:\s*[,;，]\s*\d+)*)\s*[\]】]")


class AnswerMode(StrEnum):
    LLM = "llm"
    EXTRACTIVE = "extractive"


@dataclass(frozen=True)
class Citation:
    """A numbered source: the chunk, its document, where it sits, and a quote of it."""

    n: int
    cited: bool
    score: float
    document: dict[str, Any]  # id, name, kind, source_url
    chunk: dict[str, Any]  # id, position
    quote: str
    place: dict[str, Any]  # start, end, page, heading, chapter, and url / player_url for media

    def as_dict(self) -> dict[str, Any]:
        return {"n": self.n, "cited": self.cited, "score": self.score, "document": self.document,
                "chunk": self.chunk, "quote": self.quote, "start": self.place.get("start"),
                "end": self.place.get("end"), "url": self.place.get("url"),
                "player_url": self.place.get("player_url"), "page": self.place.get("page"),
                "heading": self.place.get("heading"), "chapter": self.place.get("chapter")}


@dataclass(frozen=True)
class Answer:
    text: str
    mode: AnswerMode
    supported: bool  # False: nothing in the knowledge base was close enough to the question
    sources: tuple[Citation, ...]  # everything the writer was given, numbered
    dataset_id: str
    dataset_name: str
    prompt_tokens: int = 0

    @property
    def citations(self) -> tuple[Citation, ...]:
        return tuple(c for c in self.sources if c.cited)


@dataclass(frozen=True)
class Delta:
    """A piece of the answer's text, as it is written."""

    text: str


StreamEvent = Delta | Answer  # Deltas, then the finished Answer (full text and citations) last


@dataclass(frozen=True)
class _Retrieved:
    question: str
    answer: Answer  # the frame: mode, sources (none cited yet), dataset
    results: tuple[SearchResult, ...]


class AnswerService:
    def __init__(self, search: SearchService, knowledge: KnowledgeService, settings: Settings) -> None:
        self.search = search
        self.knowledge = knowledge
        self.settings = settings
        self.llm: ChatClient | None = None
        if settings.llm_base_url and settings.llm_model:  # Settings refuses a base URL without a model
            key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
            self.llm = ChatClient(settings.llm_base_url, settings.llm_model, key, settings.llm_timeout_seconds)

    @property
    def mode(self) -> AnswerMode:
        return AnswerMode.LLM if self.llm is not None else AnswerMode.EXTRACTIVE

    def answer(self, dataset_ref: str, question: str, top_k: int = 5, history: Sequence[Message] = ()) -> Answer:
        found = self._retrieve(dataset_ref, question, top_k)
        if not found.answer.supported:
            return found.answer
        if self.mode is AnswerMode.EXTRACTIVE:
            return self._extractive(found)
        messages = build_messages(question, _model_sources(found), history)
        return _finish(found, self._client().complete(messages).strip(), _tokens(messages))

    def stream(self, dataset_ref: str, question: str, top_k: int = 5,
               history: Sequence[Message] = ()) -> Iterator[StreamEvent]:
        """Retrieval runs, and the model's server is reached, before this returns: failures raise here, not
        inside the stream. Extractive and "nothing on this" answers come as one Delta."""
        found = self._retrieve(dataset_ref, question, top_k)
        if not found.answer.supported or self.mode is AnswerMode.EXTRACTIVE:
            done = found.answer if not found.answer.supported else self._extractive(found)
            return iter([Delta(done.text), done])
        messages = build_messages(question, _model_sources(found), history)
        return _relay(found, self._client().stream(messages), _tokens(messages))

    def close(self) -> None:
        if self.llm is not None:
            self.llm.close()

    def _client(self) -> ChatClient:
        assert self.llm is not None  # the mode is LLM only when a client was built
        return self.llm

    def _retrieve(self, dataset_ref: str, question: str, top_k: int) -> _Retrieved:
        dataset = self.knowledge.dataset(dataset_ref)
        top_k = max(1, min(top_k, MAX_TOP_K))
        results = tuple(self.search.retrieve(dataset.id, RetrievalQuery(question, SearchMethod.HYBRID, top_k)))
        closeness, focus = self._read(question, results)
        supported = closeness >= self.settings.answer_min_similarity
        if not supported:
            results = ()
        transcripts = {r.document.id: self.knowledge.transcript_of(r.document.id)
                       for r in results if r.segment.start is not None}
        sources = tuple(_citation(i, r, question, f, transcripts.get(r.document.id))
                        for i, (r, f) in enumerate(zip(results, focus, strict=False), start=1))
        text = NO_ANSWER if not supported else ""
        frame = Answer(text, self.mode, supported, sources, dataset.id, dataset.name, count_tokens(question))
        return _Retrieved(question, frame, results)

    def _read(self, question: str, results: Sequence[SearchResult]) -> tuple[float, list[str | None]]:
        """How close the knowledge base came to the question, and each chunk's sentence that answers best.

        Closeness is the best chunk's cosine similarity, or a single sentence's where that is higher: a long chunk (a
        minute of talk) dilutes the one sentence that answers, and the threshold was measured on sentence-sized
        chunks. A chunk's answering sentence shares the most question terms, and is the closest in meaning among
        equals (Whisper mishears names and terms, so meaning decides where no term is shared).
        """
        best = max((r.hit.semantic_score or 0.0 for r in results), default=0.0)
        split = [extractive.split_sentences(" ".join(r.segment.content.split())) for r in results]
        flat = [sentence for group in split for sentence in group]
        if len(flat) == len(results):  # one sentence a chunk: the chunks' own scores say it all
            return best, [group[0] if group else None for group in split]
        embedder = self.search.embedder
        cosines = embedder.embed_documents(flat) @ embedder.embed_query(question)
        wanted = extractive.question_terms(question)
        focus: list[str | None] = []
        at = 0
        for group in split:
            scored = list(zip(group, cosines[at:at + len(group)].tolist(), strict=True))
            at += len(group)
            focus.append(max(scored, key=lambda p: (extractive.overlap(p[0], wanted), p[1]))[0] if scored else None)
        return max(best, float(cosines.max())), focus

    @staticmethod
    def _extractive(found: _Retrieved) -> Answer:
        passages = [extractive.Passage(c.n, r.segment.content) for c, r in zip(found.answer.sources, found.results,
                                                                               strict=True)]
        written = extractive.answer(found.question, passages)
        return _finish(found, written.text, found.answer.prompt_tokens)


def cited_numbers(text: str) -> set[int]:
    """Every n in [n], [n, m], [n][m] (and the full-width 【n】 some models write)."""
    return {int(n) for group in _MARKER.findall(text) for n in re.split(r"[,;，]", group)}


def _relay(found: _Retrieved, deltas: DeltaStream, prompt_tokens: int) -> Iterator[StreamEvent]:
    parts: list[str] = []
    with deltas:
        for text in deltas:
            parts.append(text)
            yield Delta(text)
    yield _finish(found, "".join(parts).strip(), prompt_tokens)


def _finish(found: _Retrieved, text: str, prompt_tokens: int) -> Answer:
    cited = cited_numbers(text)
    sources = tuple(replace(c, cited=c.n in cited) for c in found.answer.sources)
    return replace(found.answer, text=text, sources=sources, prompt_tokens=prompt_tokens)


def _citation(n: int, r: SearchResult, question: str, focus: str | None, transcript: Transcript | None) -> Citation:
    """The chunk as a source; for media, its start, end and links are those of the sentence that answers (when
    the transcript has it), so a citation opens the video where the answer is spoken, not where a long chunk
    begins. The chunk's own span stays under ``chunk``."""
    seg = r.segment
    span = None
    if transcript is not None and seg.start is not None and seg.end is not None:
        span = transcript.spoken_span(focus, (seg.start, seg.end)) if focus else None
    return Citation(n=n, cited=False, score=round(r.hit.score, 4),
                    document={"id": r.document.id, "name": r.document.name, "kind": r.document.kind,
                              "source_url": r.document.source_url},
                    chunk={"id": seg.id, "position": seg.position, "start": seg.start, "end": seg.end},
                    quote=extractive.quote(seg.content, question, focus=focus), place=r.citation_fields(span))


def _model_sources(found: _Retrieved) -> list[Source]:
    return [Source(c.n, r.document.name, r.segment.content, r.segment.start, r.segment.end, r.segment.page,
                   r.segment.heading) for c, r in zip(found.answer.sources, found.results, strict=True)]


def _tokens(messages: Sequence[Message]) -> int:
    return sum(count_tokens(m["content"]) for m in messages)
