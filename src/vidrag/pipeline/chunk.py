"""Chunking. Documents Dify-style: clean, split at the separator and then at sentence ends, merge greedily up to a
token budget, overlap. Transcripts: sentence units timed by their words, cut at pauses and sentence ends, never
across a chapter.

Budgets are in ``count_tokens`` tokens and include the overlap: no chunk is longer than ``max_tokens`` unless one
indivisible piece is (which the character-level fallback makes impossible for any text with more than one token).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import groupby

from vidrag.domain.chunks import Chapter, ChunkDraft, ParsedDocument, ProcessRule, TranscriptChunkRule, count_tokens
from vidrag.domain.transcripts import Transcript, TranscriptSegment

# Each boundary pattern has a "gap" group: a piece ends where the gap starts, the next begins where it ends.
_CLOSERS = "”’」』）)\\]\"'"
_SENTENCE = re.compile(rf"(?:[。！？…]+[{_CLOSERS}]*|[.!?]+[{_CLOSERS}]*(?=\s|\Z))(?P<gap>\s*)")
_LEVELS = (
    _SENTENCE,
    re.compile(r"(?P<gap>[ \t]*\n\s*)"),  # line breaks (code, verse, lists)
    re.compile(r"(?:[，、；：]|[,;:](?=\s))(?P<gap>\s*)"),  # clauses
    re.compile(r"(?P<gap>\s+)"),  # words
)
_ENDS_SENTENCE = re.compile(rf"[。！？….!?][{_CLOSERS}]*\Z")
_WORD_START = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|(?<!\w)[^\W_]")  # each CJK character starts a word
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"]*[^\s<>\".,;:!?)\]}'’”]", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_SPACES = re.compile(r"[\t\f\r\v\x20\u00a0\u1680\u180e\u2000-\u200a\u202f\u205f\u3000]{2,}")
_SPACE_AROUND_NEWLINE = re.compile(r"[ \t\f\r\v]*\n[ \t\f\r\v]*")
_NEWLINES = re.compile(r"\n{3,}")


# --- splitting ---------------------------------------------------------------------------------------------------


def _cut(text: str, pattern: re.Pattern[str], lo: int, hi: int) -> list[tuple[int, int]]:
    """Spans of ``text[lo:hi]`` between the pattern's gaps, without surrounding whitespace."""
    spans = []
    pos = lo
    for m in pattern.finditer(text, lo, hi):
        spans.append((pos, m.start("gap")))
        pos = m.end("gap")
    spans.append((pos, hi))
    return [s for s in (_strip(text, a, b) for a, b in spans) if s[0] < s[1]]


def _strip(text: str, lo: int, hi: int) -> tuple[int, int]:
    while lo < hi and text[lo].isspace():
        lo += 1
    while hi > lo and text[hi - 1].isspace():
        hi -= 1
    return lo, hi


def _split_spans(text: str, limit: int, lo: int = 0, hi: int | None = None, level: int = 0) -> list[tuple[int, int]]:
    """Spans of ``text`` of at most ``limit`` tokens: whole if it fits, else at sentence ends, then line breaks,
    clauses, words, and as a last resort characters."""
    lo, hi = _strip(text, lo, len(text) if hi is None else hi)
    if lo >= hi:
        return []
    if count_tokens(text[lo:hi]) <= limit:
        return [(lo, hi)]
    for depth in range(level, len(_LEVELS)):
        spans = _cut(text, _LEVELS[depth], lo, hi)
        if len(spans) > 1:
            return [s for a, b in spans for s in _split_spans(text, limit, a, b, depth + 1)]
    return _split_characters(text, lo, hi, limit)


def _split_characters(text: str, lo: int, hi: int, limit: int) -> list[tuple[int, int]]:
    spans = []
    while lo < hi:
        # gallop to a length over the limit, then bisect: O(window · log window), not O(text) per window
        reach = max(1, limit)
        while lo + reach < hi and count_tokens(text[lo:lo + reach]) <= limit:
            reach *= 2
        good, bad = lo + 1, min(hi, lo + reach) + 1
        while bad - good > 1:
            mid = (good + bad) // 2
            good, bad = (mid, bad) if count_tokens(text[lo:mid]) <= limit else (good, mid)
        spans.append((lo, good))
        lo = good
    return spans


