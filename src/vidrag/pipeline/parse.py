"""Documents (PDF, DOCX, HTML, Markdown, plain text, caption files) as text blocks with their place in the source.

The kind of a file is decided by its content, not its name: uploads are misnamed often enough. The name only
tells Markdown from plain text, which no content sniffing can do reliably.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import docx
from bs4 import BeautifulSoup
from bs4.element import NavigableString, PreformattedString, Tag
from docx.table import Table
from markdown_it import MarkdownIt
from markdown_it.token import Token
from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError

from vidrag.domain.chunks import ParsedDocument, TextBlock
from vidrag.domain.errors import StageFailed
from vidrag.domain.transcripts import TranscriptSource
from vidrag.pipeline.captions import parse_captions

KINDS = ("pdf", "docx", "html", "markdown", "text", "captions")
HEAD_BYTES = 8192  # how much of a file kind_for wants to see
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown", ".mdown", ".mkd", ".mkdn"})
# names that promise a format the content did not show: better refused than indexed as garbage text
_FORMAT_SUFFIXES = frozenset({".pdf", ".docx", ".doc", ".xlsx", ".pptx", ".odt", ".epub", ".zip", ".vtt", ".srt"})
_HTML_START = re.compile(r"\A\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b",
                         re.IGNORECASE | re.DOTALL)
_SRT_START = re.compile(r"\A\s*(?:\d+[ \t]*\r?\n)?[ \t]*(?:\d+:)?\d{1,2}:\d{2}[,.]\d{1,3}[ \t]+-->", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_BLANK_LINES = re.compile(r"\n[ \t\f\v\u3000]*\n\s*")
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")
_HTML_TAG = re.compile(r"<[^<>]*>")
_HEADING_STYLE = re.compile(r"heading\s*(\d)", re.IGNORECASE)
TITLE_CHARS = 120


def kind_for(filename: str, head: bytes) -> str | None:
    """The kind of a document from its first bytes (``HEAD_BYTES`` of them is enough); None when unsupported."""
    suffix = Path(filename).suffix.lower()
    if head.lstrip(b"\xef\xbb\xbf\t\r\n ").startswith(b"%PDF-"):  # not anywhere: text may quote it
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        # a local file header names word/document.xml near the start; a short head may miss it
        return "docx" if b"word/" in head or suffix == ".docx" else None
    text = _decode(head, strict=False)
    if _is_binary(text):
        return None
    if text.lstrip("\ufeff").startswith("WEBVTT") or _SRT_START.match(text.lstrip("\ufeff")):
        return "captions"
    if _HTML_START.match(text) or (suffix in {".html", ".htm", ".xhtml"} and text.lstrip().startswith("<")):
        return "html"
    if suffix in MARKDOWN_SUFFIXES:
        return "markdown"
    return None if suffix in _FORMAT_SUFFIXES else "text"


def _is_binary(text: str) -> bool:
    return "\x00" in text or len(_CONTROL.findall(text)) > 0.05 * max(1, len(text))


def parse_document(path: Path, kind: str) -> ParsedDocument:
    """Blocks of text with page numbers (PDF), heading paths (DOCX, HTML, Markdown) or times (captions).

    Raises StageFailed: ``pdf_encrypted``, ``invalid_document``, ``no_text`` (nothing to index), or the caption
    parser's ``invalid_captions``.
    """
    parser = PARSERS.get(kind)
    if parser is None:
        raise ValueError(f"unknown document kind {kind!r}; expected one of {', '.join(KINDS)}")
    doc = parser(path)
    blocks = tuple(b for b in doc.blocks if b.text.strip())
    if not blocks:
        raise StageFailed(f"{path.name} contains no text to index", code="no_text")
    return ParsedDocument(doc.title, blocks, doc.pages)


# --- PDF ---------------------------------------------------------------------------------------------------------


def _parse_pdf(path: Path) -> ParsedDocument:
    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            _decrypt_with_empty_password(reader, path.name)
        texts = [page.extract_text() or "" for page in reader.pages]
        meta_title = reader.metadata.title if reader.metadata else None
    except StageFailed:
        raise
    except Exception as exc:  # pypdf raises many types on malformed input; all mean "not a PDF we can read"
        raise StageFailed(f"{path.name} is not a readable PDF ({type(exc).__name__}: {exc})",
                          code="invalid_document") from exc
    blocks = [TextBlock(_join_lines(para.splitlines(), dehyphenate=True), page=number)
              for number, text in enumerate(texts, start=1) for para in _paragraphs(text)]
    if not blocks:
        raise StageFailed(f"{path.name} has no text layer (an empty or scanned PDF); OCR is not supported, so upload "
                          "a PDF with selectable text", code="no_text")
    title = (meta_title or "").strip() or _first_line(blocks[0].text)
    return ParsedDocument(title, tuple(blocks), pages=len(texts))


def _decrypt_with_empty_password(reader: PdfReader, name: str) -> None:
    """Many PDFs are encrypted only to restrict printing or copying, with an empty password to open them."""
    try:
        opened = reader.decrypt("") is not PasswordType.NOT_DECRYPTED
    except DependencyError as exc:  # AES needs the cryptography package, even with an empty password
        raise StageFailed(f"{name} is encrypted with AES, which this server cannot open; upload an unprotected copy",
                          code="pdf_encrypted") from exc
    if not opened:
        raise StageFailed(f"{name} is password-protected; upload an unprotected copy", code="pdf_encrypted")


# --- DOCX --------------------------------------------------------------------------------------------------------


def _parse_docx(path: Path) -> ParsedDocument:
    try:
        document = docx.Document(str(path))
        items = list(document.iter_inner_content())
        core_title = document.core_properties.title
    except Exception as exc:  # zip, XML and package errors all mean "not a DOCX we can read"
        raise StageFailed(f"{path.name} is not a readable DOCX file ({type(exc).__name__}: {exc})",
                          code="invalid_document") from exc
    headings = _HeadingPath()
    blocks: list[TextBlock] = []
    title: str | None = None
    for item in items:
        if isinstance(item, Table):
            blocks.extend(TextBlock(row, heading=headings.current) for row in _docx_rows(item))
            continue
        text = item.text.strip()
        style = (item.style.name if item.style is not None else "") or ""
        if not text:
            continue
        if style.lower() == "title":
            title = title or text
        elif match := _HEADING_STYLE.fullmatch(style.strip()):
            headings.enter(int(match.group(1)), text)
        blocks.append(TextBlock(text, heading=headings.current))
    title = title or (core_title or "").strip() or headings.first
    return ParsedDocument(title, tuple(blocks))


def _docx_rows(table: Table) -> Iterable[str]:
    for row in table.rows:
        cells: list[str] = []
        seen: list[object] = []
        for cell in row.cells:
            if any(cell._tc is tc for tc in seen):  # a merged cell shows up once per column it spans
                continue
            seen.append(cell._tc)
            cells.append(" ".join(cell.text.split()))
        if any(cells):
            yield " | ".join(cells)


class _HeadingPath:
    """The headings above the current block, as "A > B"; a heading closes those at its level and below."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, str]] = []
        self.first: str | None = None

    def enter(self, level: int, text: str) -> None:
        text = " ".join(text.split())
        if not text:
            return
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, text))
        self.first = self.first or text

    @property
    def current(self) -> str | None:
        return " > ".join(text for _, text in self._stack) or None


