"""Documents: load, chunk, embed, store (Chroma), incremental ingest."""
