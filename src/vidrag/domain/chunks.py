"""What the chunkers take and give: parsed documents, rules, and chunk drafts with their place in the source."""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\W_\u3400-\u9fff\uf900-\ufaff]+|[^\w\s]", re.UNICODE)


def count_tokens(text: str) -> int:
    """A model-independent token count: words, punctuation marks, and each CJK character.

    Close to what BERT-style word-piece tokenizers give for English prose (within ~20 %), cheap, and the
    same everywhere, so chunk budgets do not change when the embedding model does.
    """
    return len(_TOKEN.findall(text))


@dataclass(frozen=True)
class Chapter:
    start: float
    end: float | None
    title: str


@dataclass(frozen=True)
class TextBlock:
    """A piece of a parsed document: a paragraph, list item, table row or caption cue."""

    text: str
    page: int | None = None  # 1-based, for paged formats (PDF)
    heading: str | None = None  # the nearest heading above it ("A > B" for nested headings)
    start: float | None = None  # seconds, for caption files (SRT/VTT)
    end: float | None = None


@dataclass(frozen=True)
class ParsedDocument:
    title: str | None
    blocks: tuple[TextBlock, ...]
    pages: int | None = None


# The budgets a knowledge base may ask for (the API refuses others rather than clamping them): below ~10 tokens a
# chunk is a word or two, above 4000 (Dify's own ceiling) it is longer than any embedding model reads.
MIN_CHUNK_TOKENS = 10
MAX_CHUNK_TOKENS = 4000
MAX_SEPARATOR_LENGTH = 100
MAX_PAUSE_SECONDS = 3600.0


@dataclass(frozen=True)
class ProcessRule:
    """Dify-style segmentation rule for documents."""

    separator: str = "\n\n"
    max_tokens: int = 400
    overlap_tokens: int = 40
    remove_extra_spaces: bool = True
    remove_urls_emails: bool = False


@dataclass(frozen=True)
class TranscriptChunkRule:
    max_tokens: int = 160
    overlap_tokens: int = 30
    pause_seconds: float = 1.0  # a silence this long is a good place to cut
    max_gap_seconds: float = 8.0  # a silence this long always ends a chunk (a citation should not span it)


@dataclass(frozen=True)
class ChunkDraft:
    """A chunk before it is stored: its text and where it sits in the source."""

    position: int  # order within the document, from 0
    text: str
    tokens: int
    start: float | None = None  # seconds, for media and caption files
    end: float | None = None
    page: int | None = None
    heading: str | None = None
    chapter: str | None = None
