"""`vidrag backup` / `vidrag restore` as an operator runs them, embedded and on PostgreSQL 16 (its own pg_dump).

A real installation (text documents, an uploaded Markdown file, a video transcribed by Whisper) answers questions;
it is backed up while it runs, stopped, its data dir wiped and its database dropped and created again (empty, not
even pgvector), restored, started: the same retrieval records, answers and citations come back, and the video is
served again byte for byte. Also: a backup without media, a backup taken while documents keep arriving, the refusals
(non-empty target, damaged archive, wrong database kind, missing pg_dump) and what they tell the operator; files
that retention or a user deletes while a backup runs; a forced restore that fails midway and leaves the target
as it was.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import socket
import subprocess
import tarfile
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import zstandard
from psycopg import sql
from typer.testing import CliRunner

from tests.conftest import Backend, ModuleBackends, make_settings
from tests.support.backends import PostgresServer
from tests.support.cli import Cli, Result
from tests.support.knowledge import FINE_CHUNKS, QUESTIONS, create_dataset, retrieve, wait_indexed
from tests.support.service import RunningService, start_in_thread
from vidrag.cli import app
from vidrag.storage import backup as parts
from vidrag.storage.db import Database
from vidrag.storage.models import MediaFileRow, TaskRow, utcnow

TEXTS = {
    "Basil care": "Fresh basil grows best in warm soil with plenty of water. Pinch off the flower buds so the leaves "
                  "stay sweet. Basil hates frost: bring pots indoors when nights drop below ten degrees.",
    "Volcanoes": "The 1815 eruption of Tambora caused the year without a summer in Europe. Volcanic eruptions can "
                 "cool the planet by blocking sunlight with ash and sulphur aerosols.",
    "Trains": "The night train to Vienna leaves platform four at eleven and arrives before breakfast.",
}
NOTES = b"# Lighthouse notes\n\nThe lighthouse lamp is cleaned every Tuesday by the harbour master.\n"
ASKED = ["Which eruption caused a year without summer?", "When is the lighthouse lamp cleaned?", QUESTIONS[3],
         QUESTIONS[4]]


def _pg_bin(request: pytest.FixtureRequest, backend: Backend) -> dict[str, str]:
    if backend.name == "embedded":
        return {}
    server: PostgresServer = request.getfixturevalue("pg_server")
    return {"VIDRAG_PG_BIN_DIR": str(server.bindir)}


def vidrag(tmp: Path, data_dir: Path, backend: Backend, extra: dict[str, str], *args: str,
           process: bool = False) -> Result:
    """`vidrag` with the installation's settings in its environment (and only there): in this process through
    typer's runner, or with ``process`` as the real console script an operator runs (~3-7 s to start here)."""
    cli = Cli(tmp)
    cli.env["VIDRAG_DATA_DIR"] = str(data_dir)
    if backend.database_url:
        cli.env["VIDRAG_DATABASE_URL"] = backend.database_url
    if backend.redis_url:
        cli.env["VIDRAG_REDIS_URL"] = backend.redis_url
    cli.env.update(extra)
    if process:
        return cli(*args)
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("VIDRAG_")}
    env.update({k: v for k, v in cli.env.items() if k.startswith("VIDRAG_")})
    cwd = Path.cwd()
    os.chdir(tmp)  # no stray .env is read
    try:
        outcome = CliRunner().invoke(app, list(args), env=env)
    finally:
        os.chdir(cwd)
    return Result(outcome.exit_code, outcome.output)


def without_workers(backend: Backend) -> dict[str, Any]:
    """The installation's database without Redis: jobs run in the API process. Restored knowledge answers the
    same either way, and a Celery worker takes up to ~25 s to stop on this loaded VM."""
    return {k: v for k, v in backend.settings().items() if k != "redis_url"}


