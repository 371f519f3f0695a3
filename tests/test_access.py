"""One access rule for everything `citewise serve` mounts (issue 17, item 6).

With CITEWISE_API_KEY set, /v1 and /mcp need the key and the chat UI needs its own login;
without a UI login the UI is not mounted at all, and serve says so. Before this, the Gradio
app at /ui/ removed a document for a client with no credentials.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import API_KEY, CORPUS, free_port, serve_in_thread, wait_for_port

pytestmark = pytest.mark.timeout(900)  # a hang guard: a serve that never prints its line

LOGIN = ("admin", "a-long-ui-password")
# Paths that answer an anonymous client, and why that gives nothing away. Every other route
# of the app (the API, MCP and all of Gradio's) must refuse one with 401 or 403.
PUBLIC = {
    "/openapi.json": "the API's schema",
    "/docs": "the API's documentation page",
    "/docs/oauth2-redirect": "part of the documentation page",
    "/redoc": "the API's documentation page",
    "/healthz": "liveness and a document count, for load balancers",
    "/": "a redirect to /ui/ (or the list of endpoints)",
    "/ui/": "the login page",
    "/ui/login": "the login form's target",
    "/ui/logout": "logging out",
    "/ui/openapi.json": "the schema of Gradio's routes",
    "/ui/favicon.ico": "static",
    "/ui/theme.css": "static",
    "/ui/robots.txt": "static",
    "/ui/manifest.json": "static",
    "/ui/pwa_icon": "static",
    "/ui/pwa_icon/{size}": "static",
    "/ui/static/{path:path}": "static",
    "/ui/assets/{path:path}": "static",
    "/ui/svelte/{path:path}": "static",
    "/ui/gradio_api/user": "who is logged in: nobody",
    "/ui/gradio_api/token": "the caller's own cookie: none",
    "/ui/gradio_api/app_id": "a random id of this process",
    "/ui/gradio_api/runs": "the page shell; its data needs the login",
    "/ui/gradio_api/reset": "a no-op",
    "/ui/gradio_api/startup-events": "runs the app's start-up events once (they already ran)",
    "/ui/gradio_api/theme.css": "static",
    "/ui/gradio_api/custom_component/{id}/{environment}/{type}/{file_name}": "component code (none installed)",
}
# a body that passes the validation of the routes that check it before anything else (Gradio's vibe editor)
BODY = {"code": "", "hash": "x", "prompt": "x", "data": [], "fn_index": 0, "session_hash": "x"}
# these act on a running event or session, named by a random id that only its logged-in client is given
NEEDS_A_LIVE_EVENT = re.compile(r"^/ui/gradio_api/(stream/|cancel|heartbeat/)")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any, Any]]:
    """create_app with an API key and a UI login, served by uvicorn on 127.0.0.1."""
    from citewise import Assistant, Settings
    from citewise.api.app import create_app

    assistant = Assistant.from_settings(
        Settings(), data_dir=tmp_path_factory.mktemp("access") / "data", api_key=API_KEY
    )
    assert assistant.ingest([CORPUS]).ok
    app = create_app(assistant, ui=True, ui_auth=LOGIN)
    with serve_in_thread(app) as url:
        yield url, app, assistant


def _routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(path, method) of every HTTP route, through mounts and included routers."""
    from starlette.routing import Mount

    for route in routes:
        if isinstance(route, Mount):
            inner = getattr(route.app, "routes", None)
            yield (prefix + route.path + "/", "POST")  # a mounted app (MCP) answers below its prefix
            if inner is not None:
                yield from _routes(inner, prefix + route.path)
        elif type(route).__name__ == "_IncludedRouter":  # FastAPI's include_router
            yield from _routes(route.original_router.routes, prefix + route.include_context.prefix)
        elif getattr(route, "methods", None):
            for method in sorted(set(route.methods) - {"HEAD"}):
                yield (prefix + route.path, method)


