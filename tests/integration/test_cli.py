"""The `vidrag` command as a user runs it: a real process on a fresh data dir, media from 127.0.0.1."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import pytest

from tests.support.cli import Cli
from tests.support.media import ffprobe


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def printed_files(output: str) -> dict[str, Path]:
    """kind -> absolute path, from the lines `vidrag download` prints for a completed task."""
    found = re.findall(r"^\s+(video|audio|subtitle|thumbnail)\s+[\d.]+\s+\w+\s+(/\S+)\s*$", output, re.MULTILINE)
    return {kind: Path(path) for kind, path in found}


def test_download_then_list_and_inspect(cli: Cli, media_url: str) -> None:
    r = cli("download", f"{media_url}/clip.mp4", "--audio", "m4a")
    assert r.code == 0, r.output
    files = printed_files(r.output)
    assert set(files) == {"video", "audio"}, r.output
    assert files["audio"].suffix == ".m4a"
    assert ffprobe(files["audio"]).codecs == {"audio": "aac"}
    assert ffprobe(files["video"]).codecs.keys() >= {"video", "audio"}
    assert all(p.is_relative_to(cli.data_dir.resolve()) for p in files.values())
    [task] = cli.tasks_in_db()
    assert task.status == "completed"

    listed = cli("tasks")
    assert listed.code == 0, listed.output
    row = next((line for line in listed.output.splitlines() if task.id[:8] in line), "")
    assert "completed" in row, listed.output
    assert "clip" in row
    assert "1 of 1 tasks" in listed.output
    assert "0 of 0 tasks" in cli("tasks", "--status", "failed", "--status", "running").output

    info = cli("storage")
    assert info.code == 0, info.output
    assert re.search(r"total_files\W+2\b", info.output), info.output
    cleaned = cli("storage", "--cleanup")
    assert cleaned.code == 0, cleaned.output
    assert re.search(r"deleted_files\W+0\b", cleaned.output), cleaned.output  # newer than the retention age
    assert all(p.is_file() for p in files.values())


def test_audio_only_download(cli: Cli, media_url: str) -> None:
    r = cli("download", f"{media_url}/clip.mp4", "--no-video", "--audio", "opus")
    assert r.code == 0, r.output
    files = printed_files(r.output)
    assert set(files) == {"audio"}, r.output
    assert ffprobe(files["audio"]).codecs == {"audio": "opus"}


@pytest.mark.parametrize(("args", "code"), [
    (("ftp://x",), "unsupported_scheme"),
    (("http://127.0.0.1:1/v.mp4", "--no-video", "--no-audio"), "nothing_to_do"),
    (("http://127.0.0.1:1/v.mp4", "--max-height", "2"), "invalid_option"),
])
def test_refused_requests_exit_2_and_create_no_task(cli: Cli, args: tuple[str, ...], code: str) -> None:
    r = cli("download", *args)
    assert r.code == 2, r.output
    assert f"{code}:" in r.output
    assert cli.tasks_in_db() == []


def test_missing_source_exits_1_with_the_reason(cli: Cli, media_url: str) -> None:
    r = cli("download", f"{media_url}/missing.mp4")
    assert r.code == 1, r.output
    assert "not_found_upstream" in r.output
    assert "404 Not Found" in r.output
    assert "Traceback" not in r.output
    [task] = cli.tasks_in_db()
    assert task.status == "failed"
    assert task.error_code == "not_found_upstream"
    assert "failed" in cli("tasks", "--status", "failed").output


def test_ctrl_c_cancels_the_task_and_exits_130(cli: Cli, media_url: str) -> None:
    proc = cli.start("download", f"{media_url}/slow/clip.mp4?bps=20000")
    try:
        deadline = time.monotonic() + 30
        while not any((cli.data_dir / "tmp").glob("*/*.part")):  # yt-dlp has begun writing the file
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "the download never started"
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, output
    [task] = cli.tasks_in_db()
    assert task.status == "cancelled"
    assert task.files == []
    assert not (cli.data_dir / "tmp" / task.id).exists()  # the partial download is gone
    assert "Traceback" not in output
    assert "cancelled" in output


def test_a_killed_download_is_taken_over_by_the_next_run(cli: Cli, media_url: str) -> None:
    url = f"{media_url}/slow/clip.mp4?bps=20000"
    proc = cli.start("download", url)
    try:
        deadline = time.monotonic() + 30
        while not any((cli.data_dir / "tmp").glob("*/*.part")):
            assert time.monotonic() < deadline, "the download never started"
            time.sleep(0.1)
    finally:
        proc.kill()  # SIGKILL: no clean-up runs, the task stays `running` with a dead owner
        proc.communicate()
    [stuck] = cli.tasks_in_db()
    assert stuck.status == "running"
    again = cli("download", url.replace("20000", "20000&"))  # same normalised URL
    assert again.code == 0, again.output
    [task] = cli.tasks_in_db()
    assert task.id == stuck.id
    assert task.status == "completed"
    assert task.attempts == 2


def test_worker_refuses_a_bad_setup_in_words(cli: Cli, redis_url: str) -> None:
    r = cli("worker")
    assert r.code == 2, r.output
    assert "VIDRAG_REDIS_URL is not set" in r.output
    cli.env["VIDRAG_REDIS_URL"] = redis_url
    r = cli("worker", "--queues", "download,transcode")
    assert r.code == 2, r.output
    assert "unknown queue(s) transcode" in r.output
    assert "Traceback" not in r.output
