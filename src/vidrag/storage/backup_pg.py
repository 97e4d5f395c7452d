"""PostgreSQL's own tools for backups: finding a pg_dump/pg_restore/psql new enough for the server, a dump of an
exported snapshot, and a restore that replaces the database in one psql transaction (drop, restore, count).

The password goes to the tools through ``PGPASSWORD``, never on the command line; libpq's TLS and passfile settings
in the URL are kept.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from vidrag.storage.backup import COUNTED_TABLES, BackupError, ToolFailed, ToolMissing


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
