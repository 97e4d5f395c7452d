from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from tests.support.documents import encrypt_pdf, make_docx, make_pdf
from vidrag.domain.chunks import ParsedDocument
from vidrag.domain.errors import StageFailed
from vidrag.pipeline.parse import HEAD_BYTES, kind_for, parse_document

PAGES = [
    ["Apples grow on trees in the northern orchard.", "The harvest starts in September."],
    ["Bananas need a warm climate and plenty of rain.", "They are picked green."],
    ["Cherries bloom early in spring.", "Birds like them as much as we do."],
]


def parse_file(path: Path) -> tuple[str, ParsedDocument]:
    kind = kind_for(path.name, path.read_bytes()[:HEAD_BYTES])
    assert kind is not None
    return kind, parse_document(path, kind)


def failure(path: Path, kind: str) -> StageFailed:
    with pytest.raises(StageFailed) as err:
        parse_document(path, kind)
    return err.value


# --- PDF ---------------------------------------------------------------------------------------------------------


def test_pdf_blocks_carry_their_page(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "fruit.pdf", PAGES, title="Fruit Almanac")
    assert kind_for("upload.bin", path.read_bytes()[:HEAD_BYTES]) == "pdf"  # by content, not name
    doc = parse_document(path, "pdf")
    assert doc.pages == 3
    assert doc.title == "Fruit Almanac"
    for number, paragraphs in enumerate(PAGES, start=1):
        text = " ".join(b.text for b in doc.blocks if b.page == number)
        for para in paragraphs:
            assert para in text
    assert {b.page for b in doc.blocks} == {1, 2, 3}


def test_pdf_without_metadata_title_uses_its_first_line(tmp_path: Path) -> None:
    doc = parse_document(make_pdf(tmp_path / "x.pdf", PAGES), "pdf")
    assert doc.title is not None
    assert doc.title.startswith("Apples grow on trees")


def test_encrypted_pdf_is_refused_with_a_reason(tmp_path: Path) -> None:
    locked = encrypt_pdf(make_pdf(tmp_path / "plain.pdf", PAGES), tmp_path / "locked.pdf", "secret")
    assert kind_for(locked.name, locked.read_bytes()[:HEAD_BYTES]) == "pdf"
    err = failure(locked, "pdf")
    assert err.code == "pdf_encrypted"
    assert "password" in err.message
    assert "unprotected copy" in err.message


def test_pdf_encrypted_with_an_empty_user_password_opens(tmp_path: Path) -> None:
    restricted = encrypt_pdf(make_pdf(tmp_path / "plain.pdf", PAGES), tmp_path / "restricted.pdf", "")
    doc = parse_document(restricted, "pdf")
    assert any("Cherries bloom" in b.text and b.page == 3 for b in doc.blocks)


def test_blank_pdf_has_no_text_layer(tmp_path: Path) -> None:
    err = failure(make_pdf(tmp_path / "blank.pdf", [[]]), "pdf")
    assert err.code == "no_text"
    assert "OCR" in err.message


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_bytes_are_not_a_document(tmp_path: Path, seed: int) -> None:
    data = hashlib.shake_256(str(seed).encode()).digest(4096)
    path = tmp_path / "fake.pdf"
    path.write_bytes(data)
    assert kind_for(path.name, data) is None
    assert failure(path, "pdf").code == "invalid_document"
    path.write_bytes(b"%PDF-1.7\n" + data)  # the magic alone does not make a PDF
    assert kind_for(path.name, path.read_bytes()) == "pdf"
    assert failure(path, "pdf").code == "invalid_document"


# --- DOCX --------------------------------------------------------------------------------------------------------


def test_docx_headings_and_tables(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "guide.docx")
    assert kind_for("guide.zip", path.read_bytes()[:HEAD_BYTES]) == "docx"
    doc = parse_document(path, "docx")
    by_text = {b.text: b for b in doc.blocks}
    assert doc.title == "Field Guide"
    assert by_text["An introduction before any section."].heading is None
    assert by_text["Birds have feathers."].heading == "Birds"
    assert by_text["Owls hunt at night."].heading == "Birds > Owls"
    assert by_text["Name | Size | Diet"].heading == "Birds > Owls"
    assert by_text["Barn owl | small | mice"].heading == "Birds > Owls"
    assert by_text["Fish have gills."].heading == "Fish"  # a level-1 heading closes the level-2 one
    texts = [b.text for b in doc.blocks]
    assert texts.index("Owls hunt at night.") < texts.index("Name | Size | Diet") < texts.index("Fish have gills.")


