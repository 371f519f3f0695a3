"""citewise: answers about your documents, with citations you can check.

    >>> from citewise import Assistant
    >>> assistant = Assistant.from_settings()          # doctest: +SKIP
    >>> assistant.ask("When did OpenAI launch Sora 2?")  # doctest: +SKIP

Importing this package loads neither torch nor gradio: models load on first use.
"""

from __future__ import annotations

from citewise.assistant import Assistant, ModeError
from citewise.config import Settings, SettingsError, load_settings
from citewise.index.store import StoreError
from citewise.index.uploads import UploadError
from citewise.rag.chat import QuestionError
from citewise.rag.citations import Answer, Citation, SentenceCheck

__version__ = "0.1.0"

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
    "load_settings",
]
