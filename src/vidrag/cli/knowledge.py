"""Knowledge-base commands: ingest (progress per stage), search, transcript. Registered on the `vidrag` app."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from vidrag.cli import (
    _progress_bar,
    _show,
    _wait_idle,
    app,
    console,
    follow,
    load_settings,
    run_to_exit,
)
from vidrag.domain.errors import InvalidInput, NotFound, VidragError
from vidrag.domain.knowledge import RetrievalQuery, SearchMethod

if TYPE_CHECKING:
    from vidrag.api.deps import Container
    from vidrag.storage.models import DocumentRow

KbOption = Annotated[str, typer.Option("--kb", help="knowledge base name (created by ingest if missing)")]


def _container() -> Container:
    from vidrag.api.app import build_container

    try:
        return build_container(load_settings())
    except VidragError as exc:
        console.print(f"[red]{exc.code}: {escape(exc.message)}[/red]")
        raise typer.Exit(1) from exc


@app.command()
def ingest(source: Annotated[str, typer.Argument(help="a video/audio URL, or a local file (media or document)")],
           kb: KbOption) -> None:
    """Add a video, audio or document to a knowledge base and index it, showing each stage."""
    container = _container()
    run_to_exit(container, _ingest(container, source, kb))


async def _ingest(c: Container, source: str, kb: str) -> int:
    c.events.bind(asyncio.get_running_loop())
    await c.runner.start()
    await c.ingest_runner.start()
    try:
        try:
            dataset = _dataset(c, kb)
            doc = await asyncio.to_thread(_add, c, dataset, source)  # a download or a file copy: off the loop
        except VidragError as exc:
            console.print(f"[red]{exc.code}: {escape(exc.message)}[/red]", soft_wrap=True)  # a path stays whole
            return 2
        row = await _follow_document(c, dataset, doc.id)
        await _wait_idle(c.ingest_runner)
        if row.indexing_status != "completed":
            console.print(f"[red]✗ {row.error_code or 'error'}: {escape(row.error or row.indexing_status)}[/red]")
            return 1
        segments = c.knowledge.segments(dataset, doc.id, 0, 1, None, None)[1]
        console.print(f"[green]✓ indexed[/green] {escape(row.name)} into '{escape(kb)}': {segments} chunks "
                      f"(document {row.id})", soft_wrap=True)
        return 0
    finally:
        await c.ingest_runner.stop()
        await c.runner.stop()


def _add(c: Container, dataset: str, source: str) -> DocumentRow:
    path = Path(source)
    if path.is_file():
        with path.open("rb") as fh:
            return c.knowledge.add_file(dataset, path.name, fh)
    if "://" not in source:  # meant as a path: say so, rather than "url scheme 'none' is not supported"
        if path.exists():
            raise InvalidInput(f"not a file: {source}; give a media or document file, or an http(s) URL",
                               code="not_a_file")
        raise NotFound(f"no such file: {source}; give an existing file, or an http(s) URL", code="file_not_found")
    return c.knowledge.add_url(dataset, source)


def _dataset(c: Container, kb: str) -> str:
    try:
        return c.knowledge.dataset(kb).id
    except NotFound:
        console.print(f"creating knowledge base '{escape(kb)}'")
        return c.knowledge.create_dataset(kb).id


async def _follow_document(c: Container, dataset: str, document_id: str) -> DocumentRow:
    """Show a document's stage and progress until it is indexed or fails."""
    with _progress_bar() as bar:
        line = bar.add_task("waiting", total=100, speed="", eta="")

        def show_row(row: DocumentRow) -> bool:
            _show(bar, line, row.indexing_status, "", row.progress, None)
            return row.indexing_status in ("completed", "error")

        def show_event(event: dict[str, Any]) -> bool:
            _show(bar, line, event.get("indexing_status"), "", event.get("progress"), None)
            return event.get("indexing_status") in ("completed", "error")

        async with c.events.subscribe(f"doc:{document_id}") as queue:
            return await follow(queue, lambda: c.knowledge.document(dataset, document_id), show_row, show_event)


