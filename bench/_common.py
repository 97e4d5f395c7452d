"""Helpers shared by the ingest and retrieval benchmarks: generated text, settings on a temp dir, statistics,
markdown tables and the JSON results in bench/results/ (git-ignored)."""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vidrag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


# --- statistics ------------------------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def ms_stats(seconds: Sequence[float]) -> dict[str, float]:
    """p50 / p95 / mean of ``seconds``, in milliseconds."""
    return {"p50_ms": 1000 * percentile(seconds, 50), "p95_ms": 1000 * percentile(seconds, 95),
            "mean_ms": 1000 * statistics.fmean(seconds), "n": len(seconds)}


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


# --- output ----------------------------------------------------------------------------------------------
def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[bool] | None = None) -> str:
    """A markdown table (pastes into docs/benchmarks.md as is); numbers right-aligned by default."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    right = right if right is not None else [i > 0 for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right,
                                                                                  strict=True)) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if r else ("-" * (w + 2)) for w, r in zip(widths, right,
                                                                                          strict=True)) + "|"
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": sys.version.split()[0],
            "numpy": np.__version__, "load_average": os.getloadavg()}


def write_results(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"benchmark": name, "machine": machine(), **payload}, indent=2, default=str))
    return path


# --- settings --------------------------------------------------------------------------------------------
def bench_settings(data_dir: Path, **overrides: Any) -> Settings:
    """The test suite's settings (tests/conftest.py): a fresh data dir, no periodic cleanup, no secret needed."""
    from tests.conftest import make_settings

    return make_settings(data_dir, **overrides)


# --- generated English -----------------------------------------------------------------------------------
_TOPICS: dict[str, tuple[str, str, str]] = {  # nouns | verbs (3rd person) | adjectives
    "kitchen": ("oven recipe dough sauce onion garlic pan butter flour broth spice chef dinner knife lentil",
                "bakes stirs chops tastes seasons roasts simmers serves slices", "crispy fresh spicy golden tender"),
    "astronomy": ("planet telescope orbit galaxy comet rocket astronaut moon star satellite nebula crater probe",
                  "launches observes circles measures detects explores tracks", "distant bright icy massive faint"),
    "software": ("function server database compiler bug test library cache request thread module release branch",
                 "compiles returns crashes fetches caches refactors parses logs", "slow parallel typed broken stable"),
    "gardening": ("soil seed compost lawn hedge rose shovel weed greenhouse bulb mulch fence orchard",
                  "plants waters prunes digs grows harvests shades feeds", "muddy green wild sunny overgrown"),
    "finance": ("budget loan salary tax account pension invoice bank price debt savings market share",
                "pays borrows invests saves spends earns charges lends", "monthly expensive cheap annual risky"),
    "medicine": ("doctor patient muscle diet clinic nurse vitamin injury fever heart lung therapy dose",
                 "treats heals examines prescribes stretches monitors rests injects", "chronic healthy sore mild"),
    "history": ("king empire treaty castle army village chronicle war monk merchant harbour revolution",
                "conquers signs builds defends trades records rebels rules", "ancient medieval royal forgotten bloody"),
    "motoring": ("engine tyre brake gearbox mechanic garage fuel clutch driver highway bumper radiator",
                 "drives repairs stops overtakes parks replaces tows refuels", "noisy electric rusty fast second-hand"),
    "music": ("guitar drum melody chord singer concert piano band album rhythm studio lyric",
              "plays records sings tunes rehearses composes strums performs", "loud acoustic catchy gentle live"),
    "travel": ("airport hotel passport train ticket luggage beach map tourist border museum ferry",
               "books visits packs explores flies boards crosses reaches", "crowded scenic remote overnight foreign"),
    "weather": ("storm rain cloud wind forecast snow flood thunder drought fog heatwave season",
                "soaks batters freezes warns drifts floods clears strikes", "humid stormy frosty dry gloomy"),
    "teaching": ("teacher pupil lesson exam classroom essay library textbook grade lecture campus notebook",
                 "explains marks studies revises teaches reads asks answers", "strict curious bored clever patient"),
}
_TEMPLATES = (
    "The {a} {n} {v} the {n2} before the {n3}.",
    "Every {n} {v} a {a} {n2} when the {n3} is {a2}.",
    "Nobody expected that the {n} would be so {a}.",
    "After the {n}, she {v} the {a} {n2} again.",
    "We learned that a {a} {n} rarely {v} the {n2}.",
    "Why does the {n} need a {a} {n2}?",
    "In the end the {n2} {v} the {n} and everyone was {a}.",
    "My neighbour says the {n} {v} better with a {a2} {n3}.",
    "Then the {a} {n} {v} the {n2}, which surprised the {n3}.",
    "It is {a} to see how the {n} {v} the {n2} in winter.",
    "According to the {n3}, a {a} {n} {v} {n2} and {n2b} alike.",
    "Last year the {n} was {a} {count} times because nobody {v} the {n2}.",
)


def english_paragraphs(count: int, words: int = 100, seed: int = 20261122) -> list[str]:
    """``count`` deterministic paragraphs of ``words`` +-10 % words, each mostly about one of a dozen topics
    (one sentence in eight borrows another topic's words), with numbers and punctuation like prose."""
    rng = random.Random(seed)
    vocab = {t: tuple(part.split() for part in parts) for t, parts in _TOPICS.items()}
    topics = sorted(vocab)
    out = []
    for _ in range(count):
        target = rng.randint(int(words * 0.9), int(words * 1.1))
        home = rng.choice(topics)
        sentences: list[str] = []
        total = 0
        while total < target:
            nouns, verbs, adjs = vocab[rng.choice(topics) if rng.random() < 0.125 else home]
            sentence = rng.choice(_TEMPLATES).format(
                n=rng.choice(nouns), n2=rng.choice(nouns), n2b=rng.choice(nouns), n3=rng.choice(nouns),
                v=rng.choice(verbs), a=rng.choice(adjs), a2=rng.choice(adjs), count=rng.randint(2, 990))
            sentences.append(sentence[0].upper() + sentence[1:])
            total += len(sentence.split())
        out.append(" ".join(sentences))
    return out
