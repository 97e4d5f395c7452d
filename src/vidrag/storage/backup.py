"""The parts of a backup: the manifest, pinned files, schema state and SQLite snapshots; PostgreSQL's tools are in
``backup_pg`` and the archive stream in ``backup_archive``.

An archive is one tar stream compressed with zstd (``.tar.zst``; ``tar --zstd -tf`` lists it). Its first member is
``manifest.json``, so a restore reads what it is about to do (kind, schema revision, counts, checksums) before it
extracts anything; then ``database/...`` and ``files/<path relative to the data dir>``. zstd, not gzip: media is
already compressed, and on this 2-core VM gzip -1 pushed incompressible data through at 19 MB/s where zstd -3 did
330 MB/s (it stores incompressible blocks as they are).

Files are pinned (hard-linked, or copied where a link is impossible) right after the database snapshot, so that
retention or a user deleting one while the backup runs cannot take it away between its checksum and its copy. A
restore changes the target only once everything has been checked: PostgreSQL in one psql transaction (drop,
restore, count), SQLite by one rename of a database already migrated and counted.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterable
from contextlib import closing, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from vidrag.domain.errors import VidragError
from vidrag.storage.db import MIGRATIONS_DIR

FORMAT = "vidrag-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/vidrag.db"
PG_MEMBER = "database/vidrag.pgdump"
FILES_PREFIX = "files/"
SECRET_FILE = ".secret_key"  # noqa: S105 - a file name: the generated secret (Settings), kept with the backup
FILE_ROOTS = ("media", "documents")  # the data-dir folders whose files the database references (referenced_files)
COUNTED_TABLES = ("tasks", "media_files", "datasets", "documents", "transcripts", "segments")
CHUNK = 1 << 20

Advance = Callable[[int], None]


class BackupError(VidragError):
    """A backup or restore that cannot go on; the message says what to do."""

    code = "backup_failed"


class CorruptBackup(BackupError):
    code = "backup_corrupt"


class WrongBackupKind(BackupError):
    code = "backup_wrong_kind"


class TargetNotEmpty(BackupError):
    code = "restore_target_not_empty"


class ToolMissing(BackupError):
    code = "backup_tool_missing"


class ToolFailed(BackupError):
    code = "database_tool_failed"

    def __init__(self, tool: str, returncode: int, detail: str) -> None:
        super().__init__(f"{tool} failed (exit {returncode}): {detail}")
        self.returncode, self.detail = returncode, detail


# --- manifest ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FileEntry:
    path: str  # archive member name
    size: int
    sha256: str


@dataclass
class Manifest:
    created_at: str
    vidrag_version: str
    schema_revision: str
    database_kind: str  # sqlite | postgresql
    database: FileEntry
    counts: dict[str, int]
    include_media: bool
    files: list[FileEntry] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)  # referenced by the database, gone from disk
    database_server_version: str | None = None
    dump_tool_major: int | None = None

    def to_bytes(self) -> bytes:
        body = {"format": FORMAT, "format_version": FORMAT_VERSION, **asdict(self)}
        return json.dumps(body, indent=1, ensure_ascii=False).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Manifest:
        try:
            body = json.loads(raw)
            if body.get("format") != FORMAT:
                raise CorruptBackup("this is not a vidrag backup (its manifest is of another format)")
            if body.get("format_version") != FORMAT_VERSION:
                raise BackupError(f"backup format {body.get('format_version')} is not supported by this vidrag "
                                  f"(it reads format {FORMAT_VERSION}); restore it with the vidrag that made it",
                                  code="backup_format_unsupported")
            body.pop("format")
            body.pop("format_version")
            body["database"] = FileEntry(**body["database"])
            body["files"] = [FileEntry(**f) for f in body["files"]]
            manifest = cls(**body)
            if not all(isinstance(n, int) for n in manifest.counts.values()):
                raise TypeError("counts must be numbers")
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise CorruptBackup(f"the backup's manifest is unreadable ({exc}); the archive is damaged") from exc
        if manifest.database.path not in (SQLITE_MEMBER, PG_MEMBER):
            raise CorruptBackup(f"the archive's database is {manifest.database.path!r}; "
                                "it was not made by vidrag backup")
        for entry in manifest.files:  # restore puts these in the data dir: only where media, uploads and the secret go
            member = safe_member(entry.path).parts
            if member[0] != FILES_PREFIX.rstrip("/") or not (
                    member[1:] == (SECRET_FILE,) or (len(member) > 2 and member[1] in FILE_ROOTS)):
                raise CorruptBackup(f"the archive names a file outside media/, documents/ and {SECRET_FILE} "
                                    f"({entry.path!r}); it was not made by vidrag backup")
        return manifest

    def entries(self) -> dict[str, FileEntry]:
        return {e.path: e for e in [self.database, *self.files]}


def safe_member(name: str) -> PurePosixPath:
    """An archive member name that stays inside the restore directory, or CorruptBackup."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts or "\\" in name:
        raise CorruptBackup(f"the archive names an unsafe path ({name!r}); it was not made by vidrag backup")
    return path


