"""The factual evaluation suite."""
