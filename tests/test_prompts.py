"""Every prompt template loads with the placeholders it declares, and renders."""

from __future__ import annotations

from importlib import resources

import pytest

from citewise.prompts import PLACEHOLDERS, PromptError, load_prompt, placeholders_of, render

TEMPLATES = sorted(
    p.name.removesuffix(".txt") for p in resources.files("citewise.prompts").joinpath("templates").iterdir()
)


def test_every_template_is_declared():
    assert set(TEMPLATES) == set(PLACEHOLDERS)


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_template_renders(name):
    values = {p: f"<{p}>" for p in PLACEHOLDERS[name]}
    text = render(name, **values)
    assert text and "{" not in text.replace("{{", "")
    for v in values.values():
        assert v in text


def test_missing_value_is_an_error():
    with pytest.raises(PromptError):
        render("nope")


def test_placeholder_parsing():
    assert placeholders_of("a {x} b {y} {{z}}") == {"x", "y"}
    assert load_prompt("refusal")
