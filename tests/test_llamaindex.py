"""citewise inside LlamaIndex: query engine, chat engine, retriever, Documents in, an agent tool, the example.

Everything runs on the real index (embedded Chroma, the bundled MiniLM); the agent's LLM is a
scripted LlamaIndex CustomLLM (as in test_generative.py) so the agent's steps are known.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from conftest import ROOT
from llama_index.core import Document
from llama_index.core.base.llms.types import CompletionResponse, CompletionResponseGen, LLMMetadata, MessageRole
from llama_index.core.base.response.schema import AsyncStreamingResponse, Response, StreamingResponse
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.llms.custom import CustomLLM
from llama_index.core.query_engine import BaseQueryEngine
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore
from pydantic import PrivateAttr

from citewise import ModeError, QuestionError

QUESTION = "When did OpenAI launch Sora 2?"
LAUNCH = "OpenAI launched Sora 2 on September 30, 2025."
OFF_TOPIC = "Who won the 2022 FIFA World Cup?"


def check_sources(assistant: Any, text: str, nodes: list[NodeWithScore]) -> None:
    """Every [n] in ``text`` is source_nodes[n-1], a verbatim quote of its document at its offsets."""
    markers = sorted({int(n) for n in re.findall(r"\[(\d+)\]", text)})
    assert markers == list(range(1, len(nodes) + 1))
    for n, sn in enumerate(nodes, start=1):
        meta = sn.node.metadata
        assert meta["n"] == n
        document = assistant.document_text(meta["doc_id"])
        assert document[meta["start"] : meta["end"]] == sn.node.get_content() == sn.node.text
        offset = meta["start"] - meta["passage_start"]
        assert meta["passage"][offset : offset + len(sn.node.text)] == sn.node.text
        assert meta["title"] and meta["source"] and "page" in meta
        assert isinstance(sn.score, float) and 0 < sn.score <= 1


# ---- query engine ------------------------------------------------------------------------------
def test_query_engine_answers_with_citations_as_source_nodes(corpus_assistant):
    engine = corpus_assistant.as_query_engine()
    assert isinstance(engine, BaseQueryEngine)
    response = engine.query(QUESTION)
    assert isinstance(response, Response)
    assert response.response.startswith(LAUNCH + " [1]")
    check_sources(corpus_assistant, response.response, response.source_nodes)
    first = response.source_nodes[0]
    assert first.node.text == LAUNCH and first.node.metadata["doc_id"] == "coda-written-request-openai.md"
    meta = response.metadata
    assert meta["refused"] is False and meta["mode"] == "extractive" and meta["sentences"] is None
    assert {"confidence", "note", "closest", "query", "timings_ms"} <= set(meta)
    assert str(response) == response.response


def test_a_refusal_has_no_source_nodes(corpus_assistant):
    response = corpus_assistant.as_query_engine().query(OFF_TOPIC)
    assert response.metadata["refused"] is True
    assert response.source_nodes == []
    assert "don't cover" in response.response


def test_streaming_query_fills_sources_when_the_stream_ends(corpus_assistant):
    whole = corpus_assistant.as_query_engine().query(QUESTION)
    response = corpus_assistant.as_query_engine(streaming=True).query(QUESTION)
    assert isinstance(response, StreamingResponse)
    assert response.source_nodes == []  # nothing is known before the answer is
    deltas = list(response.response_gen)
    assert len(deltas) > 1 and "".join(deltas) == whole.response
    assert [n.node.text for n in response.source_nodes] == [n.node.text for n in whole.source_nodes]
    assert response.metadata["refused"] is False


def test_aquery_plain_and_streaming(corpus_assistant):
    async def run() -> tuple[Any, Any, list[str]]:
        plain = await corpus_assistant.as_query_engine(top_k=2).aquery(QUESTION)
        streamed = await corpus_assistant.as_query_engine(streaming=True).aquery(QUESTION)
        deltas = [d async for d in streamed.async_response_gen()]
        return plain, streamed, deltas

    plain, streamed, deltas = asyncio.run(run())
    assert isinstance(plain, Response) and plain.response.startswith(LAUNCH)
    check_sources(corpus_assistant, plain.response, plain.source_nodes)
    assert isinstance(streamed, AsyncStreamingResponse)
    assert "".join(deltas).startswith(LAUNCH) and streamed.source_nodes[0].node.text == LAUNCH


def test_engines_refuse_an_unknown_mode_and_a_bad_question(corpus_assistant):
    with pytest.raises(ModeError):
        corpus_assistant.as_query_engine(mode="poetry")
    with pytest.raises(ModeError):
        corpus_assistant.as_chat_engine(mode="poetry")
    with pytest.raises(QuestionError, match="empty"):
        corpus_assistant.as_query_engine().query("   ")
    with pytest.raises(QuestionError, match="empty"):  # when the query is made, not at the first read
        corpus_assistant.as_query_engine(streaming=True).query("   ")
    with pytest.raises(QuestionError, match="empty"):
        corpus_assistant.as_chat_engine().stream_chat("")


def test_generative_answers_carry_their_sentence_checks(corpus_assistant):
    from test_generative import source_with, with_llm

    a, _ = with_llm(corpus_assistant, lambda p: f"{LAUNCH} [{source_with(p, LAUNCH)}]")
    response = a.as_query_engine(mode="generative").query(QUESTION)
    assert response.response == f"{LAUNCH} [1]" and response.metadata["mode"] == "generative"
    assert response.metadata["sentences"] == [
        {"text": f"{LAUNCH} [1]", "citations": [1], "supported": True, "quote": LAUNCH}
    ]
    check_sources(a, response.response, response.source_nodes)
    streamed = a.as_query_engine(mode="generative", streaming=True).query(QUESTION)
    assert "".join(streamed.response_gen) == response.response
    assert streamed.metadata["sentences"][0]["supported"] is True and len(streamed.source_nodes) == 1


# ---- chat engine -------------------------------------------------------------------------------
def test_chat_engine_keeps_history_and_follow_ups_use_citewise_condensing(corpus_assistant):
    chat = corpus_assistant.as_chat_engine()
    first = chat.chat(QUESTION)
    assert first.response.startswith(LAUNCH) and first.metadata["refused"] is False
    check_sources(corpus_assistant, first.response, first.source_nodes)

    follow = "and what did CODA ask?"
    streamed = chat.stream_chat(follow)
    assert streamed.source_nodes == []
    text = "".join(streamed.response_gen)
    assert text == str(streamed) and "CODA" in text
    check_sources(corpus_assistant, text, streamed.source_nodes)
    # a follow-up is retrieved with the question before it (citewise's own rule, not an LLM's)
    assert streamed.metadata["query"] == f"{QUESTION} {follow}"

    history = chat.chat_history
    assert [m.role for m in history] == [MessageRole.USER, MessageRole.ASSISTANT] * 2
    assert history[0].content == QUESTION and history[1].content == first.response and history[3].content == text

    chat.reset()
    assert chat.chat_history == []
    again = chat.chat(follow)  # no history now: the question is retrieved as it is
    assert again.metadata["query"] == follow


def test_chat_engine_async_and_explicit_history(corpus_assistant):
    from llama_index.core.base.llms.types import ChatMessage

    chat = corpus_assistant.as_chat_engine()
    given = [ChatMessage(role="user", content=QUESTION), ChatMessage(role="assistant", content=LAUNCH + " [1]")]

    async def run() -> tuple[Any, Any, str]:
        answer = await chat.achat("and what did CODA ask?", chat_history=given)
        streamed = await chat.astream_chat("Who is Minoru Kiuchi?")
        text = "".join([d async for d in streamed.async_response_gen()])
        return answer, streamed, text

    answer, streamed, text = asyncio.run(run())
    assert answer.metadata["query"].startswith(QUESTION)
    assert "Kiuchi" in text and streamed.source_nodes and streamed.metadata["refused"] is False
    assert len(chat.chat_history) == 6 and chat.chat_history[-1].content == text


# ---- retriever ---------------------------------------------------------------------------------
def test_retriever_is_the_hybrid_retriever_with_offsets(corpus_assistant):
    retriever = corpus_assistant.as_retriever(top_k=2)
    assert isinstance(retriever, BaseRetriever)
    nodes = retriever.retrieve("opt-out")
    assert len(nodes) == 2
    passages = corpus_assistant.search("opt-out", top_k=2)
    assert [n.node.node_id for n in nodes] == [p.chunk.id for p in passages]
    for n in nodes:
        meta = n.node.metadata
        assert corpus_assistant.document_text(meta["doc_id"])[meta["start"] : meta["end"]] == n.node.text
        assert (n.node.start_char_idx, n.node.end_char_idx) == (meta["start"], meta["end"])
    assert len(corpus_assistant.as_retriever().retrieve("opt-out")) == corpus_assistant.settings.top_k
    assert corpus_assistant.as_retriever() is corpus_assistant.retriever  # the same object, not a copy


# ---- Documents in ------------------------------------------------------------------------------
NOTE = (
    "Field notes on the Harbour Lighthouse.\n\n"
    "The Harbour Lighthouse was first lit on 12 March 1871 by the keeper Agnes Moller. "
    "Its lamp burned colza oil until 1902, when paraffin replaced it."
)
MANUAL = "The keeper's manual says the lens must be cleaned every morning at dawn with a linen cloth."


def test_ingest_documents_indexes_llamaindex_documents_incrementally(make_assistant):
    assistant = make_assistant()
    docs = [
        Document(
            text=NOTE, doc_id="notes/lighthouse", metadata={"title": "Lighthouse notes", "url": "https://x.test/l"}
        ),
        Document(text=MANUAL, doc_id="manual-p7", metadata={"file_name": "manual.pdf", "page_label": "7"}),
        Document(text="   ", doc_id="blank"),
    ]
    report = assistant.ingest_documents(docs)
    assert sorted(report.added) == ["manual-p7", "notes/lighthouse"]
    assert report.failed == [("blank", "blank: no text to index")]
    records = {d.doc_id: d for d in assistant.documents()}
    assert records["notes/lighthouse"].title == "Lighthouse notes"
    assert records["notes/lighthouse"].source == "https://x.test/l"
    assert assistant.document_text("notes/lighthouse") == NOTE

    answer = assistant.ask("When was the Harbour Lighthouse first lit?")
    assert not answer.refused and "12 March 1871" in answer.text
    assert answer.citations[0].doc_id == "notes/lighthouse"
    manual = assistant.as_query_engine().query("How often must the lens be cleaned?")
    assert manual.source_nodes[0].node.metadata["doc_id"] == "manual-p7"
    assert manual.source_nodes[0].node.metadata["page"] == 7  # the reader's page label

    for doc in docs[:2]:  # what a reader's next run changes but excludes from embeddings is no content
        doc.metadata["last_modified_date"] = "2030-01-01"
        doc.excluded_embed_metadata_keys = ["last_modified_date"]
    again = assistant.ingest_documents(docs[:2])  # same content hash: nothing is rewritten
    assert sorted(again.unchanged) == ["manual-p7", "notes/lighthouse"] and again.chunks == 0
    changed = Document(
        text=NOTE.replace("1902", "1903"), doc_id="notes/lighthouse", metadata={"title": "Lighthouse notes"}
    )
    third = assistant.ingest_documents([changed])
    assert third.updated == ["notes/lighthouse"]
    assert "1903" in assistant.document_text("notes/lighthouse")
    assert assistant.store.count_chunks() == sum(d.chunks for d in assistant.documents())  # old chunks gone

    files = assistant.ingest([ROOT / "corpus"])  # files and Documents share one registry
    assert len(files.added) == 2 and len(assistant.documents()) == 4


# ---- the collection opened by LlamaIndex itself ------------------------------------------------
@pytest.fixture(scope="module")
def blockchain(tmp_path_factory):
    """The blockchain dataset indexed the way `citewise eval` indexes it: (base assistant, eval assistant, dataset)."""
    from citewise import Assistant, Settings
    from citewise.eval.datasets import load_dataset
    from citewise.eval.runner import eval_assistant

    base = Assistant.from_settings(Settings(), data_dir=tmp_path_factory.mktemp("blockchain"))
    dataset = load_dataset("blockchain")
    return base, eval_assistant(base, dataset), dataset


def test_llamaindex_reads_citewise_collection_with_citewise_embedding(blockchain, corpus_assistant):
    import chromadb
    from llama_index.core import VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    import citewise

    _, assistant, _ = blockchain
    s = assistant.settings
    client = chromadb.PersistentClient(path=str(s.data_dir / "chroma"))
    store = ChromaVectorStore(chroma_collection=client.get_collection(f"{s.collection}_chunks"))
    index = VectorStoreIndex.from_vector_store(store, embed_model=citewise.embedding(s))
    question = "What is Proof of History?"
    nodes = index.as_retriever(similarity_top_k=4).retrieve(question)
    ours = {p.chunk.id: p.chunk for p in assistant.search(question, top_k=20)}
    assert len(nodes) == 4 and nodes[0].node.node_id in ours  # the same vectors: the best dense hit is one of ours
    document = assistant.document_text("BlockchainSolana.pdf")
    for n in nodes:
        meta = n.node.metadata
        assert meta["doc_id"] == "BlockchainSolana.pdf" and document[meta["start"] : meta["end"]] == n.node.text
        chunk = ours.get(n.node.node_id) or next(c for c in assistant.store.all_chunks() if c.id == n.node.node_id)
        assert meta["page"] == chunk.page and meta["page"] >= 1  # the PDF page, as citewise cites it

    # a format without pages has no page field (not -1)
    md = corpus_assistant.settings
    md_client = chromadb.PersistentClient(path=str(md.data_dir / "chroma"))
    md_store = ChromaVectorStore(chroma_collection=md_client.get_collection(f"{md.collection}_chunks"))
    md_nodes = (
        VectorStoreIndex.from_vector_store(md_store, embed_model=citewise.embedding(md))
        .as_retriever()
        .retrieve(QUESTION)
    )
    assert md_nodes and all("page" not in n.node.metadata for n in md_nodes)
    assert md_nodes[0].node.metadata["doc_id"] == "coda-written-request-openai.md"


# ---- LlamaIndex's RetrieverEvaluator agrees with `citewise eval` -------------------------------
CROSS_CHECK_CASES = 8  # of 58: the full set takes ~7 min (extractive answers); docs/embedding.md has the full run


@pytest.mark.slow
def test_retriever_evaluator_reproduces_citewise_eval_hit_rate_and_mrr(blockchain):
    from llama_index.core.evaluation import RetrieverEvaluator

    from citewise.eval.metrics import overlaps_context
    from citewise.eval.runner import MRR_DEPTH, run_eval

    base, assistant, dataset = blockchain
    report = run_eval(base, dataset, "extractive", limit=CROSS_CHECK_CASES)  # reuses the same index, unchanged
    chunks = list(assistant.store.all_chunks())
    k = assistant.settings.top_k
    # citewise's relevance rule (a chunk overlapping a reference context) names the expected node ids;
    # LlamaIndex's own retrieval loop and HitRate / MRR code do the ranking and the arithmetic
    hit = RetrieverEvaluator.from_metric_names(["hit_rate"], retriever=assistant.as_retriever(top_k=k))
    mrr = RetrieverEvaluator.from_metric_names(["mrr"], retriever=assistant.as_retriever(top_k=max(MRR_DEPTH, k)))
    hits, mrrs = [], []
    for result in report.results:
        case = result.case
        expected = [c.id for c in chunks if overlaps_context(c.text, case.reference_contexts)]
        assert expected, case.question
        hits.append(hit.evaluate(query=case.question, expected_ids=expected).metric_vals_dict["hit_rate"])
        mrrs.append(mrr.evaluate(query=case.question, expected_ids=expected).metric_vals_dict["mrr"])
    assert len(hits) == CROSS_CHECK_CASES
    assert sum(hits) / len(hits) == pytest.approx(report.metrics["hit_rate"], abs=1e-9)
    assert sum(mrrs) / len(mrrs) == pytest.approx(report.metrics["mrr"], abs=1e-9)


# ---- an agent calls citewise through QueryEngineTool -------------------------------------------
class ScriptedLLM(CustomLLM):
    """Writes ``script(prompt)``; remembers the prompts it was given (see test_generative.py)."""

    _script: Callable[[str], str] = PrivateAttr()
    _prompts: list[str] = PrivateAttr(default_factory=list)

    def __init__(self, script: Callable[[str], str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._script = script
        self._prompts = []

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(context_window=8192, num_output=256, model_name="scripted")

    @property
    def prompts(self) -> list[str]:
        return self._prompts

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self._prompts.append(prompt)
        return CompletionResponse(text=self._script(prompt))

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        self._prompts.append(prompt)
        text = self._script(prompt)

        def gen() -> CompletionResponseGen:
            so_far = ""
            for word in re.findall(r"\S+\s*", text):
                so_far += word
                yield CompletionResponse(text=so_far, delta=word)

        return gen()


def react_script(prompt: str) -> str:
    """First call the citewise tool; once its observation is in the prompt, answer with it."""
    conversation = prompt.split("## Current Conversation", 1)[-1]  # the system part shows the format
    seen = re.findall(r"Observation: (.*?)(?:\n\w+:|\Z)", conversation, re.S)
    if not seen:
        return f"Thought: I need the documents.\nAction: citewise\nAction Input: {json.dumps({'input': QUESTION})}"
    return f"Thought: I can answer without using any more tools.\nAnswer: {seen[-1].strip()}"


def test_a_react_agent_gets_the_cited_answer_through_query_engine_tool(corpus_assistant):
    from llama_index.core.agent.workflow import ReActAgent, ToolCallResult
    from llama_index.core.tools import QueryEngineTool

    tool = QueryEngineTool.from_defaults(
        corpus_assistant.as_query_engine(),
        name="citewise",
        description="Answers questions about the documents, citing verbatim quotes as [n].",
    )
    llm = ScriptedLLM(react_script)
    agent = ReActAgent(tools=[tool], llm=llm)

    async def run() -> tuple[Any, list[Any]]:
        handler = agent.run(user_msg=QUESTION)
        results = [ev async for ev in handler.stream_events() if isinstance(ev, ToolCallResult)]
        return await handler, results

    output, results = asyncio.run(run())
    assert len(results) == 1 and results[0].tool_name == "citewise"
    assert results[0].tool_kwargs == {"input": QUESTION}
    raw = results[0].tool_output.raw_output
    assert isinstance(raw, Response) and raw.source_nodes[0].node.text == LAUNCH
    check_sources(corpus_assistant, raw.response, raw.source_nodes)
    assert str(output.response.content).startswith(LAUNCH + " [1]")  # the agent passed the cited answer on
    assert any("Observation: " + LAUNCH in p for p in llm.prompts)


# ---- the example -------------------------------------------------------------------------------
@pytest.mark.slow
def test_llamaindex_example_runs(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
    env["HF_HUB_OFFLINE"] = "1"
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "llamaindex_app.py"), str(tmp_path / "data")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=900,
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert f"answer: {LAUNCH} [1]" in text
    assert "[1] coda-written-request-openai.md" in text
    assert "chat follow-up:" in text and "Kiuchi" in text.split("chat follow-up:", 1)[1]
    assert "documents in: 1 added" in text and "from a Document: " in text
    assert "retrieved 3 nodes" in text


@pytest.mark.slow
def test_the_ten_line_example_in_the_docs_runs(tmp_path):
    page = (ROOT / "docs" / "embedding.md").read_text()
    code = re.search(r"## LlamaIndex in ten lines\n\n```python\n(.*?)```", page, re.S).group(1)
    assert len([line for line in code.splitlines() if line.strip()]) <= 10
    shutil.copytree(ROOT / "corpus", tmp_path / "corpus")
    (tmp_path / "example.py").write_text(code)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
    env["HF_HUB_OFFLINE"] = "1"
    run = subprocess.run(
        [sys.executable, "example.py"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("2 added") and lines[1].startswith(LAUNCH + " [1]")
    assert lines[2].startswith("[1] ") and "coda-written-request-openai.md" in lines[2] and repr(LAUNCH) in lines[2]
