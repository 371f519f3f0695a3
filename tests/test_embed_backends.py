"""The ONNX embedding backends: exported locally, cached, and close to sentence-transformers."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import CORPUS, ROOT

from citewise.index.embed import EmbeddingModelError, SentenceEmbedder


def _texts() -> list[str]:
    texts = []
    for path in sorted(CORPUS.glob("*.md")):
        texts += [p for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    return texts


@pytest.fixture(scope="module")
def torch_vectors():
    embedder = SentenceEmbedder(backend="torch")
    return embedder, np.array(embedder.embed(_texts()))


@pytest.mark.parametrize(("backend", "min_cos"), [("onnx", 0.9999), ("onnx-int8", 0.95)])
def test_onnx_backends_match_sentence_transformers(tmp_path, torch_vectors, backend, min_cos, monkeypatch):
    reference, expected = torch_vectors
    # models are loaded once per process: start from none, so this one is exported into tmp_path
    monkeypatch.setattr("citewise.index.embed._LOADED", {})
    embedder = SentenceEmbedder(backend=backend, cache_dir=tmp_path / "models")
    got = np.array(embedder.embed(_texts()))
    assert got.shape == expected.shape
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)
    cosines = (got * expected).sum(axis=1)
    assert cosines.min() >= min_cos, cosines.min()
    # same word pieces, so chunk boundaries do not depend on the backend
    assert embedder.max_tokens == reference.max_tokens
    for text in _texts():
        assert embedder.count_tokens(text) == reference.count_tokens(text)
    # exported into the cache folder given (the index's data_dir/models)
    assert list((tmp_path / "models").glob("*/model.onnx"))


def test_int8_export_fuses_attention(tmp_path, monkeypatch):
    """Each layer's attention is one fused node: unfused, its Where/IsNaN/Softmax took half an int8 batch's time."""
    import onnx

    monkeypatch.setattr("citewise.index.embed._LOADED", {})
    SentenceEmbedder(backend="onnx-int8", cache_dir=tmp_path / "models").embed(["exported on first use"])
    (exported,) = (tmp_path / "models").glob("*/model.onnx")
    ops = [node.op_type for node in onnx.load(str(exported)).graph.node]
    layers = 6  # all-MiniLM-L6-v2
    assert ops.count("QAttention") + ops.count("Attention") == layers, sorted(set(ops))
    assert "IsNaN" not in ops and "Softmax" not in ops, sorted(set(ops))


def test_an_int8_vector_embedded_each_does_not_depend_on_the_texts_beside_it(tmp_path):
    """Dynamic int8 scales activations per run: batched, a sentence's vector moves with its companions
    (cosine down to 0.989), so a chat turn showed other passages than `ask` for the same question.
    `embed_each`, used at question time, computes each text on its own."""
    embedder = SentenceEmbedder(backend="onnx-int8", cache_dir=tmp_path / "models")
    texts = _texts()[:12]
    each = np.array(embedder.embed_each(texts))
    alone = np.array([embedder.embed([t])[0] for t in texts])
    shuffled = np.array(embedder.embed_each(list(reversed(texts)) + ["an unrelated, much longer companion text " * 8]))
    assert np.array_equal(each, alone)
    assert np.array_equal(each, shuffled[: len(texts)][::-1])
    batched = np.array(embedder.embed(texts))  # what ingest does: faster, and close
    assert not np.array_equal(batched, alone) and (batched * alone).sum(axis=1).min() > 0.95


def test_onnx_backend_orders_rows_like_the_input(tmp_path):
    embedder = SentenceEmbedder(backend="onnx", cache_dir=tmp_path / "models")
    texts = ["a much longer sentence about copyright and video generation models", "short", "medium length text"]
    together = np.array(embedder.embed(texts))
    alone = np.array([embedder.embed([t])[0] for t in texts])
    assert np.allclose(together, alone, atol=1e-4)


def test_query_process_does_not_import_torch(assistant):
    """With an ONNX backend, answering in a new process never imports torch."""
    code = (
        "import sys; from citewise import Assistant; "
        f"a = Assistant.from_settings(data_dir={str(assistant.settings.data_dir)!r}, embed_backend='onnx-int8'); "
        "assert a.ask('When did OpenAI launch Sora 2?').citations; "
        "print('torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split()[-2:] == ["False", "False"]


def test_unknown_backend_is_one_line():
    with pytest.raises(EmbeddingModelError, match="unknown embedding backend 'gpu'"):
        SentenceEmbedder(backend="gpu").embed(["x"])


def test_processes_sharing_a_data_folder_copy_the_export_safely(tmp_path):
    """Several processes starting at once on one data folder each get a whole model file."""
    code = (
        "import sys; from pathlib import Path;"
        "from citewise.index.embed import bundled_model_path;"
        "from citewise.index.onnx_model import ensure_export;"
        "p = ensure_export(bundled_model_path(), 'onnx-int8', Path(sys.argv[1]));"
        "print(p.stat().st_size)"
    )
    SentenceEmbedder(backend="onnx-int8", cache_dir=tmp_path / "warm").embed(["warm the per-user cache"])
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "shared")], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    sizes = {p.communicate(timeout=300)[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert len(sizes) == 1 and int(sizes.pop()) > 1_000_000
    assert not list((tmp_path / "shared").rglob("*.tmp"))


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_batches_sorted_by_length_keep_each_vector_with_its_text(tmp_path, backend):
    """encode batches texts by word-piece count (less padding); each row is still its own text's vector."""
    embedder = SentenceEmbedder(backend=backend, cache_dir=tmp_path / "models", batch_size=4)
    texts = _texts()[:24]
    texts = texts[::2] + [t[:40] for t in texts[1::2]]  # long and short ones, interleaved out of length order
    assert sorted(texts, key=len) != texts
    together = np.array(embedder.embed(texts))  # six sorted batches of four
    alone = np.array([embedder.embed([t])[0] for t in texts])  # one text per batch: no sorting, no padding
    cosines = together @ alone.T
    # every row's closest single-text vector is its own text's
    assert (cosines.argmax(axis=1) == np.arange(len(texts))).all()
    if backend == "onnx":  # fp32: the same numbers (padding is masked out)
        assert np.allclose(together, alone, atol=1e-4)
    else:  # int8 quantizes each batch's activations with one scale, so neighbours move a vector slightly
        assert np.diag(cosines).min() >= 0.95, np.diag(cosines).min()  # the bound used against torch above
    # and the padding computed is that of batches in length order, less than in input order
    model = embedder.model
    lengths = [len(model.tokenize(t.strip())) + 2 for t in texts]  # [CLS] and [SEP]
    lengths = [min(n, model.max_seq_length) for n in lengths]

    def padded(order: list[int]) -> int:
        return sum(max(order[b : b + 4]) * len(order[b : b + 4]) for b in range(0, len(order), 4))

    before = model.counts["computed"]
    embedder.embed(texts)
    assert model.counts["computed"] - before == padded(sorted(lengths)) < padded(lengths)
