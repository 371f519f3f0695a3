"""citewise: answers about your documents, with citations you can check.

    >>> from citewise import Assistant
    >>> assistant = Assistant.from_settings()          # doctest: +SKIP
    >>> assistant.ask("When did OpenAI launch Sora 2?")  # doctest: +SKIP

Importing this package loads neither torch nor gradio: models load on first use.
"""

from __future__ import annotations

from typing import Any

from citewise.assistant import Assistant, ModeError
from citewise.config import Settings, SettingsError, load_settings
from citewise.index.store import StoreError
from citewise.index.uploads import UploadError
from citewise.rag.chat import QuestionError
from citewise.rag.citations import Answer, Citation, SentenceCheck

__version__ = "0.1.0"


def embedding(settings: Settings | None = None, **overrides: Any) -> Any:
    """The LlamaIndex embedding model citewise indexes with (a ``BaseEmbedding``), loaded offline.

    Use it to read citewise's Chroma collection from LlamaIndex itself, with the same vectors:

        >>> import chromadb, citewise                                     # doctest: +SKIP
        >>> from llama_index.core import VectorStoreIndex
        >>> from llama_index.vector_stores.chroma import ChromaVectorStore
        >>> client = chromadb.PersistentClient(path=str(citewise.load_settings().data_dir / "chroma"))
        >>> store = ChromaVectorStore(chroma_collection=client.get_collection("citewise_chunks"))
        >>> index = VectorStoreIndex.from_vector_store(store, embed_model=citewise.embedding())

    Args:
        settings: settings to read ``embed_model``, ``embed_backend`` and ``embed_batch_size``
            from (default: the settings file and environment, as the CLI reads them).
        overrides: settings to change, e.g. ``embed_backend="torch"``.
    """
    from citewise.index.embed import SentenceEmbedder

    if settings is None:
        settings = load_settings(overrides)
    elif overrides:
        settings = settings.with_overrides(**overrides)
    return SentenceEmbedder(
        settings.embed_model,
        batch_size=settings.embed_batch_size,
        backend=settings.embed_backend,
        cache_dir=settings.data_dir / "models",
    )


__all__ = [
    "Answer",
    "Assistant",
    "Citation",
    "ModeError",
    "QuestionError",
    "SentenceCheck",
    "Settings",
    "SettingsError",
    "StoreError",
    "UploadError",
    "__version__",
    "embedding",
    "load_settings",
]
