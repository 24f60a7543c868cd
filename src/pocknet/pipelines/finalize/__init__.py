"""finalize: best-epoch vs SWA on validation, calibrated probabilities, pocket settings → the shipped model."""

from pocknet.pipelines.finalize.pipeline import create_pipeline

__all__ = ["create_pipeline"]
