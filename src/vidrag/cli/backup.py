"""`vidrag backup` and `vidrag restore`. Registered on the `vidrag` app.

Exit codes: 0 done; 1 the backup or restore failed (a tool or the disk); 2 it cannot start as configured (wrong
database kind, target not empty, pg_dump missing or too old, schema newer than this vidrag); 3 the archive is
damaged or not a vidrag backup.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.filesize import decimal
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from vidrag.cli import app, console, load_settings

R = TypeVar("R")

if TYPE_CHECKING:  # imported when a command runs: they pull in SQLAlchemy, Alembic and zstd
    from vidrag.services.backup import BackupService
    from vidrag.storage.backup import BackupError

EXIT_FAILED, EXIT_CONFIG, EXIT_CORRUPT = 1, 2, 3
CONFIG_CODES = {"backup_wrong_kind", "restore_target_not_empty", "backup_tool_missing", "backup_schema_newer",
                "backup_format_unsupported", "backup_exists", "backup_bad_output", "pgvector_missing"}


class _Bar:
    """services.backup.Progress on a rich progress bar: one line per phase."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._line: TaskID | None = None

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._finish()

    def phase(self, description: str, total: int) -> None:
        self._finish()
        self._line = self._progress.add_task(description, total=total or None)

    def _finish(self) -> None:
        if self._line is not None:
            done = self._progress.tasks[-1].completed
            self._progress.update(self._line, total=done, completed=done)

    def advance(self, done: int) -> None:
        if self._line is not None:
            self._progress.advance(self._line, done)


def _bar() -> Progress:
    return Progress(TextColumn("{task.description:<20}"), BarColumn(), DownloadColumn(), TimeElapsedColumn(),
                    console=console, transient=False)


def _service() -> BackupService:
    from vidrag.services.backup import BackupService

    return BackupService(load_settings())


def _with_progress(work: Callable[[_Bar], R]) -> R:
    """Run a backup or restore under a progress bar; its failures become a message and an exit code."""
    from vidrag.storage.backup import BackupError

    try:
        with _bar() as progress, _Bar(progress) as bar:
            return work(bar)
    except BackupError as exc:
        raise _fail(exc) from exc
    except OSError as exc:  # the disk: full, read-only, permissions
        console.print(f"[red]✗ {escape(str(exc))}: free space or fix permissions, then run it again[/red]",
                      soft_wrap=True)
        raise typer.Exit(EXIT_FAILED) from exc


def _fail(exc: BackupError) -> typer.Exit:
    from vidrag.storage.backup import CorruptBackup

    console.print(f"[red]✗ {exc.code}: {escape(exc.message)}[/red]", soft_wrap=True)
    if isinstance(exc, CorruptBackup):
        return typer.Exit(EXIT_CORRUPT)
    return typer.Exit(EXIT_CONFIG if exc.code in CONFIG_CODES else EXIT_FAILED)


def _some(names: list[str], shown: int = 5) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return escape(", ".join(names[:shown]) + more)


def _counts_table(counts: dict[str, int]) -> Table:
    table = Table("what", "count")
    for name, count in counts.items():
        table.add_row(name.replace("_", " "), str(count))
    return table


@app.command()
def backup(output: Annotated[Path | None, typer.Option(
               "--output", "-o", help="archive file or directory (default: vidrag-backup-<time>.tar.zst here)")] = None,
           include_media: Annotated[bool, typer.Option(
               "--include-media/--no-media", help="also archive downloaded and uploaded media files")] = True) -> None:
    """Archive the database (a consistent snapshot, safe while the service runs), its files and the media."""
    service = _service()
    result = _with_progress(lambda bar: service.backup(output, include_media=include_media, progress=bar))
    m = result.manifest
    console.print(f"{m.database_kind} database, schema {m.schema_revision}:")
    console.print(_counts_table(m.counts))
    media = sum(1 for e in m.files if e.path.startswith("files/media/"))
    console.print(f"files: {len(m.files)} ({media} media{'' if m.include_media else ', media left out'}), "
                  f"{decimal(sum(e.size for e in m.files))}")
    if m.missing_files:
        console.print(f"[yellow]⚠ {len(m.missing_files)} file(s) the database refers to were gone from disk when "
                      f"the backup was taken (deleted by retention or a user meanwhile): {_some(m.missing_files)}; "
                      "the manifest lists them as missing[/yellow]", soft_wrap=True)
    console.print(f"[green]✓ backup written[/green] {escape(str(result.path.resolve()))} "
                  f"({decimal(result.archive_bytes)}, {result.seconds:.1f} s)", soft_wrap=True, highlight=False)


@app.command()
def restore(path: Annotated[Path, typer.Argument(help="an archive made by `vidrag backup`")],
            force: Annotated[bool, typer.Option(
                "--force", help="replace the data dir and database even if they already hold data")] = False
            ) -> None:
    """Restore a backup into an empty data dir and database (stop the service first)."""
    service = _service()
    result = _with_progress(lambda bar: service.restore(path, force=force, progress=bar))
    m = result.manifest
    migrated = (f", migrated {m.schema_revision} → {result.schema_revision}"
                if result.schema_revision != m.schema_revision else "")
    console.print(f"{m.database_kind} database, schema {result.schema_revision}{migrated}:")
    console.print(_counts_table(result.counts))
    console.print(f"files: {result.files} ({decimal(result.file_bytes)}), all checksums verified"
                  + ("" if m.include_media else "; media was not in this backup"))
    if m.missing_files:
        console.print(f"[yellow]⚠ {len(m.missing_files)} file(s) were already gone when the backup was taken: "
                      f"{_some(m.missing_files)}; their rows are back and the service answers 404 for them, as for "
                      "any cleaned-up file[/yellow]", soft_wrap=True)
    console.print(f"[green]✓ restored[/green] the backup of {m.created_at} (vidrag {m.vidrag_version}) in "
                  f"{result.seconds:.1f} s; start the service as usual", soft_wrap=True, highlight=False)