def _fit(text: str, starts: Sequence[int], budget: int) -> str:
    """The longest suffix beginning at one of ``starts`` with at most ``budget`` tokens."""
    lo, hi = 0, len(starts)
    while lo < hi:  # suffixes shrink as their start moves right, so bisect on the start
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if count_tokens(text[starts[mid]:]) <= budget else (mid + 1, hi)
    while lo < len(starts) and count_tokens(text[starts[lo]:]) > budget:
        lo += 1
    return text[starts[lo]:] if lo < len(starts) else ""


def _tail(text: str, budget: int, want: int) -> str:
    """The end of ``text`` in at most ``budget`` tokens, from a sentence start; from a word start when whole
    sentences give fewer than ``want`` tokens."""
    if budget <= 0:
        return ""
    best = _fit(text, [a for a, _ in _cut(text, _SENTENCE, 0, len(text))], budget)
    if count_tokens(best) >= want:
        return best
    by_word = _fit(text, [m.start() for m in _WORD_START.finditer(text)], budget)
    return by_word if len(by_word) > len(best) else best


# --- documents ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Piece:
    text: str
    tokens: int
    joiner: str  # what stood between this piece and the one before it
    page: int | None = None
    start: float | None = None
    end: float | None = None


def _clean(text: str, rule: ProcessRule) -> str:
    if rule.remove_urls_emails:
        text = _URL.sub("", _EMAIL.sub("", text))
    if rule.remove_extra_spaces:
        text = _NEWLINES.sub("\n\n", _SPACE_AROUND_NEWLINE.sub("\n", _SPACES.sub(" ", text)))
    return text.strip()


def _sections(doc: ParsedDocument, rule: ProcessRule, limit: int) -> list[tuple[str | None, list[_Piece]]]:
    """Pieces of at most ``limit`` tokens, grouped by heading and page: a chunk never spans a heading change
    or a page break, so a hit in a PDF names one page."""
    sections: list[tuple[str | None, list[_Piece]]] = []
    page: int | None = None
    # a visible separator ("***") is dropped; a whitespace one is kept as it stood
    part_joiner = rule.separator if rule.separator.isspace() else "\n\n"
    for block in doc.blocks:
        text = _clean(block.text, rule)
        if not text:
            continue
        if not sections or sections[-1][0] != block.heading or block.page != page:
            sections.append((block.heading, []))
        page = block.page
        pieces = sections[-1][1]
        joiner = " " if block.start is not None else "\n\n"  # caption cues run on; paragraphs stay apart
        for part in text.split(rule.separator) if rule.separator else [text]:
            previous_end: int | None = None
            for a, b in _split_spans(part, limit):
                tokens = count_tokens(part[a:b])
                if not tokens:  # underscores only: nothing to find, so it rides along in the joiner
                    continue
                if previous_end is not None:
                    joiner = part[previous_end:a]
                pieces.append(_Piece(part[a:b], tokens, joiner, block.page, block.start, block.end))
                previous_end = b
            joiner = part_joiner
    return sections


