"""The `vidrag` command: serve, download (with a rich progress bar), tasks, storage, migrate."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections.abc import Callable, Coroutine, Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.filesize import decimal
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn
from rich.table import Column, Table

from vidrag.domain.errors import VidragError
from vidrag.domain.tasks import AudioFormat, TaskOptions, TaskStatus
from vidrag.settings import Settings

if TYPE_CHECKING:
    from vidrag.api.deps import Container
    from vidrag.jobs.base import JobRunner
    from vidrag.storage.db import Database
    from vidrag.storage.models import TaskRow

R = TypeVar("R")
app = typer.Typer(help="vidrag: video download API and video knowledge base", no_args_is_help=True)
console = Console()
POLL_SECONDS = 0.5  # the row is re-read this often, in case an event was published before we subscribed
IDLE_WAIT_SECONDS = 15.0  # how long a finished or cancelled job may take to clean up before the loop closes
EXIT_INTERRUPTED = 130
STATUS_COLORS = {"completed": "green", "failed": "red", "cancelled": "yellow"}


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
def worker(queues: Annotated[str, typer.Option(help="comma-separated: download, transcribe, index")
                             ] = "download,transcribe,index",
           concurrency: Annotated[int | None, typer.Option(
               min=1, max=64, help="jobs run at once (threads); default VIDRAG_DOWNLOAD_CONCURRENCY")] = None,
           loglevel: Annotated[str, typer.Option(help="Celery's log level")] = "INFO") -> None:
    """Run a Celery worker for the scaled-out deployment (needs VIDRAG_REDIS_URL and a shared database + media)."""
    from vidrag.api.worker import WorkerProcess

    settings = load_settings()
    try:
        process = WorkerProcess.build(settings, tuple(q.strip() for q in queues.split(",") if q.strip()),
                                      concurrency)
    except ValueError as exc:
        console.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"vidrag worker {process.pool.worker_id}: queues {', '.join(process.queues)}, "
                  f"concurrency {process.concurrency}")
    process.run(loglevel.upper())


@app.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    from vidrag.storage.db import open_database

    settings = load_settings()
    settings.ensure_dirs()
    open_database(settings).migrate()
    console.print("✅ database is up to date")


@app.command()
def openapi(output: Annotated[Path | None, typer.Option("--output", "-o", help="write here instead of stdout")] = None
            ) -> None:
    """Print the HTTP API's OpenAPI schema (the web console's typed client is generated from it)."""
    import json
    import tempfile

    from vidrag.api.app import create_app

    with tempfile.TemporaryDirectory(prefix="vidrag-openapi-") as tmp:  # the schema must not depend on local data
        settings = Settings(data_dir=Path(tmp), database_url=None, redis_url=None)
        text = json.dumps(create_app(settings).openapi(), indent=2, ensure_ascii=False) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"✅ wrote {output}")


# --- download ----------------------------------------------------------------------------------------
@app.command()
def download(url: Annotated[str, typer.Argument(help="http(s) address of a video page or a media file")],
             audio: Annotated[AudioFormat, typer.Option(help="format of the extracted audio")] = AudioFormat.MP3,
             no_video: Annotated[bool, typer.Option("--no-video", help="keep only the audio")] = False,
             no_audio: Annotated[bool, typer.Option("--no-audio", help="keep only the video")] = False,
             max_height: Annotated[int | None, typer.Option(help="best video at most N pixels high")] = None) -> None:
    """Download URL into the local data dir, the way the server does; Ctrl+C cancels."""
    from vidrag.api.app import build_container

    settings = load_settings()
    try:
        container = build_container(settings)
    except VidragError as exc:
        console.print(f"[red]{exc.code}: {escape(exc.message)}[/red]")
        raise typer.Exit(1) from exc
    options = TaskOptions(extract_audio=not no_audio, keep_video=not no_video, audio_format=audio,
                          max_height=max_height)
    run_to_exit(container, _download(container, url, options))


def run_to_exit(container: Container, work: Coroutine[Any, Any, int]) -> NoReturn:
    """Run a command's event loop, then exit with its code (130 on Ctrl+C), the database closed."""
    try:
        code = asyncio.run(work)
    except KeyboardInterrupt:  # asyncio.run cancelled the work (which cleans up after itself), then re-raised this
        code = EXIT_INTERRUPTED
    finally:
        container.db.dispose()
    raise typer.Exit(code)


