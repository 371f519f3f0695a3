"""`citewise serve` is ready when its API is; MCP and the chat UI are mounted just after (issue 14).

A real `citewise serve` subprocess. CITEWISE_TEST_MOUNT_GATE holds MCP and the UI back until
the test creates a file, so the 'starting' state is seen every time, not by timing.
"""

from __future__ import annotations

import httpx
import pytest
from conftest import API_KEY, CitewiseServer, ingest_corpus

pytestmark = pytest.mark.timeout(600)  # a hang guard

LOGIN = "reader:a-ui-password"
KEY = {"Authorization": f"Bearer {API_KEY}"}
MCP_LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
MCP_ACCEPT = {"Accept": "application/json, text/event-stream"}
QUESTION = {"model": "citewise", "messages": [{"role": "user", "content": "When did OpenAI launch Sora 2?"}]}


def _one_line_503(response: httpx.Response, label: str) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    message = response.json()["error"]["message"]
    assert message.startswith(f"{label} is starting; retry in a few seconds") and "\n" not in message


def test_serve_answers_before_mcp_and_the_ui_are_mounted_and_keeps_the_access_rule(tmp_path):
    data_dir = tmp_path / "data"
    ingest_corpus(data_dir)
    gate = tmp_path / "mount-gate"
    env = {"CITEWISE_API_KEY": API_KEY, "CITEWISE_UI_AUTH": LOGIN, "CITEWISE_TEST_MOUNT_GATE": str(gate)}
    server = CitewiseServer(data_dir, env=env, args=["--ui"], wait_for_parts=False)
    try:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            health = http.get("/healthz")
            assert health.status_code == 200  # the API is ready to answer
            assert health.json()["parts"] == {"api": "ready", "mcp": "starting", "ui": "starting"}
            answer = http.post("/v1/chat/completions", json=QUESTION, headers=KEY)
            assert answer.status_code == 200 and "2025" in answer.json()["choices"][0]["message"]["content"]

            # starting: the key first (401), then 503 with Retry-After and one line saying why
            assert http.post("/mcp/", json=MCP_LIST, headers=MCP_ACCEPT).status_code == 401
            _one_line_503(http.post("/mcp/", json=MCP_LIST, headers={**MCP_ACCEPT, **KEY}), "MCP")
            for path in ("/ui/config", "/ui/gradio_api/info", "/ui/gradio_api/queue/join"):
                refused = http.get(path)
                assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer", path
                _one_line_503(http.get(path, headers=KEY), "the chat UI")
            assert http.post("/ui/gradio_api/upload", files={"files": ("x.txt", b"x")}).status_code == 401
            _one_line_503(http.get("/ui/"), "the chat UI")  # the page (the login page once mounted)
            start = next(line for line in server.log_path.read_text().splitlines() if "citewise serving" in line)
            assert "MCP /mcp (starting)" in start and "chat UI /ui (starting)" in start

            gate.touch()
            assert server.wait_for_parts() == {"api": "ready", "mcp": "ready", "ui": "ready"}
            assert http.get("/ui/").status_code == 200  # Gradio's login page
            assert http.get("/ui/config").status_code == 401  # Gradio's own login now
            assert http.post("/mcp/", json=MCP_LIST, headers=MCP_ACCEPT).status_code == 401
            tools = http.post("/mcp/", json=MCP_LIST, headers={**MCP_ACCEPT, **KEY})
            assert tools.status_code == 200 and "ask" in {t["name"] for t in tools.json()["result"]["tools"]}
            logged_in = httpx.Client(base_url=server.url, timeout=120)
            with logged_in:
                user, password = LOGIN.split(":")
                assert logged_in.post("/ui/login", data={"username": user, "password": password}).status_code == 200
                assert logged_in.get("/ui/config").status_code == 200
        log = server.log_path.read_text()
        assert f"citewise: MCP is ready at {server.url}/mcp" in log
        assert f"citewise: the chat UI is ready at {server.url}/ui/" in log
        assert "Traceback" not in log
    finally:
        server.stop()


def test_healthz_names_the_parts_a_server_does_not_serve(tmp_path):
    server = CitewiseServer(tmp_path / "data", args=["--no-ui", "--no-mcp"])
    try:
        assert server.health()["parts"] == {"api": "ready", "mcp": "off", "ui": "off"}
        assert httpx.get(f"{server.url}/mcp/", timeout=60).status_code == 404
    finally:
        server.stop()


def test_a_part_that_cannot_be_built_says_why_and_the_api_serves_on():
    """A part whose build fails (here: Gradio missing) answers 503 with the reason, no Retry-After."""
    import time

    from conftest import serve_in_thread
    from fastapi import FastAPI

    from citewise.api.parts import LateParts, Part, Pending

    def no_gradio() -> tuple:
        raise ImportError("No module named 'gradio'")

    status: dict[str, str] = {}
    announced: list[Part] = []
    late = LateParts([Part("ui", "/ui", "the chat UI", no_gradio)], status, announced.append)
    app = FastAPI(lifespan=lambda app: late.running())
    app.get("/healthz")(lambda: {"parts": dict(status)})
    app.mount("/ui", Pending(late.parts[0], API_KEY))
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=60) as http:
        deadline = time.monotonic() + 60  # a hang guard
        while http.get("/healthz").json()["parts"]["ui"] == "starting" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert http.get("/healthz").json()["parts"] == {"ui": "failed"}
        assert http.get("/ui/config").status_code == 401  # the key first, in this state too
        failed = http.get("/ui/config", headers=KEY)
        assert failed.status_code == 503 and "retry-after" not in failed.headers
        message = failed.json()["error"]["message"]
        assert message == "the chat UI failed to start (No module named 'gradio'); see the server's log"
    assert [p.state for p in announced] == ["failed"]
