"""Speech with known timing, made on the spot with espeak-ng (and FFmpeg for video), plus word-level scoring.

``make_timed_speech`` speaks each sentence to its own WAV and joins them with silence, so sentence k is
at a known [start, end); ``make_timed_video`` puts that audio in a tiny MP4 for tests that start from a video.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np

Times = list[tuple[float, float]]

# Four sentences tiny.en hears right from espeak-ng, sharing no word but "the": for tests that find where each
# one was said.
DISTINCT_SENTENCES = [
    "The lighthouse keeper counted seven ships before sunrise.",
    "A copper kettle whistled loudly in the empty kitchen.",
    "Children built a snowman beside the frozen river.",
    "Our train to the coast leaves every hour.",
]


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"tests need {name} (apt-get install -y ffmpeg espeak-ng; .ci/run does it)")
    return found


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise RuntimeError(f"{path}: expected 16-bit mono, got {w.getparams()}")
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16), w.getframerate()


def make_timed_speech(directory: Path, sentences: list[str], gap: float = 1.0,
                      name: str = "timed_speech.wav") -> tuple[Path, Times]:
    """One WAV with each sentence spoken in turn, ``gap`` seconds of silence between them.

    Returns the WAV and each sentence's exact (start, end) in seconds, counted in samples, so the times
    hold to the sample (each span includes the few tens of milliseconds of silence espeak-ng puts around
    speech).
    """
    espeak = _tool("espeak-ng")
    directory.mkdir(parents=True, exist_ok=True)
    parts: list[np.ndarray] = []
    rate = 0
    for i, sentence in enumerate(sentences):
        part = directory / f"{Path(name).stem}_{i:03d}.wav"
        subprocess.run([espeak, "-w", str(part), sentence], check=True, capture_output=True)
        samples, part_rate = _read_wav(part)
        if rate and part_rate != rate:
            raise RuntimeError(f"espeak-ng changed sample rate: {rate} then {part_rate}")
        rate = part_rate
        parts.append(samples)
        part.unlink()
    silence = np.zeros(round(gap * rate), dtype=np.int16)
    times: Times = []
    joined: list[np.ndarray] = []
    cursor = 0
    for i, samples in enumerate(parts):
        if i:
            joined.append(silence)
            cursor += silence.size
        times.append((cursor / rate, (cursor + samples.size) / rate))
        joined.append(samples)
        cursor += samples.size
    out = directory / name
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.concatenate(joined).tobytes())
    return out, times


def make_timed_video(directory: Path, sentences: list[str], gap: float = 1.0,
                     name: str = "timed_speech.mp4") -> tuple[Path, Times]:
    """``make_timed_speech`` muxed with a tiny test picture: H.264 160x120 10 fps, AAC 44.1 kHz stereo."""
    wav, times = make_timed_speech(directory, sentences, gap, name=Path(name).stem + ".wav")
    out = directory / name
    subprocess.run([_tool("ffmpeg"), "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10",
                    "-i", str(wav), "-shortest", "-map", "0:v:0", "-map", "1:a:0",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-b:a", "96k", "-ar", "44100", "-ac", "2", "-movflags", "+faststart", str(out)],
                   check=True, capture_output=True)
    return out, times


def make_silence(path: Path, seconds: float, rate: int = 16_000) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.zeros(round(seconds * rate), dtype=np.int16).tobytes())
    return path


# --- scoring ------------------------------------------------------------------------------------------
_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def number_words(n: int) -> list[str]:
    """English words for 0 <= n < 1,000,000 ("twenty one", not "twenty-one": hyphens are split anyway)."""
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        return [_TENS[n // 10]] + (number_words(n % 10) if n % 10 else [])
    if n < 1000:
        return [_ONES[n // 100], "hundred"] + (number_words(n % 100) if n % 100 else [])
    if n < 1_000_000:
        return [*number_words(n // 1000), "thousand"] + (number_words(n % 1000) if n % 1000 else [])
    return [str(n)]


def normalise_words(text: str) -> list[str]:
    """Lowercase words without punctuation, numbers spelled out ("7" -> "seven", "1,200" -> "one thousand two
    hundred"), so that Whisper writing digits where the reference spells them out is not an error."""
    words: list[str] = []
    for token in re.findall(r"[0-9][0-9,]*|[a-z]+(?:'[a-z]+)?", text.lower().replace("-", " ")):
        if token[0].isdigit():
            words.extend(number_words(int(token.replace(",", ""))))
        else:
            words.append(token)
    return words


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Word-level Levenshtein distance (substitutions + deletions + insertions)."""
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        diag, row[0] = row[0], i
        for j, h in enumerate(hyp, start=1):
            diag, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diag + (r != h))
    return row[-1]


def word_error_rate(reference: str, hypothesis: str) -> float:
    ref, hyp = normalise_words(reference), normalise_words(hypothesis)
    return edit_distance(ref, hyp) / max(1, len(ref))
