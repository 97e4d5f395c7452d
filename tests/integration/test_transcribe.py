"""The transcribe stage with the real bundled Whisper tiny.en on espeak-ng speech whose timing we know."""

from __future__ import annotations

import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.speech import DISTINCT_SENTENCES, Times, make_silence, make_timed_speech, make_timed_video
from tests.support.speech import normalise_words as norm
from vidrag.domain.errors import ServiceUnavailable, StageFailed, TaskCancelled
from vidrag.domain.tasks import DownloadProgress, Stage
from vidrag.domain.transcripts import Transcript, TranscriptSource
from vidrag.pipeline.base import StageContext
from vidrag.pipeline.transcribe import TranscribeRequest, load_whisper, transcribe

SLACK = 0.5  # seconds a word's time may stray outside its sentence's true span
COVERAGE = 0.8


@dataclass
class Recorder:
    """A StageContext that keeps every progress report and cancels on demand."""

    cancel_after_reports: int | None = None
    reports: list[DownloadProgress] = field(default_factory=list)

    def context(self, work_dir: Path) -> StageContext:
        return StageContext("t1", work_dir, self.reports.append, self.is_cancelled)

    def is_cancelled(self) -> bool:
        return self.cancel_after_reports is not None and len(self.reports) >= self.cancel_after_reports


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Times]:
    return make_timed_speech(tmp_path_factory.mktemp("speech"), DISTINCT_SENTENCES, gap=1.0)


@pytest.fixture(scope="module")
def default_run(speech: tuple[Path, Times], tmp_path_factory: pytest.TempPathFactory) -> tuple[Transcript, Recorder]:
    recorder = Recorder()
    transcript = transcribe(recorder.context(tmp_path_factory.mktemp("work")), TranscribeRequest(speech[0]))
    return transcript, recorder


def assert_sentences_heard_in_place(transcript: Transcript, times: Times) -> None:
    """Each sentence: >= 80 % of its words heard within its true span (± SLACK), and every word that belongs
    to that sentence alone said within that span."""
    words = [(w.start, w.end, token) for s in transcript.segments for w in s.words for token in norm(w.text)]
    assert words, "no words with timestamps"
    sentence_words = [norm(s) for s in DISTINCT_SENTENCES]
    owners = Counter(token for ws in sentence_words for token in set(ws))
    for k, ((start, end), expected) in enumerate(zip(times, sentence_words, strict=True)):
        lo, hi = start - SLACK, end + SLACK
        heard = Counter(token for s, e, token in words if s >= lo and e <= hi)
        covered = sum((Counter(expected) & heard).values()) / len(expected)
        assert covered >= COVERAGE, f"sentence {k} ({start:.2f}-{end:.2f}): {covered:.0%} heard; got {words}"
        own = {t for t in expected if owners[t] == 1}
        misplaced = [(s, e, t) for s, e, t in words if t in own and not (s >= lo and e <= hi)]
        assert not misplaced, f"words of sentence {k} ({start:.2f}-{end:.2f}) heard elsewhere: {misplaced}"


def test_sentences_are_heard_at_their_times(default_run: tuple[Transcript, Recorder],
                                            speech: tuple[Path, Times]) -> None:
    transcript, _ = default_run
    assert transcript.source is TranscriptSource.WHISPER
    assert transcript.language == "en"
    assert transcript.model == "tiny.en"
    assert transcript.duration == pytest.approx(speech[1][-1][1], abs=0.05)
    assert_sentences_heard_in_place(transcript, speech[1])
    for segment in transcript.segments:  # segments are sentences here (1 s of silence between them)
        assert segment.start <= segment.words[0].start
        assert segment.words[-1].end <= segment.end
        assert "".join(w.text for w in segment.words).strip() == segment.text


