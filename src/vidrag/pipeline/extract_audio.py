"""Extract-audio stage: FFmpeg to mp3 / m4a (stream copy when the source is AAC) / opus / 16 kHz WAV."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vidrag.domain.errors import StageFailed
from vidrag.domain.tasks import AudioFormat, DownloadProgress, Stage
from vidrag.pipeline.base import StageContext
from vidrag.pipeline.ffmpeg import MediaProbe, probe, run_ffmpeg


@dataclass(frozen=True)
class AudioRequest:
    source: Path
    audio_format: AudioFormat
    ffmpeg: str
    mp3_kbps: int = 192
    opus_kbps: int = 96
    probe: MediaProbe | None = None  # the caller's probe of ``source``, if it has one


@dataclass(frozen=True)
class AudioResult:
    path: Path
    codec: str
    stream_copied: bool
    duration: float | None


def codec_args(fmt: AudioFormat, source_codec: str | None, req: AudioRequest) -> tuple[list[str], str, bool]:
    """FFmpeg output arguments for ``fmt``; returns (args, codec, stream_copied)."""
    if fmt is AudioFormat.MP3:
        return ["-c:a", "libmp3lame", "-b:a", f"{req.mp3_kbps}k"], "mp3", False
    if fmt is AudioFormat.M4A:
        if source_codec == "aac":
            return ["-c:a", "copy"], "aac", True
        return ["-c:a", "aac", "-b:a", "192k"], "aac", False
    if fmt is AudioFormat.OPUS:
        return ["-c:a", "libopus", "-b:a", f"{req.opus_kbps}k"], "opus", False
    return ["-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le"], "pcm_s16le", False


def extract_audio(ctx: StageContext, req: AudioRequest) -> AudioResult:
    ctx.check_cancelled()
    media = req.probe or probe(req.ffmpeg, req.source)
    if not media.has_audio:
        raise StageFailed("the media has no audio track to extract", code="no_audio")
    args, codec, copied = codec_args(req.audio_format, media.audio_codec, req)
    out = ctx.work_dir / f"audio.{req.audio_format.extension}"
    part = out.with_name(out.name + ".part")

    def on_progress(fraction: float) -> None:
        ctx.report(DownloadProgress(stage=Stage.EXTRACT_AUDIO, percent=100.0 * fraction))

    fmt_flag = {"mp3": "mp3", "m4a": "ipod", "opus": "ogg", "wav": "wav"}[req.audio_format.value]
    run_ffmpeg(req.ffmpeg, ["-i", str(req.source), "-vn", "-sn", "-dn", "-map", "0:a:0", *args, "-f", fmt_flag,
                            str(part)], duration=media.duration, on_progress=on_progress,
               is_cancelled=ctx.is_cancelled)
    part.replace(out)  # only a finished file carries the final name, so a retry never trusts a torn one
    return AudioResult(out, codec, copied, media.duration)
