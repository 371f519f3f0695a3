"""``citewise serve``: the HTTP API (and MCP, and the chat UI) in one uvicorn server."""

from __future__ import annotations

import logging

import click

from citewise.workspace_commands import start_watch, watch_option


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--ui/--no-ui", default=None, help="Mount the Gradio chat at /ui (default: when it is installed).")
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
        from citewise.mcp_tools import run_stdio

        logging.basicConfig(level=logging.WARNING)
        run_stdio(assistant)
        return
    import uvicorn

    from citewise.api.app import create_app

    if host not in ("127.0.0.1", "localhost", "::1") and not settings.api_key:
        click.echo(
            f"citewise: warning: serving on {host} without CITEWISE_API_KEY; anyone on the network can use it",
            err=True,
        )
    assistant.embedder.embed(["warm up"])  # load the model before the first request
    app = create_app(assistant, ui=ui, mcp=mcp, host=host)
    start_watch(assistant, watch_paths)  # --watch: keep a folder indexed in-process
    click.echo(f"citewise API on http://{host}:{port}/v1 (docs at /docs)", err=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level)
