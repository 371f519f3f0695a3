"""MCP at /mcp and the chat UI at /ui beside the API: mounted at once, or after start-up.

`create_app` mounts them at once (tests, apps that embed the API). For ``citewise serve``,
importing and building Gradio (about 4 s here) and the MCP server (about 1 s) used to come
before ``/healthz`` answered. Now ``serve`` answers as soon as the API is up and its models
are warm, and a thread builds these parts meanwhile. Until a part is mounted its path
answers 503 with ``Retry-After`` and a one-line reason; ``/healthz`` says which parts are
``starting``, ``ready`` or ``failed``. The access rule holds in every state: with an API key
set, a starting part refuses a client without the key (401) before it says 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Literal

from citewise.api.limits import _send_error
from citewise.errors import reason

logger = logging.getLogger("citewise.api")
RETRY_AFTER_S = 2
# Tests only: the parts are not built until this file exists, so a test sees them starting.
GATE_ENV = "CITEWISE_TEST_MOUNT_GATE"
# What a starting /ui answers without the key: its page (public once mounted too: the login page).
_PUBLIC_UI = ("/ui", "/ui/")

Build = Callable[[], tuple[Any, Callable[[], contextlib.AbstractAsyncContextManager[Any]]]]


@dataclass
class Part:
    """One part mounted later: its path, how to build it (in a thread), and its state."""

    name: str  # "mcp" or "ui", the key in /healthz's parts
    path: str  # "/mcp" or "/ui"
    label: str  # for messages: "MCP", "the chat UI"
    build: Build  # -> (ASGI app, its lifespan); called in the start-up thread
    state: str = "starting"  # starting | ready | failed
    why: str = ""  # the reason it failed
    app: Any = field(default=None, repr=False)


class Pending:
    """The ASGI app at a part's path: the part once it is mounted, else a one-line 503 (or 401)."""

    def __init__(self, part: Part, api_key: str) -> None:
        self.part = part
        self.expected = f"Bearer {api_key}".encode() if api_key else b""

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        part = self.part
        if part.app is not None:
            await part.app(scope, receive, send)
            return
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1013})  # try again later
            return
        if self.expected and scope["path"] not in _PUBLIC_UI:
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                message = f"{part.label} needs the API key; send the header 'Authorization: Bearer <key>'"
                await _send_error(send, 401, message, [(b"www-authenticate", b"Bearer")])
                return
        if part.state == "failed":
            await _send_error(send, 503, f"{part.label} failed to start ({part.why}); see the server's log")
            return
        message = f"{part.label} is starting; retry in a few seconds (GET /healthz says when it is ready)"
        await _send_error(send, 503, message, [(b"retry-after", str(RETRY_AFTER_S).encode())])


class LateParts:
    """Builds its parts in a thread once the server runs, and runs each part's lifespan in the server's loop."""

    def __init__(self, parts: list[Part], status: dict[str, str], announce: Callable[[Part], None]) -> None:
        self.parts = parts
        self.status = status  # the app's live {part: state} that /healthz reports
        self.announce = announce
        for part in parts:
            status[part.name] = part.state

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Entered in the app's lifespan: starts the thread; on shutdown, stops the parts that started."""
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []

        def started(part: Part, app: Any, lifespan: Any) -> None:  # from the thread
            tasks.append(loop.create_task(self._run(part, app, lifespan, stop)))

        def build_all() -> None:
            _wait_for_gate()
            for part in self.parts:
                try:
                    app, lifespan = part.build()
                except Exception as exc:  # Gradio or MCP missing or broken: the API serves on
                    self._failed(part, exc)
                    continue
                with contextlib.suppress(RuntimeError):  # the loop closed: the server stopped meanwhile
                    loop.call_soon_threadsafe(started, part, app, lifespan)

        threading.Thread(target=build_all, name="citewise-late-mounts", daemon=True).start()
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, part: Part, app: Any, lifespan: Any, stop: asyncio.Event) -> None:
        try:
            async with lifespan():
                part.app = app
                self._set(part, "ready")
                self.announce(part)
                await stop.wait()
        except Exception as exc:
            part.app = None
            self._failed(part, exc)

    def _failed(self, part: Part, exc: BaseException) -> None:
        part.why = reason(exc)
        self._set(part, "failed")
        logger.debug("%s failed to start", part.label, exc_info=exc)  # the one-line reason is announced
        self.announce(part)

    def _set(self, part: Part, state: str) -> None:
        part.state = state
        self.status[part.name] = state


