"""Finding, probing and running FFmpeg, with progress and cancellation."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from vidrag.domain.errors import ServiceUnavailable, StageFailed, TaskCancelled

_DURATION = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")
_STREAM = re.compile(r"Stream #\d+:\d+.*?: (Video|Audio): (\w+)")


@lru_cache(maxsize=4)
def find_ffmpeg(configured: str | None = None) -> str:
    """The configured binary, else ffmpeg on PATH, else the one inside the imageio-ffmpeg wheel."""
    if configured:
        if shutil.which(configured) is None:
            raise ServiceUnavailable(f"VIDRAG_FFMPEG_PATH={configured} is not an executable", code="ffmpeg_missing")
        return configured
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError) as exc:
        raise ServiceUnavailable("FFmpeg not found: install it (apt install ffmpeg) or `pip install imageio-ffmpeg`",
                                 code="ffmpeg_missing") from exc


def ffmpeg_version(binary: str) -> str:
    out = subprocess.run([binary, "-hide_banner", "-version"], capture_output=True, text=True, timeout=10, check=False)
    return out.stdout.split("\n", 1)[0]


@dataclass(frozen=True)
class MediaProbe:
    duration: float | None
    video_codec: str | None
    audio_codec: str | None

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None


def probe(ffmpeg: str, path: Path) -> MediaProbe:
    """Read duration and codecs from ``ffmpeg -i`` (ffprobe is not always there: the wheel lacks it)."""
    out = subprocess.run([ffmpeg, "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True, text=True,
                         timeout=60, check=False, errors="replace")
    text = out.stderr
    if "Invalid data found" in text or "moov atom not found" in text or "Input #0" not in text:
        raise StageFailed("the file is not readable media (FFmpeg cannot open it)", code="invalid_media")
    duration = None
    if m := _DURATION.search(text):
        duration = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
    codecs: dict[str, str] = {}
    for kind, codec in _STREAM.findall(text):
        codecs.setdefault(kind, codec)
    return MediaProbe(duration, codecs.get("Video"), codecs.get("Audio"))


def run_ffmpeg(ffmpeg: str, args: list[str], *, duration: float | None,
               on_progress: Callable[[float], None], is_cancelled: Callable[[], bool]) -> None:
    """Run FFmpeg reporting a 0..1 fraction; kill it when the task is cancelled."""
    cmd = [ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-progress", "pipe:1", "-nostats", *args]
    with tempfile.TemporaryFile() as err, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if is_cancelled():
                proc.kill()
                proc.wait()
                raise TaskCancelled("the task was cancelled")
            key, _, value = line.strip().partition("=")
            if key == "out_time_us" and duration and value.isdigit():
                on_progress(min(1.0, int(value) / 1e6 / duration))
        code = proc.wait()
        if code != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace").strip().splitlines()[-3:]
            raise StageFailed(f"FFmpeg failed ({code}): {' '.join(tail) or 'no message'}", code="ffmpeg_failed")
    on_progress(1.0)


def thumbnail(ffmpeg: str, source: Path, dest: Path, *, width: int = 480) -> bool:
    """Write a JPEG frame of ``source`` (a second in, or the first frame of a shorter clip); False without video."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".{uuid.uuid4().hex}.part.jpg")  # two requests at once each write their own
    for at in ("1", "0"):
        try:
            out = subprocess.run([ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-ss", at, "-i",
                                  str(source), "-frames:v", "1", "-vf", f"scale={width}:-2", "-q:v", "4",
                                  str(partial)], capture_output=True, timeout=60, check=False)
        except subprocess.TimeoutExpired:
            continue
        if out.returncode == 0 and partial.is_file() and partial.stat().st_size > 0:
            partial.replace(dest)
            return True
    partial.unlink(missing_ok=True)
    return False
