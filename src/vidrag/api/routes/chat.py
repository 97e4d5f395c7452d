"""Answers with numbered citations: POST /api/v1/chat, as JSON or as Server-Sent Events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse

from vidrag.api.deps import ContainerDep
from vidrag.domain.errors import VidragError
from vidrag.services.answer import MAX_TOP_K, Answer, Delta, StreamEvent

router = APIRouter(prefix="/api/v1", tags=["answers"])


class Turn(BaseModel):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=20_000)


class ChatRequest(BaseModel):
    dataset: str = Field(min_length=1, max_length=255, description="The knowledge base's ID or name")
    query: str = Field(min_length=1, max_length=4000)
    top_k: int = Field(5, ge=1, le=MAX_TOP_K, description="How many chunks the answer is written from")
    stream: bool = Field(False, description="Server-Sent Events: `delta` {text}..., `citations` {...}, `done` "
                                        "(or `error` {code, message} if the model breaks off)")
    history: list[Turn] = Field(default_factory=list, max_length=50, description="Earlier turns, oldest first")


class CitedDocument(BaseModel):
    id: str
    name: str
    kind: str | None = None
    source_url: str | None = None


class CitedChunk(BaseModel):
    id: int
    position: int
    start: float | None = Field(None, description="Media: where the whole chunk starts, in seconds")
    end: float | None = None


class CitationOut(BaseModel):
    n: int = Field(description="The number the answer cites it by: [n]")
    cited: bool
    score: float
    document: CitedDocument
    chunk: CitedChunk
    quote: str = Field(description="The words of the chunk closest to the question")
    start: float | None = Field(None, description="Media: where the cited sentence (the one the quote centres on) "
                                                  "is spoken, in seconds; the chunk's start when it cannot be placed")
    end: float | None = None
    url: str | None = Field(None, description="The source at that second (e.g. YouTube's &t=)")
    player_url: str | None = Field(None, description="vidrag's player at that second: /media/{id}#t=START,END")
    page: int | None = None
    heading: str | None = None
    chapter: str | None = None


class ChatResponse(BaseModel):
    answer: str
    mode: str = Field(description="llm, or extractive when no language model is configured")
    supported: bool = Field(description="false when nothing in the knowledge base was close to the question")
    dataset: dict[str, str]
    citations: list[CitationOut] = Field(description="The sources the answer cites, by their [n]")
    sources: list[CitationOut] = Field(description="Every numbered source the answer was written from")


def response_of(answer: Answer) -> ChatResponse:
    return ChatResponse(answer=answer.text, mode=answer.mode.value, supported=answer.supported,
                        dataset={"id": answer.dataset_id, "name": answer.dataset_name},
                        citations=[CitationOut.model_validate(c.as_dict()) for c in answer.citations],
                        sources=[CitationOut.model_validate(c.as_dict()) for c in answer.sources])


@router.post("/chat", response_model=ChatResponse,
             responses={200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE with stream=true"}})
def chat(body: ChatRequest, c: ContainerDep) -> ChatResponse | EventSourceResponse:
    """Answer a question from a knowledge base, citing its chunks as [n] (with times for media)."""
    history = [t.model_dump() for t in body.history]
    if not body.stream:
        return response_of(c.answers.answer(body.dataset, body.query, body.top_k, history))
    # Retrieval and the model's first response happen here, so their errors are plain HTTP errors.
    events = c.answers.stream(body.dataset, body.query, body.top_k, history)
    return EventSourceResponse(_sse(events), ping=15)


def _sse(events: Iterator[StreamEvent]) -> Iterator[dict[str, str]]:
    try:
        for event in events:
            if isinstance(event, Delta):
                if event.text:
                    yield {"event": "delta", "data": json.dumps({"text": event.text}, ensure_ascii=False)}
                continue
            final = response_of(event).model_dump()
            answer = final.pop("answer")
            yield {"event": "citations", "data": json.dumps(final, ensure_ascii=False)}
            yield {"event": "done", "data": json.dumps({"answer": answer}, ensure_ascii=False)}
    except VidragError as exc:  # the model broke off mid-answer: the status line is sent, so say it in the stream
        yield {"event": "error", "data": json.dumps({"code": exc.code, "message": exc.message}, ensure_ascii=False)}