def _wait_for_gate() -> None:
    gate = os.environ.get(GATE_ENV)
    while gate and not os.path.exists(gate):
        time.sleep(0.05)


def mcp_app(mcp_server: Any, host: str) -> Any:
    """MCP over streamable HTTP, stateless so any process behind a load balancer can answer."""
    security = None
    if host not in ("127.0.0.1", "localhost", "::1"):
        from mcp.server.transport_security import TransportSecuritySettings

        # reached under names we cannot know (a load balancer's); protect it with the API key
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    return mcp_server.streamable_http_app(
        streamable_http_path="/", stateless_http=True, json_response=True, transport_security=security, host=host
    )


def late_parts(
    assistant: Any,
    parts: dict[str, str],
    *,
    mcp: bool,
    ui: bool | None,
    host: str,
    auth: tuple[str, str] | None,
    announce: Callable[[Any], None] | None,
) -> Any:
    """MCP and the UI as parts built after start-up (whether the UI is served is decided now)."""
    todo = []
    if mcp:

        def build_mcp() -> tuple[Any, Any]:
            from citewise.api.mcp_tools import build_mcp_server

            server = build_mcp_server(assistant)
            return mcp_app(server, host), server.session_manager.run

        todo.append(Part("mcp", "/mcp", "MCP", build_mcp))
    login = ui_login(assistant, required=bool(ui), auth=auth) if ui is not False else False
    if login is not False:
        given = login
        todo.append(Part("ui", "/ui", "the chat UI", lambda: _gradio_app(assistant, given)))
    return LateParts(todo, parts, announce or (lambda part: None))


def mount_ui(app: Any, assistant: Any, *, required: bool, auth: tuple[str, str] | None = None) -> bool:
    """Mount the Gradio chat at /ui; False when it is not installed (and not required) or has no login
    while an API key is set."""
    login = ui_login(assistant, required=required, auth=auth)
    if login is False:
        return False
    _offline_gradio()
    import gradio as gr

    from citewise.ui.app import build_app

    mb = assistant.settings.max_upload_mb
    gr.mount_gradio_app(app, build_app(assistant), path="/ui", auth=login or None, max_file_size=f"{mb}mb")
    return True


def ui_login(
    assistant: Any, *, required: bool, auth: tuple[str, str] | None
) -> tuple[str, str] | None | Literal[False]:
    """The UI's login (None: no login), or False when the UI is not served (not installed, or no login
    while an API key is set). Cheap: nothing of Gradio is imported."""
    import importlib.util

    if importlib.util.find_spec("citewise.ui.app") is None:
        if required:
            raise RuntimeError("the chat UI is not installed (citewise.ui.app is missing)")
        return False
    from citewise.ui.command import AUTH_ENV, parse_auth, ui_refusal

    auth = auth or parse_auth(os.environ.get(AUTH_ENV))
    refusal = ui_refusal(assistant.settings.api_key, auth)
    if refusal:
        logger.info(refusal)
        return False
    return auth


def _offline_gradio() -> None:
    from citewise.ui.command import _offline_gradio as offline

    offline()


def _gradio_app(assistant: Any, login: tuple[str, str] | None) -> tuple[Any, Any]:
    """The Gradio app to mount at /ui, and the lifespan that starts its queue (see `gr.mount_gradio_app`)."""
    _offline_gradio()
    import gradio as gr
    from fastapi import FastAPI

    from citewise.ui.app import build_app

    staging = FastAPI()  # mount_gradio_app mounts on it and wraps its lifespan with Gradio's start-up
    mb = assistant.settings.max_upload_mb
    gr.mount_gradio_app(staging, build_app(assistant), path="/ui", auth=login, max_file_size=f"{mb}mb")
    gradio_app = staging.routes[-1].app  # type: ignore[attr-defined]
    return gradio_app, lambda: staging.router.lifespan_context(staging)