# --- HTML --------------------------------------------------------------------------------------------------------

_HTML_NOISE = ["script", "style", "nav", "noscript", "template", "svg", "iframe"]
_HTML_BLOCK = frozenset({"address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "dialog",
                         "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "header", "hr",
                         "html", "li", "main", "ol", "p", "section", "summary", "ul"})
_HTML_HEADING = re.compile(r"h([1-6])")
_FLUSH = object()


def _parse_html(path: Path) -> ParsedDocument:
    soup = BeautifulSoup(path.read_bytes(), "html.parser")  # bytes: bs4 honours a BOM or <meta charset>
    for tag in soup.find_all(_HTML_NOISE):
        tag.decompose()
    for tag in soup.find_all(["header", "footer"]):
        # a page's banner and footer are noise; an article's own header usually holds its title
        if tag.find_parent(["article", "main"]) is None:
            tag.decompose()
    h1 = soup.find("h1")
    title_tag = soup.title.get_text(" ", strip=True) if soup.title else ""
    title = title_tag or (h1.get_text(" ", strip=True) if h1 else "") or None
    for element in (soup.head, soup.title):  # the title is the document's, not a block
        if element is not None:
            element.decompose()
    return ParsedDocument(title, tuple(_HtmlBlocks().walk(soup)))


