"""h5_assembly: splits + leakage check, then one streaming HDF5 training set."""

from pocknet.pipelines.h5_assembly.pipeline import create_pipeline

__all__ = ["create_pipeline"]
