"""embedding: per-chain sequences → ESM2 per-residue vectors (cached), or an explicit `none`."""

from pocknet.pipelines.embedding.pipeline import create_pipeline

__all__ = ["create_pipeline"]
