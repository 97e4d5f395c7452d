"""OpenAI-compatible answers: POST /v1/chat/completions with a knowledge base (ID or name) as the model.

Official OpenAI clients work unchanged; the citations ride along as an extra top-level ``citations`` field of the
completion (and of the last chunk when streaming). Sampling parameters are accepted and ignored.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from vidrag.api.deps import ContainerDep, KnowledgeDep
from vidrag.domain.chunks import count_tokens
from vidrag.domain.errors import InvalidInput, VidragError
from vidrag.llm.client import Message
from vidrag.services.answer import MAX_TOP_K, Answer, Delta, StreamEvent

router = APIRouter(prefix="/v1", tags=["OpenAI-compatible"])
MODELS_PAGE = 100


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str = Field(max_length=32)
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """Plain text; of multi-part content only the text parts count."""
        if isinstance(self.content, list):
            return "\n".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class CompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens, ...: accepted, ignored
    model: str = Field(min_length=1, max_length=255, description="The knowledge base's name or ID")
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    stream: bool = False
    top_k: int = Field(5, ge=1, le=MAX_TOP_K, description="vidrag extension (extra_body): chunks to answer from")


def _question(messages: list[ChatMessage]) -> tuple[str, list[Message]]:
    """The last user message is the question; the turns before it are the conversation."""
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].role == "user" and messages[i].text().strip():
            history = [{"role": m.role, "content": m.text()} for m in messages[:i] if m.role in ("user", "assistant")]
            return messages[i].text(), history
    raise InvalidInput("messages has no user message with text; the last user message is the question",
                       code="no_question")


def _extras(answer: Answer) -> dict[str, Any]:
    return {"citations": [c.as_dict() for c in answer.citations], "sources": [c.as_dict() for c in answer.sources],
            "mode": answer.mode.value, "supported": answer.supported}


def _usage(answer: Answer) -> dict[str, int]:
    completion = count_tokens(answer.text)  # approximate: vidrag's model-independent count
    return {"prompt_tokens": answer.prompt_tokens, "completion_tokens": completion,
            "total_tokens": answer.prompt_tokens + completion}


@router.post("/chat/completions",
             responses={200: {"content": {"text/event-stream": {}}, "description": "chat.completion, or SSE chunks"}})
def chat_completions(body: CompletionRequest, c: ContainerDep) -> Any:
    """OpenAI chat completion answered from the knowledge base named by `model`, with `citations`."""
    question, history = _question(body.messages)
    meta = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": body.model}
    if not body.stream:
        answer = c.answers.answer(body.model, question, body.top_k, history)
        return {**meta, "object": "chat.completion",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text},
                             "finish_reason": "stop", "logprobs": None}],
                "usage": _usage(answer), **_extras(answer)}
    events = c.answers.stream(body.model, question, body.top_k, history)  # errors surface here, before the stream
    return StreamingResponse(_chunks(meta, events), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _chunks(meta: dict[str, Any], events: Iterator[StreamEvent]) -> Iterator[str]:
    def chunk(delta: dict[str, str], finish: str | None = None, **extra: Any) -> str:
        body = {**meta, "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    try:
        for event in events:
            if isinstance(event, Delta):
                if event.text:
                    yield chunk({"content": event.text})
            else:
                yield chunk({}, "stop", usage=_usage(event), **_extras(event))
    except VidragError as exc:  # mid-stream, as OpenAI does it: a data line with "error" (clients raise it)
        error = {"message": exc.message, "type": "server_error", "code": exc.code, "param": None}
        yield f"data: {json.dumps({'error': error, 'code': exc.code, 'message': exc.message})}\n\n"
        return
    yield "data: [DONE]\n\n"


@router.get("/models")
def list_models(kb: KnowledgeDep) -> dict[str, Any]:
    """The knowledge bases, as OpenAI models (id = name)."""
    models: list[dict[str, Any]] = []
    offset = 0
    while True:
        rows, total, _ = kb.datasets(offset, MODELS_PAGE)
        models.extend(_model(r.name, r.created_at.timestamp()) for r in rows)
        offset += MODELS_PAGE
        if not rows or offset >= total:
            return {"object": "list", "data": models}


@router.get("/models/{model:path}")
def get_model(model: str, kb: KnowledgeDep) -> dict[str, Any]:
    """One knowledge base as an OpenAI model (by name or ID)."""
    row = kb.dataset(model)
    return _model(row.name, row.created_at.timestamp())


def _model(name: str, created: float) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": int(created), "owned_by": "vidrag"}
