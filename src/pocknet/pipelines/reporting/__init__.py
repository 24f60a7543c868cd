"""reporting: standard DCA/DCC success rates and point metrics per set, plots, an offline HTML report."""

from pocknet.pipelines.reporting.pipeline import create_pipeline

__all__ = ["create_pipeline"]
