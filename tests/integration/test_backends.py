"""The test infrastructure itself: a real PostgreSQL 16 with pgvector and a real Redis, as tests/support/backends.py
provides them."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import redis
import sqlalchemy as sa

from tests.support import backends
from tests.support.backends import PostgresServer, RedisHandle


@contextmanager
def engine_for(url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a stopped postmaster may linger as a zombie until init reaps it: that is not a running server
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


# PostgreSQL


def test_server_is_postgres_16_on_loopback_with_test_settings(pg_server: PostgresServer) -> None:
    with pg_server.connect() as conn:
        rows = conn.execute("SELECT name, setting FROM pg_settings WHERE name = ANY(%s)",
                            (["listen_addresses", "fsync", "synchronous_commit", "full_page_writes",
                              "max_connections", "server_version_num"],)).fetchall()
        settings = {str(name): str(value) for name, value in rows}
        user = conn.execute("SELECT current_user, usesuper FROM pg_user WHERE usename = current_user").fetchone()
    assert settings["listen_addresses"] == "127.0.0.1"
    assert int(settings["server_version_num"]) // 10000 == 16
    assert (settings["fsync"], settings["synchronous_commit"], settings["full_page_writes"]) == ("off", "off", "off")
    assert int(settings["max_connections"]) >= 200
    assert user == ("vidrag", True)
    assert pg_server.url("x") == f"postgresql+psycopg://vidrag@127.0.0.1:{pg_server.port}/x"


def test_pgvector_hnsw_cosine_nearest_neighbour(pg_database: str) -> None:
    with engine_for(pg_database) as engine, engine.begin() as conn:
        version = conn.execute(sa.text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")).scalar_one()
        assert version_tuple(version) >= (0, 8)
        conn.execute(sa.text("CREATE TABLE items (id int PRIMARY KEY, embedding vector(3) NOT NULL)"))
        conn.execute(sa.text("CREATE INDEX items_hnsw ON items USING hnsw (embedding vector_cosine_ops)"))
        conn.execute(sa.text("INSERT INTO items VALUES (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0,0,1]'), "
                             "(4, '[1,1,0]'), (5, '[-1,0,0]')"))
        conn.execute(sa.text("SET LOCAL enable_seqscan = off"))  # so the HNSW index, not a sort, answers
        query = "SELECT id FROM items ORDER BY embedding <=> CAST(:q AS vector) LIMIT 2"
        plan = "\n".join(conn.execute(sa.text(f"EXPLAIN {query}"), {"q": "[0.9,0.1,0]"}).scalars())
        assert "items_hnsw" in plan
        assert conn.execute(sa.text(query), {"q": "[0.9,0.1,0]"}).scalars().all() == [1, 4]
        assert conn.execute(sa.text(query), {"q": "[0,0.2,5]"}).scalars().first() == 3
        distance = conn.execute(sa.text("SELECT embedding <=> '[-2,0,0]' FROM items WHERE id = 1")).scalar_one()
        assert distance == pytest.approx(2.0)  # cosine distance of opposite vectors


def test_full_text_search(pg_database: str) -> None:
    with engine_for(pg_database) as engine, engine.connect() as conn:
        def matches(text: str, query: str) -> bool:
            return bool(conn.execute(sa.text("SELECT to_tsvector('simple', :t) @@ to_tsquery('simple', :q)"),
                                     {"t": text, "q": query}).scalar_one())

        assert matches("The quick brown fox jumps over the lazy dog", "quick & fox")
        assert matches("The quick brown fox", "fox | cat")
        assert not matches("The quick brown fox", "quick & cat")
        assert matches("Grüße aus München", "münchen")  # UTF-8 database, case folded
        assert matches("transcoding videos", "transcod:*")


def test_fresh_databases_are_isolated_and_dropped(pg_server: PostgresServer) -> None:
    first, second = "iso_first", "iso_second"
    try:
        url_first = pg_server.create_database(first)  # no template: CREATE EXTENSION in the new database
        url_second = pg_server.create_database(second, template=pg_server.vector_template())
        with engine_for(url_first) as engine, engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE only_here (v text)"))
            conn.execute(sa.text("INSERT INTO only_here VALUES ('first')"))
        with engine_for(url_second) as engine, engine.connect() as conn:
            assert conn.execute(sa.text("SELECT to_regclass('only_here')")).scalar_one() is None
            assert conn.execute(sa.text("SELECT count(*) FROM pg_extension WHERE extname = 'vector'")).scalar_one()
        # dropping works while someone is still connected (WITH (FORCE) terminates them)
        with psycopg.connect(url_first.replace("+psycopg", ""), autocommit=True) as lingering:
            pg_server.drop_database(first)
            with pytest.raises(psycopg.OperationalError):
                lingering.execute("SELECT 1")
    finally:
        pg_server.drop_database(first)
        pg_server.drop_database(second)
    with pg_server.connect() as conn:
        left = conn.execute("SELECT datname FROM pg_database WHERE datname = ANY(%s)", ([first, second],)).fetchall()
    assert left == []


def test_many_connections_at_once(pg_database: str) -> None:
    """Tests open several pools at once: 150 concurrent connections to one database must be accepted."""
    plain = pg_database.replace("+psycopg", "")
    connections = [psycopg.connect(plain) for _ in range(150)]
    try:
        assert {c.execute("SELECT 1").fetchone() for c in connections} == {(1,)}
    finally:
        for c in connections:
            c.close()


def test_parallel_databases(pg_server: PostgresServer) -> None:
    """Fixtures of concurrently running tests may create databases from the same template at the same time."""
    names = [f"par_{i}" for i in range(6)]
    errors: list[BaseException] = []
    template = pg_server.vector_template()

    def create(name: str) -> None:
        try:
            pg_server.create_database(name, template=template)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(name,)) for name in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
    finally:
        for name in names:
            pg_server.drop_database(name)


def test_mirrored_binaries_when_the_venv_is_unreachable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As root with /work mode 700, the system user cannot run the venv's binaries: a mirror of them must work."""
    pginstall, _ = backends._pgserver_dist()
    original = backends._RunAs.can_access

    def cannot_reach_venv(self: backends._RunAs, path: Path, mode: int) -> bool:
        return not path.is_relative_to(pginstall) and original(self, path, mode)

    monkeypatch.setattr(backends._RunAs, "can_access", cannot_reach_venv)
    server = PostgresServer.start(tmp_path)
    try:
        assert not server.bindir.is_relative_to(pginstall)
        assert server.bindir.is_relative_to(server.workdir)
        server.create_database("mirrored")
        with server.connect("mirrored") as conn:
            assert conn.execute("SELECT '[1,2]'::vector <-> '[1,3]'::vector").fetchone() == (1.0,)
        postmaster = int((server.data_dir / "postmaster.pid").read_text().split()[0])
    finally:
        server.stop()
    assert not process_exists(postmaster)
    assert not server.data_dir.exists()
    assert not (server.workdir / "dist").exists()
    server.stop()  # idempotent