def test_a_zip_that_is_not_a_docx(tmp_path: Path) -> None:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("data.csv", "a,b\n1,2\n")
    assert kind_for("data.zip", buffer.getvalue()) is None
    path = tmp_path / "data.docx"
    path.write_bytes(buffer.getvalue())
    assert failure(path, "docx").code == "invalid_document"


# --- HTML --------------------------------------------------------------------------------------------------------

HTML = """<!DOCTYPE html>
<html><head><title>Garden Notes</title><style>body { color: red }</style>
<script>var tracking = "should not appear";</script></head>
<body>
<header><a href="/">Site banner</a></header>
<nav><ul><li>Home</li><li>About</li></ul></nav>
<article>
  <header><h1>Growing Tomatoes</h1></header>
  <p>Tomatoes need <b>full</b> sun.<br>Water them daily.</p>
  <h2>Soil</h2>
  <p>Use loose soil.</p>
  <h3>Compost</h3>
  <div>Add compost <span>every spring</span>.</div>
  <h2>Pests</h2>
  <ul><li>Aphids</li><li>Hornworms</li></ul>
  <table><tr><th>Pest</th><th>Fix</th></tr><tr><td>Aphids</td><td>Soap spray</td></tr></table>
  <noscript>Enable JavaScript</noscript>
</article>
<footer>Copyright footer text</footer>
<script>console.log("more noise")</script>
</body></html>"""


def test_html_drops_noise_and_tracks_headings(tmp_path: Path) -> None:
    path = tmp_path / "page.txt"  # misnamed: the content decides
    path.write_text(HTML, encoding="utf-8")
    kind, doc = parse_file(path)
    assert kind == "html"
    assert doc.title == "Garden Notes"
    everything = "\n".join(b.text for b in doc.blocks)
    for noise in ("should not appear", "more noise", "Site banner", "Home", "Copyright", "Enable JavaScript", "color"):
        assert noise not in everything
    by_text = {b.text: b.heading for b in doc.blocks}
    assert by_text["Growing Tomatoes"] == "Growing Tomatoes"  # an article's own header is kept
    assert by_text["Tomatoes need full sun.\nWater them daily."] == "Growing Tomatoes"
    assert by_text["Use loose soil."] == "Growing Tomatoes > Soil"
    assert by_text["Add compost every spring."] == "Growing Tomatoes > Soil > Compost"
    assert by_text["Aphids"] == "Growing Tomatoes > Pests"
    assert by_text["Pest | Fix"] == "Growing Tomatoes > Pests"
    assert by_text["Aphids | Soap spray"] == "Growing Tomatoes > Pests"


def test_html_with_only_noise_has_no_text(tmp_path: Path) -> None:
    path = tmp_path / "empty.html"
    path.write_text("<html><body><script>x()</script><nav>menu</nav></body></html>", encoding="utf-8")
    assert failure(path, "html").code == "no_text"


def test_deeply_nested_html_does_not_overflow(tmp_path: Path) -> None:
    path = tmp_path / "deep.html"
    path.write_text("<html><body>" + "<div>" * 3000 + "deep text" + "</div>" * 3000 + "</body></html>")
    doc = parse_document(path, "html")
    assert [b.text for b in doc.blocks] == ["deep text"]


# --- Markdown ----------------------------------------------------------------------------------------------------

MARKDOWN = """# Handbook

Welcome to the **handbook**. See [the site](https://example.com) for more.

## Setup

1. Install the tool
2. Run it
   - with `--fast`

### Config

```toml
[server]
port = 8080
```

| Key | Value |
| --- | ----- |
| port | 8080 |

## Usage

Just run it.
"""


