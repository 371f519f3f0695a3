"""The obvious alternative: plain LlamaIndex over the same model and Chroma.

``VectorStoreIndex.from_documents`` (over the same extracted text, PDFs read with pypdf) with
``HuggingFaceEmbedding`` (the bundled all-MiniLM-L6-v2 folder, sentence-transformers on torch,
its default batch of 10) into a
``ChromaVectorStore`` on disk, then ``as_retriever``. ``chunk_size=None`` keeps
LlamaIndex's defaults (1024-token chunks, 20 overlap, tiktoken counting).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_EMBED: dict[str, Any] = {}


def embedding(model_path: str) -> Any:
    """One HuggingFaceEmbedding per process (loading is not what is measured)."""
    if model_path not in _EMBED:
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding

        _EMBED[model_path] = HuggingFaceEmbedding(model_name=model_path, device="cpu")
    return _EMBED[model_path]


class Baseline:
    """A plain LlamaIndex index in ``folder``; ``chunk_size`` None means its defaults."""

    def __init__(self, folder: Path, model_path: str, chunk_size: int | None, chunk_overlap: int = 16) -> None:
        self.folder = folder
        self.model_path = model_path
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self.index: Any = None
        self.chunks = 0

    def ingest(self, paths: list[Path]) -> int:
        """Read ``paths`` with SimpleDirectoryReader and build the index; returns chunks."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from llama_index.core import StorageContext, VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter
        from llama_index.vector_stores.chroma import ChromaVectorStore

        documents = _documents(paths)
        client = chromadb.PersistentClient(
            path=str(self.folder / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
        )
        collection = client.get_or_create_collection("baseline", metadata={"hnsw:space": "cosine"})
        storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
        transformations = []
        if self.chunk_size is not None:
            transformations = [SentenceSplitter(chunk_size=self.chunk_size, chunk_overlap=self.chunk_overlap)]
        kwargs: dict[str, Any] = {"transformations": transformations} if transformations else {}
        self.index = VectorStoreIndex.from_documents(
            documents, storage_context=storage, embed_model=embedding(self.model_path), **kwargs
        )
        self.chunks = int(collection.count())
        return self.chunks

    def retrieve(self, query: str, top_k: int = 4) -> list[str]:
        """Texts of the ``top_k`` nearest chunks."""
        retriever = self.index.as_retriever(similarity_top_k=top_k)
        return [n.node.get_content() for n in retriever.retrieve(query)]


def _documents(paths: list[Path]) -> list[Any]:
    """The text citewise indexes, as LlamaIndex Documents (file name as the only metadata).

    SimpleDirectoryReader is not used: without llama-index-readers-file it reads a PDF's
    raw bytes, and its many metadata fields shrink 128-token chunks to a few dozen tokens;
    either would make the comparison about something other than the pipeline. PDFs are
    read with pypdf, page by page, as LlamaIndex's own ``PDFReader`` does (citewise reads
    them with PDFium: that is one of the levers measured); the words are the same.
    """
    from llama_index.core import Document

    from citewise.index.loaders import _pypdf_pages, find_files, load_document

    docs = []
    for p, _root in find_files(paths)[0]:
        text = "".join(t + "\n\n" for t in _pypdf_pages(p)[0]) if p.suffix.lower() == ".pdf" else load_document(p).text
        docs.append(Document(text=text, metadata={"file_name": p.name}))
    return docs
