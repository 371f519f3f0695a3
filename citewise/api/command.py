"""``citewise serve``: the HTTP API (and MCP, and the chat UI) in one uvicorn server."""

from __future__ import annotations

import logging
from typing import Any

import click

from citewise.workspace_commands import start_watch, watch_option


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--ui/--no-ui", default=None, help="Mount the Gradio chat at /ui (default: when it is installed).")
@click.option(
    "--ui-auth",
    envvar="CITEWISE_UI_AUTH",
    help="user:password the chat UI asks for (or $CITEWISE_UI_AUTH); required for /ui when CITEWISE_API_KEY is set.",
)
@click.option("--mcp/--no-mcp", default=True, show_default=True, help="Serve the MCP tools at /mcp.")
@click.option("--mcp-stdio", is_flag=True, help="Serve only the MCP tools, over stdin/stdout.")
@click.option("--log-level", default="warning", show_default=True, help="uvicorn log level.")
@watch_option
@click.pass_context
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    ui: bool | None,
    ui_auth: str | None,
    mcp: bool,
    mcp_stdio: bool,
    log_level: str,
    watch_paths: tuple[str, ...] = (),
) -> None:
    """Serve the HTTP API (OpenAI-compatible chat, search, documents), MCP at /mcp, the UI at /ui."""
    from citewise.assistant import Assistant
    from citewise.config import load_settings

    settings = load_settings((ctx.obj or {}).get("overrides"))
    assistant = Assistant.from_settings(settings)
    assistant.documents()  # an unreachable or damaged store fails here, in one line
    if mcp_stdio:
        from citewise.api.mcp_tools import run_stdio

        logging.basicConfig(level=logging.WARNING)
        run_stdio(assistant)
        return
    from citewise.warmup import warm_in_background

    quiet_libraries(log_level)
    warmed = warm_in_background(assistant)  # models and keyword index load while FastAPI/Gradio import
    from citewise.api.app import create_app

    if host not in ("127.0.0.1", "localhost", "::1") and not settings.api_key:
        click.echo(
            f"citewise: warning: serving on {host} without CITEWISE_API_KEY; anyone on the network can use it",
            err=True,
        )
    from citewise.ui.command import parse_auth, ui_refusal

    login = parse_auth(ui_auth)
    refusal = ui_refusal(settings.api_key, login) if ui is not False else ""
    if refusal:
        click.echo(f"citewise: warning: {refusal}", err=True)
    # MCP and the UI are built in a thread once the server runs: /healthz answers without waiting for them
    app = create_app(assistant, ui=ui, mcp=mcp, host=host, ui_auth=login, later=True, announce=announcer(host, port))
    start_watch(assistant, watch_paths)  # --watch: keep a folder indexed in-process
    warmed()  # ready (the line below, /healthz) means the first question is as fast as the next
    starting = {p for p, state in app.state.parts.items() if state == "starting"}
    click.echo(startup_line(host, port, app.state.mounted, {f"/{p}" for p in starting}), err=True)
    if assistant.is_empty():
        from citewise.assistant import NO_DOCUMENTS

        click.echo(f"citewise: {NO_DOCUMENTS}", err=True)
    run_server(app, host, port, log_level)


def run_server(app: Any, host: str, port: int, log_level: str) -> None:
    """Run ``app`` with uvicorn; SIGTERM/SIGINT also stop running generations, so it exits in seconds."""
    import uvicorn

    from citewise.rag.cancel import SHUTDOWN

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            SHUTDOWN.set()  # each generation stops at its next token instead of holding the exit for minutes
            super().handle_exit(sig, frame)

    from citewise.api.limits import json_http_protocol

    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=5, http=json_http_protocol()
    )
    Server(config).run()


_NAMES = {"/v1": "API", "/docs": "API docs", "/healthz": "health", "/mcp": "MCP", "/ui": "chat UI"}


def _base(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return f"http://{shown}:{port}"


def startup_line(host: str, port: int, mounted: list[str], starting: set[str] = set()) -> str:  # noqa: B006
    """One line naming every path the server answers on (``starting``: paths still being built)."""
    names = [f"{_NAMES.get(p, p)} {p}" + (" (starting)" if p in starting else "") for p in mounted]
    return f"citewise serving {_base(host, port)}: " + ", ".join(names)


def announcer(host: str, port: int) -> Any:
    """Prints one line when a part built after start-up (MCP, the UI) is ready, or why it failed."""

    def announce(part: Any) -> None:
        if part.state == "ready":
            slash = "/" if part.path == "/ui" else ""
            click.echo(f"citewise: {part.label} is ready at {_base(host, port)}{part.path}{slash}", err=True)
        else:
            click.echo(f"citewise: warning: {part.label} failed to start ({part.why}); the API serves on", err=True)

    return announce


def quiet_libraries(log_level: str) -> None:
    """Keep libraries' DEBUG/INFO lines (bm25s, httpx, chromadb...) out of the default output."""
    if log_level.lower() in ("debug", "trace"):
        return
    for name in ("bm25s", "httpx", "httpcore", "chromadb", "llama_index", "sentence_transformers", "mcp"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.WARNING)
        # a filter too: bm25s sets its own logger to DEBUG when it is imported, i.e. at the first question
        logger.addFilter(lambda record: record.levelno >= logging.WARNING)
