"""Talk to `citewise serve` with the official openai package.

    citewise serve --port 8000 &
    python examples/openai_client.py [BASE_URL]

BASE_URL defaults to $CITEWISE_API_URL or http://127.0.0.1:8000/v1; the key to
$CITEWISE_API_KEY (any string works when the server has no key).
"""

from __future__ import annotations

import os
import sys

import openai


def main(base_url: str) -> int:
    client = openai.OpenAI(base_url=base_url, api_key=os.environ.get("CITEWISE_API_KEY") or "none")
    print("models:", ", ".join(m.id for m in client.models.list()))

    question = "When did OpenAI launch Sora 2?"
    resp = client.chat.completions.create(model="citewise", messages=[{"role": "user", "content": question}])
    print("answer:", resp.choices[0].message.content)
    extra = resp.model_extra or {}  # citewise's additions to the OpenAI format
    print("refused:", extra["refused"])
    for c in extra["citations"]:
        print(f"  [{c['n']}] {c['doc_id']} chars {c['start']}-{c['end']}: {c['quote']!r}")

    messages = [
        {"role": "user", "content": question},
        {"role": "assistant", "content": resp.choices[0].message.content},
        {"role": "user", "content": "Who is Minoru Kiuchi?"},
    ]
    print("stream: ", end="")
    for chunk in client.chat.completions.create(model="citewise-extractive", messages=messages, stream=True):
        print(chunk.choices[0].delta.content or "", end="", flush=True)
        if chunk.choices[0].finish_reason == "stop":
            cites = (chunk.model_extra or {}).get("citations", [])
            print(f"\n  stream ended with {len(cites)} citation(s)")

    try:
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": question}])
    except openai.NotFoundError as exc:
        print("unknown model:", exc.body["message"] if isinstance(exc.body, dict) else exc)
    return 0


if __name__ == "__main__":
    default = os.environ.get("CITEWISE_API_URL", "http://127.0.0.1:8000/v1")
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else default))