class _HtmlBlocks:
    """Walks the tree with an explicit stack (deeply nested pages would overflow recursion), one block per
    block-level element, tables as one block per row."""

    def __init__(self) -> None:
        self.blocks: list[TextBlock] = []
        self.headings = _HeadingPath()
        self.inline: list[str] = []

    def walk(self, root: Tag) -> list[TextBlock]:
        stack: list[object] = list(reversed(root.contents))
        while stack:
            node = stack.pop()
            if node is _FLUSH:
                self.flush()
            elif isinstance(node, NavigableString):
                if not isinstance(node, PreformattedString):  # comments, doctype, CDATA
                    self.inline.append(re.sub(r"\s+", " ", str(node)))
            elif isinstance(node, Tag):
                self._tag(node, stack)
        self.flush()
        return self.blocks

    def _tag(self, tag: Tag, stack: list[object]) -> None:
        if tag.name == "br":
            self.inline.append("\n")
        elif heading := _HTML_HEADING.fullmatch(tag.name):
            self.flush()
            text = tag.get_text(" ", strip=True)
            self.headings.enter(int(heading.group(1)), text)
            self.emit(text)
        elif tag.name == "table":
            self.flush()
            for row in tag.find_all("tr"):
                cells = [c.get_text(" ", strip=True) for c in row.find_all(["td", "th"], recursive=False)]
                if any(cells):
                    self.emit(" | ".join(cells))
        elif tag.name == "pre":
            self.flush()
            self.emit(tag.get_text().strip("\n"))
        elif tag.name in _HTML_BLOCK:
            self.flush()
            stack.append(_FLUSH)
            stack.extend(reversed(tag.contents))
        else:
            stack.extend(reversed(tag.contents))

    def flush(self) -> None:
        lines = (" ".join(line.split()) for line in "".join(self.inline).split("\n"))
        self.emit("\n".join(line for line in lines if line))
        self.inline = []

    def emit(self, text: str) -> None:
        if text.strip():
            self.blocks.append(TextBlock(text, heading=self.headings.current))


# --- Markdown ----------------------------------------------------------------------------------------------------


