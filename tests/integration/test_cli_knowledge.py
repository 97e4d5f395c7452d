"""`vidrag ingest / search / transcript` as a user runs them, on a fresh data dir."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.cli import Cli
from tests.support.knowledge import Talk


def test_ingest_search_transcript(tmp_path: Path, talk: Talk, talk_url: str) -> None:
    cli = Cli(tmp_path)
    result = cli("ingest", talk_url, "--kb", "talks")
    assert result.code == 0, result.output
    assert "creating knowledge base 'talks'" in result.output
    found = re.search(r"indexed .* into 'talks': (\d+) chunks \(document ([0-9a-f-]{36})\)", result.output)
    assert found, result.output
    document_id = found[2]
    hits = cli("search", "dinosaur exhibition", "--kb", "talks", "--top-k", "1")
    assert hits.code == 0, hits.output
    assert "dinosaur" in hits.output.lower()
    assert re.search(r"\d:\d\d-\d:\d\d", hits.output)  # the time span of the hit
    answer = cli("ask", "When is the dinosaur exhibition open?", "--kb", "talks")
    assert answer.code == 0, answer.output
    assert "Extractive answer" in answer.output
    assert "[1]" in answer.output
    assert re.search(r"\[1\] talk \d:\d\d-\d:\d\d", answer.output), answer.output
    srt = cli("transcript", document_id, "--kb", "talks", "--format", "srt")
    assert srt.code == 0
    assert "00:00:00,000 --> " in srt.output
    assert "lighthouse keeper" in srt.output.lower()
    # the short IDs the CLI shows are accepted: a document's, or that of the download it was made from
    short_task = re.search(r"([0-9a-f]{8}) .*completed", cli("tasks").output)
    assert short_task, cli("tasks").output
    for ref in (document_id[:8], short_task[1]):
        txt = cli("transcript", ref, "--kb", "talks", "--format", "txt")
        assert txt.code == 0, txt.output
        assert "lighthouse keeper" in txt.output.lower()
    unknown = cli("transcript", "ffffffff", "--kb", "talks")
    assert unknown.code == 2
    assert "document_not_found" in unknown.output
    assert "starts with 'ffffffff'" in unknown.output


def test_a_local_document_and_errors(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    notes = tmp_path / "notes.md"
    notes.write_text("# Garden\n\nTomatoes need six hours of sun.\n\n# Kitchen\n\nKnives stay sharp on a whetstone.\n")
    assert cli("ingest", str(notes), "--kb", "home").code == 0
    hits = cli("search", "whetstone", "--kb", "home", "--method", "keyword_search")
    assert "Knives stay sharp" in hits.output
    missing = cli("search", "x", "--kb", "nope")
    assert missing.code == 2
    assert "dataset_not_found" in missing.output
    bad = cli("ingest", "ftp://example.com/x.mp4", "--kb", "home")
    assert bad.code == 2
    assert "unsupported_scheme" in bad.output


def test_a_missing_local_file_is_named(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    missing = tmp_path / "nonexistent.mp4"
    result = cli("ingest", str(missing), "--kb", "home")
    assert result.code == 2
    assert f"file_not_found: no such file: {missing}" in result.output
    assert "scheme" not in result.output
    directory = cli("ingest", str(tmp_path), "--kb", "home")
    assert directory.code == 2
    assert "not_a_file" in directory.output
    assert "no such file" in cli("ingest", "notes.txt", "--kb", "home").output  # relative, to the working dir
