"""training: Lightning training on the H5 training set; selection on validation only."""

from pocknet.pipelines.training.pipeline import create_pipeline

__all__ = ["create_pipeline"]
