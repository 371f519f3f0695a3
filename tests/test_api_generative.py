"""The generative mode through the API: the bundled LLM, streamed, with concurrent requests serialized."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
from conftest import API_KEY

pytestmark = [pytest.mark.llm, pytest.mark.slow]


def test_parallel_generative_streams_both_finish_with_valid_citations(api_server):
    client = openai.OpenAI(base_url=f"{api_server.url}/v1", api_key=API_KEY, max_retries=0, timeout=600)

    def stream(question: str) -> tuple[str, list]:
        messages = [{"role": "user", "content": question}]
        chunks = list(client.chat.completions.create(model="citewise-generative", messages=messages, stream=True))
        assert chunks[-1].choices[0].finish_reason == "stop" and chunks[-1].model == "citewise-generative"
        text = "".join(c.choices[0].delta.content or "" for c in chunks)
        return text, chunks[-1].model_extra["citations"]

    with ThreadPoolExecutor(2) as pool:  # one llama.cpp context: the API runs these one at a time
        results = list(pool.map(stream, ["When did OpenAI launch Sora 2?", "Who is Minoru Kiuchi?"]))
    for text, citations in results:
        assert citations, text
        assert "[1]" in text and "\n\nSources:\n[1] " in text
        for c in citations:
            offset = c["start"] - c["passage_start"]
            assert c["passage"][offset : offset + len(c["quote"])] == c["quote"]
    assert "2025" in results[0][0]
    assert "Kiuchi" in results[1][0]
