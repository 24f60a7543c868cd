"""The training and swa stages: Lightning fit, progress, SWA, the shipped model and its card."""
