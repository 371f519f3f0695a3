"""The answer-mode registry and a host app's own LLM (issue 16).

One ``{name: factory}`` mapping (citewise.rag.modes.MODES) is the list of modes the settings,
the Assistant, the CLI, the UI and the HTTP API read; a mode registered by a host app is
usable everywhere the registry is read, and ``Assistant.from_settings(llm=...)`` hands the
generative mode the app's own LLM.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from citewise import Assistant, ModeError, SettingsError, load_settings
from citewise.rag.citations import Answer
from citewise.rag.modes import MODES, mode_names, register


class EchoMode:
    """A mode of a host app's own: it repeats the question (a real AnswerMode, not a mock)."""

    name = "echo"

    def __init__(self, assistant: Any) -> None:
        self.built_for = assistant

    def stream(self, question: str, query: str, passages: list[Any], history: list[Any]) -> Iterator[str | Answer]:
        text = f"you asked: {question} ({len(passages)} passages)"
        yield text
        yield Answer(text, [], refused=False, mode=self.name, query=query)


def test_the_entry_points_offer_the_registered_modes():
    from citewise.cli import main
    from citewise.eval.command import eval_command

    assert mode_names() == tuple(MODES) == ("extractive", "generative")
    for command in (main.commands["ask"], main.commands["chat"], eval_command):
        option = next(p for p in command.params if p.name == "mode")
        assert tuple(option.type.choices) == mode_names(), command.name


def test_a_registered_mode_is_read_by_the_settings_the_assistant_and_the_api(make_assistant, tmp_path, monkeypatch):
    from citewise.api.openai_format import UnknownModel, mode_for_model

    with pytest.raises(SettingsError, match="not an answer mode; use one of extractive, generative"):
        load_settings({"mode": "echo"})
    monkeypatch.setitem(MODES, "echo", EchoMode)  # register() for the length of this test
    assert load_settings({"mode": "echo"}).mode == "echo"
    assert mode_for_model("citewise-echo", mode_names()) == "echo"
    with pytest.raises(UnknownModel, match="citewise-echo"):
        mode_for_model("citewise-poetic", mode_names())

    notes = tmp_path / "notes.txt"
    notes.write_text("The Corran bridge has nine arches.\n")
    a = make_assistant(mode="echo")
    assert a.ingest([notes]).ok
    answer = a.ask("How many arches has the Corran bridge?")  # the configured mode
    assert answer.text == "you asked: How many arches has the Corran bridge? (1 passages)"
    assert answer.mode == "echo" and "retrieve" in answer.timings
    assert a.mode("echo").built_for is a and a.mode("echo") is a.mode("echo")  # built once
    assert a.ask("Corran bridge?", mode="extractive").mode == "extractive"
    with pytest.raises(ModeError, match="unknown answer mode 'poetic'; use one of extractive, generative, echo"):
        a.mode("poetic")


def test_register_checks_the_name(monkeypatch):
    monkeypatch.setattr("citewise.rag.modes.MODES", dict(MODES))  # leave the real registry as it was
    from citewise.rag import modes

    register("my-mode_2", EchoMode)
    assert "my-mode_2" in modes.MODES
    for bad in ("", "two words", "citewise/x"):
        with pytest.raises(ValueError, match="answer mode name"):
            register(bad, EchoMode)


def test_a_host_app_passes_its_own_llm(corpus_assistant):
    from test_generative import LAUNCH, ScriptedLLM, source_with

    llm = ScriptedLLM(lambda prompt: f"{LAUNCH} [{source_with(prompt, LAUNCH)}]")
    a = Assistant.from_settings(corpus_assistant.settings, llm=llm)
    assert a.llm is llm
    answer = a.ask("When did OpenAI launch Sora 2?", mode="generative")
    assert llm.prompts, "the host app's LLM wrote the answer"
    assert answer.mode == "generative" and answer.text == f"{LAUNCH} [1]"
    assert a.document_text(answer.citations[0].doc_id)[answer.citations[0].start : answer.citations[0].end] == LAUNCH


def test_the_ui_radio_offers_the_registered_modes(corpus_assistant, monkeypatch):
    from citewise.ui.app import build_app

    monkeypatch.setitem(MODES, "echo", EchoMode)
    blocks = build_app(corpus_assistant)
    radio = next(c for c in blocks.config["components"] if c.get("props", {}).get("elem_id") == "cw-mode")
    choices = [c[0] if isinstance(c, list | tuple) else c for c in radio["props"]["choices"]]
    assert choices == ["extractive", "generative", "echo"]
