"""The bundled all-MiniLM-L6-v2 (ONNX int8), run for real."""

from __future__ import annotations

import numpy as np
import pytest

from vidrag.retrieval.embedding import Embedder
from vidrag.retrieval.local_embedder import BUNDLED_MODEL_DIR, OnnxEmbedder


@pytest.fixture(scope="module")
def embedder() -> OnnxEmbedder:
    return OnnxEmbedder()


def test_bundled_model_loads_with_its_variant_in_the_name(embedder: OnnxEmbedder) -> None:
    checked: Embedder = embedder  # satisfies the protocol (for mypy)
    assert checked.dimension == 384
    assert embedder.name.startswith("all-MiniLM-L6-v2-int8-")
    assert {p.name for p in BUNDLED_MODEL_DIR.iterdir()} >= {"model.onnx", "tokenizer.json", "README.md"}


def test_vectors_are_normalised_float32(embedder: OnnxEmbedder) -> None:
    vectors = embedder.embed_documents(["A cat sleeps on the sofa.", "Interest rates rose again this quarter."])
    assert vectors.shape == (2, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    query = embedder.embed_query("where does the cat sleep?")
    assert query.shape == (384,)
    assert query.dtype == np.float32
    assert abs(float(np.linalg.norm(query)) - 1.0) < 1e-5


def test_a_paraphrase_is_closer_than_an_unrelated_sentence(embedder: OnnxEmbedder) -> None:
    query = embedder.embed_query("How do I bake bread at home?")
    paraphrase, unrelated = embedder.embed_documents(
        ["A simple recipe for making your own loaf in the kitchen oven.",
         "The stock market closed lower after the central bank meeting."])
    assert float(query @ paraphrase) > float(query @ unrelated) + 0.2


def test_batched_and_single_vectors_agree_and_order_is_kept() -> None:
    small_batches = OnnxEmbedder(batch_size=2)
    texts = [
        "word " * 300,  # longer than max_length: truncated, not an error
        "hi",
        "A medium-length sentence about trains leaving the station at dawn.",
        "",
        "Short one.",
        "Seven engineers reviewed the new database migration plan carefully before lunch.",
    ]
    batched = small_batches.embed_documents(texts)
    single = np.stack([small_batches.embed_query(t) for t in texts])
    assert (batched * single).sum(axis=1).min() > 0.999
    # Length-sorted batching must put each row back where its text was: every row is nearest its own text.
    assert list(np.argmax(batched @ single.T, axis=1)) == list(range(len(texts)))


def test_empty_input_gives_an_empty_matrix(embedder: OnnxEmbedder) -> None:
    vectors = embedder.embed_documents([])
    assert vectors.shape == (0, 384)
    assert vectors.dtype == np.float32
