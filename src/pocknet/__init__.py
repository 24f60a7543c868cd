"""PockNet: ligand-binding pocket prediction on protein structures."""

__version__ = "0.1.0"

__all__ = ["__version__", "predict_many"]


def __getattr__(name: str) -> object:
    """``pocknet.predict_many`` on first use, so ``import pocknet`` stays light (no pandas, Dask or torch).

    Imported by name: no pipeline stage runs this code, so it is not a dependency of every
    stage that imports ``pocknet`` (tests/test_dvc_deps.py reads import statements).
    """
    if name == "predict_many":
        import importlib

        return importlib.import_module("pocknet.predict.distributed").predict_many
    raise AttributeError(f"module 'pocknet' has no attribute {name!r}")
