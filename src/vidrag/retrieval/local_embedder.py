"""The default embedder: all-MiniLM-L6-v2 exported to ONNX, shipped with vidrag, run by onnxruntime (no torch)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from vidrag.retrieval.embedding import Vectors

BUNDLED_MODEL_DIR = Path(__file__).resolve().parent / "models" / "all-MiniLM-L6-v2"


class OnnxEmbedder:
    """A BERT-style sentence encoder (model.onnx + tokenizer.json in one directory): mean pooling over the
    attention mask, then L2 normalisation, as sentence-transformers does. Loads once; share one per process."""

    def __init__(self, model_dir: Path | None = None, threads: int = 2, batch_size: int = 32,
                 max_length: int = 256) -> None:
        model_dir = model_dir or BUNDLED_MODEL_DIR
        model_path = model_dir / "model.onnx"
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length)
        self._tokenizer.enable_padding()  # to the longest text in the batch, not the file's fixed 128
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self.dimension: int = int(self._session.get_outputs()[0].shape[-1])
        meta = self._session.get_modelmeta().custom_metadata_map
        # A dynamically quantised model must see one text per call, or a text's vector depends on its batch
        # neighbours (the activation scale is taken over the whole batch); the export records that limit.
        self.batch_size = min(batch_size, int(meta.get("vidrag_batch_size", batch_size)))
        # The name is stored with every knowledge base: a different file (re-export, other quantisation)
        # must give a different name, so the variant and a digest of the file are part of it.
        variant = meta.get("vidrag_variant", "onnx")
        with model_path.open("rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
        self.name = f"{model_dir.name}-{variant}-{digest[:8]}"

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        # Similar lengths in one batch keep padding (wasted compute) small; rows go back to the caller's order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            rows = order[start:start + self.batch_size]
            out[rows] = self._embed_batch([texts[i] for i in rows])
        return out

    def embed_query(self, text: str) -> Vectors:
        vectors: Vectors = self._embed_batch([text])[0]
        return vectors

    def _embed_batch(self, texts: list[str]) -> Vectors:
        encodings = self._tokenizer.encode_batch(texts)
        feed = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        hidden = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
        mask = feed["attention_mask"][:, :, None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        vectors: Vectors = (pooled / norms).astype(np.float32)
        return vectors

