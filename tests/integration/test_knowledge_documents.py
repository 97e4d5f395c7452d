"""One test per document format through the API: upload, index, and find it where it is (page, heading, time)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.documents import encrypt_pdf, make_docx, make_pdf
from tests.support.knowledge import create_dataset, retrieve, wait_indexed
from tests.support.service import RunningService


def ingest(svc: RunningService, dataset: str, path: Path) -> dict[str, object]:
    with path.open("rb") as fh:
        r = svc.client.post(f"/api/v1/datasets/{dataset}/document/create-by-file", files={"file": (path.name, fh)})
    assert r.status_code == 201, r.text
    return wait_indexed(svc.client, dataset, r.json()["document"]["id"])


@pytest.fixture
def kb(service: RunningService) -> tuple[RunningService, str]:
    # small chunks, so a hit pins down one paragraph (the default 400 tokens would merge these short pages)
    rule = {"document": {"max_tokens": 16, "overlap_tokens": 0}}
    return service, create_dataset(service.client, "docs", process_rule=rule)


def top(svc: RunningService, dataset: str, query: str) -> dict[str, object]:
    records = retrieve(svc.client, dataset, query, top_k=1)
    assert records, query
    segment: dict[str, object] = records[0]["segment"]
    return segment


def test_pdf_hits_carry_their_page(kb: tuple[RunningService, str], tmp_path: Path) -> None:
    svc, dataset = kb
    pages = [["Apples grow in the northern orchard."], ["Bananas need a warm climate and rain."],
             ["Cherries bloom early in spring."]]
    doc = ingest(svc, dataset, make_pdf(tmp_path / "fruit.pdf", pages, title="Fruit"))
    assert doc["indexing_status"] == "completed", doc
    assert doc["kind"] == "pdf"
    assert top(svc, dataset, "bananas tropical climate")["page"] == 2
    assert top(svc, dataset, "cherry blossom")["page"] == 3


def test_docx_hits_carry_their_heading(kb: tuple[RunningService, str], tmp_path: Path) -> None:
    svc, dataset = kb
    assert ingest(svc, dataset, make_docx(tmp_path / "guide.docx"))["indexing_status"] == "completed"
    assert "Owls" in str(top(svc, dataset, "nocturnal hunters")["heading"])


def test_html(kb: tuple[RunningService, str], tmp_path: Path) -> None:
    svc, dataset = kb
    page = tmp_path / "page.html"
    page.write_text("<html><head><title>Trains</title><script>var x = 'noise';</script></head><body>"
                    "<nav>menu menu menu</nav><h1>Railways</h1><h2>Steam</h2><p>Steam locomotives burn coal.</p>"
                    "<h2>Electric</h2><p>Electric trains draw power from overhead lines.</p></body></html>")
    assert ingest(svc, dataset, page)["indexing_status"] == "completed"
    hit = top(svc, dataset, "overhead power lines")
    assert "Electric" in str(hit["heading"])
    assert "noise" not in str(retrieve(svc.client, dataset, "noise menu"))


def test_markdown(kb: tuple[RunningService, str], tmp_path: Path) -> None:
    svc, dataset = kb
    md = tmp_path / "notes.md"
    md.write_text("# Camping\n\n## Tents\n\n- Pitch the tent on flat ground.\n\n## Fire\n\nNever leave a fire "
                  "unattended.\n\n```\ncode block here\n```\n")
    assert ingest(svc, dataset, md)["indexing_status"] == "completed"
    assert "Fire" in str(top(svc, dataset, "campfire safety")["heading"])


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "gb18030"])
def test_text_encodings(kb: tuple[RunningService, str], tmp_path: Path, encoding: str) -> None:
    svc, dataset = kb
    txt = tmp_path / f"note-{encoding}.txt"
    txt.write_text("月饼是中秋节的传统食品。\n\nMooncakes are eaten at the Mid-Autumn Festival.", encoding=encoding)
    assert ingest(svc, dataset, txt)["indexing_status"] == "completed"
    hits = retrieve(svc.client, dataset, "中秋节 月饼", search_method="keyword_search")
    assert "月饼" in str(hits[0]["segment"]["content"])


@pytest.mark.parametrize("name", ["talk.srt", "talk.vtt"])
def test_caption_files_keep_their_times(kb: tuple[RunningService, str], tmp_path: Path, name: str) -> None:
    svc, dataset = kb
    stamp = (lambda t: t.replace(".", ",")) if name.endswith(".srt") else (lambda t: t)
    cues = [("00:00:01.000", "00:00:04.000", "Welcome to the pottery class."),
            ("00:01:10.000", "00:01:15.500", "Now we fire the clay in the kiln.")]
    body = "" if name.endswith(".srt") else "WEBVTT\n\n"
    for i, (a, b, text) in enumerate(cues, start=1):
        body += (f"{i}\n" if name.endswith(".srt") else "") + f"{stamp(a)} --> {stamp(b)}\n{text}\n\n"
    path = tmp_path / name
    path.write_text(body)
    doc = ingest(svc, dataset, path)
    assert doc["indexing_status"] == "completed", doc
    hit = top(svc, dataset, "kiln firing")
    assert hit["start"] == 70.0
    assert hit["end"] == 75.5


def test_empty_and_password_protected_pdfs_fail_with_reasons(kb: tuple[RunningService, str],
                                                             tmp_path: Path) -> None:
    svc, dataset = kb
    blank = make_pdf(tmp_path / "blank.pdf", [[]])
    locked = encrypt_pdf(make_pdf(tmp_path / "open.pdf", [["Secret plans."]]), tmp_path / "locked.pdf", "pw")
    empty = ingest(svc, dataset, blank)
    assert empty["indexing_status"] == "error"
    assert empty["error_code"] == "no_text"
    protected = ingest(svc, dataset, locked)
    assert protected["error_code"] == "pdf_encrypted"
    assert "password" in str(protected["error"])
    r = svc.client.post(f"/api/v1/datasets/{dataset}/document/create-by-text", json={"name": "t", "text": "Kites fly."})
    wait_indexed(svc.client, dataset, r.json()["document"]["id"])
    assert retrieve(svc.client, dataset, "kites")  # the knowledge base still works