def test_unavailable_skips_or_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(backends.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="no such service"):
        backends._unavailable("no such service")
    monkeypatch.setenv(backends.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="no such service"):
        backends._unavailable("no such service")


# Redis


def test_redis_ping_set_get(redis_url: str) -> None:
    expected_db = int(os.environ.get(backends.REDIS_DB_ENV, "9"))
    assert redis_url.endswith(f"/{expected_db}")
    with redis.Redis.from_url(redis_url) as client:
        assert client.ping()
        assert client.dbsize() == 0  # flushed for this test
        assert client.set("vidrag:test", "value", ex=60)
        assert client.get("vidrag:test") == b"value"
        assert client.connection_pool.connection_kwargs["db"] == expected_db


def test_redis_pubsub_round_trip(redis_url: str) -> None:
    with redis.Redis.from_url(redis_url) as client:
        pubsub = client.pubsub()
        try:
            pubsub.subscribe("vidrag:test:events")
            confirmation = pubsub.get_message(timeout=5)  # the subscription is in place once this arrives
            assert confirmation is not None
            assert (confirmation["type"], confirmation["data"]) == ("subscribe", 1)
            assert client.publish("vidrag:test:events", "hello") == 1  # one subscriber received it
            message = pubsub.get_message(timeout=5)
            assert message is not None
            assert (message["channel"], message["data"]) == (b"vidrag:test:events", b"hello")
        finally:
            pubsub.close()


def test_started_redis_server_when_none_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On machines without a Redis on 6379 the tests start their own redis-server, and stop only that one."""
    if shutil.which("redis-server") is None:
        pytest.skip("no redis-server binary here")
    original = backends._redis_answers
    system_redis = original(6379)
    monkeypatch.setattr(backends, "_redis_answers", lambda port: port != 6379 and original(port))
    handle = backends.find_redis(tmp_path)
    assert isinstance(handle, RedisHandle)
    assert handle.process is not None
    assert handle.port != 6379
    try:
        with redis.Redis.from_url(handle.url(3)) as client:
            assert client.set("k", "v")
            assert client.get("k") == b"v"
            assert client.config_get("save") == {"save": ""}
            assert client.config_get("appendonly") == {"appendonly": "no"}
            assert client.config_get("bind")["bind"] == "127.0.0.1"
    finally:
        handle.stop()
    assert handle.process.poll() is not None
    assert not original(handle.port)
    RedisHandle(6379).stop()  # a server that was found, not started, is never stopped
    assert original(6379) == system_redis
