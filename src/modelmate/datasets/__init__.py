"""Datasets: streamed, validated uploads stored content-addressed; list, preview, soft delete."""