def sha256_file(path: Path, advance: Advance | None = None) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            if advance:
                advance(len(chunk))
    return digest.hexdigest()


def file_entry(member: str, path: Path, advance: Advance | None = None) -> FileEntry:
    return FileEntry(member, path.stat().st_size, sha256_file(path, advance))


def pin_files(data_dir: Path, wanted: Iterable[str], pins: Path) -> tuple[dict[str, Path], list[str]]:
    """Hard-link each file (data-dir relative) into ``pins``, so that deleting it from now on (retention, a user)
    cannot take it from the backup. Returns the pinned paths by name, and the names already gone from disk."""
    pinned: dict[str, Path] = {}
    missing: list[str] = []
    for rel in wanted:
        pin = pins / str(len(pinned))
        try:
            _link_or_copy(data_dir / safe_member(rel), pin)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            missing.append(rel)
        else:
            pinned[rel] = pin
    return pinned, missing


def _link_or_copy(source: Path, dest: Path) -> None:
    try:
        os.link(source, dest)
    except (FileNotFoundError, NotADirectoryError):
        raise
    except OSError:  # another file system, fs.protected_hardlinks, no hard links there: a copy pins it too
        shutil.copy2(source, dest)


# --- schema ----------------------------------------------------------------------------------------------
def _scripts() -> ScriptDirectory:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(cfg)


def schema_head() -> str:
    head = _scripts().get_current_head()
    assert head is not None
    return head


def is_known_revision(revision: str) -> bool:
    """Whether this vidrag's migrations contain ``revision`` (a newer vidrag's backup does not)."""
    return any(s.revision == revision for s in _scripts().walk_revisions())


def read_state(conn: Connection) -> tuple[str, dict[str, int]]:
    """(schema revision, row counts) as seen by ``conn`` (a snapshot's connection)."""
    revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    counts = {t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()) for t in COUNTED_TABLES}  # noqa: S608 - fixed names
    return str(revision), counts


def referenced_files(conn: Connection) -> list[str]:
    """Files the database points at, relative to the data dir: media files and uploaded documents."""
    media = [f"media/{p}" for p in conn.execute(text("SELECT rel_path FROM media_files ORDER BY id")).scalars()]
    docs = conn.execute(text("SELECT file_path FROM documents WHERE file_path IS NOT NULL ORDER BY id")).scalars()
    return [*media, *(str(p) for p in docs)]


def release_leases(conn: Connection) -> None:
    """A restored installation is a new one: no process holds its work, so recovery may take it up at once."""
    for table in ("tasks", "documents"):
        conn.execute(text(f"UPDATE {table} SET owner = NULL WHERE owner IS NOT NULL"))  # noqa: S608 - fixed names


# --- SQLite -----------------------------------------------------------------------------------------------
def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL, None for any other database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up; set VIDRAG_DATABASE_URL to a file")
    return Path(parsed.database)


def snapshot_sqlite(source: Path, dest: Path) -> None:
    """A consistent copy of a live database through SQLite's online backup API.

    One step (pages=-1) is one read transaction: in WAL mode writers go on meanwhile and never restart the copy.
    The copy is switched to a rollback journal so that it is a single self-contained file.
    """
    if not source.is_file():
        raise BackupError(f"there is no database at {source}; check VIDRAG_DATA_DIR (or VIDRAG_DATABASE_URL)")
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(dest)
    try:
        src.execute("PRAGMA busy_timeout=30000")
        src.backup(dst, pages=-1)
        dst.execute("PRAGMA journal_mode=DELETE")
    finally:
        dst.close()
        src.close()


def check_sqlite(path: Path) -> None:
    with closing(sqlite3.connect(path)) as conn:
        verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
    if verdict != "ok":
        raise CorruptBackup(f"the database in the backup fails SQLite's check ({verdict})")


def settle_sqlite(path: Path) -> None:
    """Fold a WAL into the database file and leave rollback-journal mode: one self-contained file to move."""
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")


def replace_sqlite(new: Path, target: Path) -> None:
    """Put the database ``new`` in place of ``target`` by one rename: a failure before it leaves the old one whole.

    The old database's WAL (or hot journal) is folded into it and its side files are removed first: a WAL left
    beside the new file would be replayed into it.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    incoming = target.with_name(f"{target.name}.restoring")
    try:
        shutil.move(str(new), str(incoming))  # a rename, unless the database lives on another file system
        _fsync(incoming)
        if target.exists():
            with suppress(sqlite3.Error), closing(sqlite3.connect(target)) as old:  # --force replaces a broken one too
                old.execute("SELECT count(*) FROM sqlite_master")  # rolls a hot journal back
                old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for suffix in ("-wal", "-shm", "-journal"):
            target.with_name(target.name + suffix).unlink(missing_ok=True)
        incoming.replace(target)
    except BaseException:
        incoming.unlink(missing_ok=True)
        raise
    _fsync(target.parent)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