def test_markdown_headings_lists_code_tables(tmp_path: Path) -> None:
    path = tmp_path / "README.md"
    path.write_text(MARKDOWN, encoding="utf-8")
    kind, _ = parse_file(path)
    assert kind == "markdown"
    assert kind_for("README.txt", MARKDOWN.encode()) == "text"  # only the name tells Markdown from text
    doc = parse_document(path, "markdown")
    assert doc.title == "Handbook"
    by_text = {b.text: b.heading for b in doc.blocks}
    assert by_text["Welcome to the handbook. See the site for more."] == "Handbook"
    assert by_text["1. Install the tool"] == "Handbook > Setup"
    assert by_text["2. Run it"] == "Handbook > Setup"
    assert by_text["- with --fast"] == "Handbook > Setup"
    assert by_text["[server]\nport = 8080"] == "Handbook > Setup > Config"
    assert by_text["Key | Value"] == "Handbook > Setup > Config"
    assert by_text["port | 8080"] == "Handbook > Setup > Config"
    assert by_text["Just run it."] == "Handbook > Usage"


# --- plain text --------------------------------------------------------------------------------------------------

CHINESE = "第一段：今天天气很好。我们去公园散步。\n\n第二段：晚上下雨了。"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "gb18030"])
def test_text_encodings(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(CHINESE.encode(encoding))
    kind, _ = parse_file(path)
    assert kind == "text"
    doc = parse_document(path, "text")
    assert [b.text for b in doc.blocks] == ["第一段：今天天气很好。我们去公园散步。", "第二段：晚上下雨了。"]
    assert doc.title == "第一段：今天天气很好。我们去公园散步。"


def test_latin1_text_and_crlf_paragraphs(tmp_path: Path) -> None:
    path = tmp_path / "old.txt"
    path.write_bytes("Caf\xe9 cr\xe8me \xbd price.\r\n\r\nSecond line here.\r\n".encode("latin-1"))
    doc = parse_document(path, "text")
    assert [b.text for b in doc.blocks] == ["Café crème ½ price.", "Second line here."]


def test_empty_text_has_no_text(tmp_path: Path) -> None:
    path = tmp_path / "blank.txt"
    path.write_text(" \n\n\t\n", encoding="utf-8")
    assert failure(path, "text").code == "no_text"


# --- captions ----------------------------------------------------------------------------------------------------

VTT = """WEBVTT

00:00:01.000 --> 00:00:03.500
Hello and welcome.

00:00:04.000 --> 00:00:06.000
<v Speaker>Today we talk about owls.</v>
"""

SRT = """1
00:00:01,000 --> 00:00:03,500
Hello and welcome.

2
00:00:04,000 --> 00:00:06,000
Today we talk about owls.
"""


@pytest.mark.parametrize(("name", "content"), [("talk.vtt", VTT), ("talk.srt", SRT), ("talk.txt", SRT)])
def test_caption_blocks_carry_times(tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    kind, _ = parse_file(path)
    assert kind == "captions"
    doc = parse_document(path, "captions")
    assert [(b.text, b.start, b.end) for b in doc.blocks] == [("Hello and welcome.", 1.0, 3.5),
                                                              ("Today we talk about owls.", 4.0, 6.0)]


# --- kind sniffing -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "head", "kind"), [
    ("a.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "pdf"),
    ("a.txt", b"\xef\xbb\xbfWEBVTT\n\n00:01.000 --> 00:02.000\nhi\n", "captions"),
    ("a", b"\n1\n00:00:01,000 --> 00:00:02,000\nhi\n", "captions"),
    ("a.md", b"  <!DOCTYPE html><html><body>x</body></html>", "html"),
    ("a.htm", b"<div>fragment</div>", "html"),
    ("notes", b"just some words", "text"),
    ("notes.markdown", b"# Title", "markdown"),
    ("a.pdf", b"just text claiming to be a PDF", None),
    ("a.vtt", b"no header here", None),
    ("a.bin", b"\x00\x01\x02\x03binary\x00", None),
    ("a.txt", b"", "text"),
])
def test_kind_for(name: str, head: bytes, kind: str | None) -> None:
    assert kind_for(name, head) == kind


def test_kind_for_forgives_a_head_cut_inside_a_character() -> None:
    head = ("é" * 10).encode("utf-8")[:-1]
    assert kind_for("x.txt", head) == "text"