def answers(client: httpx.Client, dataset: str) -> dict[str, Any]:
    """What a user sees for each question: retrieval records (ids, text, times, scores) and the chat answer."""
    seen: dict[str, Any] = {}
    for question in ASKED:
        records = retrieve(client, dataset, question, search_method="hybrid_search", top_k=3)
        chat = client.post("/api/v1/chat", json={"dataset": dataset, "query": question})
        assert chat.status_code == 200, chat.text
        body = chat.json()
        seen[question] = {"records": [(r["segment"]["id"], r["segment"]["document"]["id"], r["segment"]["content"],
                                       r["segment"].get("start"), r["segment"].get("end"), r["score"])
                                      for r in records],
                          "answer": body["answer"], "citations": body["citations"]}
    return seen


def manifest_of(archive: Path) -> dict[str, Any]:
    with archive.open("rb") as fh, zstandard.ZstdDecompressor().stream_reader(fh) as raw, \
            tarfile.open(fileobj=raw, mode="r|") as tar:
        first = next(iter(tar))
        assert first.name == "manifest.json"
        member = tar.extractfile(first)
        assert member is not None
        manifest: dict[str, Any] = json.loads(member.read())
        return manifest


def recreate_database(server: PostgresServer, url: str) -> None:
    """DROP and CREATE the database under the same name: empty, without even the pgvector extension."""
    name = url.rsplit("/", 1)[1]
    with server.connect() as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


