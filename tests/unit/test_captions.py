"""Caption files as transcripts: tags, entities, SubRip, rolling automatic captions, choosing a file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from vidrag.domain.errors import StageFailed
from vidrag.domain.transcripts import Transcript, TranscriptSegment, TranscriptSource, to_srt, to_vtt
from vidrag.pipeline.captions import CaptionFile, choose_captions, parse_captions


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def spans(t: Transcript) -> list[tuple[float, float, str]]:
    return [(s.start, s.end, s.text) for s in t.segments]


def test_vtt_tags_entities_and_empty_cues_are_cleaned(tmp_path: Path) -> None:
    path = write(tmp_path, "talk.en.vtt", """WEBVTT
Kind: captions
Language: en

NOTE a comment that is not a cue

intro
00:00:01.000 --> 00:00:03.500 align:start position:0%
<v Roger Bingham>We are in <i>New York</i> &amp; it&#39;s <b>cold</b>

00:00:03.500 --> 00:00:04.000
<c.colorE5E5E5> </c>&nbsp;

00:00:04.000 --> 00:00:06.250
<c.colorCCCCCC>Tom &lt;3 Jerry</c>
{\\an8}second line
""")
    t = parse_captions(path, TranscriptSource.MANUAL_CAPTIONS, "en")
    assert spans(t) == [(1.0, 3.5, "We are in New York & it's cold"), (4.0, 6.25, "Tom <3 Jerry second line")]
    assert t.source is TranscriptSource.MANUAL_CAPTIONS
    assert t.language == "en"


def test_srt(tmp_path: Path) -> None:
    path = write(tmp_path, "talk.srt", """1
00:00:00,500 --> 00:00:02,000
<font color="#ffff00">Hello</font> there,

2
00:00:02,100 --> 00:00:04,900
<i>general</i>
Kenobi!

3
00:01:02,000 --> 01:00:03,007
Much later
""")
    t = parse_captions(path, TranscriptSource.MANUAL_CAPTIONS)
    assert spans(t) == [(0.5, 2.0, "Hello there,"), (2.1, 4.9, "general Kenobi!"), (62.0, 3603.007, "Much later")]


# As YouTube serves automatic captions (and yt-dlp saves them): every cue shows the previous cue's line
# again above a new one, with karaoke timing per word, and a 10 ms cue in between holds the old line. Their
# blank-looking lines hold one space (written ␠ here), so they do not end the cue.
ROLLING = """WEBVTT
Kind: captions
Language: en

00:00:00.080 --> 00:00:02.310 align:start position:0%
␠
so<00:00:00.400><c> today</c><00:00:00.800><c> we're</c><00:00:01.120><c> talking</c><00:00:01.600><c> about</c>

00:00:02.310 --> 00:00:02.320 align:start position:0%
so today we're talking about
␠

00:00:02.320 --> 00:00:04.870 align:start position:0%
so today we're talking about
lighthouses<00:00:03.000><c> and</c><00:00:03.300><c> their</c><00:00:03.700><c> keepers</c>

00:00:04.870 --> 00:00:04.880 align:start position:0%
lighthouses and their keepers
␠

