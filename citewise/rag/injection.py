"""Prompt injection: document text that tries to instruct the assistant is data, never an answer."""

from __future__ import annotations

import re

# Sentences of a document that address the assistant: never used as support, never shown to the LLM.
_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b[^.\n]{0,60}\b(instructions?|prompts?|rules|guidelines|above)\b"
    r"|\bsystem prompt\b|\byou are now\b"
    # chat-role tags and rules addressed to the model: "SYSTEM: ...", "<|im_start|>", "rules for the assistant"
    r"|^\W*(system|assistant|developer)\s*:|<\|(im_start|system|endoftext)\|>"
    r"|\b(rules|instructions|orders)\s+for\s+(the\s+)?(ai|assistants?|chatbots?|models?|llms?)\b"
    r"|\b(ai|assistants?|chatbots?|language models?|llms?)\b[^.\n]{0,40}\b(must|should|shall)\s+(now\s+)?"
    r"(say|state|answer|reply|respond|print|reveal|write|ignore)\b",
    re.I,
)


def is_instruction(text: str) -> bool:
    """True for document text that tries to instruct the assistant (a prompt injection)."""
    return bool(_INSTRUCTION.search(text))
