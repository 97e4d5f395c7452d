"""Download stage: yt-dlp's Python API, run in a worker thread, never on the event loop."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yt_dlp
from yt_dlp.utils import DownloadCancelled, DownloadError

from vidrag.domain.errors import StageFailed, TaskCancelled
from vidrag.domain.tasks import VIDEO_INFO_FIELDS, DownloadProgress, Stage, TaskOptions
from vidrag.pipeline import netguard
from vidrag.pipeline.base import StageContext

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
SOURCE_STEM = "source"


@dataclass(frozen=True)
class DownloadRequest:
    url: str
    options: TaskOptions
    ffmpeg: str
    max_bytes: int
    socket_timeout: float
    allow_private_networks: bool


@dataclass(frozen=True)
class SubtitleFile:
    path: Path
    language: str
    automatic: bool


@dataclass
class DownloadResult:
    media_path: Path
    video_info: dict[str, Any]
    subtitles: list[SubtitleFile] = field(default_factory=list)
    has_video: bool = True


class _Cancelled(DownloadCancelled):  # type: ignore[misc]
    """yt-dlp lets DownloadCancelled through its error handling; anything else it would swallow."""


def warm_up() -> None:
    """Compile every extractor's URL pattern now (~0.6 s once per process) rather than in the first task."""
    from yt_dlp.extractor import gen_extractor_classes

    for extractor in gen_extractor_classes():
        extractor.suitable("https://example.com/video")


def format_selector(options: TaskOptions) -> str:
    if options.video_format:
        return options.video_format
    if not options.keep_video:
        # plain "bestaudio" fails on muxed sources such as most HLS streams
        return "bestaudio/best"
    if options.max_height:
        h = options.max_height
        return f"bestvideo*[height<={h}]+bestaudio/best[height<={h}]/best"
    return "bestvideo*+bestaudio/best"


class _ProgressHook:
    """Turns yt-dlp's progress dicts (a contract that may grow keys) into DownloadProgress reports."""

    def __init__(self, ctx: StageContext, n_formats: int) -> None:
        self.ctx = ctx
        self.n_formats = max(1, n_formats)
        self.finished = 0
        self.last_report = 0.0

    def __call__(self, d: dict[str, Any]) -> None:
        if self.ctx.is_cancelled():
            raise _Cancelled("the task was cancelled")
        status = d.get("status")
        if status == "finished":
            self.finished = min(self.finished + 1, self.n_formats)
            self._report(1.0, d, force=True)
        elif status == "downloading":
            self._report(self._fraction(d), d, force=False)

    @staticmethod
    def _fraction(d: dict[str, Any]) -> float:
        total = d.get("total_bytes") or d.get("total_bytes_estimate")
        if d.get("fragment_count") and d.get("fragment_index") is not None:
            return min(1.0, float(d["fragment_index"]) / float(d["fragment_count"]))
        if total:
            return min(1.0, float(d.get("downloaded_bytes") or 0) / float(total))
        return 0.0

    def _report(self, fraction: float, d: dict[str, Any], *, force: bool) -> None:
        now = time.monotonic()
        if not force and now - self.last_report < 0.25:
            return
        self.last_report = now
        done = min(self.finished, self.n_formats - 1) if not force else self.finished - 1
        overall = (done + fraction) / self.n_formats
        total = d.get("total_bytes") or d.get("total_bytes_estimate")
        self.ctx.report(DownloadProgress(
            stage=Stage.DOWNLOAD, percent=100.0 * overall,
            downloaded_bytes=d.get("downloaded_bytes"), total_bytes=int(total) if total else None,
            speed=d.get("speed"), eta=d.get("eta"),
            extra={"fragment_index": d.get("fragment_index"), "fragment_count": d.get("fragment_count")}))


