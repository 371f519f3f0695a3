"""The Gradio chat: cited answers you can check, documents you can manage.

``build_app(assistant)`` returns a `gradio.Blocks` that a caller can ``launch()``
(see ``citewise ui``) or mount in a FastAPI app with ``gr.mount_gradio_app``. It needs no
launch-time CSS: the styles ship with the components that use them.
"""

import os
from typing import Any

from citewise.ui import actions, history, render

SOURCES_CSS = """
.cw-sources { font-size: 0.95em; }
.cw-empty { color: var(--body-text-color-subdued); padding: 8px; }
.cw-source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 10px; margin: 0 0 10px 0;
  scroll-margin-top: 12px; transition: box-shadow 0.3s; }
.cw-source.cw-flash, .cw-source:target { box-shadow: 0 0 0 3px var(--color-accent); }
.cw-source-title { font-weight: 600; font-variant: normal; font-feature-settings: normal; }
.cw-n { color: var(--color-accent); margin-right: 4px; }
.cw-meta { color: var(--body-text-color-subdued); font-size: 0.9em; margin: 2px 0 6px; }
.cw-passage { margin: 4px 0 0; padding: 6px 10px; border-left: 3px solid var(--border-color-primary);
  white-space: pre-wrap; line-height: 1.45; }
mark.cw-quote { background: #ffe066; color: #111; padding: 0 2px; border-radius: 2px; }
.cw-checks ul { margin: 4px 0 0 18px; }
.cw-check-bad { color: #b45309; }
.cw-disagreement { border-left: 3px solid #b45309; padding: 4px 8px; margin: 0 0 10px 0; }
.cw-closest { border: 1px dashed var(--border-color-primary); border-radius: 8px; padding: 8px 10px; margin-top: 8px; }
.cw-closest-heading { font-weight: 600; color: var(--body-text-color-subdued); }
.cw-closest-entry { margin-top: 8px; }
.cw-closest mark.cw-quote { background: transparent; color: inherit; text-decoration: underline dotted; }
"""

# Clicking a marker [n] in the chat scrolls the sources panel to that source and flashes it.
# The chatbot's own `select` event swaps in an older answer's sources first, so wait for them.
SOURCES_JS = """
if (!window.__cwCiteClicks) {
  window.__cwCiteClicks = true;
  document.addEventListener('click', (event) => {
    const link = event.target.closest && event.target.closest('a.cw-cite, a[href^="#cw-src-"]');
    if (!link) return;
    event.preventDefault();
    const id = (link.getAttribute('href') || '').slice(1);
    let tries = 0;
    const show = () => {
      const entry = document.getElementById(id);
      if (!entry) { if (tries++ < 40) setTimeout(show, 50); return; }
      entry.scrollIntoView({behavior: 'smooth', block: 'nearest'});
      const details = entry.querySelector('details');
      if (details) details.open = true;
      entry.classList.add('cw-flash');
      setTimeout(() => entry.classList.remove('cw-flash'), 1500);
    };
    show();
  }, true);
}
"""

INTRO = (
    "Ask about the documents. Every answer quotes them verbatim; click a marker like **[1]** to see the quote "
    "highlighted in its passage. When the documents don't cover a question, citewise says so."
)


def build_app(assistant: Any) -> Any:
    """Build the chat app over ``assistant`` (a `citewise.Assistant`).

    Args:
        assistant: the facade every action goes through; the UI holds no retrieval or answer logic.

    Returns:
        A ``gradio.Blocks``; call ``.launch()`` on it or mount it with ``gr.mount_gradio_app``.
    """
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    with gr.Blocks(title="citewise", analytics_enabled=False) as app:
        gr.Markdown(f"# citewise\n{INTRO}")
        collection = history.collection_picker(gr, assistant)
        with gr.Tab("Chat", id="chat"):
            settings = {**_settings_panel(gr, assistant), "collection": collection}
            chat = _chat_tab(gr, assistant, settings)
        with gr.Tab("Documents", id="documents"):
            docs = _documents_tab(gr, assistant, collection)
        with gr.Tab("Evaluation", id="evaluation"):
            _eval_tab(gr, assistant, settings["mode"])

        def on_load(kept: list[dict[str, Any]], show: bool) -> tuple[Any, ...]:
            messages, sources = actions.restore(kept, show)
            rows, ids = actions.document_table(assistant)
            return messages, sources, rows, gr.update(choices=ids)

        # the conversation lives in the browser (BrowserState), so a reload brings it back
        app.load(
            on_load,
            [chat["turns"], settings["scores"]],
            [chat["chatbot"], chat["sources"], docs["table"], docs["choice"]],
        )
        history.on_load(gr, assistant, app, collection, chat["history"])

        def on_unload(request: gr.Request) -> None:  # the tab was closed or reloaded: its answers stop
            chat["answering"].cancel(request.session_hash)

        app.unload(on_unload)
    return app


