"""The parts of a backup: database snapshots (SQLite online backup, pg_dump / pg_restore) and the archive.

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
import re
import shutil
import sqlite3
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

import zstandard
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
ZSTD_LEVEL = 3
MAX_MANIFEST_BYTES = 256 << 20

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


# --- PostgreSQL -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PgTools:
    pg_dump: Path
    pg_restore: Path
    psql: Path
    major: int


def _major(binary: Path) -> int | None:
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return None
    found = re.search(r"(\d+)(?:\.\d+)?", out.stdout)
    return int(found.group(1)) if out.returncode == 0 and found else None


def _candidate_dirs(bin_dir: Path | None) -> list[Path]:
    if bin_dir is not None:
        return [bin_dir]
    dirs = [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    # Debian/Ubuntu keep every installed major version here, the newest first
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: _version_key(p.parent.name),
                      reverse=True)
    return [*dirs, *versions]


def _version_key(name: str) -> int:
    return int(name) if name.isdigit() else -1


def find_pg_tools(bin_dir: Path | None, server_major: int) -> PgTools:
    """pg_dump, pg_restore and psql of at least the server's major version (an older pg_dump refuses a newer
    server), from one directory so that they agree with each other."""
    seen: list[str] = []
    for directory in _candidate_dirs(bin_dir):
        dump, restore, psql = directory / "pg_dump", directory / "pg_restore", directory / "psql"
        if not (dump.is_file() and restore.is_file() and psql.is_file()):
            continue
        major = _major(dump)
        seen.append(f"{dump} ({major or 'unknown version'})")
        if major is not None and major >= server_major:
            return PgTools(dump, restore, psql, major)
    where = f"VIDRAG_PG_BIN_DIR={bin_dir}" if bin_dir is not None else "PATH and /usr/lib/postgresql/*/bin"
    found = f"found only {', '.join(seen)}" if seen else "found none"
    raise ToolMissing(f"needs pg_dump, pg_restore and psql {server_major} or newer for this PostgreSQL {server_major} "
                      f"server; looked in {where} and {found}. Install the PostgreSQL {server_major} client "
                      f"(e.g. apt-get install postgresql-client-{server_major}) or set VIDRAG_PG_BIN_DIR to its "
                      "bin directory")


def libpq_target(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection URI for ``--dbname`` and the environment: the password goes in PGPASSWORD, never in argv."""
    parsed = make_url(url)
    # The URL names the server, database and user; libpq's other settings (PGSSLMODE, PGSSLROOTCERT, PGPASSFILE...)
    # stay, so the tools connect the way the service does. Only what could point them elsewhere is dropped.
    env = {k: v for k, v in os.environ.items() if k not in ("PGPASSWORD", "PGDATABASE", "PGSERVICE", "PGHOST",
                                                            "PGHOSTADDR", "PGPORT", "PGUSER", "PGOPTIONS")}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def pg_dump(tools: PgTools, url: str, dest: Path, snapshot: str | None) -> None:
    """Custom-format dump, uncompressed (the archive compresses), of the snapshot another session exported."""
    dbname, env = libpq_target(url)
    args = [str(tools.pg_dump), "--format=custom", "--compress=0", "--no-owner", "--no-acl", f"--file={dest}",
            f"--dbname={dbname}"]
    if snapshot:
        args.insert(1, f"--snapshot={snapshot}")
    _run(args, env, "pg_dump")


def pg_restore(tools: PgTools, url: str, dump: Path, work: Path, *, replace_sql: str,
               counts: dict[str, int]) -> None:
    """Restore the dump as one transaction: ``replace_sql`` (dropping what it replaces), the dump, and a check of
    the row counts; the first error rolls all of it back, so the database is either restored or as it was.

    pg_restore --single-transaction cannot do this (its transaction starts after any drop of ours), so pg_restore
    writes the dump's SQL to a file (failing on a damaged dump before the database is touched) and psql runs
    the three parts with --single-transaction and ON_ERROR_STOP. The extension is created beforehand, not by
    the dump (creating or commenting on an extension needs rights an application role often does not have).
    """
    dbname, env = libpq_target(url)
    listing = _run([str(tools.pg_restore), "--list", str(dump)], env, "pg_restore --list")
    wanted = [line for line in listing.splitlines()
              if not re.match(r"^\d+; \d+ \d+ (EXTENSION|COMMENT - EXTENSION) ", line)]
    list_file, script = work / "restore.list", work / "restore.sql"
    list_file.write_text("\n".join(wanted) + "\n")
    _run([str(tools.pg_restore), "--no-owner", "--no-acl", f"--use-list={list_file}", f"--file={script}",
          str(dump)], env, "pg_restore")
    before, after = work / "replace.sql", work / "check.sql"
    before.write_text(f"SET LOCAL client_min_messages = warning;\n{replace_sql}")
    after.write_text(count_check_sql(counts))
    try:
        _run([str(tools.psql), "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", "--single-transaction",
              "--output=/dev/null", f"--dbname={dbname}", f"--file={before}", f"--file={script}",
              f"--file={after}"], env, "psql")
    except ToolFailed as exc:
        if exc.returncode != PSQL_SCRIPT_ERROR:  # a lost connection or psql itself: say only what is known
            raise
        raise BackupError(f"the restore failed and was rolled back, the database is as it was: {exc.detail}",
                          code="restore_rolled_back") from exc


PSQL_SCRIPT_ERROR = 3  # psql: an SQL error stopped the script (ON_ERROR_STOP); the transaction was rolled back


