"""Transcription benchmark: our transcribe stage vs raw faster-whisper on a ~60 s espeak-ng clip.

    .venv/bin/python -m bench.transcribe --rounds 3

Both sides use the same loaded model object (the bundled tiny.en, int8, 2 threads) and the same decoding
parameters (greedy, VAD on, word timestamps). The baseline is ``model.transcribe(path, ...)`` with its segment
generator consumed into a list; ours is ``transcribe(ctx, TranscribeRequest(path))`` with a no-op StageContext,
i.e. decoding the audio, the generator, progress reports, cancellation checks and building the Transcript.
After one uncounted warm-up of each they alternate for N rounds (who goes first swaps each round); the
medians and their ratio are reported (goal <= 1.05). Our VAD-off and batched (batch 8) variants are timed too,
and every run's word error rate against the known text is computed. Writes bench/results/transcribe.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from tests.support.speech import make_timed_speech, word_error_rate

from vidrag.pipeline.base import StageContext
from vidrag.pipeline.transcribe import TranscribeRequest, load_whisper, model_label, transcribe

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
GOAL = 1.05
console = Console()

# ~60 s of plain prose that espeak-ng says clearly; numbers are spelled out (the scorer normalises digits).
SCRIPT = [
    "The museum opens at nine in the morning and closes at six in the evening.",
    "Visitors can borrow an audio guide from the desk near the main entrance.",
    "The first room shows maps drawn by sailors more than three hundred years ago.",
    "Some of these maps place islands in the wrong ocean.",
    "In the second room you will find a large collection of clocks.",
    "The oldest clock was built by hand and still keeps good time.",
    "Children enjoy the room with the model railway.",
    "A small train runs through tunnels, over bridges and past tiny farms.",
    "On the upper floor there is a restaurant with a view of the harbor.",
    "Many people stop there for tea and a slice of apple cake.",
    "The museum shop sells books, postcards and copies of the old maps.",
    "Entry is free on the first Sunday of every month.",
    "Groups of more than twelve people should book their visit in advance.",
    "Please leave large bags in the lockers downstairs.",
    "The guides speak English, French and German.",
    "We hope you enjoy your visit and come back soon.",
]


@dataclass(frozen=True)
class Variant:
    name: str
    side: str  # "ours" or "baseline"
    vad: bool = True
    batch_size: int = 0


BASELINE = Variant("raw faster-whisper", "baseline")
OURS = Variant("ours", "ours")
EXTRA = [Variant("ours, VAD off", "ours", vad=False), Variant("ours, batched 8", "ours", batch_size=8)]


@dataclass
class Run:
    variant: str
    seconds: float  # wall clock
    cpu_seconds: float  # all threads of this process: steadier than wall time on a busy machine
    warmup: bool
    wer: float
    segments: int


def run_variant(variant: Variant, audio: Path, ctx: StageContext, *, warmup: bool = False) -> Run:
    req = TranscribeRequest(audio, vad=variant.vad, batch_size=variant.batch_size)
    started, cpu_started = time.perf_counter(), time.process_time()
    if variant.side == "baseline":
        model = load_whisper(req.model, req.device, req.compute_type, req.threads)  # the same cached object
        segments, _ = model.transcribe(str(audio), beam_size=req.beam_size, vad_filter=req.vad,
                                       word_timestamps=req.word_timestamps, language=req.language)
        segments = list(segments)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        text = " ".join(s.text for s in segments)
        count = len(segments)
    else:
        transcript = transcribe(ctx, req)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        text, count = transcript.text, len(transcript.segments)
    return Run(variant.name, elapsed, cpu, warmup, word_error_rate(" ".join(SCRIPT), text), count)


def run_rounds(audio: Path, ctx: StageContext, rounds: int, log: Callable[[str], None]) -> list[Run]:
    runs: list[Run] = []
    for n in range(rounds + 1):
        warmup = n == 0
        # alternate, and swap who goes first each round, so that load and cache effects hit both alike
        pair = {v.name: run_variant(v, audio, ctx, warmup=warmup) for v in ((OURS, BASELINE), (BASELINE, OURS))[n % 2]}
        runs.extend(pair[v.name] for v in (OURS, BASELINE))
        log(f"{'warm-up' if warmup else f'round {n}'}: ours {pair[OURS.name].seconds:.2f} s, "
            f"raw {pair[BASELINE.name].seconds:.2f} s")
    for variant in EXTRA:
        for n in range(rounds + 1):
            runs.append(run_variant(variant, audio, ctx, warmup=n == 0))
        log(f"{variant.name}: {statistics.median(r.seconds for r in runs[-rounds:]):.2f} s")
    return runs


def summarize(runs: list[Run], audio_seconds: float) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for name in dict.fromkeys(r.variant for r in runs):
        counted = [r for r in runs if r.variant == name and not r.warmup]
        median = statistics.median(r.seconds for r in counted)
        rows[name] = {"median_s": round(median, 3),
                      "median_cpu_s": round(statistics.median(r.cpu_seconds for r in counted), 3),
                      "rtf": round(median / audio_seconds, 4), "x_real_time": round(audio_seconds / median, 1),
                      "wer": round(statistics.median(r.wer for r in counted), 4), "segments": counted[-1].segments}
    ratio = rows[OURS.name]["median_s"] / rows[BASELINE.name]["median_s"]
    cpu_ratio = rows[OURS.name]["median_cpu_s"] / rows[BASELINE.name]["median_cpu_s"]
    return {"variants": rows, "ratio": round(ratio, 3), "cpu_ratio": round(cpu_ratio, 3), "goal": GOAL,
            "goal_met": ratio <= GOAL}


def print_table(summary: dict[str, Any], audio_seconds: float, rounds: int) -> None:
    table = Table(title=f"Transcription of a {audio_seconds:.1f} s espeak-ng clip, tiny.en int8, 2 threads "
                        f"(median of {rounds})")
    for column in ("variant", "median s", "CPU s", "RTF", "x RT", "WER", "segments"):
        table.add_column(column, justify="left" if column == "variant" else "right")
    for name, row in summary["variants"].items():
        table.add_row(name, f"{row['median_s']:.2f}", f"{row['median_cpu_s']:.2f}", f"{row['rtf']:.3f}",
                      f"{row['x_real_time']:.1f}", f"{100 * row['wer']:.1f} %", str(row["segments"]))
    console.print(table)
    verdict = "met" if summary["goal_met"] else "not met"
    console.print(f"ratio ours/raw faster-whisper: {summary['ratio']:.3f} (CPU time {summary['cpu_ratio']:.3f})"
                  f"   goal <= {GOAL}: {verdict}")


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2),
            "platform": platform.platform(), "python": platform.python_version(),
            "faster_whisper": version("faster-whisper"), "ctranslate2": version("ctranslate2")}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3, help="counted rounds of each side (default 3)")
    parser.add_argument("--gap", type=float, default=0.4, help="seconds of silence between sentences")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="vidrag-bench-") as tmp:
        work = Path(tmp)
        audio, times = make_timed_speech(work, SCRIPT, gap=args.gap, name="museum.wav")
        audio_seconds = times[-1][1]
        console.print(f"clip: {len(SCRIPT)} sentences, {audio_seconds:.1f} s; load average {os.getloadavg()[0]:.2f}")
        started = time.perf_counter()
        load_whisper(None, "cpu", "int8", 2)
        load_s = time.perf_counter() - started
        ctx = StageContext("bench", work, lambda progress: None, lambda: False)
        runs = run_rounds(audio, ctx, args.rounds, console.print)
    summary = summarize(runs, audio_seconds)
    print_table(summary, audio_seconds, args.rounds)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "transcribe.json"
    out.write_text(json.dumps({
        "benchmark": "transcribe stage vs raw faster-whisper (same model object, same parameters)",
        "clip": {"sentences": len(SCRIPT), "seconds": round(audio_seconds, 3), "gap_s": args.gap, "tts": "espeak-ng"},
        "model": model_label(None), "parameters": {"beam_size": 1, "word_timestamps": True, "compute_type": "int8",
                                                   "threads": 2},
        "model_load_s": round(load_s, 3), "machine": machine(), "rounds": args.rounds, **summary,
        "runs": [asdict(r) for r in runs]}, indent=2) + "\n")
    console.print(f"results: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
