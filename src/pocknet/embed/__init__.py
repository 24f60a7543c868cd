"""The embedding stage: per-residue ESM2 embeddings, their cache, per-chain views."""
