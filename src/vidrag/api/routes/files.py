"""Serving media files by their public name (range requests supported, for players)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import FileResponse

from vidrag.api.deps import DownloadsDep
from vidrag.services.downloads import DownloadService

router = APIRouter(tags=["files"])


def file_response(downloads: DownloadService, name: str, *, attachment: bool) -> FileResponse:
    path, row = downloads.file(name)
    disposition = "attachment" if attachment else "inline"
    return FileResponse(path, media_type=row.content_type,
                        headers={"Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(row.name)}"})


@router.get("/api/v1/files/{name}", response_class=FileResponse)
def get_file(name: str, downloads: DownloadsDep, download: bool = False) -> FileResponse:
    """Stream a media file inline (for players); `?download=true` for an attachment."""
    return file_response(downloads, name, attachment=download)