def _parse_markdown(path: Path) -> ParsedDocument:
    tokens = MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(_decode(path.read_bytes()))
    headings = _HeadingPath()
    blocks: list[TextBlock] = []
    lists: list[list[int]] = []  # per open list: [next number] for ordered lists, [] for bullets
    item_marker = ""
    row: list[str] | None = None
    for i, token in enumerate(tokens):
        if token.type in ("bullet_list_open", "ordered_list_open"):
            lists.append([int(token.attrs.get("start", 1))] if token.type == "ordered_list_open" else [])
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif token.type == "list_item_open":
            counter = lists[-1] if lists else []
            item_marker = f"{counter[0]}. " if counter else "- "
            if counter:
                counter[0] += 1
        elif token.type == "list_item_close":
            item_marker = ""
        elif token.type == "tr_open":
            row = []
        elif token.type == "tr_close" and row is not None:
            if any(row):
                blocks.append(TextBlock(" | ".join(row), heading=headings.current))
            row = None
        elif token.type == "inline":
            text = _inline_text(token)
            if row is not None:
                row.append(" ".join(text.split()))
            elif i > 0 and tokens[i - 1].type == "heading_open":
                headings.enter(int(tokens[i - 1].tag[1:]), text)
                blocks.append(TextBlock(text, heading=headings.current))
            elif text.strip():
                blocks.append(TextBlock(item_marker + text, heading=headings.current))
                item_marker = ""  # only an item's first paragraph carries the marker
        elif token.type in ("fence", "code_block"):
            blocks.append(TextBlock(token.content.strip("\n"), heading=headings.current))
        elif token.type == "html_block":
            text = " ".join(html.unescape(_HTML_TAG.sub(" ", token.content)).split())
            blocks.append(TextBlock(text, heading=headings.current))
    return ParsedDocument(headings.first, tuple(blocks))


def _inline_text(token: Token) -> str:
    parts: list[str] = []
    for child in token.children or ():
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif child.type == "image":
            parts.append(child.content)  # the alt text
    return _join_lines("".join(parts).split("\n"))


# --- plain text and captions -------------------------------------------------------------------------------------


def _parse_text(path: Path) -> ParsedDocument:
    text = _decode(path.read_bytes())
    blocks = tuple(TextBlock(para) for para in _paragraphs(text))
    return ParsedDocument(_first_line(blocks[0].text) if blocks else None, blocks)


def _parse_captions(path: Path) -> ParsedDocument:
    transcript = parse_captions(path, TranscriptSource.MANUAL_CAPTIONS)
    return ParsedDocument(None, tuple(TextBlock(s.text.strip(), start=s.start, end=s.end)
                                      for s in transcript.segments if s.text.strip()))


PARSERS: dict[str, Callable[[Path], ParsedDocument]] = {
    "pdf": _parse_pdf, "docx": _parse_docx, "html": _parse_html, "markdown": _parse_markdown, "text": _parse_text,
    "captions": _parse_captions,
}


# --- helpers -----------------------------------------------------------------------------------------------------


def _decode(data: bytes, *, strict: bool = True) -> str:
    """UTF-8 (BOM or not), UTF-16/32 with a BOM, else GB18030, else Latin-1 (which never fails).

    With ``strict=False`` (a head cut at an arbitrary byte) a torn last character is forgiven. A file with a BOM
    is taken at its word: broken sequences become U+FFFD rather than a guess at another encoding.
    """
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
                       (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return data.decode(codec, errors="replace" if strict else "ignore").replace("\r\n", "\n")
    for codec in ("utf-8", "gb18030"):
        try:
            return data.decode(codec).replace("\r\n", "\n")
        except UnicodeDecodeError as exc:
            if not strict and exc.start >= len(data) - 4:  # only the cut at the end is torn
                return data[:exc.start].decode(codec, errors="ignore").replace("\r\n", "\n")
    return data.decode("latin-1").replace("\r\n", "\n")


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in _BLANK_LINES.split(text.replace("\r\n", "\n").replace("\r", "\n")) if p.strip()]


def _join_lines(lines: Iterable[str], *, dehyphenate: bool = False) -> str:
    """Lines of one paragraph as one line: no space between CJK characters, words broken by a hyphen rejoined."""
    out = ""
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if not out:
            out = line
        elif dehyphenate and re.search(r"[a-z]-\Z", out) and line[:1].islower():
            out = out[:-1] + line
        elif _CJK.match(out[-1]) and _CJK.match(line[0]):
            out += line
        else:
            out += " " + line
    return out


def _first_line(text: str) -> str | None:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    if len(line) > TITLE_CHARS:
        line = line[:TITLE_CHARS].rsplit(" ", 1)[0] + "…"
    return line or None
