"""Download benchmark: submit to completed for a local ~50 MB MP4 (video + mp3), vidrag vs yt-dlp CLI + ffmpeg.

    .venv/bin/python -m bench.download --rounds 5

Both sides fetch the same file from the same local HTTP server in the same run, alternating
(ours, baseline, ours, baseline, ...) after one uncounted warm-up of each. Prints the per-run times,
both medians and the ratio ours/baseline (goal <= 1.15); writes bench/results/download.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from tests.support.http_server import serve_directory
from tests.support.service import free_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
YT_DLP = str(VENV_BIN / "yt-dlp") if (VENV_BIN / "yt-dlp").exists() else "yt-dlp"
GOAL = 1.15
POLL_SECONDS = 0.02
START_TIMEOUT = 60.0
RUN_TIMEOUT = 600.0
console = Console()


@dataclass(frozen=True)
class Sample:
    """The test video: x264 + AAC 128k, sized by duration and video bitrate (~50 MB by default)."""

    seconds: int = 80
    video_kbps: int = 5000
    size: str = "1280x720"
    fps: int = 30

    @property
    def name(self) -> str:
        return f"sample_{self.size}_{self.fps}fps_{self.seconds}s_{self.video_kbps}k.mp4"


@dataclass
class Run:
    side: str  # "ours" or "baseline"
    seconds: float
    warmup: bool
    video_bytes: int
    audio_bytes: int
    timeline: list[dict[str, Any]] = field(default_factory=list)  # ours only: status changes seen while polling
    steps: dict[str, float] = field(default_factory=dict)  # baseline only: seconds per command


# --- the sample file ---------------------------------------------------------------------------------
def ffmpeg_binary() -> str:
    found = shutil.which("ffmpeg")
    if found is None:
        sys.exit("ffmpeg is not on PATH; install it (apt install ffmpeg)")
    return found


def make_sample(sample: Sample) -> Path:
    """Generate the sample once; later runs reuse the cached file in bench/results/."""
    path = RESULTS / sample.name
    if path.exists():
        return path
    RESULTS.mkdir(parents=True, exist_ok=True)
    console.print(f"generating {path.name} …")
    tmp = path.with_suffix(".tmp.mp4")
    kbps = sample.video_kbps
    subprocess.run([
        ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size={sample.size}:rate={sample.fps}",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", str(sample.seconds),
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-b:v", f"{kbps}k", "-maxrate", f"{kbps}k", "-bufsize", f"{2 * kbps}k",
        "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", str(tmp)], check=True)
    tmp.replace(path)
    return path


# --- servers -----------------------------------------------------------------------------------------
def _service_env(port: int, data_dir: Path) -> dict[str, str]:
    return {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "VIDRAG_DATA_DIR": str(data_dir),
            "VIDRAG_ALLOW_PRIVATE_NETWORKS": "true", "VIDRAG_MIN_FREE_DISK_MB": "0",
            "VIDRAG_ENV": "development"}


def _wait_healthy(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"vidrag exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    sys.exit(f"vidrag did not become healthy in {START_TIMEOUT:.0f} s:\n{log.read_text(errors='replace')[-3000:]}")


@contextmanager
def vidrag_service(work: Path) -> Iterator[str]:
    """Run ``start.py`` as an operator does, with its data in ``work``; yields the base URL."""
    port = free_port()
    log = work / "vidrag.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([PYTHON, "start.py"], cwd=ROOT, env=_service_env(port, work / "data"),
                                stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, proc, log)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- ours --------------------------------------------------------------------------------------------
def _poll_until_done(client: httpx.Client, task_id: str, started: float) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    timeline: list[dict[str, Any]] = []
    deadline = started + RUN_TIMEOUT
    while True:
        status: dict[str, Any] = client.get(f"/api/status/{task_id}").raise_for_status().json()
        seen = {"t": round(time.perf_counter() - started, 3), "progress": status["progress"],
                "message": status["message"]}
        if not timeline or timeline[-1]["message"] != seen["message"]:
            timeline.append(seen)
        if status["status"] != "processing" or time.perf_counter() > deadline:
            return status, timeline
        time.sleep(POLL_SECONDS)


def _downloaded_bytes(client: httpx.Client, path: str) -> int:
    with client.stream("GET", path) as response:
        response.raise_for_status()
        return sum(len(chunk) for chunk in response.iter_bytes(1 << 20))


def run_ours(client: httpx.Client, url: str, *, warmup: bool) -> Run:
    """POST /api/process, poll /api/status every 20 ms; the clock stops when the task is completed."""
    started = time.perf_counter()
    task_id = client.post("/api/process", json={"url": url, "extract_audio": True, "keep_video": True}
                          ).raise_for_status().json()["task_id"]
    status, timeline = _poll_until_done(client, task_id, started)
    elapsed = time.perf_counter() - started
    if status["status"] != "completed":
        sys.exit(f"our task {task_id} ended {status['status']}: {status.get('error')}")
    files = status.get("files") or {}
    if not {"video", "audio"} <= files.keys():
        sys.exit(f"our task {task_id} completed without both files: {files}")
    video, audio = _downloaded_bytes(client, files["video"]), _downloaded_bytes(client, files["audio"])
    client.delete(f"/api/tasks/{task_id}").raise_for_status()
    return Run("ours", elapsed, warmup, video, audio, timeline)


# --- baseline ----------------------------------------------------------------------------------------
def _baseline_commands(url: str, work: Path) -> list[list[str]]:
    download = [YT_DLP, "--ignore-config", "--quiet", "--no-progress", "-P", str(work), "-o", "file.%(ext)s", url]
    extract = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(work / "file.mp4"),
               "-vn", "-c:a", "libmp3lame", "-b:a", "192k", str(work / "out.mp3")]
    return [download, extract]


def run_baseline(url: str, scratch: Path, *, warmup: bool) -> Run:
    """The plain `yt-dlp` CLI into a fresh directory, then `ffmpeg` to mp3 192k; both timed together."""
    work = Path(tempfile.mkdtemp(prefix="baseline-", dir=scratch))
    steps: dict[str, float] = {}
    started = time.perf_counter()
    for name, command in zip(("yt-dlp", "ffmpeg"), _baseline_commands(url, work), strict=True):
        step_started = time.perf_counter()
        subprocess.run(command, check=True)
        steps[name] = round(time.perf_counter() - step_started, 3)
    elapsed = time.perf_counter() - started
    run = Run("baseline", elapsed, warmup, (work / "file.mp4").stat().st_size, (work / "out.mp3").stat().st_size,
              steps=steps)
    shutil.rmtree(work)
    return run


# --- the benchmark -----------------------------------------------------------------------------------
def run_rounds(base: str, media_url: str, scratch: Path, rounds: int) -> list[Run]:
    """One uncounted warm-up of each, then ``rounds`` alternating pairs; ?run=N keeps every URL distinct."""
    runs: list[Run] = []
    with httpx.Client(base_url=base, timeout=60) as client:
        for n in range(rounds + 1):
            warmup = n == 0
            runs.append(run_ours(client, f"{media_url}?run={2 * n}", warmup=warmup))
            runs.append(run_baseline(f"{media_url}?run={2 * n + 1}", scratch, warmup=warmup))
            console.print(f"{'warm-up' if warmup else f'round {n}'}: ours {runs[-2].seconds:.2f} s, "
                          f"baseline {runs[-1].seconds:.2f} s")
    return runs


def summarize(runs: list[Run]) -> dict[str, Any]:
    ours = [r.seconds for r in runs if r.side == "ours" and not r.warmup]
    baseline = [r.seconds for r in runs if r.side == "baseline" and not r.warmup]
    median_ours, median_baseline = statistics.median(ours), statistics.median(baseline)
    ratio = median_ours / median_baseline
    return {"median_ours_s": round(median_ours, 3), "median_baseline_s": round(median_baseline, 3),
            "ratio": round(ratio, 3), "goal": GOAL, "goal_met": ratio <= GOAL}


def _tool_version(command: list[str]) -> str:
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    return out.stdout.split("\n", 1)[0].strip()


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "ffmpeg": _tool_version([ffmpeg_binary(), "-hide_banner", "-version"]),
            "yt_dlp": _tool_version([YT_DLP, "--version"])}


def print_table(runs: list[Run], summary: dict[str, Any]) -> None:
    table = Table(title="Download: submit to completed (video + mp3 192k)")
    table.add_column("run")
    table.add_column("ours (s)", justify="right")
    table.add_column("baseline: yt-dlp + ffmpeg (s)", justify="right")
    ours = [r for r in runs if r.side == "ours"]
    baseline = [r for r in runs if r.side == "baseline"]
    for n, (a, b) in enumerate(zip(ours, baseline, strict=True)):
        table.add_row("warm-up" if a.warmup else str(n), f"{a.seconds:.2f}", f"{b.seconds:.2f}")
    table.add_section()
    table.add_row("median", f"{summary['median_ours_s']:.2f}", f"{summary['median_baseline_s']:.2f}")
    console.print(table)
    verdict = "met" if summary["goal_met"] else "not met"
    console.print(f"ratio ours/baseline: {summary['ratio']:.3f}   goal <= {GOAL}: {verdict}")


def write_results(sample: Sample, sample_path: Path, runs: list[Run], summary: dict[str, Any]) -> Path:
    out = RESULTS / "download.json"
    out.write_text(json.dumps({
        "benchmark": "download: submit to completed (video + mp3 192k)",
        "sample": {**asdict(sample), "file": sample_path.name, "bytes": sample_path.stat().st_size},
        "machine": machine(), "rounds": sum(1 for r in runs if r.side == "ours" and not r.warmup),
        **summary, "runs": [asdict(r) for r in runs]}, indent=2) + "\n")
    return out


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5, help="counted rounds of each side (default 5)")
    parser.add_argument("--seconds", type=int, default=Sample.seconds, help="sample duration")
    parser.add_argument("--video-kbps", type=int, default=Sample.video_kbps, help="sample video bitrate")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    sample = Sample(seconds=args.seconds, video_kbps=args.video_kbps)
    sample_path = make_sample(sample)
    console.print(f"sample: {sample_path.name}, {sample_path.stat().st_size / 1e6:.1f} MB")
    with tempfile.TemporaryDirectory(prefix="vidrag-bench-") as tmp:
        scratch = Path(tmp)
        with serve_directory(sample_path.parent) as media_base, vidrag_service(scratch) as base:
            runs = run_rounds(base, f"{media_base}/{sample_path.name}", scratch, args.rounds)
    summary = summarize(runs)
    print_table(runs, summary)
    console.print(f"results: {write_results(sample, sample_path, runs, summary).relative_to(ROOT)}")


if __name__ == "__main__":
    main()
