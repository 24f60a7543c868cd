"""Kedro project settings.

Parameters come from the top-level ``params.yaml`` (the DVC params file):
``conf/base/parameters.yml`` is a symlink to it, so every tunable has one home
and ``dvc exp run -S key=value`` changes what ``kedro run`` sees.
"""

from kedro.config import OmegaConfigLoader

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "config_patterns": {"parameters": ["parameters*", "parameters*/**"]},
}

# kedro-viz installs kedro-telemetry; never let it prompt or phone home.
DISABLE_HOOKS_FOR_PLUGINS = ("kedro-telemetry",)