async def _download(container: Container, url: str, options: TaskOptions) -> int:
    container.events.bind(asyncio.get_running_loop())
    await container.runner.start()
    try:
        try:
            submission = container.downloads.submit_url(url, options)
        except VidragError as exc:
            console.print(f"[red]{exc.code}: {escape(exc.message)}[/red]")
            return 2
        task_id = submission.task.id
        if not submission.created:
            # A task left behind by a process that died is taken over; one that another live process
            # (a server on this data dir) runs is followed, not duplicated: the claim is atomic.
            container.downloads.reap_stale()
            container.runner.enqueue(task_id)
            console.print(f"[yellow]task {task_id} for this URL already exists; following it[/]")
        try:
            row = await _follow(container, task_id)
        except asyncio.CancelledError:  # Ctrl+C
            await _interrupted(container, task_id, owned=submission.created)
            raise
        except VidragError as exc:  # e.g. the task was deleted through the API meanwhile
            console.print(f"[red]{exc.code}: {escape(exc.message)}[/red]")
            return 1
        await _wait_idle(container.runner)
        return _print_outcome(container, row)
    finally:
        await container.runner.stop()


async def _interrupted(container: Container, task_id: str, *, owned: bool) -> None:
    console.print("[yellow]interrupted[/yellow]")
    if not owned:  # never cancel a task another process runs
        console.print(f"task {task_id} is left to the process running it")
        return
    with contextlib.suppress(VidragError):  # it may have ended meanwhile
        container.downloads.cancel(task_id)
        console.print(f"task {task_id} cancelled")
    await _wait_idle(container.runner)


async def follow(queue: asyncio.Queue[dict[str, Any]], read: Callable[[], R], show_row: Callable[[R], bool],
                 show_event: Callable[[dict[str, Any]], bool]) -> R:
    """Until ``show_row`` says the work ended, re-read the row every POLL_SECONDS (in case an event was missed)
    and pass events to ``show_event`` between reads (True from it ends the wait early: the row has the end)."""
    loop = asyncio.get_running_loop()
    while True:
        row = read()
        if show_row(row):
            return row
        deadline = loop.time() + POLL_SECONDS
        while (left := deadline - loop.time()) > 0:
            try:
                event = await asyncio.wait_for(queue.get(), left)
            except TimeoutError:
                break
            if show_event(event):
                break


async def _follow(container: Container, task_id: str) -> TaskRow:
    """Show a download's progress until it ends."""
    with _progress_bar() as bar:
        line = bar.add_task("queued", total=100, speed="", eta="")

        def show_row(row: TaskRow) -> bool:
            _show(bar, line, row.stage, row.message, row.progress, row.progress_detail)
            return not TaskStatus(row.status).is_active

        def show_event(event: dict[str, Any]) -> bool:
            _show(bar, line, event.get("stage"), event.get("message"), event.get("progress"), event.get("detail"))
            return not TaskStatus(event.get("status", "running")).is_active

        async with container.events.subscribe(task_id) as queue:
            return await follow(queue, lambda: container.downloads.get(task_id), show_row, show_event)


def _progress_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                    TextColumn("{task.fields[speed]}"), TextColumn("{task.fields[eta]}"), console=console)


def _show(bar: Progress, line: TaskID, stage: Any, message: Any, progress: Any, detail: Any) -> None:
    detail = detail if isinstance(detail, dict) else {}
    speed, eta = detail.get("speed"), detail.get("eta")
    done = max((t.completed for t in bar.tasks if t.id == line), default=0.0)  # the row may lag behind events
    bar.update(line, completed=max(done, float(progress or 0.0)),
               description=escape(f"{stage or ''}: {str(message or '').split(':')[0]}".strip(": ")),
               speed=f"{decimal(int(speed))}/s" if isinstance(speed, int | float) and speed > 0 else "",
               eta=f"ETA {timedelta(seconds=int(eta))}" if isinstance(eta, int | float) and eta >= 0 else "")