@app.command()
def search(query: Annotated[str, typer.Argument(help="what to look for")], kb: KbOption,
           method: Annotated[SearchMethod, typer.Option(help="hybrid, semantic or keyword")] = SearchMethod.HYBRID,
           top_k: Annotated[int, typer.Option(min=1, max=100)] = 5) -> None:
    """Search a knowledge base; media hits show their time span and a link to that second."""
    c = _container()
    try:
        results = c.search.retrieve(c.knowledge.dataset(kb).id, RetrievalQuery(query, method, top_k))
    except VidragError as exc:
        console.print(f"[red]{exc.code}: {escape(exc.message)}[/red]")
        raise typer.Exit(2) from exc
    finally:
        c.db.dispose()
    table = Table("#", "score", "where", "text", show_lines=True)
    for n, r in enumerate(results, start=1):
        table.add_row(str(n), f"{r.hit.score:.3f}", _where(r.citation_fields(), r.document.name),
                      escape(r.segment.content[:300]))
    console.print(table if results else "[yellow]no matches[/yellow]")


def _where(fields: dict[str, object], name: str) -> str:
    start, end = fields.get("start"), fields.get("end")
    if isinstance(start, float) and isinstance(end, float):
        label = f"{escape(name)} {_clock(start)}-{_clock(end)}"
        url = fields.get("url")
        return f"[link={url}]{label}[/link]" if url else label
    page = fields.get("page")
    return f"{escape(name)}" + (f" p.{page}" if page else "")


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


MIN_PREFIX = 8


def _document_id(c: Container, kb: str, ref: str) -> str:
    """The document ``ref`` names: its ID, or a download task's ID, either whole or a unique prefix."""
    dataset = c.knowledge.dataset(kb).id
    try:
        return c.knowledge.document(dataset, ref).id
    except NotFound:
        if len(ref) < MIN_PREFIX:
            raise
    found: set[str] = set()
    offset, total = 0, 1
    while offset < total:
        rows, total, _ = c.knowledge.documents(dataset, offset, 500)
        found |= {d.id for d in rows if d.id.startswith(ref) or (d.task_id or "").startswith(ref)}
        offset += len(rows) or total
    if len(found) > 1:
        raise InvalidInput(f"'{ref}' starts the IDs of {len(found)} documents in '{kb}'; give more of the ID",
                           code="ambiguous_id")
    if not found:
        raise NotFound(f"no document in '{kb}' has an ID, or a download task ID, that starts with '{ref}'",
                       code="document_not_found")
    return found.pop()


@app.command()
def transcript(document_id: Annotated[str, typer.Argument(
                   help="a media document's ID, or the ID of the download it was made from; a unique prefix "
                        f"of either (at least {MIN_PREFIX} characters, as `vidrag tasks` shows) will do")],
               kb: KbOption,
               fmt: Annotated[str, typer.Option("--format", help="srt, vtt, txt or json")] = "srt",
               output: Annotated[Path | None, typer.Option("--output", "-o", help="write to a file")] = None) -> None:
    """Print (or save) a media document's transcript."""
    c = _container()
    try:
        body, _ = c.knowledge.transcript(kb, _document_id(c, kb, document_id), fmt)
    except VidragError as exc:
        console.print(f"[red]{exc.code}: {escape(exc.message)}[/red]", soft_wrap=True)
        raise typer.Exit(2) from exc
    finally:
        c.db.dispose()
    if output:
        output.write_text(body, encoding="utf-8")
        console.print(f"wrote {output}")
    else:
        print(body, end="")  # raw, for pipes


@app.command()
def ask(question: Annotated[str, typer.Argument(help="the question")], kb: KbOption,
        top_k: Annotated[int, typer.Option(min=1, max=20)] = 5) -> None:
    """Answer from a knowledge base, with numbered citations that link to the cited second."""
    c = _container()
    try:
        answer = c.answers.answer(kb, question, top_k)
    except VidragError as exc:
        console.print(f"[red]{exc.code}: {escape(exc.message)}[/red]")
        raise typer.Exit(2) from exc
    finally:
        c.answers.close()
        c.db.dispose()
    console.print(escape(answer.text), soft_wrap=True)
    for cite in answer.citations:
        where = _where(cite.place, str(cite.document.get("name")))
        console.print(f"  {escape(f'[{cite.n}]')} {where}", soft_wrap=True, highlight=False)
