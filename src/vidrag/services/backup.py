"""Backup and restore of one installation: the database, the files it points at, and optionally the media.

A backup is consistent while the service runs: the database is read in one snapshot (SQLite's online backup; on
PostgreSQL a REPEATABLE READ transaction whose snapshot pg_dump shares through ``--snapshot``), and the files
archived are exactly the ones that snapshot references, so counts, rows and files agree. Those files are pinned
(hard-linked into a private dir in the data dir) right after the snapshot: retention or a user deleting one later
cannot break the backup, and one already gone is recorded as missing (its row then behaves as a cleaned-up file
does: 404). The indexes live in the
database (FTS5 and float32 vectors on SQLite; pgvector HNSW and tsvector on PostgreSQL) and come with it; what is
left out is rebuilt or reinstalled: the in-memory vector matrices, the retrieval cache, Redis (queues are recovered
from the database), the models (installed with vidrag) and ``tmp/`` (work in progress).

A restore reads the manifest first, refuses a wrong database kind, a schema newer than this vidrag's, or a target
that already holds data (unless forced), extracts into a staging directory while verifying every checksum, and only
then touches the target, all at once: SQLite is migrated and counted in the staging dir and then renamed into
place; PostgreSQL is dropped, restored and counted in one transaction (then migrated). A restore that fails leaves
the target as it was. It ends with the normal migration, so an older backup is brought forward.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Protocol

from alembic.util import CommandError
from sqlalchemy import Connection, Engine, create_engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from vidrag import __version__
from vidrag.jobs.base import new_worker_id, owner_is_gone
from vidrag.settings import Settings
from vidrag.storage import backup as parts
from vidrag.storage import backup_archive, backup_pg
from vidrag.storage.backup import BackupError, CorruptBackup, Manifest, TargetNotEmpty, WrongBackupKind
from vidrag.storage.db import Database, open_database
from vidrag.storage.models import Base

DATA_PARTS = ("media", "documents", "tmp")  # what makes a data dir "in use", besides the database
PINS_PREFIX = ".backup-"  # <data dir>/.backup-<id>/: a running backup's hard links
PINS_OWNER = ".owner"


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
        with tempfile.TemporaryDirectory(prefix=".vidrag-backup-", dir=target.parent) as tmp, \
                self._pin_dir(Path(tmp)) as pins:
            work = Path(tmp)
            progress.phase("database snapshot", 0)
            manifest, db_file, files = self._snapshot(work, pins, include_media)
            progress.phase("checksums", sum(p.stat().st_size for p in files.values()))
            for rel, path in files.items():
                manifest.files.append(parts.file_entry(f"{parts.FILES_PREFIX}{rel}", path, progress.advance))
            progress.phase("archive", manifest.database.size + sum(e.size for e in manifest.files))
            with backup_archive.write_archive(target) as archive:
                archive.add_bytes(parts.MANIFEST, manifest.to_bytes())
                archive.add_file(manifest.database, db_file, progress.advance)
                for entry in manifest.files:
                    archive.add_file(entry, files[entry.path.removeprefix(parts.FILES_PREFIX)], progress.advance)
        return BackupResult(target, manifest, target.stat().st_size, time.monotonic() - started)

    def _snapshot(self, work: Path, pins: Path, include_media: bool) -> tuple[Manifest, Path, dict[str, Path]]:
        """The database copied in one snapshot, with the files that snapshot references (data-dir relative) pinned
        in ``pins`` right after it was taken."""
        server_version: str | None = None
        tool_major: int | None = None
        if self.sqlite_path is not None:
            db_file, member = work / "vidrag.db", parts.SQLITE_MEMBER
            parts.snapshot_sqlite(self.sqlite_path, db_file)
            engine = create_engine(f"sqlite:///{db_file}", poolclass=NullPool)
            try:
                with engine.connect() as conn:
                    revision, counts = parts.read_state(conn)
                    files, missing = self._pin(parts.referenced_files(conn), pins, include_media)
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
                        tools = backup_pg.find_pg_tools(self.settings.pg_bin_dir, major)
                        tool_major = tools.major
                        snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                        revision, counts = parts.read_state(conn)
                        files, missing = self._pin(parts.referenced_files(conn), pins, include_media)
                        backup_pg.pg_dump(tools, self.url, db_file, snapshot)  # the snapshot transaction is open
            finally:
                engine.dispose()
        manifest = Manifest(created_at=datetime.now(UTC).isoformat(timespec="seconds"), vidrag_version=__version__,
                            schema_revision=revision, database_kind=self.kind,
                            database=parts.file_entry(member, db_file), counts=counts, include_media=include_media,
                            missing_files=missing, database_server_version=server_version,
                            dump_tool_major=tool_major)
        return manifest, db_file, files

    def _pin(self, referenced: list[str], pins: Path, include_media: bool) -> tuple[dict[str, Path], list[str]]:
        """Pin what the snapshot references; a file already gone (retention or a user deleted it since the
        snapshot, or just before it and its row had not gone yet) is missing: restored, its row answers 404 as a
        cleaned-up file does."""
        data_dir = self.settings.data_dir
        wanted = [parts.SECRET_FILE] if (data_dir / parts.SECRET_FILE).is_file() else []
        wanted += [p for p in referenced if include_media or not p.startswith("media/")]
        return parts.pin_files(data_dir, wanted, pins)

    @contextmanager
    def _pin_dir(self, fallback: Path) -> Iterator[Path]:
        """A private dir in the data dir (hard links need the same file system), removed afterwards; one left by
        a killed backup is removed first. A data dir this user may not write to gets copies beside the archive."""
        data_dir = self.settings.data_dir
        for old in data_dir.glob(f"{PINS_PREFIX}*"):
            try:
                owner = (old / PINS_OWNER).read_text().strip()
            except OSError:
                continue
            if owner_is_gone(owner):
                shutil.rmtree(old, ignore_errors=True)
        pins = data_dir / f"{PINS_PREFIX}{uuid.uuid4().hex[:12]}"
        try:
            pins.mkdir(mode=0o700)
            (pins / PINS_OWNER).write_text(new_worker_id())
        except OSError:
            shutil.rmtree(pins, ignore_errors=True)
            pins = fallback / "pins"
            pins.mkdir(mode=0o700)
        try:
            yield pins
        finally:
            shutil.rmtree(pins, ignore_errors=True)

    # --- restore -----------------------------------------------------------------------------------------
    def restore(self, archive: Path, *, force: bool, progress: Progress | None = None) -> RestoreResult:
        started = time.monotonic()
        progress = progress or _Quiet()
        data_dir = self.settings.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        staging = data_dir / f".restore-{uuid.uuid4().hex[:12]}"
        try:
            with backup_archive.read_archive(archive) as members:
                manifest = backup_archive.read_manifest(next(members, None))
                self._check_compatible(manifest)
                engine = _pg_engine(self.url) if self.sqlite_path is None else None
                try:
                    tools = self._pg_tools(engine, manifest) if engine is not None else None
                    self._check_empty(engine, force)
                    progress.phase("extract and verify", manifest.database.size
                                   + sum(e.size for e in manifest.files))
                    self._extract(members, manifest, staging, progress)
                    progress.phase("restore database", 0)
                    if engine is not None and tools is not None:
                        self._restore_postgres(engine, tools, staging, manifest, force)
                    else:
                        self._restore_sqlite(staging, manifest)
                finally:
                    if engine is not None:
                        engine.dispose()
            self._place_files(staging, force)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        progress.phase("migrate and count", 0)
        revision, counts = self._migrate_and_count()
        _check_counts(counts, manifest, "run it again with --force")
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

    def _pg_tools(self, engine: Engine, manifest: Manifest) -> backup_pg.PgTools:
        with engine.connect() as conn:
            _, major = _server_version(conn)
        return backup_pg.find_pg_tools(self.settings.pg_bin_dir, max(major, manifest.dump_tool_major or 0))

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
            backup_archive.extract_verified(stream, entry, staging / parts.safe_member(info.name), progress.advance)
        if missing := sorted(set(expected) - seen):
            raise CorruptBackup(f"the archive is incomplete: {len(missing)} member(s) missing, e.g. {missing[0]}; "
                                "use another copy of the backup")
        if manifest.database_kind == "sqlite":
            parts.check_sqlite(staging / parts.SQLITE_MEMBER)

    def _restore_sqlite(self, staging: Path, manifest: Manifest) -> None:
        """Migrate, release and count the staged copy; only then replace the target, by one rename."""
        assert self.sqlite_path is not None
        staged = staging / parts.SQLITE_MEMBER
        db = Database(f"sqlite:///{staged}")
        try:
            db.migrate()
            with db.engine.begin() as conn:
                parts.release_leases(conn)
                _, counts = parts.read_state(conn)
        except (SQLAlchemyError, CommandError) as exc:
            raise CorruptBackup(f"the database in the backup cannot be brought to this vidrag's schema "
                                f"({_reason(exc)}); the target was not changed: use another copy of the backup"
                                ) from exc
        finally:
            db.dispose()
        _check_counts(counts, manifest, "the target was not changed; use another copy of the backup")
        parts.settle_sqlite(staged)
        parts.replace_sqlite(staged, self.sqlite_path)

    def _restore_postgres(self, engine: Engine, tools: backup_pg.PgTools, staging: Path, manifest: Manifest,
                          force: bool) -> None:
        with engine.begin() as conn:
            try:
                conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
            except Exception as exc:
                raise BackupError("the database lacks the pgvector extension and this role may not create it: run "
                                  "CREATE EXTENSION vector in it as a superuser, then restore again",
                                  code="pgvector_missing") from exc
        backup_pg.pg_restore(tools, self.url, staging / parts.PG_MEMBER, staging,
                         replace_sql=_DROP_VIDRAG_OBJECTS if force else "", counts=manifest.counts)

    def _place_files(self, staging: Path, force: bool) -> None:
        """After the database: the staged files go into media/ and documents/ (emptied first with --force, and
        tmp/ too). Their contents move, not the dirs: one may be a mount point or a link to another disk."""
        data_dir, files_dir = self.settings.data_dir, staging / parts.FILES_PREFIX.rstrip("/")
        for name in DATA_PARTS:
            current, new = data_dir / name, files_dir / name
            if force and current.is_dir():
                for child in list(current.iterdir()):
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child, ignore_errors=True)
                    else:
                        child.unlink(missing_ok=True)
            if new.is_dir():
                current.mkdir(exist_ok=True)
                for child in sorted(new.iterdir()):  # a task's or document's dir: a rename (staging is in data/)
                    shutil.move(str(child), str(current / child.name))
        if files_dir.is_dir():
            for path in sorted(p for p in files_dir.rglob("*") if p.is_file()):  # .secret_key
                backup_archive.move_into_place(path, data_dir / path.relative_to(files_dir))
        secret = data_dir / parts.SECRET_FILE
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
        except (SQLAlchemyError, CommandError) as exc:  # PostgreSQL: the restore is committed, its migration not
            raise BackupError(f"the backup was restored but migrating it to this vidrag's schema failed "
                              f"({_reason(exc)}); fix the cause and run `vidrag migrate`",
                              code="restore_migration_failed") from exc
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


def _reason(exc: Exception) -> str:
    """The database's own words (the first line of the driver's error), without SQLAlchemy's statement dump."""
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]


def _check_counts(counts: dict[str, int], manifest: Manifest, then: str) -> None:
    if counts != manifest.counts:
        raise BackupError(f"the restored database holds {counts}, the backup recorded {manifest.counts}; the "
                          f"restore is incomplete: {then}", code="restore_incomplete")


# What the migrations and the dump create: the tables (with their HNSW/GIN indexes), the BM25 function. One
# statement for the tables, so their foreign keys need no order; no CASCADE: an object of someone else's that
# depends on them fails the restore (rolled back) instead of vanishing.
_DROP_VIDRAG_OBJECTS = (
    f"DROP TABLE IF EXISTS {', '.join(t.name for t in reversed(Base.metadata.sorted_tables))}, alembic_version;\n"
    "DROP FUNCTION IF EXISTS vidrag_bm25(tsvector, integer, text[], float8[], float8);\n")