def test_every_route_refuses_an_anonymous_client(served):
    url, app, _ = served
    refused, answered = [], []
    with httpx.Client(base_url=url, timeout=60) as client:
        for path, method in sorted(set(_routes(app.routes))):
            if path in PUBLIC or path.rstrip("/") in PUBLIC or NEEDS_A_LIVE_EVENT.match(path):
                continue
            concrete = re.sub(r"\{[^}]+\}", "x", path)
            body = BODY if method in ("POST", "PUT", "PATCH") else None  # past body validation, to the auth check
            with client.stream(method, concrete, json=body) as response:  # some routes stream forever
                status = response.status_code
            (refused if status in (401, 403) else answered).append(f"{method} {path} -> {status}")
    assert answered == [], "\n".join(answered)
    for prefix in ("/v1/", "/mcp/", "/ui/gradio_api/"):
        assert any(f" {prefix}" in r for r in refused), (prefix, refused)
    assert len(refused) > 30, refused  # the walk found Gradio's routes too


def _remove_event(app: Any, doc_id: str) -> tuple[int, list[Any]]:
    """The UI event that removes a document (its first input is the document dropdown), and its inputs."""
    from starlette.routing import Mount

    (ui,) = [r.app for r in app.routes if isinstance(r, Mount) and r.path == "/ui"]
    for index, fn in ui.get_blocks().fns.items():
        if fn.inputs and getattr(fn.inputs[0], "elem_id", None) == "cw-remove-choice":
            return int(index), [doc_id, *(c.value for c in fn.inputs[1:])]  # the other inputs as the page has them
    raise AssertionError("the UI has no remove-document event")


def test_the_ui_removes_documents_only_after_login(served):
    url, app, assistant = served
    doc_id = "techtimes-coda-sora2.md"
    fn_index, data = _remove_event(app, doc_id)
    before = {d.doc_id for d in assistant.documents()}
    assert doc_id in before
    join = {"data": data, "fn_index": fn_index, "session_hash": "anonymous1", "event_data": None}
    with httpx.Client(base_url=url, timeout=60) as anonymous:
        assert anonymous.post("/ui/gradio_api/queue/join", json=join).status_code == 401
        assert anonymous.post(f"/ui/gradio_api/run/{fn_index}", json={"data": data}).status_code in (401, 404)
        assert anonymous.post("/ui/gradio_api/upload", files={"files": ("x.txt", b"x")}).status_code == 401
        assert anonymous.get("/ui/config").status_code == 401
    assert {d.doc_id for d in assistant.documents()} == before

    from gradio_client import Client

    client = Client(f"{url}/ui/", auth=LOGIN, verbose=False, ssl_verify=False)
    client.predict(*data, fn_index=fn_index)  # the same action, logged in, does remove it
    assert {d.doc_id for d in assistant.documents()} == before - {doc_id}


def _serve_stderr(tmp_path: Any, args: list[str], env: dict[str, str], until: str) -> str:
    """Start `citewise serve`, read its stderr until a line containing ``until``, stop it."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
    full.update({"CITEWISE_DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1", **env})
    port = free_port()
    cmd = [sys.executable, "-m", "citewise.cli", "serve", "--port", str(port), *args]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=full)
    lines = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if until in line:
                break
        if "--host" not in args:
            wait_for_port(port, proc=proc)
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                lines.append(f"GET /ui/ -> {client.get('/ui/').status_code}\n")
                lines.append(f"GET /v1/documents -> {client.get('/v1/documents').status_code}\n")
                mcp = client.post("/mcp/", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
                lines.append(f"POST /mcp/ -> {mcp.status_code}\n")
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return "".join(lines)


def test_serve_with_a_key_and_no_ui_login_does_not_mount_the_ui_and_says_so(tmp_path):
    out = _serve_stderr(tmp_path, ["--ui"], {"CITEWISE_API_KEY": API_KEY}, until="citewise serving")
    assert "citewise: warning: the chat UI is not served: CITEWISE_API_KEY guards /v1 and /mcp" in out
    assert "GET /ui/ -> 404" in out
    assert "GET /v1/documents -> 401" in out
    assert "POST /mcp/ -> 401" in out


def test_serve_beyond_loopback_with_a_key_and_no_ui_login_warns(tmp_path):
    out = _serve_stderr(
        tmp_path, ["--host", "0.0.0.0"], {"CITEWISE_API_KEY": API_KEY}, until="the chat UI is not served"
    )
    assert "citewise: warning: the chat UI is not served" in out
    assert "without CITEWISE_API_KEY" not in out
