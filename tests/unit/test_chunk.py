from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass

import pytest

from vidrag.domain.chunks import (
    Chapter,
    ChunkDraft,
    ParsedDocument,
    ProcessRule,
    TextBlock,
    TranscriptChunkRule,
    count_tokens,
)
from vidrag.domain.transcripts import Transcript, TranscriptSegment, TranscriptSource, Word
from vidrag.pipeline.chunk import chunk_document, chunk_transcript

WORDS = ("river stone light window garden method signal paper orange music valley engine number silver "
         "morning bridge winter forest cable market").split()
SEEDS = range(6)


def seeded(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 -- reproducible test data, not secrets


def sentence(rng: random.Random, tag: str, n_words: int) -> str:
    return f"{tag} " + " ".join(rng.choice(WORDS) for _ in range(n_words - 1)) + "."


def overlap_between(previous: str, current: str) -> str:
    """The longest text that ends ``previous`` and begins ``current``."""
    for size in range(min(len(previous), len(current)), 0, -1):
        if previous.endswith(current[:size]):
            return current[:size]
    return ""


def assert_budget(chunks: list[ChunkDraft], max_tokens: int) -> None:
    assert [c.position for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert c.tokens == count_tokens(c.text)
        assert 0 < c.tokens <= max_tokens
        assert c.text == c.text.strip()


# --- documents ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleDoc:
    doc: ParsedDocument
    heading_of: dict[str, str]  # sentence tag -> heading
    page_of: dict[str, int]
    sentences: list[str]


def sample_doc(seed: int) -> SampleDoc:
    """Sections of paragraphs of tagged sentences ("s12 ..."); the tag says where a sentence came from."""
    rng = seeded(seed)
    blocks: list[TextBlock] = []
    heading_of: dict[str, str] = {}
    page_of: dict[str, int] = {}
    sentences: list[str] = []
    n = 0
    page = 1
    for section in range(rng.randint(2, 4)):
        heading = f"Part {section}"
        for _ in range(rng.randint(1, 6)):
            paragraph = []
            for _ in range(rng.randint(1, 12)):
                tag = f"s{n}"
                n += 1
                text = sentence(rng, tag, rng.randint(3, 14))
                paragraph.append(text)
                heading_of[tag], page_of[tag] = heading, page
                sentences.append(text)
            blocks.append(TextBlock(" ".join(paragraph), page=page, heading=heading))
            page += rng.random() < 0.4
    return SampleDoc(ParsedDocument("sample", tuple(blocks), pages=page), heading_of, page_of, sentences)


@pytest.mark.parametrize("seed", SEEDS)
def test_document_chunks_respect_budget_sections_and_pages(seed: int) -> None:
    sample = sample_doc(seed)
    rule = ProcessRule(max_tokens=seeded(seed).choice([40, 64, 100]), overlap_tokens=20)
    chunks = chunk_document(sample.doc, rule)
    assert_budget(chunks, rule.max_tokens)
    for c in chunks:
        tags = re.findall(r"\bs(\d+)\b", c.text)
        assert tags
        assert {sample.heading_of[f"s{t}"] for t in tags} == {c.heading}  # never across a heading change
        if c.text.startswith("s"):  # starts with a whole sentence: that sentence's page
            assert c.page == sample.page_of[f"s{tags[0]}"]
    for text in sample.sentences:  # nothing lost: sentences fit the budget, so each is whole in some chunk
        assert any(text in c.text for c in chunks)


@pytest.mark.parametrize("seed", SEEDS)
def test_document_overlap_present_and_bounded(seed: int) -> None:
    sample = sample_doc(seed)
    rule = ProcessRule(max_tokens=60, overlap_tokens=20)
    chunks = chunk_document(sample.doc, rule)
    for previous, current in itertools.pairwise(chunks):
        shared = overlap_between(previous.text, current.text)
        if (previous.heading, previous.page) != (current.heading, current.page):
            assert not shared.strip(" ."), "sections (heading and page) share no text"
            continue
        if not shared:  # only when a whole paragraph leaves no room: then the cut is at a paragraph end anyway
            assert current.tokens >= rule.max_tokens - 2
            continue
        assert count_tokens(shared) <= rule.overlap_tokens
        assert len(shared) < len(previous.text)
        assert previous.text[-len(shared) - 1].isspace(), "the overlap starts at a word"


def test_overlap_is_whole_sentences_when_they_fit() -> None:
    text = " ".join(f"s{i} is short." for i in range(100))  # 4 tokens a sentence
    rule = ProcessRule(max_tokens=40, overlap_tokens=10)
    chunks = chunk_document(ParsedDocument(None, (TextBlock(text),)), rule)
    assert_budget(chunks, 40)
    for previous, current in itertools.pairwise(chunks):
        shared = overlap_between(previous.text, current.text)
        assert re.fullmatch(r"s\d+ is short\. s\d+ is short\.", shared)


def test_overlap_falls_back_to_a_word_boundary() -> None:
    long_sentence = " ".join(f"w{i}" for i in range(200)) + "."
    rule = ProcessRule(max_tokens=50, overlap_tokens=10)
    chunks = chunk_document(ParsedDocument(None, (TextBlock(long_sentence),)), rule)
    assert len(chunks) > 3
    assert_budget(chunks, rule.max_tokens)
    for previous, current in itertools.pairwise(chunks):
        shared = overlap_between(previous.text, current.text)
        assert 5 <= count_tokens(shared) <= 10
        assert re.match(r"w\d+ ", shared), "cut at a word, not inside one"


def test_chinese_is_chunked_at_sentence_ends() -> None:
    rng = seeded(7)
    chars = "天地人山水风云日月星花草树木"
    sentences = ["".join(rng.choice(chars) for _ in range(rng.randint(4, 20))) + rng.choice("。！？")
                 for _ in range(80)]
    doc = ParsedDocument(None, (TextBlock("".join(sentences[:50])), TextBlock("".join(sentences[50:]))))
    rule = ProcessRule(max_tokens=50, overlap_tokens=10)
    chunks = chunk_document(doc, rule)
    assert_budget(chunks, rule.max_tokens)
    for c in chunks:
        assert c.text[-1] in "。！？"
        pieces = re.findall(r"[^。！？]+[。！？]", c.text)
        assert "".join(pieces) == c.text
        assert all(p.strip() in sentences for p in pieces[1:])  # only the overlap may start mid-sentence
    for s in sentences:
        assert any(s in c.text for c in chunks)


@pytest.mark.parametrize("text", ["字" * 500, "one two three " * 100, "!" * 300])
def test_indivisible_runs_still_fit(text: str) -> None:
    rule = ProcessRule(max_tokens=32, overlap_tokens=8)
    chunks = chunk_document(ParsedDocument(None, (TextBlock(text),)), rule)
    assert_budget(chunks, rule.max_tokens)


def test_custom_separator_and_cleaning() -> None:
    text = ("First   part,  mail me at a.b@example.com.\n\n\n\nStill first."
            "***Second part: https://example.com/x?y=1 here.")
    rule = ProcessRule(separator="***", max_tokens=400, overlap_tokens=0, remove_urls_emails=True)
    [chunk] = chunk_document(ParsedDocument(None, (TextBlock(text),)), rule)
    assert chunk.text == "First part, mail me at .\n\nStill first.\n\nSecond part: here."


def test_separator_splits_pieces_that_merge_back_up_to_the_budget() -> None:
    lines = [f"Line {i} of the poem" for i in range(40)]
    rule = ProcessRule(separator="\n", max_tokens=20, overlap_tokens=0)
    chunks = chunk_document(ParsedDocument(None, (TextBlock("\n".join(lines)),)), rule)
    assert_budget(chunks, 20)
    assert [c.text for c in chunks] == ["\n".join(lines[i:i + 4]) for i in range(0, 40, 4)]


def test_caption_chunks_span_their_cues() -> None:
    cues = tuple(TextBlock(f"Cue number {i} says something.", start=2.0 * i, end=2.0 * i + 1.5) for i in range(30))
    rule = ProcessRule(max_tokens=30, overlap_tokens=8)
    chunks = chunk_document(ParsedDocument(None, cues), rule)
    assert_budget(chunks, 30)
    for c in chunks:
        assert c.start is not None
        assert c.end is not None
        numbers = [int(n) for n in re.findall(r"Cue number (\d+)", c.text)]
        assert c.start <= 2.0 * numbers[0]
        assert c.end == 2.0 * numbers[-1] + 1.5
    starts = [c.start or 0.0 for c in chunks]
    assert starts == sorted(starts)


# --- transcripts -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spoken:
    text: str
    start: float
    end: float


@dataclass(frozen=True)
class SampleTalk:
    transcript: Transcript
    sentences: list[Spoken]
    chapters: list[Chapter]


def sample_talk(seed: int, *, punctuated: bool = True, with_words: bool = True) -> SampleTalk:
    """Sentences of timed words (Whisper style: " word"), 1-3 per segment, gaps between sentences that are
    sometimes pauses; chapters start in the gap before some sentences."""
    rng = seeded(seed)
    t = 0.5
    segments: list[TranscriptSegment] = []
    sentences: list[Spoken] = []
    chapters: list[Chapter] = []
    n = 0
    while n < 60:
        group: list[Word] = []
        texts = []
        for _ in range(rng.randint(1, 3)):
            if n and rng.random() < 0.08:
                chapters.append(Chapter(t - 0.1, None, f"Chapter {len(chapters) + 1}"))
            words = [f"t{n}"] + [rng.choice(WORDS) for _ in range(rng.randint(2, 13))]
            if punctuated:
                words[-1] += "."
            timed = []
            for w in words:
                d = rng.uniform(0.15, 0.5)
                timed.append(Word(round(t, 3), round(t + d, 3), " " + w))
                t += d + rng.uniform(0.0, 0.1)
            sentences.append(Spoken(" ".join(words), timed[0].start, timed[-1].end))
            group.extend(timed)
            texts.append(" ".join(words))
            n += 1
            t += rng.choice([0.2, 0.3, 1.5])  # a pause of 1.5 s now and then
        segments.append(TranscriptSegment(group[0].start, group[-1].end, " " + " ".join(texts),
                                          tuple(group) if with_words else ()))
    if chapters:
        chapters.insert(0, Chapter(0.0, None, "Opening"))
    transcript = Transcript(tuple(segments), TranscriptSource.WHISPER, "en", duration=t + 1)
    return SampleTalk(transcript, sentences, chapters)


def chapter_at(chapters: list[Chapter], t: float) -> Chapter | None:
    found = [c for c in chapters if c.start <= t]
    return found[-1] if found else None


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("with_words", [True, False])
def test_transcript_chunks_cover_every_sentence(seed: int, with_words: bool) -> None:
    talk = sample_talk(seed, with_words=with_words)
    rule = TranscriptChunkRule(max_tokens=seeded(seed).choice([40, 60, 160]), overlap_tokens=15)
    chunks = chunk_transcript(talk.transcript, rule, talk.chapters)
    assert_budget(chunks, rule.max_tokens)
    starts = [c.start or 0.0 for c in chunks]
    assert starts == sorted(starts)
    duration = talk.transcript.duration
    assert duration is not None
    for c in chunks:
        assert c.start is not None
        assert c.end is not None
        assert 0 <= c.start <= c.end <= duration
    slack = 0.0 if with_words else 1e-6
    for s in talk.sentences:
        holders = [c for c in chunks if s.text in c.text]
        assert holders, f"sentence {s.text!r} is in no chunk"
        if with_words:  # word timestamps give exact sentence times; otherwise they are apportioned
            assert any(c.start is not None and c.end is not None and c.start - slack <= s.start
                       and s.end <= c.end + slack for c in holders)


@pytest.mark.parametrize("seed", SEEDS)
def test_transcript_chunks_stay_inside_chapters(seed: int) -> None:
    talk = sample_talk(seed + 100)
    assert talk.chapters, "the sample has chapters"
    chunks = chunk_transcript(talk.transcript, TranscriptChunkRule(max_tokens=50, overlap_tokens=12), talk.chapters)
    for c in chunks:
        assert c.start is not None
        assert c.end is not None
        chapter = chapter_at(talk.chapters, c.start)
        assert chapter is not None
        assert c.chapter == chapter.title
        assert chapter_at(talk.chapters, c.end) == chapter, "a chunk never crosses a chapter boundary"
    assert {c.chapter for c in chunks} == {ch.title for ch in talk.chapters}


@pytest.mark.parametrize("seed", SEEDS)
def test_transcript_cuts_at_sentence_ends_with_bounded_overlap(seed: int) -> None:
    talk = sample_talk(seed)
    rule = TranscriptChunkRule(max_tokens=45, overlap_tokens=15)
    chunks = chunk_transcript(talk.transcript, rule)
    for previous, current in itertools.pairwise(chunks):
        assert previous.text.endswith(".")
        shared = overlap_between(previous.text, current.text)
        if shared:  # whole sentences, repeated with their times
            assert re.match(r"t\d+ ", shared)
            assert count_tokens(shared) <= rule.overlap_tokens
            assert current.start is not None
            assert previous.end is not None
            assert current.start < previous.end


@pytest.mark.parametrize("seed", SEEDS)
def test_unpunctuated_transcript_is_cut_at_pauses(seed: int) -> None:
    """Automatic captions without punctuation: the only good cut is a pause."""
    rng = seeded(seed)
    t, segments, all_words = 0.0, [], []
    for phrase in range(40):
        words = [f"p{phrase}"] + [rng.choice(WORDS) for _ in range(rng.randint(3, 8))]
        timed = []
        for w in words:
            timed.append(Word(round(t, 3), round(t + 0.3, 3), " " + w))
            t += 0.35
        t += 1.6  # every phrase ends with a pause; inside a phrase there is none
        for i in range(0, len(timed), 3):  # segments cut phrases at arbitrary words
            part = tuple(timed[i:i + 3])
            segments.append(TranscriptSegment(part[0].start, part[-1].end, "".join(w.text for w in part), part))
        all_words.extend(timed)
    rule = TranscriptChunkRule(max_tokens=24, overlap_tokens=0, pause_seconds=1.0)
    chunks = chunk_transcript(Transcript(tuple(segments), TranscriptSource.AUTO_CAPTIONS, duration=t), rule)
    assert_budget(chunks, 24)
    for c in chunks[:-1]:
        assert c.end is not None
        following = [w for w in all_words if w.start > c.end]
        assert following[0].start - c.end >= 1.0, f"cut inside a phrase after {c.text!r}"
        assert re.match(r"p\d+ ", c.text), "a chunk starts a phrase"


def test_sentence_timing_without_words_is_apportioned_by_characters() -> None:
    segment = TranscriptSegment(10.0, 20.0, "Aaaa bbbb cccc. Dddd eeee ffff.")
    chunks = chunk_transcript(Transcript((segment,), TranscriptSource.MANUAL_CAPTIONS, duration=30.0),
                              TranscriptChunkRule(max_tokens=4, overlap_tokens=0))
    assert [(c.text, c.start, c.end) for c in chunks] == [("Aaaa bbbb cccc.", 10.0, 15.0),
                                                          ("Dddd eeee ffff.", 15.0, 20.0)]


def test_words_time_sentences_inside_a_segment() -> None:
    words = (Word(1.0, 1.4, " Hello"), Word(1.5, 2.0, " there."), Word(6.0, 6.5, " General"),
             Word(6.6, 7.2, " Kenobi."))
    segment = TranscriptSegment(1.0, 7.2, " Hello there. General Kenobi.", words)
    chunks = chunk_transcript(Transcript((segment,), TranscriptSource.WHISPER), TranscriptChunkRule(max_tokens=3))
    assert [(c.text, c.start, c.end) for c in chunks] == [("Hello there.", 1.0, 2.0), ("General Kenobi.", 6.0, 7.2)]


def test_chunk_times_are_clamped_to_the_media() -> None:
    segment = TranscriptSegment(-0.2, 12.0, "Late words.", ())
    [chunk] = chunk_transcript(Transcript((segment,), TranscriptSource.WHISPER, duration=10.0),
                               TranscriptChunkRule())
    assert (chunk.start, chunk.end) == (0.0, 10.0)


def test_empty_transcript_gives_no_chunks() -> None:
    assert chunk_transcript(Transcript((), TranscriptSource.WHISPER), TranscriptChunkRule()) == []
    blank = Transcript((TranscriptSegment(0, 1, "  "),), TranscriptSource.WHISPER)
    assert chunk_transcript(blank, TranscriptChunkRule()) == []


def test_a_chunk_never_spans_a_page_break() -> None:
    doc = ParsedDocument("p", (TextBlock("One two three.", page=1), TextBlock("Four five six.", page=2)))
    chunks = chunk_document(doc, ProcessRule(max_tokens=100, overlap_tokens=10))
    assert [(c.page, c.text) for c in chunks] == [(1, "One two three."), (2, "Four five six.")]


def test_mixed_latin_and_chinese_tokens_are_counted_alike() -> None:
    from vidrag.domain.chunks import count_tokens

    assert count_tokens("abc中文") == count_tokens("中文abc") == 3


def test_a_lone_heading_is_not_a_chunk() -> None:
    doc = ParsedDocument("p", (TextBlock("Camping", heading="Camping"), TextBlock("Tents", heading="Camping > Tents"),
                               TextBlock("Pitch on flat ground.", heading="Camping > Tents")))
    chunks = chunk_document(doc, ProcessRule(max_tokens=100, overlap_tokens=0))
    assert [c.text for c in chunks] == ["Tents\n\nPitch on flat ground."]
    assert chunks[0].heading == "Camping > Tents"
    assert [c.position for c in chunks] == [0]


def test_a_long_silence_always_ends_a_chunk() -> None:
    segments = (TranscriptSegment(0.0, 2.0, "Welcome to the class."), TranscriptSegment(70.0, 72.0, "Now the kiln."))
    t = Transcript(segments, TranscriptSource.MANUAL_CAPTIONS)
    chunks = chunk_transcript(t, TranscriptChunkRule(max_tokens=100, overlap_tokens=20, max_gap_seconds=8.0))
    assert [(c.start, c.end) for c in chunks] == [(0.0, 2.0), (70.0, 72.0)]
