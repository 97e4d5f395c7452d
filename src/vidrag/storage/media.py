"""Where media files live on disk and the names the API shows for them.

Files sit under ``<data>/media/<task id>/``; the database maps each public name to its path, so the
download route never joins user input onto a directory and nothing else in the data dir is reachable.
"""

from __future__ import annotations

import re
import shutil
import unicodedata
from pathlib import Path

_UNSAFE = re.compile(r"[^\w\-]+", re.UNICODE)
MAX_STEM = 80


def safe_stem(title: str | None, fallback: str = "untitled") -> str:
    """A file-name stem from a title: letters, digits, '_' and '-' only; never empty, never dots."""
    text = unicodedata.normalize("NFKC", title or "")
    text = _UNSAFE.sub("_", text).strip("._-")
    text = re.sub(r"_+", "_", text)
    return text[:MAX_STEM].rstrip("._-") or fallback


def public_name(kind: str, title: str | None, task_id: str, extension: str, suffix: str = "") -> str:
    """``video_<title>_<short id>.mp4``, the seed's naming, with the extension forced safe."""
    short_id = task_id.replace("-", "")[:6]
    ext = re.sub(r"[^A-Za-z0-9]", "", extension)[:10] or "bin"
    extra = f"_{safe_stem(suffix)}" if suffix else ""
    return f"{kind}_{safe_stem(title)}_{short_id}{extra}.{ext}"


class MediaStore:
    def __init__(self, media_dir: Path, tmp_dir: Path) -> None:
        self.media_dir = media_dir
        self.tmp_dir = tmp_dir

    def task_dir(self, task_id: str) -> Path:
        path = self.media_dir / task_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def work_dir(self, task_id: str) -> Path:
        """Scratch space for a running task; kept across restarts so yt-dlp can resume a partial file."""
        path = self.tmp_dir / task_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def absolute(self, rel_path: str) -> Path:
        return self.media_dir / rel_path

    def relative(self, path: Path) -> str:
        return str(path.relative_to(self.media_dir))

    def remove_task(self, task_id: str) -> None:
        shutil.rmtree(self.media_dir / task_id, ignore_errors=True)
        shutil.rmtree(self.tmp_dir / task_id, ignore_errors=True)

    def clear_work_dir(self, task_id: str) -> None:
        shutil.rmtree(self.tmp_dir / task_id, ignore_errors=True)
