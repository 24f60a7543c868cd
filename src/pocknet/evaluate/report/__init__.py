"""Reporting: PR / success-curve plots, metric tables and a self-contained HTML report.

The last step of the data flow (ARCHITECTURE.md): it only *presents* numbers that
:mod:`pocknet.metrics` computed, so nothing here decides what a metric means.

One job per module: :mod:`~pocknet.evaluate.report.figures` (curve points and PNG plots
with reproducible bytes), :mod:`~pocknet.evaluate.report.tables` (``metrics.json`` and the
model's calibration as a paper's tables), :mod:`~pocknet.evaluate.report.proteins` (the
example proteins and the sortable per-protein table) and
:mod:`~pocknet.evaluate.report.page` (the single offline HTML file they are placed in).
Import names from those modules: this package re-exports nothing.
"""
