"""Transcripts: timed segments of speech, where they came from, and their export formats (pure)."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

_NOT_WORD = re.compile(r"[\W_]+")


def _plain(text: str) -> str:
    """Lower case, letters and digits only (CJK included): how spoken_span compares text."""
    return _NOT_WORD.sub("", text.lower())


class TranscriptSource(StrEnum):
    MANUAL_CAPTIONS = "manual_captions"  # subtitles uploaded by the author
    AUTO_CAPTIONS = "auto_captions"  # the site's automatic captions
    WHISPER = "whisper"  # our own speech recognition


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str
    probability: float | None = None


@dataclass(frozen=True)
class TranscriptSegment:
    start: float  # seconds from the start of the media
    end: float
    text: str
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class Transcript:
    segments: tuple[TranscriptSegment, ...]
    source: TranscriptSource
    language: str | None = None
    model: str | None = None  # the ASR model, for whisper transcripts
    duration: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())

    def spoken_span(self, text: str, within: tuple[float, float] | None = None) -> tuple[float, float] | None:
        """When ``text`` (a sentence of a chunk, say) is spoken: from its first word's start to its last word's end.

        Text is compared without case, spaces or punctuation, so a chunk's sentence (cut from these segments) is
        found whatever its joins. Word times are used where the segment has them; otherwise the segment's time is
        spread over its characters. ``within`` (seconds) limits the search to the segments around a chunk, so a
        sentence said twice is found where the chunk has it. None when the text is not in the transcript.
        """
        target = _plain(text)
        if not target:
            return None
        chars: list[str] = []
        starts: list[float] = []
        ends: list[float] = []
        for seg in self.segments:
            if within is not None and (seg.end < within[0] - 1.0 or seg.start > within[1] + 1.0):
                continue
            pieces = [(w.start, w.end, _plain(w.text)) for w in seg.words]
            if not pieces or "".join(piece for _, _, piece in pieces) != _plain(seg.text):
                pieces = [(seg.start, seg.end, _plain(seg.text))]
            for start, end, piece in pieces:
                step = (end - start) / max(1, len(piece))
                for k, char in enumerate(piece):
                    chars.append(char)
                    starts.append(start + step * k)
                    ends.append(start + step * (k + 1))
        at = "".join(chars).find(target)
        if at < 0:
            return None
        return round(starts[at], 2), round(ends[at + len(target) - 1], 2)

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source.value, "language": self.language, "model": self.model,
                "duration": self.duration, "extra": self.extra,
                "segments": [{"start": s.start, "end": s.end, "text": s.text,
                              "words": [[w.start, w.end, w.text, w.probability] for w in s.words]}
                             for s in self.segments]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Transcript:
        segments = tuple(TranscriptSegment(float(s["start"]), float(s["end"]), str(s["text"]),
                                           tuple(Word(float(w[0]), float(w[1]), str(w[2]), w[3])
                                                 for w in s.get("words", ())))
                         for s in data["segments"])
        return cls(segments, TranscriptSource(data["source"]), data.get("language"), data.get("model"),
                   data.get("duration"), data.get("extra") or {})


def _clock(seconds: float, sep: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_srt(t: Transcript) -> str:
    blocks = [f"{i}\n{_clock(s.start, ',')} --> {_clock(s.end, ',')}\n{s.text.strip()}\n"
              for i, s in enumerate((s for s in t.segments if s.text.strip()), start=1)]
    return "\n".join(blocks)


def to_vtt(t: Transcript) -> str:
    """WebVTT; cue text escapes &, < and > as the format requires."""
    blocks = [f"{_clock(s.start, '.')} --> {_clock(s.end, '.')}\n{html.escape(s.text.strip(), quote=False)}\n"
              for s in t.segments if s.text.strip()]
    return "WEBVTT\n\n" + "\n".join(blocks)


def to_txt(t: Transcript) -> str:
    return "\n".join(s.text.strip() for s in t.segments if s.text.strip()) + "\n"


def to_json_text(t: Transcript) -> str:
    return json.dumps(t.to_json(), ensure_ascii=False, indent=2)


EXPORTERS = {"srt": (to_srt, "application/x-subrip"), "vtt": (to_vtt, "text/vtt"),
             "txt": (to_txt, "text/plain; charset=utf-8"), "json": (to_json_text, "application/json")}
