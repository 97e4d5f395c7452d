"""FFmpeg from the imageio-ffmpeg wheel: found when PATH has none, and enough for the whole pipeline."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import imageio_ffmpeg
import pytest

from tests.support.media import ffprobe
from tests.support.service import RunningService
from vidrag.pipeline.ffmpeg import find_ffmpeg


def test_wheel_binary_is_the_fallback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no ffmpeg here
    find_ffmpeg.cache_clear()
    try:
        assert find_ffmpeg() == imageio_ffmpeg.get_ffmpeg_exe()
    finally:
        find_ffmpeg.cache_clear()


@pytest.mark.parametrize("audio_format", ["mp3", "m4a"])
def test_pipeline_runs_on_the_wheel_binary(start_service: Callable[..., RunningService], media_url: str,
                                           tmp_path: Path, audio_format: str) -> None:
    svc = start_service(ffmpeg_path=imageio_ffmpeg.get_ffmpeg_exe())
    assert svc.client.get("/api/health").json()["services"]["ffmpeg"] == imageio_ffmpeg.get_ffmpeg_exe()
    task = svc.client.post("/api/v1/tasks", json={"url": f"{media_url}/clip.mp4", "audio_format": audio_format})
    done = svc.wait(task.json()["id"])
    assert done["status"] == "completed", done["error"]
    assert abs(done["video_info"]["duration"] - 10.0) < 0.5  # the probe works without ffprobe
    audio = next(f for f in done["files"] if f["kind"] == "audio")
    out = tmp_path / f"a.{audio_format}"
    out.write_bytes(svc.client.get(audio["url"]).content)
    assert ffprobe(out).codecs == {"audio": "mp3" if audio_format == "mp3" else "aac"}