def _settings_panel(gr: Any, assistant: Any) -> dict[str, Any]:
    from citewise.rag.modes import mode_names

    with gr.Accordion("Settings", open=False, elem_id="cw-settings"), gr.Row():
        mode = gr.Radio(
            list(mode_names()),
            value=assistant.settings.mode,
            label="Answer mode",
            info="extractive quotes sentences; generative writes with the local LLM, then checks each sentence",
            elem_id="cw-mode",
        )
        top_k = gr.Slider(1, 12, value=assistant.settings.top_k, step=1, label="Passages", elem_id="cw-top-k")
        scores = gr.Checkbox(value=False, label="Show scores", elem_id="cw-show-scores")
    return {"mode": mode, "top_k": top_k, "scores": scores}


def _chat_layout(gr: Any) -> dict[str, Any]:
    parts: dict[str, Any] = {"turns": gr.BrowserState([], storage_key="citewise-chat")}
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            parts["chatbot"] = gr.Chatbot(
                label="Chat",
                elem_id="cw-chat",
                height=520,
                latex_delimiters=[],
                feedback_options=None,
                placeholder="Ask a question about the documents.",
            )
            with gr.Row():
                parts["question"] = gr.Textbox(
                    placeholder="e.g. When did OpenAI launch Sora 2?",
                    show_label=False,
                    scale=5,
                    elem_id="cw-question",
                    max_lines=6,
                )
                parts["ask"] = gr.Button("Ask", variant="primary", scale=1, elem_id="cw-ask")
            with gr.Row():
                parts["new_chat"] = gr.Button("New chat", size="sm", scale=0, min_width=110, elem_id="cw-new-chat")
                parts["stop"] = gr.Button("Stop answer", size="sm", scale=0, min_width=110, elem_id="cw-stop")
        with gr.Column(scale=2):
            gr.Markdown("### Sources")
            parts["sources"] = gr.HTML(
                render.sources_html(None, 0), css_template=SOURCES_CSS, js_on_load=SOURCES_JS, elem_id="cw-sources"
            )
    return parts


