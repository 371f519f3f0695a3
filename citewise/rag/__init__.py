"""Retrieval (dense + keyword, fused), answers (extractive | generative), citations, chat."""
