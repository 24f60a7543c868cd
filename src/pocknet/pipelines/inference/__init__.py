"""inference: the final model on the featurised proteins of chosen splits → pocket files."""

from pocknet.pipelines.inference.pipeline import create_pipeline

__all__ = ["create_pipeline"]
