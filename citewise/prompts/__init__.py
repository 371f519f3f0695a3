"""Prompt templates as package data files, loaded with their placeholders checked."""

from __future__ import annotations

import string
from functools import cache
from importlib import resources

from citewise.errors import CitewiseError

# template name -> the placeholders it must use, no more and no less
PLACEHOLDERS: dict[str, frozenset[str]] = {
    "refusal": frozenset(),
    "answer_system": frozenset(),
    "answer": frozenset({"sources", "question"}),
    "condense": frozenset({"history", "question"}),
    "mcp_answer": frozenset({"question"}),
}


class PromptError(CitewiseError, ValueError):
    """A template is missing or its placeholders are not the expected ones."""

    status = 500
    code = "invalid_prompt"


def placeholders_of(template: str) -> frozenset[str]:
    """The ``{name}`` placeholders used in ``template``."""
    return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name)


@cache
def load_prompt(name: str) -> str:
    """The text of template ``name`` (``templates/<name>.txt``), checked against PLACEHOLDERS."""
    try:
        text = resources.files("citewise.prompts").joinpath(f"templates/{name}.txt").read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PromptError(f"no prompt template named {name!r}") from None
    expected = PLACEHOLDERS.get(name)
    found = placeholders_of(text)
    if expected is not None and found != expected:
        raise PromptError(f"prompt {name!r} uses placeholders {sorted(found)}, expected {sorted(expected)}")
    return text


def render(name: str, **values: str) -> str:
    """Template ``name`` filled with ``values``; every placeholder must be given."""
    text = load_prompt(name)
    missing = placeholders_of(text) - values.keys()
    if missing:
        raise PromptError(f"prompt {name!r} needs values for {sorted(missing)}")
    return text.format(**values).strip()
