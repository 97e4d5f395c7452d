"""The `vidrag` command: serve, download (with a rich progress bar), tasks, storage, migrate."""

from __future__ import annotations

import socket
import sys

import typer
from pydantic import ValidationError
from rich.console import Console

from vidrag.settings import Settings

app = typer.Typer(help="vidrag: video download API and video knowledge base", no_args_is_help=True)
console = Console()


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, or a clear message and exit 2 when they are wrong."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        console.print("[red]✗ invalid configuration:[/red]")
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "settings"
            console.print(f"  {where}: {err['msg']}")
        raise typer.Exit(2) from exc


def _port_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def serve_checked(dev: bool = False, host: str | None = None, port: int | None = None) -> None:
    """Check FFmpeg, configuration, directories and the port; then run uvicorn (reload with dev)."""
    import uvicorn

    from vidrag.domain.errors import VidragError
    from vidrag.pipeline.ffmpeg import ffmpeg_version, find_ffmpeg

    overrides: dict[str, object] = {"env": "development"} if dev else {}
    settings = load_settings(**overrides)
    host = host or settings.host
    port = port if port is not None else settings.port
    try:
        ffmpeg = find_ffmpeg(settings.ffmpeg_path)
        console.print(f"✅ FFmpeg: {ffmpeg_version(ffmpeg)} ({ffmpeg})")
    except VidragError as exc:
        console.print(f"❌ {exc.message}")
        raise typer.Exit(1) from exc
    settings.ensure_dirs()
    console.print(f"✅ data directory: {settings.data_dir.resolve()}")
    if not _port_free(host, port):
        console.print(f"❌ port {port} on {host} is in use; stop the other process or set PORT to another port")
        raise typer.Exit(1)
    if not settings.api_keys and host not in ("127.0.0.1", "localhost", "::1"):
        console.print("⚠️  no API keys configured and listening on all interfaces: set VIDRAG_API_KEYS to require one")
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    mode = "development" if dev else "production"
    console.print(f"🌐 http://{shown}:{port}  health: /api/health  docs: /docs  ({mode} mode)")
    sys.stdout.flush()
    if dev:
        import os

        os.environ["VIDRAG_ENV"] = "development"  # the reloader re-reads settings in its own process
    uvicorn.run("vidrag.api.app:create_app", factory=True, host=host, port=port, reload=dev,
                log_level=settings.log_level, proxy_headers=True)


@app.command()
def serve(dev: bool = typer.Option(False, "--dev", help="development mode: auto-reload, relaxed secret check"),
          host: str | None = typer.Option(None, help="overrides HOST"),
          port: int | None = typer.Option(None, help="overrides PORT")) -> None:
    """Run the HTTP service (the same checks as `python start.py`)."""
    serve_checked(dev=dev, host=host, port=port)


@app.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    from vidrag.storage.db import Database

    settings = load_settings()
    settings.ensure_dirs()
    Database(settings.sqlalchemy_url).migrate()
    console.print("✅ database is up to date")
