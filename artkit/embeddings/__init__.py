"""Embedding vectors: their files, exact cosine search, near-duplicate groups and the
optional HNSW graph for large indexes."""
