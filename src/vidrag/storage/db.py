"""Engine and session factory. SQLite runs in WAL mode so readers never wait for the writer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def make_engine(url: str) -> Engine:
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
    return create_engine(url, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (run at every start; a no-op when current)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


class Database:
    """Owns the engine; hands out short-lived sessions (one per request or per job step)."""

    HEALTH_TTL = 5.0  # seconds a health answer is reused, so health checks stay cheap under load

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
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

    def dispose(self) -> None:
        self.engine.dispose()