def _overlap(pieces: Sequence[_Piece], budget: int) -> list[_Piece]:
    """The last pieces of a chunk worth at most ``budget`` tokens, the first of them cut at a sentence (or word)
    start; each keeps its page and times."""
    kept: list[_Piece] = []
    used = 0
    for piece in reversed(pieces):
        if used + piece.tokens <= budget:
            kept.append(piece)
            used += piece.tokens
            continue
        text = _tail(piece.text, budget - used, want=budget // 2 - used)
        if count_tokens(text):
            kept.append(replace(piece, text=text, tokens=count_tokens(text)))
        break
    return kept[::-1] if budget > 0 else []


def _pack(pieces: Sequence[_Piece], max_tokens: int, overlap: int) -> list[list[_Piece]]:
    chunks: list[list[_Piece]] = []
    current: list[_Piece] = []
    used = 0
    for piece in pieces:
        if current and used + piece.tokens > max_tokens:
            chunks.append(current)
            # a chunk is closed only when it holds more than max_tokens - piece.tokens >= the overlap budget,
            # so the overlap is always a proper tail of it
            current = _overlap(current, min(overlap, max_tokens - piece.tokens))
            used = sum(p.tokens for p in current)
        current.append(piece)
        used += piece.tokens
    if current:
        chunks.append(current)
    return chunks


def _join(pieces: Sequence[_Piece]) -> str:
    return pieces[0].text + "".join(p.joiner + p.text for p in pieces[1:])


def chunk_document(doc: ParsedDocument, rule: ProcessRule) -> list[ChunkDraft]:
    """Chunks of at most ``rule.max_tokens`` tokens (overlap included). Within a heading section each chunk after
    the first begins with the last ~``overlap_tokens`` of the one before; sections do not share text. The overlap
    shrinks when the chunk's first new piece leaves less room, down to none when one paragraph fills the chunk:
    a paragraph that fits is never broken just to make room (LangChain's merge, which Dify uses, does the same).
    A chunk's page is the page it starts on; caption chunks span their first cue's start to their last cue's end.
    A chunk that would hold only its section's own heading is dropped: the heading travels on every chunk."""
    max_tokens = max(1, rule.max_tokens)
    overlap = max(0, min(rule.overlap_tokens, max_tokens // 2))
    drafts: list[ChunkDraft] = []
    for heading, pieces in _sections(doc, rule, max_tokens):
        for chunk in _pack(pieces, max_tokens, overlap):
            text = _join(chunk)
            if heading and text.strip() == heading.rsplit(" > ", 1)[-1].strip():
                continue  # a heading alone (its section starts with a sub-heading): the heading is on the chunks
            starts = [p.start for p in chunk if p.start is not None]
            ends = [p.end for p in chunk if p.end is not None]
            drafts.append(ChunkDraft(len(drafts), text, count_tokens(text), start=min(starts, default=None),
                                     end=max(ends, default=None), page=chunk[0].page, heading=heading))
    return drafts


# --- transcripts -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Unit:
    text: str
    joiner: str
    start: float
    end: float
    tokens: int
    ends_sentence: bool


class _Clock:
    """Times of character spans of a segment: from its words when it has them (matched by their non-space
    characters), else in proportion to the characters before the span."""

    def __init__(self, segment: TranscriptSegment) -> None:
        self.segment = segment
        text = segment.text
        self.before = [0] * (len(text) + 1)  # non-space characters before each offset
        for i, ch in enumerate(text):
            self.before[i + 1] = self.before[i] + (not ch.isspace())
        self.words = [w for w in segment.words if w.text.strip()]
        self.word_starts: list[int] = []
        total = 0
        for w in self.words:
            self.word_starts.append(total)
            total += len("".join(w.text.split()))
        self.scale = total / max(1, self.before[-1])

    def span(self, a: int, b: int) -> tuple[float, float]:
        first, last = self.before[a], max(self.before[a], self.before[b] - 1)
        seg = self.segment
        if not self.words:
            share = (seg.end - seg.start) / max(1, self.before[-1])
            return seg.start + first * share, seg.start + (last + 1) * share
        i = max(0, bisect.bisect_right(self.word_starts, first * self.scale) - 1)
        j = max(i, bisect.bisect_right(self.word_starts, last * self.scale) - 1)
        return self.words[i].start, max(self.words[i].start, self.words[j].end)


def _units(t: Transcript, limit: int) -> list[_Unit]:
    units: list[_Unit] = []
    for segment in sorted(t.segments, key=lambda s: (s.start, s.end)):
        text, clock, previous_end = segment.text, _Clock(segment), None
        spans = [s for a, b in _cut(text, _SENTENCE, 0, len(text)) for s in _split_spans(text, limit, a, b, level=1)]
        for a, b in spans:
            tokens = count_tokens(text[a:b])
            if not tokens:
                continue
            start, end = clock.span(a, b)
            joiner = " " if previous_end is None else text[previous_end:a]
            units.append(_Unit(text[a:b], joiner, start, end, tokens, _ENDS_SENTENCE.search(text[a:b]) is not None))
            previous_end = b
    units.sort(key=lambda u: u.start)  # overlapping segments must not make chunk starts go back
    return units


def _chapter_of(units: Sequence[_Unit], chapters: Sequence[Chapter]) -> list[int]:
    """Each unit's chapter (index into ``chapters``, -1 before the first): the one its midpoint falls in."""
    starts = [c.start for c in chapters]
    return [bisect.bisect_right(starts, (u.start + u.end) / 2) - 1 for u in units]


def _best_cut(units: Sequence[_Unit], first: int, pos: int, end: int, max_tokens: int, pause: float) -> int:
    """Where to end a chunk of ``units[first:end]`` (all of which fit): after the last unit in its second half that
    is followed by a pause and ends a sentence, else by a pause, else ends a sentence; else at ``end``."""
    best, best_score, used = end, -1, sum(u.tokens for u in units[first:pos])
    for c in range(pos + 1, end + 1):
        used += units[c - 1].tokens
        if used * 2 < max_tokens:
            continue
        paused = c < len(units) and units[c].start - units[c - 1].end >= pause
        score = 2 * paused + units[c - 1].ends_sentence
        if score > 0 and score >= best_score:
            best, best_score = c, score
    return best


def _pack_units(units: Sequence[_Unit], rule: TranscriptChunkRule) -> list[tuple[int, int]]:
    """Index ranges of chunks; each after the first starts with the last units of the one before (the overlap)."""
    max_tokens = max(1, rule.max_tokens)
    overlap = max(0, min(rule.overlap_tokens, max_tokens // 2))
    ranges: list[tuple[int, int]] = []
    pos = 0
    while pos < len(units):
        first = pos
        if ranges:  # repeat whole units, never the previous chunk's first one (that would repeat all of it)
            budget, used = min(overlap, max_tokens - units[pos].tokens), 0
            while (first - 1 > ranges[-1][0] and used + units[first - 1].tokens <= budget
                   and units[first].start - units[first - 1].end < rule.max_gap_seconds):
                first -= 1
                used += units[first].tokens
        used = sum(u.tokens for u in units[first:pos])
        end = pos
        while end < len(units) and (end == pos or used + units[end].tokens <= max_tokens):
            if end > pos and units[end].start - units[end - 1].end >= rule.max_gap_seconds:
                break  # a long silence: the chunk ends here, whatever room is left
            used += units[end].tokens
            end += 1
        if end < len(units) and used + units[end].tokens > max_tokens:
            end = _best_cut(units, first, pos, end, max_tokens, rule.pause_seconds)
        ranges.append((first, end))
        pos = end
    return ranges


def chunk_transcript(t: Transcript, rule: TranscriptChunkRule, chapters: Sequence[Chapter] = ()) -> list[ChunkDraft]:
    """Chunks of whole sentences (a sentence over the budget is split at clauses, words, characters) of at most
    ``rule.max_tokens`` tokens, overlap included, cut preferably at pauses and sentence ends and never across a
    chapter. Start and end are the first and last second of the chunk's own units, clamped to the media."""
    chapters = sorted(chapters, key=lambda c: c.start)
    units = _units(t, max(1, rule.max_tokens))
    limit = t.duration if t.duration is not None else float("inf")
    drafts: list[ChunkDraft] = []
    indexed = zip(_chapter_of(units, chapters), units, strict=True)
    for chapter, group in groupby(indexed, key=lambda pair: pair[0]):
        members = [unit for _, unit in group]
        for first, end in _pack_units(members, rule):
            chunk = members[first:end]
            text = chunk[0].text + "".join(u.joiner + u.text for u in chunk[1:])
            start = min(max(0.0, min(u.start for u in chunk)), limit)
            stop = min(max(start, max(u.end for u in chunk)), limit)
            drafts.append(ChunkDraft(len(drafts), text, count_tokens(text), start=start, end=stop,
                                     chapter=chapters[chapter].title if chapter >= 0 else None))
    return drafts
