"""The import graph of citewise/: no cycle, and no import from a lower layer to a higher one.

The layers are STYLE.md's: prompts <- index <- rag <- {ui, api, cli, eval}; nothing imports
ui or eval but entry points. The graph is read from the source with ``ast`` (nothing is
imported), and every import statement counts wherever it is: at module level or inside a
function (a lazy import hides a knot at run time; it does not untie it). Imports under
``if TYPE_CHECKING:`` count for the layers (a lower layer that names a higher one's type
still knows about it) but not for cycles (they never run).

Importing ``citewise.x.y`` also runs ``citewise/x/__init__.py``, so it adds an edge to that
package too, unless the importer lives in it (its ``__init__`` is already running)
or it is the root facade ``citewise`` (every module sits below it). ``from citewise.x import
name`` is an edge to ``citewise.x`` itself when ``name`` is defined there, even from inside
``citewise.x``: a package whose ``__init__`` imports a submodule that imports it back is a cycle.

Commands the CLI loads by name (``LAZY_COMMANDS`` in cli.py, "module:attribute" strings)
are not import statements and are not in the graph.
"""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "citewise"

# Layer of each part, lowest first. A module may import its own layer or any lower one.
LAYERS: dict[str, int] = {
    # imported by every layer: the error base class and the progress-callback type
    "citewise.errors": 0,
    "citewise.progress": 0,
    "citewise.prompts": 1,
    "citewise.index": 2,
    "citewise.rag": 3,
    # the facade wires index and rag together from the settings tree
    "citewise.config": 4,
    "citewise.assistant": 4,
    "citewise": 4,
    # entry points: they may import each other (the API mounts the UI, the UI runs eval);
    # so is any module named command(s) or *_command(s)
    "citewise.cli": 5,
    "citewise.api": 5,
    "citewise.ui": 5,
    "citewise.eval": 5,
}

# Third-party frameworks that belong to the entry points only (STYLE.md: index and rag
# never import gradio, fastapi or click).
ENTRY_POINT_ONLY = ("gradio", "fastapi", "starlette", "uvicorn", "click", "mcp")

# Known knots, allowed so that any NEW cycle or layer violation fails. Issue 16 untied the last
# ones (connect <-> store, rebuild -> assistant, api <-> mcp_tools); keep it empty.
# Each entry is one import edge (importer, imported). When a knot is untied, remove its
# entries: an entry that no longer matches an edge is reported as a warning.
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """The nodes of ``tree`` outside ``if TYPE_CHECKING:`` blocks."""
    found: list[ast.AST] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        found.append(node)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return found


def imported_names(
    path: Path, module: str, modules: set[str] | frozenset[str] = frozenset(), type_checking: bool = True
) -> set[str]:
    """Every absolute name ``path`` imports (with ``type_checking=False``: those that can run).

    ``from a import b`` gives ``a.b`` when that is one of ``modules``, else ``a`` (``b`` is
    defined in ``a``).
    """
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree) if type_checking else runtime_nodes(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                names.add(submodule if submodule in modules else target)
    return names


def import_graph(type_checking: bool = True) -> dict[str, set[str]]:
    """Module -> the citewise modules and packages it imports (runs, with ``type_checking=False``)."""
    modules = source_files()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        edges: set[str] = set()
        for name in imported_names(path, module, set(modules), type_checking):
            if name not in modules:
                continue  # a third-party module
            edges.add(name)
            # importing a.b.c runs a/b/__init__.py unless the importer already lives in a.b
            parent = name.rpartition(".")[0]
            while parent and parent != "citewise":
                if not module.startswith(parent + "."):
                    edges.add(parent)
                parent = parent.rpartition(".")[0]
        edges.discard(module)
        graph[module] = edges
    return graph


def layer_of(module: str) -> tuple[str, int]:
    """The part a module belongs to and its layer; a module of CLI commands is an entry point."""
    last = module.rpartition(".")[2]
    if last in ("command", "commands") or last.endswith(("_command", "_commands")):
        return "entry point", LAYERS["citewise.cli"]
    best = max((part for part in LAYERS if module == part or module.startswith(part + ".")), key=len)
    return best, LAYERS[best]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def without_known(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    return {m: {t for t in ts if (m, t) not in KNOWN_VIOLATIONS} for m, ts in graph.items()}


def test_the_graph_is_read():
    """The reader sees the edges we know are there, including lazy and package-init ones."""
    graph = import_graph()
    assert "citewise.index.store" in graph["citewise.assistant"]
    assert "citewise.errors" in graph["citewise.config"]
    assert "citewise.assistant" in graph["citewise"]
    # every module belongs to a layer
    for module in graph:
        layer_of(module)
    # imports under TYPE_CHECKING are edges for the layers, not for cycles
    tree = ast.parse("if TYPE_CHECKING:\n    import a\nelse:\n    import b\ndef f():\n    import c\n")
    runtime = {alias.name for node in runtime_nodes(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert runtime == {"b", "c"}
    # the cycle finder finds a cycle
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle():
    graph = import_graph()
    stale = [edge for edge in KNOWN_VIOLATIONS if edge[1] not in graph.get(edge[0], set())]
    if stale:
        warnings.warn(f"knots untied, remove from KNOWN_VIOLATIONS: {stale}", stacklevel=1)
    found = cycles(without_known(import_graph(type_checking=False)))
    assert not found, (
        f"import cycles (the modules of each knot): {found}; move what they share into a module both import,"
        " or pass it in (a lazy import does not count as untying)"
    )


def test_no_import_from_a_lower_layer_to_a_higher_one():
    graph = without_known(import_graph())
    upward = []
    for module, targets in sorted(graph.items()):
        part, rank = layer_of(module)
        for target in sorted(targets):
            target_part, target_rank = layer_of(target)
            if target_rank > rank:
                upward.append(f"{module} ({part}) imports {target} ({target_part})")
    assert not upward, "imports against the layers prompts <- index <- rag <- facade <- entry points:\n" + "\n".join(
        upward
    )


def test_lower_layers_never_import_web_or_cli_frameworks():
    modules = source_files()
    found = []
    for module, path in modules.items():
        if layer_of(module)[1] > LAYERS["citewise.assistant"]:
            continue
        for name in imported_names(path, module):
            if name.split(".")[0] in ENTRY_POINT_ONLY:
                found.append(f"{module} imports {name}")
    assert not found, "\n".join(found)
