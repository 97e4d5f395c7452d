"""Serving media files by their public name (range requests supported, for players)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import FileResponse

from vidrag.api.deps import ContainerDep, DownloadsDep
from vidrag.services.downloads import DownloadService

router = APIRouter(tags=["files"])


def file_response(downloads: DownloadService, name: str, *, attachment: bool) -> FileResponse:
    path, row = downloads.file(name)
    disposition = "attachment" if attachment else "inline"
    return FileResponse(path, media_type=row.content_type,
                        headers={"Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(row.name)}"})


@router.get("/api/v1/files/{name}/thumbnail", response_class=FileResponse,
            responses={200: {"content": {"image/jpeg": {}}}})
def get_thumbnail(name: str, c: ContainerDep) -> FileResponse:
    """A JPEG frame of a video file (made on first request, kept beside the file); 404 `no_thumbnail` for audio."""
    return FileResponse(c.downloads.thumbnail(name, c.ffmpeg), media_type="image/jpeg",
                        headers={"Cache-Control": "private, max-age=86400"})


# Declared after the thumbnail route, which it would otherwise swallow: `:path` lets a name with an (encoded) slash
# reach the name check (422 invalid_file_name, like `..`) instead of missing the route.
@router.get("/api/v1/files/{name:path}", response_class=FileResponse)
def get_file(name: str, downloads: DownloadsDep, download: bool = False) -> FileResponse:
    """Stream a media file inline (for players); `?download=true` for an attachment."""
    return file_response(downloads, name, attachment=download)
