"""The chat page's actions against a real Assistant (real Chroma, real embedding model), and the app's wiring."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest
from click.testing import CliRunner

from citewise.ui import actions, render
from citewise.ui.command import parse_auth, ui

SORA = "When did OpenAI launch Sora 2?"


def _final(steps: list[actions.ChatUpdate]) -> actions.ChatUpdate:
    return steps[-1]


def test_ask_streams_then_gives_cited_answer_and_keeps_the_turn(corpus_assistant) -> None:
    steps = list(actions.ask(corpus_assistant, SORA, [], "extractive", 4, False))
    assert steps[0].question == "" and steps[0].messages[-2]["content"] == render.md_text(SORA)
    final = _final(steps)
    assert final.turns is not None and len(final.turns) == 1
    assert "September 30, 2025" in final.messages[-1]["content"]
    assert 'href="#cw-src-0-1"' in final.messages[-1]["content"]
    assert final.sources is not None and 'id="cw-src-0-1"' in final.sources
    assert '<mark class="cw-quote">OpenAI launched Sora 2 on September 30, 2025.</mark>' in final.sources
    # a follow-up gets the earlier turn as history and numbers its anchors by turn
    again = _final(list(actions.ask(corpus_assistant, "Who is Minoru Kiuchi?", final.turns, "extractive", 4, True)))
    assert again.turns is not None and len(again.turns) == 2
    assert again.sources is not None and "cw-src-1-1" in again.sources and "score" in again.sources


def test_off_topic_question_is_refused(corpus_assistant) -> None:
    final = _final(
        list(actions.ask(corpus_assistant, "What is the boiling point of tungsten?", [], "extractive", 4, False))
    )
    assert final.messages[-1]["content"].startswith('<span class="cw-refused">The documents don')
    assert final.sources is not None and "don't cover" in final.sources


@pytest.mark.parametrize(
    ("question", "mode", "expected"), [("   ", "extractive", "empty"), (SORA, "telepathic", "unknown answer mode")]
)
def test_user_errors_become_one_message_and_nothing_is_kept(corpus_assistant, question, mode, expected) -> None:
    earlier = [{"question": "q", "answer": render.answer_state(corpus_assistant.ask(SORA))}]
    final = _final(list(actions.ask(corpus_assistant, question, earlier, mode, 4, False)))
    assert final.messages[-1]["content"].startswith("⚠") and expected in final.messages[-1]["content"]
    assert final.turns is None and final.question == question  # the question stays in the box to fix
    assert len(final.messages) == 4


def test_an_unknown_mode_is_a_one_line_error_in_the_chat(corpus_assistant) -> None:
    final = _final(list(actions.ask(corpus_assistant, SORA, [], "poetic", 4, False)))
    assert "unknown answer mode 'poetic'" in final.messages[-1]["content"]
    assert "\n" not in final.messages[-1]["content"].strip()


def test_restore_rebuilds_chat_and_last_sources_and_survives_bad_state(corpus_assistant) -> None:
    turns = [{"question": SORA, "answer": render.answer_state(corpus_assistant.ask(SORA))}]
    messages, sources = actions.restore(turns, False)
    assert len(messages) == 2 and "cw-src-0-1" in sources
    assert actions.restore([{"nonsense": 1}], False) == ([], render.sources_html(None, 0))
    assert "appear here" in actions.sources_for(turns, 5, False)


def test_upload_remove_and_reindex(assistant, tmp_path) -> None:
    good = tmp_path / "lighthouse.md"
    good.write_text("# Zephyr\n\nThe Zephyr lighthouse was completed in 1887 by the engineer Mara Quill.\n")
    bad = tmp_path / "tool.exe"
    bad.write_bytes(b"MZ")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    message = actions.upload(assistant, [str(good), str(bad), str(empty)])
    lines = message.split("\n\n")
    assert lines[0].startswith("✔ lighthouse.md: indexed")
    assert lines[1].startswith("✘") and "unsupported file type" in lines[1]
    assert lines[2].startswith("✘") and "empty" in lines[2]
    rows, ids = actions.document_table(assistant)
    assert "uploads/lighthouse.md" in ids and len(rows) == 3
    answer = assistant.ask("When was the Zephyr lighthouse completed?")
    assert answer.citations and answer.citations[0].doc_id == "uploads/lighthouse.md"

    calls: list[tuple[int, int, str]] = []
    status = actions.reindex(assistant, lambda d, t, n: calls.append((d, t, n)))
    assert status.startswith("Re\\-indexed: 0 added, 0 updated, 3 unchanged")
    assert [c[:2] for c in calls] == [(1, 3), (2, 3), (3, 3)]

    assert actions.remove(assistant, "uploads/lighthouse.md").startswith("✔ Removed uploads/lighthouse.md")
    assert "not indexed" in actions.remove(assistant, "uploads/lighthouse.md")
    assert "uploads/lighthouse.md" not in actions.document_table(assistant)[1]
    assert actions.upload(assistant, []) == "Choose one or more files first."


def test_oversize_upload_is_refused_by_size_alone(make_assistant, tmp_path) -> None:
    small = make_assistant(max_upload_mb=1)
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * (2 * 1024 * 1024))
    message = actions.upload(small, [str(big)])
    assert message.startswith("✘ big.txt: file is 2.0 MB; the limit is 1 MB")
    assert small.documents() == []


def test_evaluation_tab_action(corpus_assistant) -> None:
    summary, rows, columns = actions.evaluate(corpus_assistant, "extractive")
    if importlib.util.find_spec("citewise.eval.runner") is None:
        assert "not part of this installation" in summary and rows == []
    else:
        assert summary.startswith("| metric | value |") and rows and len(rows[0]) == len(columns)


def test_build_app_mounts_in_fastapi_without_launch(corpus_assistant) -> None:
    import gradio as gr
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from citewise.ui.app import build_app

    blocks = build_app(corpus_assistant)
    assert isinstance(blocks, gr.Blocks)
    app = gr.mount_gradio_app(FastAPI(), blocks, path="/ui")
    with TestClient(app) as client:
        page = client.get("/ui/")
        assert page.status_code == 200 and "<html" in page.text.lower()
        config = client.get("/ui/config").json()
        ids = {c.get("props", {}).get("elem_id") for c in config["components"]}
        assert {"cw-chat", "cw-sources", "cw-docs", "cw-upload", "cw-eval-run"} <= ids


def test_parse_auth() -> None:
    assert parse_auth("ann:s3:cret") == ("ann", "s3:cret")
    assert parse_auth("") is None
    with pytest.raises(Exception, match="user:password"):
        parse_auth("nopassword")


def test_ui_command_help_and_bad_auth() -> None:
    runner = CliRunner()
    out = runner.invoke(ui, ["--help"])
    assert out.exit_code == 0 and "--auth" in out.output and "127.0.0.1" in out.output
    bad = runner.invoke(ui, ["--auth", "x"], obj={"overrides": {}})
    assert bad.exit_code == 2 and "user:password" in bad.output


def test_importing_the_ui_command_does_not_load_gradio() -> None:
    code = "import citewise.cli, citewise.ui.command, sys; print('gradio' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