@dataclass
class Installation:
    backend: Backend
    data_dir: Path
    svc: RunningService
    dataset: str
    video_doc: str
    video_name: str
    video_sha: str
    seen: dict[str, Any]
    env: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def installation(request: pytest.FixtureRequest, module_backends: ModuleBackends, talk_url: str,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    backend = module_backends.new()
    data_dir = tmp_path_factory.mktemp("source") / "data"
    svc = start_in_thread(make_settings(data_dir, **backend.settings()))
    client = svc.client
    dataset = create_dataset(client, "backed-up", process_rule=FINE_CHUNKS)
    docs = [client.post(f"/api/v1/datasets/{dataset}/document/create-by-text", json={"name": n, "text": t})
            for n, t in TEXTS.items()]
    docs.append(client.post(f"/api/v1/datasets/{dataset}/document/create-by-file",
                            files={"file": ("lighthouse.md", NOTES, "text/markdown")}))
    video = client.post(f"/api/v1/datasets/{dataset}/document/create-by-url", json={"url": talk_url})
    for r in [*docs, video]:
        assert r.status_code == 201, r.text
        assert wait_indexed(client, dataset, r.json()["document"]["id"])["indexing_status"] == "completed"
    video_doc = video.json()["document"]["id"]
    player = client.get(f"/media/{video_doc}")
    assert player.status_code == 200
    found = re.search(r'src="/api/v1/files/([^"]+)"', player.text)
    assert found, player.text[:500]
    video_bytes = client.get(f"/api/v1/files/{found.group(1)}").content
    inst = Installation(backend, data_dir, svc, dataset, video_doc, found.group(1),
                        hashlib.sha256(video_bytes).hexdigest(), answers(client, dataset),
                        _pg_bin(request, backend))
    yield inst
    inst.svc.stop()


def test_backup_wipe_restore_gives_the_same_answers_and_media(installation: Installation, tmp_path: Path,
                                                              request: pytest.FixtureRequest) -> None:
    inst = installation
    archive = tmp_path / "full.tar.zst"
    made = vidrag(tmp_path, inst.data_dir, inst.backend, inst.env, "backup", "--output", str(archive), process=True)
    assert made.code == 0, made.output  # taken while the service runs
    assert "backup written" in made.output
    manifest = manifest_of(archive)
    assert manifest["database_kind"] == ("sqlite" if inst.backend.name == "embedded" else "postgresql")
    assert manifest["counts"]["documents"] == 5
    assert manifest["counts"]["segments"] >= 8
    assert manifest["counts"]["transcripts"] == 1
    assert manifest["counts"]["media_files"] >= 1
    assert manifest["schema_revision"] == "0004"
    assert manifest["include_media"] is True
    paths = {f["path"] for f in manifest["files"]}
    assert any(p.startswith("files/media/") for p in paths)
    assert any(p.startswith("files/documents/") for p in paths)
    assert not any(p.startswith("files/tmp/") for p in paths)

    # stop, wipe the data dir, drop and create the database, flush Redis: nothing of the installation is left
    inst.svc.stop()
    shutil.rmtree(inst.data_dir)
    if inst.backend.database_url:
        recreate_database(request.getfixturevalue("pg_server"), inst.backend.database_url)
    if inst.backend.redis_url:
        with redis.Redis.from_url(inst.backend.redis_url) as r:
            r.flushdb()  # also the retrieval cache, which would otherwise answer for the restored index

    restored = vidrag(tmp_path, inst.data_dir, inst.backend, inst.env, "restore", str(archive), process=True)
    assert restored.code == 0, restored.output
    assert "restored" in restored.output
    assert "all checksums verified" in restored.output
    assert re.search(r"segments\s*│\s*" + str(manifest["counts"]["segments"]), restored.output), restored.output

    inst.svc = start_in_thread(make_settings(inst.data_dir, **inst.backend.settings()))
    assert answers(inst.svc.client, inst.dataset) == inst.seen
    video = inst.svc.client.get(f"/api/v1/files/{inst.video_name}")
    assert video.status_code == 200
    assert hashlib.sha256(video.content).hexdigest() == inst.video_sha
    assert inst.svc.client.get(f"/media/{inst.video_doc}").status_code == 200
    transcript = inst.svc.client.get(f"/api/v1/datasets/{inst.dataset}/documents/{inst.video_doc}/transcript",
                                     params={"format": "txt"})
    assert "dinosaur hall" in transcript.text.lower()


def test_backup_without_media_and_restore_onto_a_non_empty_target(installation: Installation, tmp_path: Path,
                                                                   module_backends: ModuleBackends) -> None:
    inst = installation
    archive = tmp_path / "lean.tar.zst"
    made = vidrag(tmp_path, inst.data_dir, inst.backend, inst.env, "backup", "--no-media", "-o", str(archive))
    assert made.code == 0, made.output
    assert "media left out" in made.output
    assert not any(f["path"].startswith("files/media/") for f in manifest_of(archive)["files"])

    target, data_dir = module_backends.new(), tmp_path / "target"
    first = vidrag(tmp_path, data_dir, target, inst.env, "restore", str(archive))
    assert first.code == 0, first.output
    assert "media was not in this backup" in first.output

    again = vidrag(tmp_path, data_dir, target, inst.env, "restore", str(archive))
    assert again.code == 2, again.output
    assert "restore_target_not_empty" in again.output
    assert "--force" in again.output

    forced = vidrag(tmp_path, data_dir, target, inst.env, "restore", "--force", str(archive))
    assert forced.code == 0, forced.output

    svc = start_in_thread(make_settings(data_dir, **without_workers(target)))
    try:
        assert answers(svc.client, inst.dataset) == inst.seen  # the knowledge needs no media
        gone = svc.client.get(f"/api/v1/files/{inst.video_name}")
        assert gone.status_code == 404
        assert gone.json()["code"]
    finally:
        svc.stop()


def test_backup_while_documents_keep_arriving_is_consistent(module_backends: ModuleBackends, tmp_path: Path,
                                                            request: pytest.FixtureRequest) -> None:
    backend = module_backends.new()
    env = _pg_bin(request, backend)
    svc = start_in_thread(make_settings(tmp_path / "live", **backend.settings()))
    stop = threading.Event()
    added: list[str] = []
    try:
        dataset = create_dataset(svc.client, "busy")

        def keep_adding() -> None:
            with httpx.Client(base_url=svc.base_url, timeout=30) as client:
                while not stop.is_set():
                    n = len(added)
                    body = f"Note {n}: the tide tables for pier {n} are posted at the harbour office.".encode()
                    r = client.post(f"/api/v1/datasets/{dataset}/document/create-by-file",
                                    files={"file": (f"note-{n}.txt", body, "text/plain")})
                    assert r.status_code == 201, r.text
                    added.append(r.json()["document"]["id"])

        writer = threading.Thread(target=keep_adding, daemon=True)
        writer.start()
        while len(added) < 3:
            stop.wait(0.05)
        before = len(added)
        archive = tmp_path / "live.tar.zst"
        made = vidrag(tmp_path, tmp_path / "live", backend, env, "backup", "-o", str(archive))
        after = len(added)
        stop.set()
        writer.join(30)
    finally:
        svc.stop()
    assert made.code == 0, made.output
    counts = manifest_of(archive)["counts"]
    assert before <= counts["documents"] <= after + 1
    assert after > before

    target, data_dir = module_backends.new(), tmp_path / "restored"
    restored = vidrag(tmp_path, data_dir, target, env, "restore", str(archive))
    assert restored.code == 0, restored.output  # the restore re-counts every table against the manifest
    restored_svc = start_in_thread(make_settings(data_dir, **without_workers(target)))
    try:
        docs = restored_svc.client.get(f"/api/v1/datasets/{dataset}/documents", params={"limit": 100}).json()
        assert docs["total"] == counts["documents"]
        on_disk = {p.parent.name for p in (data_dir / "documents").glob("*/*")}
        assert on_disk == {d["id"] for d in docs["data"]}  # every row has its file, and no file lacks a row
        for doc in docs["data"]:  # an indexed document came with all its chunks; others are finished on start
            final = wait_indexed(restored_svc.client, dataset, doc["id"])
            assert final["indexing_status"] == "completed", final
        hits = retrieve(restored_svc.client, dataset, "Where are the tide tables for pier 0 posted?", top_k=1)
        assert "harbour office" in hits[0]["segment"]["content"]
    finally:
        restored_svc.stop()


def test_wrong_kind_and_missing_pg_dump_are_refused(installation: Installation, tmp_path: Path) -> None:
    inst = installation
    if inst.backend.name == "embedded":
        pytest.skip("pg_dump and a PostgreSQL backup onto SQLite concern the PostgreSQL installation")
    nowhere = {"VIDRAG_PG_BIN_DIR": str(tmp_path / "no-such-dir")}
    missing = vidrag(tmp_path, inst.data_dir, inst.backend, nowhere, "backup", "-o", str(tmp_path / "x.tar.zst"))
    assert missing.code == 2, missing.output
    assert "backup_tool_missing" in missing.output
    assert "VIDRAG_PG_BIN_DIR" in missing.output
    assert not list(tmp_path.glob("x.tar.zst*"))  # nothing half-written left behind
    old = Path("/usr/lib/postgresql/15/bin")
    if (old / "pg_dump").is_file():  # Debian's own client is too old for PostgreSQL 16: say so, do not dump
        too_old = vidrag(tmp_path, inst.data_dir, inst.backend, {"VIDRAG_PG_BIN_DIR": str(old)}, "backup", "-o",
                         str(tmp_path / "y.tar.zst"))
        assert too_old.code == 2, too_old.output
        assert "16 or newer" in too_old.output

    archive = tmp_path / "pg.tar.zst"
    assert vidrag(tmp_path, inst.data_dir, inst.backend, inst.env, "backup", "-o", str(archive)).code == 0
    embedded = vidrag(tmp_path, tmp_path / "sqlite-target", Backend("embedded"), {}, "restore", str(archive))
    assert embedded.code == 2, embedded.output
    assert "backup_wrong_kind" in embedded.output
    assert "VIDRAG_DATABASE_URL" in embedded.output
    assert not (tmp_path / "sqlite-target" / "vidrag.db").exists()


# --- damaged archives (no service needed: a small embedded installation made by the CLI) ----------------------
@pytest.fixture(scope="module")
def small_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("small")
    embedded = Backend("embedded")
    assert vidrag(tmp, tmp / "data", embedded, {}, "migrate").code == 0
    (tmp / "data" / "documents" / "d1").mkdir(parents=True)
    archive = tmp / "small.tar.zst"
    made = vidrag(tmp, tmp / "data", embedded, {}, "backup", "-o", str(archive))
    assert made.code == 0, made.output
    return archive


def _rewrite(archive: Path, dest: Path, change: Any, extra: dict[str, bytes] | None = None) -> Path:
    """A well-formed archive whose members went through ``change(name, bytes) -> bytes | None`` (None drops it),
    with the ``extra`` members after them."""
    out = io.BytesIO()
    with archive.open("rb") as fh, zstandard.ZstdDecompressor().stream_reader(fh) as raw, \
            tarfile.open(fileobj=raw, mode="r|") as src, tarfile.open(fileobj=out, mode="w") as tar:
        for info in src:
            member = src.extractfile(info)
            assert member is not None
            data = change(info.name, member.read())
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    dest.write_bytes(zstandard.ZstdCompressor().compress(out.getvalue()))
    return dest


def _written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _flip_database_byte(name: str, data: bytes) -> bytes:
    if name.startswith("database/"):
        return data[:5000] + bytes([data[5000] ^ 0xFF]) + data[5001:]
    return data


@pytest.mark.parametrize(("make", "code", "says"), [
    (lambda a, d: _written(d, a.read_bytes()[: a.stat().st_size // 2]), 3, "damaged or truncated"),
    (lambda a, d: _written(d, b"PK\x03\x04 this is a zip file"), 3, "not a vidrag backup"),
    (lambda a, d: _rewrite(a, d, _flip_database_byte), 3, "does not match its checksum"),
    (lambda a, d: _rewrite(a, d, lambda n, b: None if n.startswith("database/") else b), 3, "incomplete"),
    (lambda a, d: _rewrite(a, d, lambda n, b: b.replace(b'"0004"', b'"9999"') if n == "manifest.json" else b),
     2, "newer than this vidrag"),
], ids=["truncated", "not-an-archive", "checksum", "member-missing", "newer-schema"])
def test_a_damaged_archive_is_refused_and_the_target_untouched(small_archive: Path, tmp_path: Path, make: Any,
                                                               code: int, says: str) -> None:
    bad = make(small_archive, tmp_path / "bad.tar.zst")
    data_dir = tmp_path / "data"
    result = vidrag(tmp_path, data_dir, Backend("embedded"), {}, "restore", str(bad))
    assert result.code == code, result.output
    assert says in result.output
    assert not (data_dir / "vidrag.db").exists()
    assert not list(data_dir.glob(".restore-*"))  # the staging dir is cleaned up


@pytest.mark.parametrize("member", ["files/vidrag.db", "files/tmp/x.part", "files/media", "files/documents/.."])
def test_an_archive_naming_files_outside_media_and_documents_is_refused(small_archive: Path, tmp_path: Path,
                                                                        member: str) -> None:
    """Restore writes the archive's files into the data dir: a crafted archive (checksums and all) must not be able
    to put a database, a secret or anything else there beside media and uploaded documents."""
    payload = b"not what the installation should run on"

    def listed(name: str, data: bytes) -> bytes:
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        manifest["files"].append({"path": member, "size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()})
        return json.dumps(manifest).encode()

    crafted = _rewrite(small_archive, tmp_path / "crafted.tar.zst", listed, {member: payload})
    data_dir = tmp_path / "data"
    result = vidrag(tmp_path, data_dir, Backend("embedded"), {}, "restore", str(crafted))
    assert result.code == 3, result.output
    assert "outside media/, documents/ and .secret_key" in result.output or "unsafe path" in result.output
    assert not (data_dir / "vidrag.db").exists()


def test_damaged_archive_with_force_leaves_the_existing_installation_alone(small_archive: Path,
                                                                           tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert vidrag(tmp_path, data_dir, Backend("embedded"), {}, "restore", str(small_archive)).code == 0
    before = (data_dir / "vidrag.db").read_bytes()
    bad = _rewrite(small_archive, tmp_path / "bad.tar.zst", _flip_database_byte)
    result = vidrag(tmp_path, data_dir, Backend("embedded"), {}, "restore", "--force", str(bad))
    assert result.code == 3, result.output
    assert "checksum" in result.output
    assert (data_dir / "vidrag.db").read_bytes() == before


def test_an_older_backup_is_migrated_forward(tmp_path: Path) -> None:
    """A backup taken at schema 0003 (before the PostgreSQL search migration) restores and is brought to head."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    from vidrag.storage.db import MIGRATIONS_DIR

    old = tmp_path / "old"
    old.mkdir()
    engine = create_engine(f"sqlite:///{old / 'vidrag.db'}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0003")
    engine.dispose()
    archive = tmp_path / "old.tar.zst"
    assert vidrag(tmp_path, old, Backend("embedded"), {}, "backup", "-o", str(archive)).code == 0
    assert manifest_of(archive)["schema_revision"] == "0003"
    restored = vidrag(tmp_path, tmp_path / "new", Backend("embedded"), {}, "restore", str(archive))
    assert restored.code == 0, restored.output
    assert "migrated 0003 → 0004" in restored.output


# --- files deleted during a backup; a forced restore that fails midway -------------------------------------------
@pytest.fixture
def fresh(module_backends: ModuleBackends, request: pytest.FixtureRequest) -> Iterator[Callable[[], Backend]]:
    """New installations without workers: SQLite, or a new PostgreSQL database (dropped afterwards)."""
    made: list[str] = []

    def new() -> Backend:
        if module_backends.name == "embedded":
            return Backend("embedded")
        server: PostgresServer = request.getfixturevalue("pg_server")
        made.append(f"b_{uuid.uuid4().hex[:12]}")
        return Backend("scaled", server.create_database(made[-1], template=server.vector_template()))

    yield new
    for name in made:
        request.getfixturevalue("pg_server").drop_database(name)


def add_media(url: str, media_dir: Path, name: str, age_hours: float) -> bytes:
    """A finished download task with one audio file ``<name>.mp3`` (public name too), ``age_hours`` old."""
    created, content = utcnow() - timedelta(hours=age_hours), f"{name} ".encode() * 5000
    task_id = f"task-{name}"
    (media_dir / task_id).mkdir(parents=True)
    (media_dir / task_id / f"{name}.mp3").write_bytes(content)
    db = Database(url)
    try:
        with db.session() as s:
            s.add(TaskRow(id=task_id, source="url", url=f"https://example.org/{name}", options={}, status="completed",
                          stage="done", progress=100.0, progress_detail={}, message="", video_info={}, attempts=1,
                          created_at=created, updated_at=created,
                          files=[MediaFileRow(kind="audio", name=f"{name}.mp3", rel_path=f"{task_id}/{name}.mp3",
                                              size_bytes=len(content), content_type="audio/mpeg", details={},
                                              created_at=created)]))
    finally:
        db.dispose()
    return content


def test_files_deleted_while_the_backup_runs(fresh: Callable[[], Backend], tmp_path: Path,
                                             request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Retention deletes a file right after the snapshot (before vidrag pins it): the backup goes on, says which
    file is missing, and the restored row answers 404 like any cleaned-up file. A user deletes another task while
    the checksums run (after the pin): that file is in the backup anyway."""
    backend = fresh()
    env, source = _pg_bin(request, backend), tmp_path / "source"
    svc = start_in_thread(make_settings(source, retention_max_age_hours=24, retention_keep_newest=0,
                                        **backend.settings()))
    try:
        content = {name: add_media(svc.settings.sqlalchemy_url, svc.settings.media_dir, name, age)
                   for name, age in [("stale", 48), ("dropped", 1), ("kept", 1)]}
        dead_pid = subprocess.run(["sh", "-c", "echo $$"], capture_output=True, text=True, check=True).stdout.strip()
        killed = source / ".backup-killed"  # the pins of a backup that was killed: its links would pin files forever
        killed.mkdir()
        (killed / ".owner").write_text(f"{socket.gethostname()}:{dead_pid}:0")
        os.link(source / "media" / "task-kept" / "kept.mp3", killed / "0")
        real_referenced, real_sha256 = parts.referenced_files, parts.sha256_file
        deleted: list[str] = []

        def snapshot_then_retention(conn: Any) -> list[str]:
            referenced = real_referenced(conn)  # read on the snapshot's connection: the snapshot is taken
            cleaned = svc.client.post("/api/v1/storage/cleanup")
            assert cleaned.status_code == 200, cleaned.text
            assert cleaned.json()["deleted_files"] == 1
            return referenced

        def user_deletes_during_checksums(path: Path, advance: Any = None) -> str:
            if not deleted:
                deleted.append("task-dropped")
                assert svc.client.delete("/api/tasks/task-dropped").status_code == 200
                assert not (source / "media" / "task-dropped").exists()
            return real_sha256(path, advance)

        monkeypatch.setattr(parts, "referenced_files", snapshot_then_retention)
        monkeypatch.setattr(parts, "sha256_file", user_deletes_during_checksums)
        archive = tmp_path / "during.tar.zst"
        made = vidrag(tmp_path, source, backend, env, "backup", "-o", str(archive))
    finally:
        svc.stop()
    assert made.code == 0, made.output
    assert deleted == ["task-dropped"]
    assert "media/task-stale/stale.mp3" in made.output
    assert "1 file(s) the database refers to were gone" in made.output
    manifest = manifest_of(archive)
    assert manifest["missing_files"] == ["media/task-stale/stale.mp3"]
    assert {f["path"] for f in manifest["files"]} >= {"files/media/task-dropped/dropped.mp3",
                                                       "files/media/task-kept/kept.mp3"}
    assert not list(source.glob(".backup-*"))  # the pins are gone with the backup, and the killed one's too

    target, data_dir = fresh(), tmp_path / "restored"
    restored = vidrag(tmp_path, data_dir, target, env, "restore", str(archive))
    assert restored.code == 0, restored.output
    assert "media/task-stale/stale.mp3" in restored.output
    svc = start_in_thread(make_settings(data_dir, retention_keep_newest=0, **target.settings()))
    try:
        for name in ("dropped", "kept"):
            served = svc.client.get(f"/api/v1/files/{name}.mp3")
            assert served.status_code == 200
            assert served.content == content[name]
        gone = svc.client.get("/api/v1/files/stale.mp3")
        assert gone.status_code == 404
        assert gone.json()["code"] == "file_not_found"
        assert svc.client.get("/api/v1/tasks/task-stale").json()["status"] == "completed"  # the row is as it was
        cleaned = svc.client.post("/api/v1/storage/cleanup")  # and retention finishes what it had started
        assert cleaned.status_code == 200, cleaned.text
        assert cleaned.json()["deleted_files"] == 1
    finally:
        svc.stop()


def _with_damaged_database(archive: Path, dest: Path, damage: Callable[[bytes, Path], bytes]) -> Path:
    """The archive with its database member changed by ``damage(bytes, scratch dir)`` and the manifest's size and
    checksum of it updated: it passes every check of the archive itself."""
    with archive.open("rb") as fh, zstandard.ZstdDecompressor().stream_reader(fh) as raw, \
            tarfile.open(fileobj=raw, mode="r|") as src:
        members = []
        for info in src:
            member = src.extractfile(info)
            assert member is not None
            members.append((info, member.read()))
    manifest, rest = json.loads(members[0][1]), []
    for info, data in members[1:]:
        if info.name == manifest["database"]["path"]:
            data = damage(data, dest.parent)
            manifest["database"].update(size=len(data), sha256=hashlib.sha256(data).hexdigest())
        rest.append((info, data))
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for info, data in [(members[0][0], json.dumps(manifest).encode()), *rest]:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    dest.write_bytes(zstandard.ZstdCompressor().compress(out.getvalue()))
    return dest


def _break_a_row(data: bytes, scratch: Path) -> bytes:
    """A database that loads partly: PostgreSQL's COPY of the tasks rows fails (a column short) after other tables
    were loaded; SQLite's file is sound but has lost its schema revision, so the migration fails."""
    if data.startswith(b"SQLite format 3"):
        copy = scratch / "broken.db"
        copy.write_bytes(data)
        engine = Database(f"sqlite:///{copy}")
        with engine.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM alembic_version")
        engine.dispose()
        parts.settle_sqlite(copy)
        return copy.read_bytes()
    row = b"https://example.org/kept\t"
    assert data.count(row) == 1
    return data.replace(row, b"https://example.org/kept ")  # same length: the dump's block sizes still hold


def _count_off_by_one(archive: Path, dest: Path) -> Path:
    return _rewrite(archive, dest, lambda n, b: b.replace(b'"tasks": 2', b'"tasks": 3') if n == "manifest.json"
                    else b)


def installation_state(backend: Backend, data_dir: Path) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Every row of vidrag's tables, and every file of the data dir with its checksum."""
    db = Database(backend.database_url or f"sqlite:///{data_dir / 'vidrag.db'}")
    try:
        with db.engine.connect() as conn:
            rows = {t: sorted(str(r) for r in conn.exec_driver_sql(f"SELECT * FROM {t}"))  # noqa: S608 - fixed
                    for t in [*parts.COUNTED_TABLES, "alembic_version"]}
    finally:
        db.dispose()
    files = {str(p.relative_to(data_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(data_dir.rglob("*")) if p.is_file() and not p.name.startswith("vidrag.db")}
    return rows, files


@pytest.mark.parametrize(("damage", "says"), [
    (lambda a, d: _with_damaged_database(a, d, _break_a_row), "the target was not changed|rolled back"),
    (_count_off_by_one, "recorded 3|the target was not changed"),
], ids=["database-fails-midway", "counts-differ"])
def test_a_forced_restore_that_fails_midway_leaves_the_target_as_it_was(
        fresh: Callable[[], Backend], tmp_path: Path, request: pytest.FixtureRequest, damage: Any,
        says: str) -> None:
    backend = fresh()
    env, source = _pg_bin(request, backend), tmp_path / "source"
    assert vidrag(tmp_path, source, backend, env, "migrate").code == 0
    url = backend.database_url or f"sqlite:///{source / 'vidrag.db'}"
    for name in ("early", "kept"):
        add_media(url, source / "media", name, 1)
    archive = tmp_path / "good.tar.zst"
    assert vidrag(tmp_path, source, backend, env, "backup", "-o", str(archive)).code == 0

    target, data_dir = fresh(), tmp_path / "target"  # in use: the backup, and a task of its own since
    assert vidrag(tmp_path, data_dir, target, env, "restore", str(archive)).code == 0
    add_media(target.database_url or f"sqlite:///{data_dir / 'vidrag.db'}", data_dir / "media", "local", 1)
    before = installation_state(target, data_dir)
    assert "media/task-local/local.mp3" in before[1]

    bad = damage(archive, tmp_path / "bad.tar.zst")
    failed = vidrag(tmp_path, data_dir, target, env, "restore", "--force", str(bad))
    assert failed.code in (1, 3), failed.output
    assert re.search(says, failed.output), failed.output
    assert installation_state(target, data_dir) == before
    assert not list(data_dir.glob(".restore-*"))
    assert not (data_dir / "vidrag.db.restoring").exists()

    again = vidrag(tmp_path, data_dir, target, env, "restore", "--force", str(archive))  # a sound one still can
    assert again.code == 0, again.output
    rows, files = installation_state(target, data_dir)
    assert len(rows["tasks"]) == 2
    assert "media/task-local/local.mp3" not in files
