"""The chat stops an answer whose reader has gone: a closed tab, or the Stop button (issue 17).

A generative answer runs the LLM for as long as it writes. Gradio stops asking a generator
for more once its page is gone, but only after the step it is running, and a generative
answer's step lasts until a sentence is complete (one long sentence: the whole answer), so
the model stayed busy for everyone. The slow LLM here writes one 90-second sentence while
holding a lock, as llama.cpp holds its model (``citewise.rag.cancel.acquired``), so the
tests can see both that the writing stops and that the model is free again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import CORPUS, free_port
from llama_index.core.base.llms.types import CompletionResponse, CompletionResponseGen, LLMMetadata
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.llms.custom import CustomLLM
from pydantic import PrivateAttr

from citewise import Assistant, Settings
from citewise.rag.cancel import acquired
from citewise.rag.generative import GenerativeConfig, GenerativeMode
from citewise.rag.verify import SupportChecker
from citewise.ui import actions

SORA = "When did OpenAI launch Sora 2?"
WORDS = 1800  # one sentence of 1,800 words at 50 ms each: 90 s if nothing stops it
FREED_WITHIN = 15.0  # seconds the model may stay busy once the reader has gone


class SlowLLM(CustomLLM):
    """Writes one long sentence, a word every 50 ms, holding ``lock`` while it writes."""

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _emitted: int = PrivateAttr(default=0)
    _calls: int = PrivateAttr(default=0)

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(context_window=4096, num_output=4096, model_name="slow")

    @property
    def lock(self) -> threading.Lock:
        return self._lock

    @property
    def emitted(self) -> int:
        return self._emitted

    @property
    def calls(self) -> int:
        return self._calls

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text="OpenAI launched Sora 2 on September 30, 2025.")

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        self._calls += 1

        def gen() -> CompletionResponseGen:
            with acquired(self._lock):
                text = ""
                for _ in range(WORDS):
                    time.sleep(0.05)
                    text += "word "
                    self._emitted += 1
                    yield CompletionResponse(text=text, delta="word ")

        return gen()

    def wait_for_words(self, n: int, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while self._emitted < n:
            assert time.monotonic() < deadline, f"the LLM wrote {self._emitted} words, not {n}"
            time.sleep(0.05)

    def freed(self, timeout: float = FREED_WITHIN) -> bool:
        """True when the model becomes free within ``timeout`` seconds (the lock is taken and given back)."""
        started = time.monotonic()
        if self._lock.acquire(timeout=timeout):
            self._lock.release()
            print(f"model free {time.monotonic() - started:.2f} s after the reader left, {self._emitted} words")
            return True
        return False


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> tuple[Assistant, SlowLLM]:
    """An Assistant over corpus/ whose generative mode is the slow LLM."""
    base = Assistant.from_settings(Settings(), data_dir=tmp_path_factory.mktemp("cancel-data"))
    assert base.ingest([CORPUS]).ok
    llm = SlowLLM()
    mode = GenerativeMode(llm, base.mode("extractive"), SupportChecker(base.embedder), GenerativeConfig())
    modes = {"extractive": base.mode("extractive"), "generative": mode}
    return Assistant(base.settings, base.indexer, base.retriever, modes), llm


def _started(llm: SlowLLM, before: int) -> None:
    """Wait until the LLM was asked once more than ``before`` and has written a few words."""
    deadline = time.monotonic() + 120
    while llm.calls <= before:
        assert time.monotonic() < deadline, "the LLM was never asked"
        time.sleep(0.05)
    start = llm.emitted
    llm.wait_for_words(start + 5)


# ---- without a browser: the chat's action and its cancel switch ---------------------------------------
def test_a_cancelled_chat_answer_stops_and_frees_the_model(slow: tuple[Assistant, SlowLLM]) -> None:
    assistant, llm = slow
    answering = actions.Answering()
    steps: list[actions.ChatUpdate] = []

    def run() -> None:
        with answering.track("session-a") as switch:
            steps.extend(actions.ask(assistant, SORA, [], "generative", 4, False, switch))

    before = llm.calls
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    _started(llm, before)
    assert answering.running("session-a") == 1 and answering.cancel("session-b") == 0  # another tab's: untouched
    assert answering.cancel("session-a") == 1
    worker.join(FREED_WITHIN)
    assert not worker.is_alive() and llm.freed(0.1)
    assert llm.emitted < WORDS / 2
    assert steps[-1].messages[-1]["content"] == actions.render.md_text(actions.STOPPED)
    assert steps[-1].turns is None  # a stopped answer is not kept as a turn
    assert answering.running() == 0


# ---- through the real page in headless Chromium ------------------------------------------------------
@pytest.fixture(scope="module")
def slow_app(slow: tuple[Assistant, SlowLLM]) -> Iterator[str]:
    from citewise.ui.app import build_app
    from citewise.ui.command import serve

    app = build_app(slow[0])
    port = free_port()
    serve(app, "127.0.0.1", port, None, slow[0].settings.max_upload_mb, block=False)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()


def _ask_generative(browser: Any, url: str) -> tuple[Any, Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("#cw-question textarea")
    page.click("#cw-settings button, #cw-settings .label-wrap")
    page.locator("#cw-mode label", has_text="generative").click()
    page.fill("#cw-question textarea", SORA)
    page.click("#cw-ask")
    return context, page


@pytest.mark.browser
@pytest.mark.slow
def test_closing_the_tab_stops_the_generation(browser: Any, slow_app: str, slow: tuple[Assistant, SlowLLM]) -> None:
    llm = slow[1]
    before = llm.calls
    context, _page = _ask_generative(browser, slow_app)
    _started(llm, before)
    context.close()  # the tab goes away mid-answer
    closed_at = llm.emitted
    assert llm.freed(), f"the model was still busy {FREED_WITHIN} s after the tab closed ({llm.emitted} words)"
    assert llm.emitted < closed_at + FREED_WITHIN / 0.05 and llm.emitted < WORDS


@pytest.mark.browser
@pytest.mark.slow
def test_stop_button_stops_the_generation(browser: Any, slow_app: str, slow: tuple[Assistant, SlowLLM]) -> None:
    llm = slow[1]
    before = llm.calls
    context, page = _ask_generative(browser, slow_app)
    try:
        _started(llm, before)
        page.click("#cw-stop")
        assert llm.freed(), f"the model was still busy {FREED_WITHIN} s after Stop ({llm.emitted} words)"
        assert llm.emitted < WORDS
        # the page is usable again: the next question is answered (extractive, no LLM)
        page.locator("#cw-mode label", has_text="extractive").click()
        page.fill("#cw-question textarea", SORA)
        page.click("#cw-ask")
        page.wait_for_selector('#cw-sources [data-turn="0"]', timeout=120_000)
        assert "September 30, 2025" in page.locator("#cw-chat [data-testid=bot]").last.inner_text()
    finally:
        context.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright
    from test_ui_browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
