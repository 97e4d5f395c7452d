"""What the model is told: answer only from numbered sources, cite them as [n], say when they do not know.

Sources go in the last user message, numbered from 1 in retrieval order (best first); each names its document and
its place in it (``[mm:ss-mm:ss]`` for media, ``page N`` and the heading for documents) so the model can say where.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vidrag.llm.client import Message

SYSTEM_PROMPT = """You answer questions about a knowledge base of videos and documents.
Use only the numbered sources in the user's message; never use outside knowledge.
After every statement, cite the sources it comes from by their numbers in square brackets, like [1] or [2][3].
If the sources do not contain the answer, say that the knowledge base does not contain it, and nothing else.
Be concise. Answer in the language of the question."""

MAX_HISTORY_TURNS = 6
MAX_HISTORY_CHARS = 2000


@dataclass(frozen=True)
class Source:
    """One numbered source as the model sees it."""

    n: int
    title: str
    text: str
    start: float | None = None
    end: float | None = None
    page: int | None = None
    heading: str | None = None


def clock(seconds: float) -> str:
    """mm:ss, or h:mm:ss from one hour on."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def place(source: Source) -> str:
    """Where the source sits: "[01:05-01:40]" for media, "page 3, Setup" for documents, else ""."""
    parts: list[str] = []
    if source.start is not None:
        parts.append(f"[{clock(source.start)}-{clock(source.end if source.end is not None else source.start)}]")
    if source.page is not None:
        parts.append(f"page {source.page}")
    if source.heading:
        parts.append(source.heading)
    return ", ".join(parts)


def format_source(source: Source) -> str:
    where = place(source)
    return f"[{source.n}] {source.title}{' ' + where if where else ''}\n{source.text.strip()}"


def format_sources(sources: Sequence[Source]) -> str:
    return "\n\n".join(format_source(s) for s in sources)


def user_prompt(question: str, sources: Sequence[Source]) -> str:
    return f"Sources:\n\n{format_sources(sources)}\n\nQuestion: {question.strip()}"


def build_messages(question: str, sources: Sequence[Source], history: Sequence[Message] = ()) -> list[Message]:
    """System rules, the last few turns of the conversation (for follow-ups), then sources and question."""
    turns = [{"role": m["role"], "content": m["content"][:MAX_HISTORY_CHARS]}
             for m in history if m.get("role") in ("user", "assistant") and m.get("content")]
    return [{"role": "system", "content": SYSTEM_PROMPT}, *turns[-MAX_HISTORY_TURNS:],
            {"role": "user", "content": user_prompt(question, sources)}]
