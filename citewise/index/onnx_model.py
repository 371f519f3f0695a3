"""An ONNX Runtime copy of a sentence-transformers model, exported locally and cached.

The packaged all-MiniLM-L6-v2 weights are exported once with ``torch.onnx`` (offline,
from the files on disk), optionally quantized to int8 (dynamic, per channel), and kept
beside the index in ``<data_dir>/models/``. At query time only ``onnxruntime`` and
``tokenizers`` are imported, never torch, which is what makes a new process start fast.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

_EXPORT_LOCK = threading.Lock()
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# bumped when the export changes, so a cached export of another recipe is not reused (2: eager attention)
_EXPORT_VERSION = 2


def model_key(model_dir: Path, backend: str) -> str:
    """A short key naming one model's export: weights' size and mtime, backend, tool versions."""
    import onnxruntime

    parts = [backend, onnxruntime.__version__, f"export:{_EXPORT_VERSION}"]
    for name in ("model.safetensors", "pytorch_model.bin", "config.json", "tokenizer.json"):
        f = model_dir / name
        if f.exists():
            st = f.stat()
            parts.append(f"{name}:{st.st_size}:{int(st.st_mtime)}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def user_cache_dir() -> Path:
    """Per-user copy of exports, so a new index does not export again (XDG cache)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "citewise" / "onnx"


def ensure_export(model_dir: Path, backend: str, cache_dir: Path) -> Path:
    """The ONNX file for ``model_dir`` under ``cache_dir``, exported on first use.

    Looks in ``cache_dir``, then in the per-user cache (copied over), and only then
    exports with torch (about 10-20 s on 2 cores; needs the ``onnx`` package).
    """
    key = model_key(model_dir, backend)
    target = cache_dir / f"minilm-{key}" / "model.onnx"
    with _EXPORT_LOCK:
        if target.exists():
            return target
        shared = user_cache_dir() / f"minilm-{key}" / "model.onnx"
        if not shared.exists():
            _export(model_dir, backend, shared)
        target.parent.mkdir(parents=True, exist_ok=True)
        # a name of its own: another process sharing the data folder may be copying too
        tmp = target.with_name(f"model.{os.getpid()}.{threading.get_ident()}.tmp")
        shutil.copyfile(shared, tmp)
        tmp.replace(target)
        return target


def _export(model_dir: Path, backend: str, out: Path) -> None:
    """Export (and for ``onnx-int8`` quantize) the transformer to ``out``, atomically."""
    import torch
    from transformers import AutoModel

    class _Hidden(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, ids: Any, mask: Any, types: Any) -> Any:
            return self.model(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state

    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        # eager attention: the default (SDPA) traces into Where/IsNaN/Softmax nodes that ORT's optimizer cannot fuse,
        # which took half of an int8 batch's time; eager traces into the pattern it fuses into one Attention node
        # (QAttention once quantized): 1.5x the word pieces per second on the same vectors (docs/performance.md)
        model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager")
        wrapped = _Hidden(model.eval())
        ids = torch.ones(2, 16, dtype=torch.long)
        axes = {n: {0: "batch", 1: "seq"} for n in (*_INPUTS, "last_hidden_state")}
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about the model's Python control flow
            torch.onnx.export(
                wrapped,
                (ids, torch.ones_like(ids), torch.zeros_like(ids)),
                str(fp32),
                input_names=list(_INPUTS),
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        final = fp32
        if backend == "onnx-int8":
            final = Path(tmp) / "int8.onnx"
            _quantize(fp32, final, Path(tmp), model_dir)
        os.replace(final, out)


def _quantize(fp32: Path, out: Path, tmp: Path, model_dir: Path) -> None:
    """Fuse attention (ORT's BERT optimizer), then int8 dynamic quantization per channel."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    config = json.loads((model_dir / "config.json").read_text())
    fused = tmp / "fused.onnx"
    optimized = optimizer.optimize_model(
        str(fp32),
        model_type="bert",
        num_heads=int(config.get("num_attention_heads", 0)),
        hidden_size=int(config.get("hidden_size", 0)),
        opt_level=1,
    )
    optimized.save_model_to_file(str(fused))
    quantize_dynamic(
        str(fused),
        str(out),
        weight_type=QuantType.QInt8,
        per_channel=True,
        extra_options={"DefaultTensorType": 1},  # FLOAT, for tensors shape inference cannot type
    )


class OnnxSentenceModel:
    """Mean-pooled, normalised sentence embeddings from an ONNX transformer (no torch).

    Mirrors sentence-transformers: texts stripped, truncated to ``max_seq_length`` word
    pieces, batched by length to waste little padding.
    """

    def __init__(self, onnx_file: Path, model_dir: Path, threads: int = 0) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # idle worker threads sleep instead of spinning: on 2 shared cores a spinning thread takes the CPU the
        # ingest's reading and chunking thread (or another process) needs (measured in docs/performance.md)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        self.max_seq_length = _max_seq_length(model_dir)
        self._counter = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._counter.no_truncation()
        self._counter.no_padding()
        self._encoder = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._encoder.enable_truncation(self.max_seq_length)
        self._encoder.no_padding()
        self._wants_types = "token_type_ids" in {i.name for i in self.session.get_inputs()}
        # word pieces embedded, and positions computed (padding included), since load: the bench's tokens/s
        self.counts = {"tokens": 0, "computed": 0}

    def tokenize(self, text: str) -> list[str]:
        """The word pieces of ``text`` (no special tokens, no truncation)."""
        return list(self._counter.encode(text, add_special_tokens=False).tokens)

    def offsets(self, text: str) -> list[tuple[int, int]]:
        """(start, end) in ``text`` of each of its word pieces (no special tokens, no truncation)."""
        return list(self._counter.encode(text, add_special_tokens=False).offsets)

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Normalised embeddings, one row per text, in input order.

        Every text is cut into word pieces first; batches are then formed in order of
        word-piece count, so each pads only to about its own length, and each vector is
        written back to its own text's row.
        """
        encodings = self._encoder.encode_batch([t.strip() for t in texts])
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))  # stable: ties keep input order
        out = np.zeros((len(texts), 0), dtype=np.float32)
        for b in range(0, len(order), batch_size):
            idx = order[b : b + batch_size]
            vectors = self._run([encodings[i] for i in idx])
            if out.shape[1] == 0:
                out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
            out[idx] = vectors
        return out

    def _run(self, encodings: list[Any]) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
        self.counts["tokens"] += int(mask.sum())
        self.counts["computed"] += int(mask.size)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if self._wants_types:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self.session.run(None, feeds)[0]
        summed = (hidden * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


def _max_seq_length(model_dir: Path) -> int:
    config = model_dir / "sentence_bert_config.json"
    if config.exists():
        value = json.loads(config.read_text()).get("max_seq_length")
        if value:
            return int(value)
    return 256