async def _wait_idle(runner: JobRunner) -> None:
    """Let the job thread finish its clean-up (work dir, last writes) before the event loop closes."""
    for _ in range(int(IDLE_WAIT_SECONDS / 0.05)):
        if not runner.stats().running:
            return
        await asyncio.sleep(0.05)


def _print_outcome(container: Container, row: TaskRow) -> int:
    if row.status == TaskStatus.COMPLETED:
        console.print(f"[green]✓ completed[/green] task {row.id}")
        for f in row.files:
            path = container.downloads.media.absolute(f.rel_path).resolve()
            console.print(f"  {f.kind:<9}{decimal(f.size_bytes):>10}  {escape(str(path))}", soft_wrap=True,
                          highlight=False)
        return 0
    if row.status == TaskStatus.CANCELLED:
        console.print(f"[yellow]task {row.id} was cancelled[/yellow]")
        return 1
    console.print(f"[red]✗ failed ({row.error_code or 'error'}): {escape(row.error or row.message)}[/red]",
                  soft_wrap=True)
    return 1


# --- tasks and storage -------------------------------------------------------------------------------
@contextlib.contextmanager
def _local_database(settings: Settings) -> Iterator[Database]:
    from vidrag.storage.db import open_database

    settings.ensure_dirs()
    db = open_database(settings)
    try:
        db.migrate()
        yield db
    finally:
        db.dispose()


@app.command()
def tasks(status: Annotated[list[TaskStatus] | None, typer.Option(help="only this status (repeatable)")] = None,
          limit: Annotated[int, typer.Option(min=1, help="show at most N tasks, newest first")] = 20) -> None:
    """List the tasks in the local database."""
    from vidrag.storage.repositories import TaskFilter, TaskRepository

    settings = load_settings()
    table = Table(Column("id", no_wrap=True), Column("status", no_wrap=True), "progress",
                  Column("title", overflow="ellipsis"), Column("created", no_wrap=True), "files")
    with _local_database(settings) as db, db.session() as s:
        rows, total = TaskRepository(s).page(TaskFilter(status=tuple(status or ())), offset=0, limit=limit)
        for row in rows:
            title = row.video_info.get("title") or row.url or ""
            color = STATUS_COLORS.get(row.status, "cyan")
            table.add_row(row.id[:8], f"[{color}]{row.status}[/]", f"{row.progress:.0f}%", escape(str(title)),
                          row.created_at.astimezone().strftime("%Y-%m-%d %H:%M:%S"), str(len(row.files)))
    console.print(table)
    console.print(f"{len(rows)} of {total} tasks")


@app.command()
def storage(cleanup: Annotated[bool, typer.Option("--cleanup", help="apply the retention policy first")] = False
            ) -> None:
    """Show what the data dir holds; with --cleanup, delete what the retention policy allows first."""
    from vidrag.services.storage import StorageService
    from vidrag.storage.media import MediaStore

    settings = load_settings()
    with _local_database(settings) as db:
        service = StorageService(settings, db, MediaStore(settings.media_dir, settings.tmp_dir))
        if cleanup:
            console.print(_key_value_table("cleanup", service.cleanup().to_json()))
        console.print(_key_value_table("storage", service.info()))


def _key_value_table(title: str, values: dict[str, object]) -> Table:
    table = Table("field", "value", title=title, title_justify="left")
    for key, value in values.items():
        if isinstance(value, dict):
            for sub_key, sub_value in value.items():
                table.add_row(f"{key}.{sub_key}", escape(str(sub_value)))
        elif isinstance(value, list):
            table.add_row(key, escape("\n".join(str(v) for v in value)))
        else:
            table.add_row(key, escape(str(value)))
    return table


from vidrag.cli import backup as _backup  # noqa: E402 - registers backup and restore on `app`
from vidrag.cli import knowledge as _knowledge  # noqa: E402 - registers the knowledge-base commands on `app`

__all__ = ["_backup", "_knowledge", "app"]