def _chat_tab(gr: Any, assistant: Any, settings: dict[str, Any]) -> dict[str, Any]:
    parts = _chat_layout(gr)
    turns, chatbot, question, sources = parts["turns"], parts["chatbot"], parts["question"], parts["sources"]
    answering = parts["answering"] = actions.Answering()  # what Stop and a closed tab cancel

    def respond(
        q: str, kept: list[dict[str, Any]], mode: str, top_k: int, show: bool, collection: str, request: gr.Request
    ) -> Any:
        with answering.track(request.session_hash) as switch:
            for step in actions.ask(history.pick(assistant, collection), q, kept, mode, top_k, show, switch):
                yield (
                    step.messages,
                    gr.skip() if step.sources is None else step.sources,
                    gr.skip() if step.turns is None else step.turns,
                    gr.skip() if step.question is None else step.question,
                )

    def stop(request: gr.Request) -> None:
        answering.cancel(request.session_hash)

    def select(kept: list[dict[str, Any]], show: bool, evt: gr.SelectData) -> str:
        index = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        return actions.sources_for(kept, int(index) // 2, show)

    ask_inputs = [question, turns, settings["mode"], settings["top_k"], settings["scores"], settings["collection"]]
    ask_outputs = [chatbot, sources, turns, question]
    asked = parts["ask"].click(respond, ask_inputs, ask_outputs, show_progress="hidden")
    submitted = question.submit(respond, ask_inputs, ask_outputs, show_progress="hidden")
    # Stop ends the answer in Gradio (cancels=) and in the engine (the switch: the model is released)
    parts["stop"].click(stop, None, None, cancels=[asked, submitted], show_progress="hidden")
    chatbot.select(select, [turns, settings["scores"]], sources, show_progress="hidden")
    parts["new_chat"].click(
        lambda: ([], [], render.sources_html(None, 0), ""), None, [chatbot, turns, sources, question]
    )
    settings["scores"].change(
        lambda kept, show: actions.sources_for(kept, len(kept or []) - 1, show), [turns, settings["scores"]], sources
    )
    parts["history"] = history.conversation_panel(gr)  # saved conversations: list, rename, delete, export
    history.wire_conversations(gr, assistant, parts, parts["history"], settings, [asked, submitted])
    return parts


def _documents_table(gr: Any, rows: list[list[Any]]) -> Any:
    widths = ["26%", "42%", "8%", "8%", "16%"]
    return gr.Dataframe(
        value=rows, headers=render.DOCUMENT_COLUMNS, interactive=False, wrap=True, column_widths=widths,
        elem_id="cw-docs", label="Indexed documents",
    )  # fmt: skip


def _documents_tab(gr: Any, assistant: Any, collection: Any) -> dict[str, Any]:
    rows, ids = actions.document_table(assistant)
    table = _documents_table(gr, rows)
    limit = assistant.settings.max_upload_mb
    with gr.Row():
        with gr.Column():
            files = gr.File(
                label=f"Upload files (.txt .md .html .pdf .docx, up to {limit} MB each)",
                file_count="multiple",
                type="filepath",
                elem_id="cw-upload",
            )
            upload = gr.Button("Index uploaded files", variant="primary", elem_id="cw-upload-button")
        with gr.Column():
            choice = gr.Dropdown(ids, label="Document", elem_id="cw-remove-choice")
            remove = gr.Button("Remove document", variant="stop", elem_id="cw-remove")
            reindex = gr.Button("Re-index all", elem_id="cw-reindex")
    status = gr.Markdown(elem_id="cw-docs-status")
    history.collection_controls(gr, assistant, collection)  # create and delete collections

    def refreshed(message: str, name: str | None = None) -> tuple[Any, Any, str]:
        rows, ids = actions.document_table(history.pick(assistant, name))
        return rows, gr.update(choices=ids, value=None), message

    def do_reindex(name: str, progress: Any = gr.Progress()) -> tuple[Any, Any, str]:  # noqa: B008 - gradio injects it
        def step(done: int, total: int, name: str) -> None:
            progress((done, total), desc=f"indexing {name}", unit="files")

        return refreshed(actions.reindex(history.pick(assistant, name), step), name)

    outputs = [table, choice, status]
    upload.click(
        lambda paths, c: (*refreshed(actions.upload(history.pick(assistant, c), paths), c), None),
        [files, collection],
        [*outputs, files],
    )
    remove.click(
        lambda doc, c: refreshed(actions.remove(history.pick(assistant, c), doc), c), [choice, collection], outputs
    )
    reindex.click(do_reindex, collection, outputs)
    collection.change(lambda c: refreshed("", c), collection, outputs)  # the selected collection's documents
    return {"table": table, "choice": choice}


def _eval_tab(gr: Any, assistant: Any, mode: Any) -> None:
    gr.Markdown("Runs the factual question suite (`seed`) against the current index and answer mode.")
    run = gr.Button("Run evaluation", variant="primary", elem_id="cw-eval-run")
    metrics = gr.Markdown(elem_id="cw-eval-metrics")
    table = gr.Dataframe(interactive=False, wrap=True, elem_id="cw-eval-table", label="Cases")

    def evaluate(chosen_mode: str, progress: Any = gr.Progress()) -> tuple[str, Any]:  # noqa: B008 - gradio injects it
        def step(done: int, total: int, name: str = "") -> None:
            progress((done, total), desc=f"case {name}".strip(), unit="cases")

        summary, rows, columns = actions.evaluate(assistant, chosen_mode, step)
        return summary, gr.update(value=rows, headers=columns) if columns else gr.update(value=[])

    run.click(evaluate, mode, [metrics, table])
