"""Backup and restore of one installation: the database, the files it points at, and optionally the media.

A backup is consistent while the service runs: the database is read in one snapshot (SQLite's online backup; on
PostgreSQL a REPEATABLE READ transaction whose snapshot pg_dump shares through ``--snapshot``), and the files
archived are exactly the ones that snapshot references, so counts, rows and files agree. The indexes live in the
database (FTS5 and float32 vectors on SQLite; pgvector HNSW and tsvector on PostgreSQL) and come with it; what is
left out is rebuilt or reinstalled: the in-memory vector matrices, the retrieval cache, Redis (queues are recovered
from the database), the models (installed with vidrag) and ``tmp/`` (work in progress).

A restore reads the manifest first, refuses a wrong database kind, a schema newer than this vidrag's, or a target
that already holds data (unless forced), extracts into a staging directory while verifying every checksum, and only
then touches the target; it ends with the normal migration, so an older backup is brought forward.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, Engine, create_engine, inspect, text
from sqlalchemy.pool import NullPool

from vidrag import __version__
from vidrag.settings import Settings
from vidrag.storage import backup as parts
from vidrag.storage.backup import BackupError, CorruptBackup, Manifest, TargetNotEmpty, WrongBackupKind
from vidrag.storage.db import open_database
from vidrag.storage.models import Base

SECRET_FILE = ".secret_key"  # noqa: S105 - a file name
DATA_PARTS = ("media", "documents", "tmp")  # what makes a data dir "in use", besides the database


class Progress(Protocol):
    """Where a long backup or restore reports: a phase with its size in bytes, then bytes done."""

    def phase(self, description: str, total: int) -> None: ...

    def advance(self, done: int) -> None: ...


class _Quiet:
    def phase(self, description: str, total: int) -> None:
        pass

    def advance(self, done: int) -> None:
        pass


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: Manifest
    archive_bytes: int
    seconds: float


@dataclass(frozen=True)
class RestoreResult:
    manifest: Manifest
    schema_revision: str  # after the migration (the backup's, or newer)
    counts: dict[str, int]
    files: int
    file_bytes: int
    seconds: float


def default_archive_name(now: datetime | None = None) -> str:
    return f"vidrag-backup-{(now or datetime.now(UTC)):%Y%m%d-%H%M%S}.tar.zst"


class BackupService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.sqlalchemy_url
        self.sqlite_path = parts.sqlite_file(self.url)
        self.kind = "sqlite" if self.sqlite_path is not None else "postgresql"

    # --- backup ------------------------------------------------------------------------------------------
    def backup(self, output: Path | None, *, include_media: bool, progress: Progress | None = None) -> BackupResult:
        started = time.monotonic()
        progress = progress or _Quiet()
        target = _archive_path(output)
        with tempfile.TemporaryDirectory(prefix=".vidrag-backup-", dir=target.parent) as tmp:
            work = Path(tmp)
            progress.phase("database snapshot", 0)
            manifest, db_file, files = self._snapshot(work, include_media)
            progress.phase("checksums", sum(p.stat().st_size for p in files.values()))
            for rel, path in files.items():
                manifest.files.append(parts.file_entry(f"{parts.FILES_PREFIX}{rel}", path, progress.advance))
            progress.phase("archive", manifest.database.size + sum(e.size for e in manifest.files))
            with parts.write_archive(target) as archive:
                archive.add_bytes(parts.MANIFEST, manifest.to_bytes())
                archive.add_file(manifest.database, db_file, progress.advance)
                for entry in manifest.files:
                    archive.add_file(entry, files[entry.path.removeprefix(parts.FILES_PREFIX)], progress.advance)
        return BackupResult(target, manifest, target.stat().st_size, time.monotonic() - started)

    def _snapshot(self, work: Path, include_media: bool) -> tuple[Manifest, Path, dict[str, Path]]:
        """The database copied in one snapshot, with the files that snapshot references (data-dir relative)."""
        server_version: str | None = None
        tool_major: int | None = None
        if self.sqlite_path is not None:
            db_file, member = work / "vidrag.db", parts.SQLITE_MEMBER
            parts.snapshot_sqlite(self.sqlite_path, db_file)
            engine = create_engine(f"sqlite:///{db_file}", poolclass=NullPool)
            try:
                with engine.connect() as conn:
                    revision, counts, referenced = *parts.read_state(conn), parts.referenced_files(conn)
            finally:
                engine.dispose()
        else:
            db_file, member = work / "vidrag.pgdump", parts.PG_MEMBER
            engine = _pg_engine(self.url)
            try:
                with engine.connect() as conn:
                    conn = conn.execution_options(isolation_level="REPEATABLE READ")
                    with conn.begin():
                        server_version, major = _server_version(conn)
                        tools = parts.find_pg_tools(self.settings.pg_bin_dir, major)
                        tool_major = tools.major
                        snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                        revision, counts = parts.read_state(conn)
                        referenced = parts.referenced_files(conn)
                        parts.pg_dump(tools, self.url, db_file, snapshot)  # while the snapshot's transaction is open
            finally:
                engine.dispose()
        data_dir = self.settings.data_dir
        wanted = [SECRET_FILE] if (data_dir / SECRET_FILE).is_file() else []
        wanted += [p for p in referenced if include_media or not p.startswith("media/")]
        files: dict[str, Path] = {}
        missing: list[str] = []
        for rel in wanted:
            path = data_dir / parts.safe_member(rel)
            if path.is_file():
                files[rel] = path
            else:  # deleted by retention (or by hand) after the snapshot; the restored row will 404 as it does now
                missing.append(rel)
        manifest = Manifest(created_at=datetime.now(UTC).isoformat(timespec="seconds"), vidrag_version=__version__,
                            schema_revision=revision, database_kind=self.kind,
                            database=parts.file_entry(member, db_file), counts=counts, include_media=include_media,
                            missing_files=missing, database_server_version=server_version,
                            dump_tool_major=tool_major)
        return manifest, db_file, files

    # --- restore -----------------------------------------------------------------------------------------
    def restore(self, archive: Path, *, force: bool, progress: Progress | None = None) -> RestoreResult:
        started = time.monotonic()
        progress = progress or _Quiet()
        data_dir = self.settings.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        staging = data_dir / f".restore-{uuid.uuid4().hex[:12]}"
        try:
            with parts.read_archive(archive) as members:
                manifest = parts.read_manifest(next(members, None))
                self._check_compatible(manifest)
                engine = _pg_engine(self.url) if self.sqlite_path is None else None
                try:
                    tools = self._pg_tools(engine, manifest) if engine is not None else None
                    self._check_empty(engine, force)
                    progress.phase("extract and verify", manifest.database.size
                                   + sum(e.size for e in manifest.files))
                    self._extract(members, manifest, staging, progress)
                    if engine is not None and tools is not None:
                        self._restore_postgres(engine, tools, staging, force)
                    else:
                        self._restore_sqlite(staging, force)
                finally:
                    if engine is not None:
                        engine.dispose()
            self._place_files(staging / parts.FILES_PREFIX.rstrip("/"), force)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        progress.phase("migrate and count", 0)
        revision, counts = self._migrate_and_count()
        if counts != manifest.counts:
            raise BackupError(f"the restored database holds {counts}, the backup recorded {manifest.counts}; the "
                              "restore is incomplete: run it again with --force", code="restore_incomplete")
        sizes = [e.size for e in manifest.files]
        return RestoreResult(manifest, revision, counts, len(sizes), sum(sizes), time.monotonic() - started)

    def _check_compatible(self, manifest: Manifest) -> None:
        if manifest.database_kind != self.kind:
            hint = ("set VIDRAG_DATABASE_URL to the (empty) PostgreSQL database to restore into"
                    if manifest.database_kind == "postgresql"
                    else "unset VIDRAG_DATABASE_URL to restore into SQLite in the data dir")
            raise WrongBackupKind(f"this backup holds a {manifest.database_kind} database but vidrag is configured "
                                  f"for {self.kind}: {hint}")
        if not parts.is_known_revision(manifest.schema_revision):
            raise BackupError(f"this backup's schema ({manifest.schema_revision}) is newer than this vidrag's "
                              f"({parts.schema_head()}): restore it with vidrag {manifest.vidrag_version} or newer",
                              code="backup_schema_newer")

    def _pg_tools(self, engine: Engine, manifest: Manifest) -> parts.PgTools:
        with engine.connect() as conn:
            _, major = _server_version(conn)
        return parts.find_pg_tools(self.settings.pg_bin_dir, max(major, manifest.dump_tool_major or 0))

    def _check_empty(self, engine: Engine | None, force: bool) -> None:
        data_dir = self.settings.data_dir
        used = [f"{name}/" for name in DATA_PARTS if (data_dir / name).is_dir() and any((data_dir / name).iterdir())]
        if self.sqlite_path is not None and self.sqlite_path.is_file() and self.sqlite_path.stat().st_size > 0:
            used.insert(0, f"database {self.sqlite_path}")
        if engine is not None:
            tables = inspect(engine).get_table_names()
            if tables:
                used.insert(0, f"database {engine.url.render_as_string(hide_password=True)} ({len(tables)} tables)")
        if used and not force:
            raise TargetNotEmpty(f"the target already holds data ({', '.join(used)}) in {data_dir}; restore into an "
                                 "empty data dir and database, or add --force to replace what is there (stop the "
                                 "service first)")

    def _extract(self, members: Iterator[tuple[tarfile.TarInfo, IO[bytes]]], manifest: Manifest,
                 staging: Path, progress: Progress) -> None:
        expected = manifest.entries()
        seen: set[str] = set()
        staging.mkdir(mode=0o700)  # it holds the secret key and the database
        for info, stream in members:
            entry = expected.get(info.name)
            if entry is None or info.name in seen:
                raise CorruptBackup(f"the archive holds {info.name!r}, which its manifest does not list; it is "
                                    "damaged or not a vidrag backup")
            seen.add(info.name)
            parts.extract_verified(stream, entry, staging / parts.safe_member(info.name), progress.advance)
        if missing := sorted(set(expected) - seen):
            raise CorruptBackup(f"the archive is incomplete: {len(missing)} member(s) missing, e.g. {missing[0]}; "
                                "use another copy of the backup")
        if manifest.database_kind == "sqlite":
            parts.check_sqlite(staging / parts.SQLITE_MEMBER)

    def _restore_sqlite(self, staging: Path, force: bool) -> None:
        assert self.sqlite_path is not None
        if force:
            for suffix in ("", "-wal", "-shm", "-journal"):
                self.sqlite_path.with_name(self.sqlite_path.name + suffix).unlink(missing_ok=True)
        parts.move_into_place(staging / parts.SQLITE_MEMBER, self.sqlite_path)

    def _restore_postgres(self, engine: Engine, tools: parts.PgTools, staging: Path, force: bool) -> None:
        with engine.begin() as conn:
            if force:
                _drop_vidrag_objects(conn)
            try:
                conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
            except Exception as exc:
                raise BackupError("the database lacks the pgvector extension and this role may not create it: run "
                                  "CREATE EXTENSION vector in it as a superuser, then restore again",
                                  code="pgvector_missing") from exc
        parts.pg_restore(tools, self.url, staging / parts.PG_MEMBER, staging)

    def _place_files(self, files_dir: Path, force: bool) -> None:
        data_dir = self.settings.data_dir
        if force:
            for name in DATA_PARTS:
                shutil.rmtree(data_dir / name, ignore_errors=True)
        if not files_dir.is_dir():
            return
        for path in sorted(p for p in files_dir.rglob("*") if p.is_file()):
            parts.move_into_place(path, data_dir / path.relative_to(files_dir))
        secret = data_dir / SECRET_FILE
        if secret.exists():
            secret.chmod(0o600)

    def _migrate_and_count(self) -> tuple[str, dict[str, int]]:
        self.settings.ensure_dirs()
        db = open_database(self.settings)
        try:
            db.migrate()
            with db.engine.begin() as conn:
                parts.release_leases(conn)
                return parts.read_state(conn)
        finally:
            db.dispose()


def _archive_path(output: Path | None) -> Path:
    target = output if output is not None else Path.cwd()
    if target.is_dir():
        target = target / default_archive_name()
    if target.exists():
        raise BackupError(f"{target} already exists; choose another --output", code="backup_exists")
    if not target.parent.is_dir():
        raise BackupError(f"the directory {target.parent} does not exist; create it or choose another --output",
                          code="backup_bad_output")
    return target


def _pg_engine(url: str) -> Engine:
    return create_engine(url, poolclass=NullPool)


def _server_version(conn: Connection) -> tuple[str, int]:
    version = str(conn.execute(text("SHOW server_version")).scalar_one()).split()[0]
    number = int(conn.execute(text("SHOW server_version_num")).scalar_one())
    return version, number // 10000


def _drop_vidrag_objects(conn: Connection) -> None:
    """What the migrations and the dump create (tables with their HNSW/GIN indexes, the BM25 function)."""
    Base.metadata.drop_all(conn)
    conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    conn.execute(text("DROP FUNCTION IF EXISTS vidrag_bm25(tsvector, integer, text[], float8[], float8)"))
