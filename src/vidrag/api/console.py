"""The web console (web/, built by Vite into the package's console/ folder), served at `/` with its page routes.

Hashed assets under /assets are cached for a year; index.html is never cached, so a new build shows at once. When the
console has not been built, `/` says how to build it instead of failing.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"
PAGES = ("downloads", "library", "play", "knowledge", "ask", "system")  # the console's client-side routes
NOT_BUILT = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>vidrag</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem">
<h1>vidrag is running</h1>
<p>The web console has not been built. With Node.js 20.19 or newer installed, run <code>python start.py</code> again
(it builds the console when Node.js is present), or build it yourself:
<code>npm --prefix web ci &amp;&amp; npm --prefix web run build</code>.</p>
<p>The HTTP API works without it: see <a href="/docs">/docs</a>.</p></body></html>"""


class _Assets(StaticFiles):
    """Static files whose names carry a content hash: cache them for good."""

    async def get_response(self, path: str, scope: Scope):  # type: ignore[no-untyped-def]
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def install(app: FastAPI, console_dir: Path = CONSOLE_DIR) -> None:
    """Serve the console's index at `/` and at each page route, its assets under /assets."""
    index = console_dir / "index.html"
    if (console_dir / "assets").is_dir():
        app.mount("/assets", _Assets(directory=console_dir / "assets"), name="console-assets")

    def page() -> Response:
        if not index.is_file():
            return HTMLResponse(NOT_BUILT)
        return FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-cache"})

    for path in ("/", *(f"/{name}" for name in PAGES), *(f"/{name}/{{rest:path}}" for name in PAGES)):
        app.add_api_route(path, page, methods=["GET"], include_in_schema=False, response_model=None)
