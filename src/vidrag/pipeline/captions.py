"""Captions a site already has (WebVTT, SubRip) as transcripts, and which caption file to trust first.

Captions made by people beat our own speech recognition; a site's automatic captions are about as good
as Whisper and cost nothing, so they come next, and Whisper runs only when no caption file is in a
language the user wants.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import webvtt
from webvtt.errors import MalformedCaptionError, MalformedFileError

from vidrag.domain.errors import StageFailed
from vidrag.domain.transcripts import Transcript, TranscriptSegment, TranscriptSource, Word

_INLINE_TIME = re.compile(r"<((?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})>")  # karaoke timing inside a cue
_TAG = re.compile(r"</?[^<>]*>")  # <c>, <c.colorE5E5E5>, <i>, <v Speaker>, <font color=...>
_ASS_OVERRIDE = re.compile(r"\{\\[^{}]*\}")  # {\an8} positioning that SubRip files carry over from ASS
_SPACE = re.compile(r"\s+")
ROLLING_SHARE = 0.5  # at least this share of cues start with the previous cue's last line: rolling captions


@dataclass(frozen=True)
class _Line:
    text: str  # clean text, whitespace collapsed
    words: tuple[Word, ...]  # from inline timestamps, when the line has them


@dataclass(frozen=True)
class _Cue:
    start: float
    end: float
    lines: tuple[_Line, ...]


def _clean(raw: str) -> str:
    """Text without tags, ASS overrides and entities; keeps leading space (word texts rely on it)."""
    return html.unescape(_ASS_OVERRIDE.sub("", _TAG.sub("", raw))).replace("\xa0", " ")


def _seconds(stamp: str) -> float:
    *hm, sec = stamp.replace(",", ".").split(":")
    hours, minutes = (0, int(hm[0])) if len(hm) == 1 else (int(hm[0]), int(hm[1]))
    return hours * 3600 + minutes * 60 + float(sec)


def _line(raw: str, start: float, end: float) -> _Line:
    text = _SPACE.sub(" ", _clean(raw)).strip()
    pieces = _INLINE_TIME.split(raw)  # [text, time, text, time, text, ...]
    if len(pieces) < 3 or not text:
        return _Line(text, ())
    starts = [start] + [min(max(_seconds(t), start), end) for t in pieces[1::2]]
    texts = [_SPACE.sub(" ", _clean(p)) for p in pieces[0::2]]
    bounds = [*starts[1:], end]
    words = tuple(Word(round(s, 3), round(e, 3), t) for s, e, t in zip(starts, bounds, texts, strict=True)
                  if t.strip())
    return _Line(text, words)


def _read_cues(path: Path) -> list[_Cue]:
    try:
        # by content, not name: sites and users misname files
        captions = (webvtt.read(str(path)) if _looks_like_vtt(path) else webvtt.from_srt(str(path))).captions
    except (MalformedFileError, MalformedCaptionError, UnicodeDecodeError) as exc:
        raise StageFailed(f"{path.name} is not a readable WebVTT or SubRip caption file ({exc})",
                          code="invalid_captions") from exc
    if not captions and "-->" in path.read_text(encoding="utf-8", errors="replace"):
        raise StageFailed(f"{path.name} has cue timings but no cue could be read", code="invalid_captions")
    cues = []
    for caption in captions:
        start = caption.start_time.in_milliseconds() / 1000
        end = max(start, caption.end_time.in_milliseconds() / 1000)
        lines = tuple(line for line in (_line(raw, start, end) for raw in caption.lines) if line.text)
        if lines:
            cues.append(_Cue(start, end, lines))
    return cues


def _looks_like_vtt(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(16).lstrip(b"\xef\xbb\xbf").startswith(b"WEBVTT")


def _is_rolling(cues: Sequence[_Cue]) -> bool:
    """YouTube-style automatic captions: each cue repeats the previous cue's last line, then adds one."""
    if len(cues) < 2:
        return False
    rolls = sum(1 for prev, cue in pairwise(cues) if cue.lines[0].text == prev.lines[-1].text)
    return rolls >= ROLLING_SHARE * (len(cues) - 1)


def _segments(cues: Sequence[_Cue], rolling: bool) -> list[TranscriptSegment]:
    segments: list[TranscriptSegment] = []
    previous: set[str] = set()
    for cue in cues:
        # Rolling captions: keep only the text this cue adds, timed by the cue where it first appears.
        new = [line for line in cue.lines if line.text not in previous] if rolling else list(cue.lines)
        previous = {line.text for line in cue.lines}
        text = " ".join(line.text for line in new)
        last = segments[-1] if segments else None
        if last is not None and (not new or last.text == text) and cue.start <= last.end + 0.001:
            # a cue that only holds the text on screen, or the same text over back-to-back cues: one segment
            segments[-1] = TranscriptSegment(last.start, round(max(last.end, cue.end), 3), last.text, last.words)
            continue
        if not new:
            continue
        words = tuple(w for line in new for w in line.words)
        segments.append(TranscriptSegment(round(cue.start, 3), round(cue.end, 3), text, words))
    return segments


def parse_captions(path: Path, source: TranscriptSource, language: str | None = None) -> Transcript:
    """A WebVTT (.vtt) or SubRip (.srt) file as a transcript: tags and entities stripped, empty cues dropped,
    rolling automatic captions de-duplicated. A file that is neither raises StageFailed(invalid_captions)."""
    cues = _read_cues(path)
    rolling = _is_rolling(cues)
    segments = _segments(cues, rolling)
    return Transcript(segments=tuple(segments), source=source, language=language,
                      extra={"cues": len(cues), "rolling": rolling, "file": path.name})


@dataclass(frozen=True)
class CaptionFile:
    path: Path
    language: str  # as the site names it: "en", "en-US", "pt-BR", "zh-Hans"
    automatic: bool


def _match_rank(language: str, preferred: str) -> int | None:
    """0 for the same language tag, 1 for a more specific one ("en" -> "en-US"), None otherwise."""
    lang = language.lower().replace("_", "-")
    want = preferred.lower().replace("_", "-")
    if lang == want:
        return 0
    return 1 if lang.startswith(want + "-") else None


def choose_captions(files: Sequence[CaptionFile], preferred_languages: Sequence[str]) -> CaptionFile | None:
    """Manual captions before automatic ones, each in the order of ``preferred_languages`` (exact tag before a
    more specific one); None when no file is in a preferred language, and then the caller runs Whisper.
    With no preference, any manual file, else any automatic one."""
    for automatic in (False, True):
        group = [f for f in files if f.automatic is automatic]
        if not preferred_languages and group:
            return group[0]
        for want in preferred_languages:
            ranked = [(rank, i) for i, f in enumerate(group) if (rank := _match_rank(f.language, want)) is not None]
            if ranked:
                return group[min(ranked)[1]]
    return None
