"""Transcript.spoken_span: when a chunk's sentence is spoken, which is where a citation opens the video."""

from __future__ import annotations

from vidrag.domain.transcripts import Transcript, TranscriptSegment, TranscriptSource, Word

WORDS = (Word(5.0, 5.5, " Roses"), Word(5.5, 6.0, " need"), Word(6.0, 6.5, " warm"), Word(6.5, 7.0, " soil."),
         Word(7.2, 7.5, " Our"), Word(7.5, 8.0, " football"), Word(8.0, 8.3, " team"), Word(8.3, 9.0, " won."))
TALK = Transcript((TranscriptSegment(0.0, 4.0, " The lighthouse keeper counted seven ships."),
                   TranscriptSegment(5.0, 9.0, " Roses need warm soil. Our football team won.", WORDS),
                   TranscriptSegment(30.0, 34.0, " Our football team won.")), TranscriptSource.WHISPER)


def test_word_times_give_the_sentence_its_own_seconds() -> None:
    assert TALK.spoken_span("Our football team won.", within=(0.0, 10.0)) == (7.2, 9.0)
    assert TALK.spoken_span("roses  NEED warm soil", within=(0.0, 10.0)) == (5.0, 7.0)  # case, spaces, punctuation


def test_without_word_times_the_segment_time_is_spread_over_its_characters() -> None:
    start, end = TALK.spoken_span("counted seven ships")  # type: ignore[misc]
    assert 1.5 < start < 2.5
    assert end == 4.0


def test_a_sentence_said_twice_is_found_where_the_chunk_is() -> None:
    assert TALK.spoken_span("Our football team won.", within=(29.0, 35.0)) == (30.0, 34.0)


def test_a_sentence_across_segments_and_chinese() -> None:
    zh = Transcript((TranscriptSegment(0.0, 2.0, "博物馆的恐龙厅"), TranscriptSegment(2.0, 4.0, "每周六上午开放。")),
                    TranscriptSource.WHISPER)
    assert zh.spoken_span("恐龙厅每周六上午开放") == (1.14, 4.0)


def test_text_not_in_the_transcript_has_no_span() -> None:
    assert TALK.spoken_span("The museum opens on Saturday.") is None
    assert TALK.spoken_span("…") is None
    assert TALK.spoken_span("Our football team won.", within=(100.0, 110.0)) is None
