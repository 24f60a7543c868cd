"""Kedro pipelines, one per DVC stage; nodes only wire the science modules."""