def _ydl_options(ctx: StageContext, req: DownloadRequest, hook: _ProgressHook) -> dict[str, Any]:
    return {
        "outtmpl": {"default": f"{SOURCE_STEM}.%(ext)s", "subtitle": f"{SOURCE_STEM}.%(ext)s"},
        "paths": {"home": str(ctx.work_dir), "temp": str(ctx.work_dir)},
        "format": format_selector(req.options),
        "noplaylist": True,
        "playlist_items": "1",
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "color": {"stderr": "never", "stdout": "never"},
        "progress_hooks": [hook],
        "ffmpeg_location": req.ffmpeg,
        "continuedl": True,  # a resumed task picks up its .part file
        "retries": 3,
        "fragment_retries": 3,
        "socket_timeout": req.socket_timeout,
        "max_filesize": req.max_bytes,
        "writesubtitles": req.options.subtitles,
        "writeautomaticsub": req.options.subtitles,
        "subtitleslangs": ["all", "-live_chat"],
        "subtitlesformat": "vtt/srt/best",
        "windowsfilenames": True,
        "logger": _QuietLogger(),
    }


class _QuietLogger:
    def debug(self, msg: str) -> None: ...
    def info(self, msg: str) -> None: ...
    def warning(self, msg: str) -> None: ...
    def error(self, msg: str) -> None: ...


def _readable(exc: Exception) -> tuple[str, str]:
    text = _ANSI.sub("", str(exc)).removeprefix("ERROR: ").strip()
    blocked = netguard.blocked_host()
    if blocked:
        return "url_blocked", (f"refused to fetch from {blocked}: not a public address (redirects and media URLs "
                               "are checked too; VIDRAG_ALLOW_PRIVATE_NETWORKS=true allows it)")
    if "Unsupported URL" in text:
        return "unsupported_url", f"no video or audio found at this URL ({text})"
    if "HTTP Error 404" in text:
        return "not_found_upstream", "the source answered 404 Not Found; check the URL"
    if "Requested format is not available" in text:
        return "format_unavailable", f"{text}; try another max height or format"
    return "download_failed", text


def download(ctx: StageContext, req: DownloadRequest) -> DownloadResult:
    """Fetch ``req.url`` into ``ctx.work_dir``; returns the media file, metadata and any subtitles."""
    ctx.check_cancelled()
    n_formats = 1 if "+" not in format_selector(req.options) else 2
    hook = _ProgressHook(ctx, n_formats)
    try:
        with netguard.guarded(not req.allow_private_networks), yt_dlp.YoutubeDL(_ydl_options(ctx, req, hook)) as ydl:
            raw = ydl.extract_info(req.url, download=True)
            info: dict[str, Any] = ydl.sanitize_info(raw) or {}
    except _Cancelled as exc:
        raise TaskCancelled("the task was cancelled") from exc
    except DownloadError as exc:
        code, message = _readable(exc)
        raise StageFailed(message, code=code) from exc
    if info.get("_type") == "playlist":
        entries = [e for e in info.get("entries") or [] if e]
        if not entries:
            raise StageFailed("the URL is a playlist with no downloadable entries", code="empty_playlist")
        info = entries[0]
    downloads = info.get("requested_downloads") or []
    path = Path(downloads[0]["filepath"]) if downloads and downloads[0].get("filepath") else None
    if path is None or not path.exists():
        raise StageFailed(f"nothing was downloaded; the media may be larger than the "
                          f"{req.max_bytes // 2**20} MB limit (VIDRAG_MAX_DOWNLOAD_MB)", code="download_empty")
    return DownloadResult(media_path=path, video_info=video_info(info), subtitles=_subtitles(info),
                          has_video=(info.get("vcodec") or "none") != "none")


def video_info(info: dict[str, Any]) -> dict[str, Any]:
    picked = {key: info.get(key) for key in VIDEO_INFO_FIELDS}
    picked["chapters"] = [{"start_time": c.get("start_time"), "end_time": c.get("end_time"), "title": c.get("title")}
                          for c in info.get("chapters") or []]
    if not picked.get("webpage_url"):
        picked["webpage_url"] = info.get("original_url")
    return picked


def _subtitles(info: dict[str, Any]) -> list[SubtitleFile]:
    manual = set((info.get("subtitles") or {}).keys())
    found = []
    for lang, sub in (info.get("requested_subtitles") or {}).items():
        filepath = sub.get("filepath")
        if filepath and Path(filepath).exists():
            found.append(SubtitleFile(Path(filepath), lang, automatic=lang not in manual))
    return found
