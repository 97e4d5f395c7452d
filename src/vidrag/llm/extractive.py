"""The answer without a language model: the most relevant sentences of the best chunks, each cited.

Deterministic and simple on purpose: a sentence scores the number of distinct meaningful question terms it contains
(ties go to the earlier sentence), so the same question over the same chunks always gives the same answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from vidrag.retrieval.terms import query_terms, terms

LABEL = "Extractive answer (no language model configured):"
MAX_CHUNKS = 3  # the best chunk always; the next two only when they share a question term
SENTENCES_PER_CHUNK = 2
QUOTE_CHARS = 300

# Sentence ends: Latin punctuation followed by a space, CJK punctuation anywhere, line breaks.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])|\n+")


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk, numbered as it is cited."""

    n: int
    text: str


@dataclass(frozen=True)
class ExtractiveAnswer:
    text: str
    used: tuple[int, ...]  # the [n] that appear in the text


def question_terms(question: str) -> frozenset[str]:
    return frozenset(query_terms(question))


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def overlap(sentence: str, wanted: frozenset[str]) -> int:
    return len(wanted.intersection(terms(sentence)))


def best_sentences(text: str, wanted: frozenset[str], limit: int) -> list[tuple[int, str]]:
    """Up to ``limit`` (score, sentence) in text order: the best one always, others only if they score."""
    sentences = split_sentences(text)
    scored = sorted(((overlap(s, wanted), -i, s) for i, s in enumerate(sentences)), reverse=True)
    chosen = [item for rank, item in enumerate(scored[:limit]) if rank == 0 or item[0] > 0]
    return [(score, s) for score, _, s in sorted(chosen, key=lambda item: -item[1])]


def answer(question: str, passages: Sequence[Passage]) -> ExtractiveAnswer:
    """Passages come best first (as retrieved); the answer quotes at most MAX_CHUNKS of them."""
    wanted = question_terms(question)
    seen: set[str] = set()  # neighbouring chunks overlap: never repeat a sentence
    lines: list[str] = []
    used: list[int] = []
    for rank, passage in enumerate(passages):
        if len(used) == MAX_CHUNKS:
            break
        picked = [s for score, s in best_sentences(passage.text, wanted, SENTENCES_PER_CHUNK)
                  if (rank == 0 or score > 0) and _key(s) not in seen]
        if not picked:
            continue
        seen.update(_key(s) for s in picked)
        lines.append(f"{' '.join(picked)} [{passage.n}]")
        used.append(passage.n)
    return ExtractiveAnswer(f"{LABEL}\n\n" + "\n\n".join(lines), tuple(used))


def quote(text: str, question: str, limit: int = QUOTE_CHARS, focus: str | None = None) -> str:
    """The chunk text trimmed to about ``limit`` characters around ``focus``, by default its sentence that shares
    the most question terms."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    if focus is None:
        ranked = best_sentences(text, question_terms(question), 1)
        focus = ranked[0][1] if ranked else text[:limit]
    at = max(0, text.find(focus))
    if len(focus) >= limit:
        return focus[: limit - 1].rstrip() + "…"
    start = max(0, min(at - (limit - len(focus)) // 2, len(text) - limit))
    end = start + limit
    return ("…" if start > 0 else "") + text[start:end].strip() + ("…" if end < len(text) else "")


def _key(sentence: str) -> str:
    return " ".join(sentence.lower().split())
