"""Semantic search: sentence embeddings of entries, per-user vector search, and hybrid (RRF) fusion."""
