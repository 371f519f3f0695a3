"""Both examples, run for real: the Assistant inside a host app, and the openai client over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import API_KEY, ROOT

EXAMPLES = ROOT / "examples"

HOST_APP = """
import runpy
import sys

import index, prompts, ui  # the host app's own modules, named like citewise's subpackages

runpy.run_path({example!r}, run_name="not-main")["main"]({data!r})
import citewise.index, citewise.prompts, citewise.ui
assert sys.modules["prompts"] is prompts and prompts.OWNER == "host"
assert sys.modules["index"] is index and index.OWNER == "host" and ui.OWNER == "host"
assert citewise.prompts.render("refusal") and citewise.prompts is not prompts
print("host modules intact")
"""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
    env["HF_HUB_OFFLINE"] = "1"
    return env


def _check_embed_output(out: str) -> None:
    assert "indexed: 2 added" in out
    assert "answer: OpenAI launched Sora 2 on September 30, 2025. [1]" in out
    assert "(coda-written-request-openai.md): 'OpenAI launched Sora 2 on September 30, 2025.'" in out
    assert "Kiuchi" in out.split("follow-up:", 1)[1]
    assert "off-topic refused: True" in out
    assert "search: " in out and "empty question: the question is empty" in out


def test_embed_in_app_example(tmp_path):
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "embed_in_app.py"), str(tmp_path / "data")],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=tmp_path,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    _check_embed_output(out.stdout)


def test_embedding_works_beside_host_modules_named_like_ours(tmp_path):
    host = tmp_path / "hostapp"
    (host / "ui").mkdir(parents=True)
    for module in (host / "prompts.py", host / "index.py", host / "ui" / "__init__.py"):
        module.write_text('OWNER = "host"\ndef render(*a, **k):\n    raise RuntimeError("host module used")\n')
    script = HOST_APP.format(example=str(EXAMPLES / "embed_in_app.py"), data=str(tmp_path / "data"))
    (host / "app.py").write_text(script)
    out = subprocess.run(
        [sys.executable, "app.py"], capture_output=True, text=True, env=_env(), cwd=host, timeout=600
    )  # sys.path[0] is the host folder, so its prompts/index/ui come first on the path
    assert out.returncode == 0, out.stderr
    _check_embed_output(out.stdout)
    assert out.stdout.rstrip().endswith("host modules intact")


def test_openai_client_example(api_server):
    env = {**_env(), "CITEWISE_API_KEY": API_KEY}
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "openai_client.py"), f"{api_server.url}/v1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "models: citewise, citewise-extractive, citewise-generative" in text
    assert "answer: OpenAI launched Sora 2 on September 30, 2025. [1]" in text
    assert "refused: False" in text
    assert "[1] coda-written-request-openai.md chars " in text
    assert "Kiuchi" in text.split("stream:", 1)[1]
    assert "stream ended with" in text and "unknown model: the model 'no-such-model' does not exist" in text


def test_examples_import_only_the_public_api():
    for path in Path(EXAMPLES).glob("*.py"):
        source = path.read_text()
        assert "from citewise." not in source and "import citewise." not in source, path.name
