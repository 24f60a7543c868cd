"""Prediction (inference stage, `pocknet predict`): scoring, pockets, calibration, output files."""