def test_progress_is_monotonic_and_ends_at_100(default_run: tuple[Transcript, Recorder]) -> None:
    transcript, recorder = default_run
    percents = [r.percent for r in recorder.reports]
    assert len(percents) >= 2
    assert all(r.stage is Stage.TRANSCRIBE for r in recorder.reports)
    assert percents == sorted(percents)
    assert percents[0] >= 0
    assert percents[-1] == pytest.approx(100.0)
    assert recorder.reports[-1].extra == {"segments": len(transcript.segments)}


def test_cancelling_stops_the_stage(speech: tuple[Path, Times], tmp_path: Path) -> None:
    recorder = Recorder(cancel_after_reports=1)
    with pytest.raises(TaskCancelled):
        transcribe(recorder.context(tmp_path), TranscribeRequest(speech[0]))
    assert len(recorder.reports) == 1


def test_vad_off(speech: tuple[Path, Times], tmp_path: Path) -> None:
    transcript = transcribe(Recorder().context(tmp_path), TranscribeRequest(speech[0], vad=False))
    assert transcript.extra["vad"] is False
    assert_sentences_heard_in_place(transcript, speech[1])


def test_batched_pipeline_gives_sentence_segments(speech: tuple[Path, Times], tmp_path: Path) -> None:
    transcript = transcribe(Recorder().context(tmp_path), TranscribeRequest(speech[0], batch_size=4))
    assert_sentences_heard_in_place(transcript, speech[1])
    # the batched pipeline returns one segment per VAD clip; we cut it back into sentences
    assert len(transcript.segments) == len(DISTINCT_SENTENCES)
    for segment, (start, end) in zip(transcript.segments, speech[1], strict=True):
        assert start - SLACK <= segment.start
        assert segment.end <= end + SLACK


def test_a_video_from_make_timed_video(tmp_path: Path) -> None:
    """The helper other tests build on: AAC in MP4 keeps the sentence times."""
    video, times = make_timed_video(tmp_path, DISTINCT_SENTENCES[:2], gap=1.5)
    transcript = transcribe(Recorder().context(tmp_path), TranscribeRequest(video))
    words = [norm(s.text) for s in transcript.segments]
    assert words[0][:3] == ["the", "lighthouse", "keeper"]
    assert "kettle" in words[-1]
    assert transcript.segments[-1].start == pytest.approx(times[1][0], abs=SLACK)


@pytest.mark.parametrize("vad", [True, False])
def test_silence_gives_no_segments(tmp_path: Path, vad: bool) -> None:
    recorder = Recorder()
    transcript = transcribe(recorder.context(tmp_path),
                            TranscribeRequest(make_silence(tmp_path / "silence.wav", 5.0), vad=vad))
    assert transcript.segments == ()
    assert transcript.duration == pytest.approx(5.0)
    assert recorder.reports[-1].percent == 100.0


def test_a_file_that_is_not_audio_is_invalid_media(tmp_path: Path) -> None:
    fake = tmp_path / "talk.wav"
    fake.write_text("this is plain text pretending to be audio\n" * 50)
    with pytest.raises(StageFailed) as info:
        transcribe(Recorder().context(tmp_path), TranscribeRequest(fake))
    assert info.value.code == "invalid_media"


def test_a_video_without_sound_is_no_audio(tmp_path: Path) -> None:
    video = tmp_path / "silent.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=1",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(video)],
                   check=True, capture_output=True)
    with pytest.raises(StageFailed) as info:
        transcribe(Recorder().context(tmp_path), TranscribeRequest(video))
    assert info.value.code == "no_audio"


def test_the_model_loads_once_per_process() -> None:
    assert load_whisper(None, "cpu", "int8", 2) is load_whisper(None, "cpu", "int8", 2)


def test_a_missing_model_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(ServiceUnavailable) as info:
        load_whisper(str(tmp_path), "cpu", "int8", 2)  # a directory with no model in it
    assert info.value.code == "asr_model_unavailable"
    assert "VIDRAG_ASR_MODEL" in info.value.message
