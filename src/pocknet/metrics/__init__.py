"""Evaluation metrics (SCIENCE.md §8), shared by training and evaluation.

:mod:`pocknet.metrics.points`: point-level scores (PR-AUC, IoU, best threshold);
:mod:`pocknet.metrics.pockets`: pocket-level DCA/DCC success criteria. Import names
from those modules: this package re-exports nothing, so every name has one home.
"""
