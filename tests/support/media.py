"""Test media made on the spot with espeak-ng and FFmpeg: nothing downloaded, nothing large committed."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SENTENCES = [
    "The lighthouse keeper counted seven ships before sunrise.",
    "Fresh basil grows best in warm soil with plenty of water.",
    "A copper kettle whistled loudly in the empty kitchen.",
]


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


@dataclass(frozen=True)
class MediaSet:
    root: Path

    @property
    def mp4(self) -> Path:  # H.264 + AAC speech, ~10 s
        return self.root / "clip.mp4"

    @property
    def hls(self) -> Path:
        return self.root / "hls" / "index.m3u8"

    @property
    def silent_video(self) -> Path:  # video track only
        return self.root / "silent.mp4"

    @property
    def wav(self) -> Path:
        return self.root / "speech.wav"


def make_media(root: Path) -> MediaSet:
    ffmpeg = shutil.which("ffmpeg")
    espeak = shutil.which("espeak-ng")
    if not ffmpeg or not espeak:
        raise RuntimeError("tests need ffmpeg and espeak-ng (apt-get install -y ffmpeg espeak-ng; .ci/run does it)")
    root.mkdir(parents=True, exist_ok=True)
    media = MediaSet(root)
    _run(espeak, "-w", str(media.wav), " ".join(SENTENCES))
    _run(ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-i", str(media.wav),
         "-shortest", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k",
         "-ar", "44100", "-ac", "2",
         "-movflags", "+faststart", str(media.mp4))
    media.hls.parent.mkdir(exist_ok=True)
    _run(ffmpeg, "-v", "error", "-y", "-i", str(media.mp4), "-c", "copy", "-f", "hls", "-hls_time", "2",
         "-hls_playlist_type", "vod", str(media.hls))
    _run(ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=3",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(media.silent_video))
    (root / "clip.en.vtt").write_text(
        "WEBVTT\n\n00:00:00.000 --> 00:00:03.000\n" + SENTENCES[0] + "\n\n00:00:03.000 --> 00:00:06.000\n"
        + SENTENCES[1] + "\n")
    (root / "watch.html").write_text(
        "<html><head><title>A talk with captions</title></head><body>"
        '<video controls src="clip.mp4"><track kind="subtitles" src="clip.en.vtt" srclang="en" label="English">'
        "</video></body></html>")
    (root / "page.html").write_text("<html><head><title>No video here</title></head><body>Hello</body></html>")
    (root / "fake.mp4").write_text("this is plain text pretending to be a video\n" * 50)
    return media


@dataclass(frozen=True)
class Probe:
    duration: float
    codecs: dict[str, str]  # codec_type -> codec_name
    streams: list[dict[str, object]]
    bit_rate: int

    def stream_duration(self, kind: str) -> float:
        stream = next(s for s in self.streams if s["codec_type"] == kind)
        return float(str(stream.get("duration", self.duration)))


def ffprobe(path: Path) -> Probe:
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
                          str(path)], check=True, capture_output=True, text=True)
    data = json.loads(out.stdout)
    codecs: dict[str, str] = {}
    for stream in data["streams"]:
        codecs.setdefault(stream["codec_type"], stream["codec_name"])
    return Probe(float(data["format"]["duration"]), codecs, data["streams"], int(data["format"].get("bit_rate", 0)))


def audio_md5(path: Path) -> str:
    """MD5 of the first audio stream's packets: equal for a stream copy, different after re-encoding."""
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a:0", "-c", "copy", "-f", "md5", "-"],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()
