"""Engine and session factory.

SQLite runs in WAL mode so readers never wait for the writer. PostgreSQL gets a bounded pool: when every
connection is busy for ``timeout`` seconds, SQLAlchemy raises TimeoutError, which the API answers with 503
``database_busy`` instead of letting requests pile up.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from vidrag.settings import Settings
from vidrag.storage import pg_search

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HnswConfig:
    m: int = 16
    ef_construction: int = 64
    ef_search: int = 100


@dataclass(frozen=True)
class PoolConfig:
    size: int = 10
    max_overflow: int = 10
    timeout: float = 10.0


def make_engine(url: str, pool: PoolConfig | None = None) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    pool = pool or PoolConfig()
    return create_engine(url, pool_pre_ping=True, pool_size=pool.size, max_overflow=pool.max_overflow,
                         pool_timeout=pool.timeout, pool_recycle=1800)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (run at every start; a no-op when current)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":  # API replicas and workers may start together
            connection.execute(text("SELECT pg_advisory_xact_lock(7252089)"))
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


class Database:
    """Owns the engine; hands out short-lived sessions (one per request or per job step)."""

    HEALTH_TTL = 5.0  # seconds a health answer is reused, so health checks stay cheap under load

    def __init__(self, url: str, pool: PoolConfig | None = None, hnsw: HnswConfig | None = None) -> None:
        self.engine = make_engine(url, pool)
        self.hnsw = hnsw or HnswConfig()
        self.postgres = self.engine.dialect.name == "postgresql"
        self._vector_dims: set[int] = set()
        self.keyword_stats = pg_search.KeywordStats()  # PostgreSQL BM25 statistics, per index version
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._health_at = float("-inf")
        self._healthy = False

    @property
    def health_stale(self) -> bool:
        return time.monotonic() - self._health_at > self.HEALTH_TTL

    @property
    def healthy(self) -> bool:
        """The last health answer (see check_health)."""
        return self._healthy

    def check_health(self) -> bool:
        """Run `SELECT 1` and remember the answer."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            self._healthy = True
        except SQLAlchemyError:
            self._healthy = False
        self._health_at = time.monotonic()
        return self._healthy

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    def migrate(self) -> None:
        migrate(self.engine)

    def ensure_vector_index(self, dimension: int) -> None:
        """PostgreSQL: make sure ``dimension``-sized vectors have their HNSW index (SQLite: nothing to do)."""
        if not self.postgres or dimension in self._vector_dims:
            return
        if pg_search.ensure_vector_index(self.engine, dimension, self.hnsw.m, self.hnsw.ef_construction):
            log.info("created the HNSW index for %d-dimensional vectors", dimension)
        self._vector_dims.add(dimension)

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(settings: Settings) -> Database:
    """The configured database: SQLite in the data dir by default, PostgreSQL when VIDRAG_DATABASE_URL says so."""
    return Database(settings.sqlalchemy_url,
                    PoolConfig(settings.database_pool_size, settings.database_max_overflow,
                               settings.database_pool_timeout_seconds),
                    HnswConfig(settings.hnsw_m, settings.hnsw_ef_construction, settings.hnsw_ef_search))