00:00:04.880 --> 00:00:07.000 align:start position:0%
lighthouses and their keepers
who<00:00:05.200><c> counted</c><00:00:05.600><c> ships</c>
""".replace("␠", " ")


def test_rolling_auto_captions_keep_only_new_text_at_the_time_it_appeared(tmp_path: Path) -> None:
    t = parse_captions(write(tmp_path, "auto.en.vtt", ROLLING), TranscriptSource.AUTO_CAPTIONS, "en")
    assert spans(t) == [(0.08, 2.32, "so today we're talking about"),
                        (2.32, 4.88, "lighthouses and their keepers"),
                        (4.88, 7.0, "who counted ships")]
    assert t.text == "so today we're talking about lighthouses and their keepers who counted ships"
    assert t.extra["rolling"] is True
    words = t.segments[1].words  # karaoke timing becomes word timing
    assert [(w.start, w.end, w.text.strip()) for w in words] == [
        (2.32, 3.0, "lighthouses"), (3.0, 3.3, "and"), (3.3, 3.7, "their"), (3.7, 4.87, "keepers")]
    assert "".join(w.text for w in words).strip() == t.segments[1].text


def test_a_repeated_line_in_manual_captions_is_not_taken_for_rolling(tmp_path: Path) -> None:
    path = write(tmp_path, "m.vtt", "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nNo.\n\n"
                 "00:00:02.500 --> 00:00:03.000\nNo.\n\n00:00:03.000 --> 00:00:04.000\nAbsolutely not.\n\n"
                 "00:00:04.000 --> 00:00:05.000\nWhy?\n")
    t = parse_captions(path, TranscriptSource.MANUAL_CAPTIONS)
    assert [s.text for s in t.segments] == ["No.", "No.", "Absolutely not.", "Why?"]
    assert t.extra["rolling"] is False


def test_the_same_text_over_back_to_back_cues_is_one_segment(tmp_path: Path) -> None:
    path = write(tmp_path, "dup.vtt", "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHello world\n\n"
                 "00:00:02.000 --> 00:00:03.000\nHello world\n\n00:00:03.000 --> 00:00:04.000\nBye\n")
    assert spans(parse_captions(path, TranscriptSource.AUTO_CAPTIONS)) == [(1.0, 3.0, "Hello world"),
                                                                           (3.0, 4.0, "Bye")]


def test_a_file_misnamed_by_its_site_is_read_by_content(tmp_path: Path) -> None:
    path = write(tmp_path, "captions.txt", "\ufeffWEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHi\n")
    assert spans(parse_captions(path, TranscriptSource.MANUAL_CAPTIONS)) == [(1.0, 2.0, "Hi")]


@pytest.mark.parametrize(("name", "content"), [
    ("garbage.vtt", "this is not a caption file\nat all\n"),
    ("garbage.srt", "1\nnot a time\nhello\n"),
    ("bad_times.vtt", "WEBVTT\n\n00:00:xx.000 --> 00:00:02.000\nHello\n"),
    ("binary.srt", None),
])
def test_malformed_files_fail_with_invalid_captions(tmp_path: Path, name: str, content: str | None) -> None:
    path = tmp_path / name
    if content is None:
        path.write_bytes(b"\x00\xff\xfe\x80 binary \xc3\x28" * 20)
    else:
        path.write_text(content)
    with pytest.raises(StageFailed) as info:
        parse_captions(path, TranscriptSource.MANUAL_CAPTIONS)
    assert info.value.code == "invalid_captions"
    assert name in info.value.message


def test_an_empty_vtt_is_an_empty_transcript(tmp_path: Path) -> None:
    assert parse_captions(write(tmp_path, "e.vtt", "WEBVTT\n"), TranscriptSource.MANUAL_CAPTIONS).segments == ()


@pytest.mark.parametrize("export", [to_vtt, to_srt])
def test_round_trip_through_our_exporters(tmp_path: Path, export: Callable[[Transcript], str]) -> None:
    original = Transcript(segments=(
        TranscriptSegment(0.0, 2.345, "The lighthouse keeper counted seven ships."),
        TranscriptSegment(2.5, 5.001, "Tom & Jerry, 100% sure?"),
        TranscriptSegment(61.999, 3725.5, "An hour later: done!"),
    ), source=TranscriptSource.WHISPER)
    path = write(tmp_path, "out." + export.__name__.removeprefix("to_"), export(original))
    parsed = parse_captions(path, TranscriptSource.MANUAL_CAPTIONS)
    assert [s.text for s in parsed.segments] == [s.text for s in original.segments]
    for got, want in zip(parsed.segments, original.segments, strict=True):
        assert got.start == pytest.approx(want.start, abs=0.001)
        assert got.end == pytest.approx(want.end, abs=0.001)


def files(*specs: str) -> list[CaptionFile]:
    """"en-US" is a manual file, "auto:en" an automatic one."""
    return [CaptionFile(Path(f"v.{spec}.vtt"), spec.removeprefix("auto:"), spec.startswith("auto:")) for spec in specs]


@pytest.mark.parametrize(("available", "preferred", "chosen"), [
    (["auto:en", "en"], ["en"], "en"),  # manual beats automatic
    (["auto:en", "de"], ["en"], "auto:en"),  # automatic in a wanted language beats manual in another
    (["de", "auto:en", "en-US"], ["en", "de"], "en-US"),  # prefix: "en" matches "en-US"
    (["de", "en-GB"], ["de", "en"], "de"),  # preference order
    (["en-GB", "en"], ["en"], "en"),  # the exact tag before a more specific one
    (["auto:de", "auto:fr"], ["fr", "de"], "auto:fr"),
    (["eng", "english"], ["en"], None),  # a prefix is a whole subtag
    (["de", "auto:de"], ["en"], None),  # nothing wanted: Whisper runs
    ([], ["en"], None),
    (["auto:ja", "ko"], [], "ko"),  # no preference: any manual,
    (["auto:ja"], [], "auto:ja"),  # else any automatic
    (["pt_BR"], ["pt-br"], "pt_BR"),
])
def test_choose_captions(available: list[str], preferred: list[str], chosen: str | None) -> None:
    choice = choose_captions(files(*available), preferred)
    expected = files(chosen)[0] if chosen else None
    assert choice == expected


def test_vtt_export_escapes_markup_and_round_trips(tmp_path: Path) -> None:
    t = Transcript((TranscriptSegment(0.0, 1.5, "a <b & c> d"),), TranscriptSource.WHISPER)
    path = tmp_path / "x.vtt"
    path.write_text(to_vtt(t))
    assert "a &lt;b &amp; c&gt; d" in path.read_text()
    assert parse_captions(path, TranscriptSource.MANUAL_CAPTIONS).segments[0].text == "a <b & c> d"
