"""swa: average the weights of a validation-chosen epoch window, recalibrate BatchNorm."""

from pocknet.pipelines.swa.pipeline import create_pipeline

__all__ = ["create_pipeline"]
