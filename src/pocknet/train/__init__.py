"""The training, swa and finalize stages: Lightning fit, SWA, the shipped model (choice, calibration) and its card."""