def count_check_sql(counts: dict[str, int]) -> str:
    """A DO block that fails unless every counted table holds the rows the manifest recorded."""
    checks = []
    for table in COUNTED_TABLES:
        expected = int(counts.get(table, -1))
        checks.append(f"  SELECT count(*) INTO found FROM {table};\n"  # noqa: S608 - fixed names, an int
                      f"  IF found <> {expected} THEN RAISE EXCEPTION 'restored {table}: % rows, the backup "
                      f"recorded {expected}', found; END IF;\n")
    # the dump's script emptied search_path; the service finds its tables through the role's default one
    return f"RESET search_path;\nDO $check$ DECLARE found bigint; BEGIN\n{''.join(checks)}END $check$;\n"


def _run(args: list[str], env: dict[str, str], what: str) -> str:
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=24 * 3600, check=False)
    except OSError as exc:
        raise ToolMissing(f"{what} could not run ({exc}); check VIDRAG_PG_BIN_DIR") from exc
    if done.returncode != 0:
        raise ToolFailed(what, done.returncode, done.stderr.strip()[-1500:])
    return done.stdout


# --- the archive ------------------------------------------------------------------------------------------
class ArchiveWriter:
    """Members appended in order to a zstd-compressed tar stream."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._zstd = zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=-1).stream_writer(fh, closefd=False)
        self._tar = tarfile.open(fileobj=self._zstd, mode="w|", format=tarfile.PAX_FORMAT)  # noqa: SIM115

    def add_bytes(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(data), 0o600, int(time.time())
        self._tar.addfile(info, _BytesReader(data))

    def add_file(self, entry: FileEntry, path: Path, advance: Advance | None = None) -> None:
        """Add ``path`` as ``entry``; the bytes must still hash to the entry's checksum (a file changed meanwhile
        would otherwise be archived under a checksum it does not have)."""
        info = tarfile.TarInfo(entry.path)
        info.size, info.mode, info.mtime = entry.size, 0o600, int(path.stat().st_mtime)
        with path.open("rb") as fh:
            reader = _HashingReader(fh, entry.size, advance)
            self._tar.addfile(info, reader)
        if reader.hexdigest() != entry.sha256:
            raise BackupError(f"{path} changed while it was being backed up; run the backup again",
                              code="backup_file_changed")

    def close(self) -> None:
        self._tar.close()
        self._zstd.flush(zstandard.FLUSH_FRAME)
        self._zstd.close()  # type: ignore[no-untyped-call]


@contextmanager
def write_archive(path: Path) -> Iterator[ArchiveWriter]:
    """Write to ``path``.partial (mode 600: the archive holds the database), renamed to ``path`` when complete."""
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            writer = ArchiveWriter(fh)
            yield writer
            writer.close()
            fh.flush()
            os.fsync(fh.fileno())
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        end = len(self._data) if n < 0 else self._pos + n
        chunk = bytes(self._data[self._pos:end])
        self._pos += len(chunk)
        return chunk


class _HashingReader:
    """Reads exactly ``size`` bytes (a file that shrank meanwhile is an error), hashing them."""

    def __init__(self, fh: IO[bytes], size: int, advance: Advance | None) -> None:
        self._fh, self._left, self._advance = fh, size, advance
        self._digest = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        want = self._left if n < 0 else min(n, self._left)
        chunk = self._fh.read(want)
        if len(chunk) < want:
            raise BackupError("a file shrank while it was being backed up; run the backup again",
                              code="backup_file_changed")
        self._left -= len(chunk)
        self._digest.update(chunk)
        if self._advance:
            self._advance(len(chunk))
        return chunk

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


@contextmanager
def read_archive(path: Path) -> Iterator[Iterator[tuple[tarfile.TarInfo, IO[bytes]]]]:
    """The archive's members in order, each with a stream of its bytes (valid until the next member)."""
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror}", code="backup_unreadable") from exc
    with fh:
        if fh.read(4) != b"\x28\xb5\x2f\xfd":
            raise CorruptBackup(f"{path} is not a vidrag backup (not a zstd-compressed archive)")
        fh.seek(0)
        reader = zstandard.ZstdDecompressor().stream_reader(fh, read_across_frames=True)
        try:
            tar = tarfile.open(fileobj=reader, mode="r|")  # noqa: SIM115 - closed with the file
            yield _members(tar)
        except (tarfile.TarError, zstandard.ZstdError, EOFError) as exc:
            raise CorruptBackup(f"{path} is damaged or truncated ({exc}); use another copy of the backup") from exc


def _members(tar: tarfile.TarFile) -> Iterator[tuple[tarfile.TarInfo, IO[bytes]]]:
    for info in tar:
        if not info.isfile():
            raise CorruptBackup(f"the archive holds {info.name!r}, which is not a regular file; it was not made by "
                                "vidrag backup")
        stream = tar.extractfile(info)
        assert stream is not None
        yield info, stream


def read_manifest(first: tuple[tarfile.TarInfo, IO[bytes]] | None) -> Manifest:
    if first is None or first[0].name != MANIFEST:
        raise CorruptBackup("the archive does not start with a vidrag manifest; it is not a vidrag backup")
    if first[0].size > MAX_MANIFEST_BYTES:
        raise CorruptBackup("the archive's manifest is implausibly large; it is not a vidrag backup")
    return Manifest.from_bytes(first[1].read())


def extract_verified(stream: IO[bytes], entry: FileEntry, dest: Path, advance: Advance | None = None) -> None:
    """Write a member to ``dest`` and check its size and checksum against the manifest."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    with dest.open("wb") as out:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
            if advance:
                advance(len(chunk))
    if size != entry.size or digest.hexdigest() != entry.sha256:
        raise CorruptBackup(f"{entry.path} in the archive does not match its checksum; the backup is damaged, use "
                            "another copy")


def move_into_place(source: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(source), str(dest))
