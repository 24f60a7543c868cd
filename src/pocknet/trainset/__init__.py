"""The h5_assembly stage: splits, residue neighbourhoods, the training-set HDF5, its arrays."""
