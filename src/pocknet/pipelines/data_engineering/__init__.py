"""data_engineering: dataset lists → per-protein SAS points, descriptors, labels."""

from pocknet.pipelines.data_engineering.pipeline import create_pipeline

__all__ = ["create_pipeline"]
