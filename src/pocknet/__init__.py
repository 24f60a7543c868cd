"""PockNet: ligand-binding pocket prediction on protein structures."""

__version__ = "0.1.0"
