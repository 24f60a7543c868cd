"""Kedro project settings.

Parameters come from the top-level ``params.yaml`` (the DVC params file), read by
:class:`ParamsFileConfigLoader`, so every tunable has one home and
``dvc exp run -S key=value`` changes what ``kedro run`` sees. (A symlink
``conf/base/parameters.yml`` did the same until DVC's queued experiments, which
check the commit out without symlinks, ran with no parameters at all.)
"""

from __future__ import annotations

from pathlib import Path

from kedro.config import OmegaConfigLoader
from omegaconf import DictConfig, OmegaConf

from pocknet.determinism import pin_cpu_numerics

# Before any stage imports torch: the same bits on any x86-64 CPU (pocknet.determinism).
pin_cpu_numerics()

PARAMS_FILE = "params.yaml"


class ParamsFileConfigLoader(OmegaConfigLoader):
    """``parameters`` from ``<project>/params.yaml`` only; every other key from ``conf/`` as usual.

    Environment folders (``conf/local``) cannot override parameters: DVC would not see the
    override, and the run would not be reproducible from ``params.yaml`` + ``dvc.lock``.
    """

    def _read_dir_configs(self, conf_path, patterns, key, processed_files, read_environment_variables=False):  # type: ignore[override]
        if key != "parameters":
            return super()._read_dir_configs(conf_path, patterns, key, processed_files, read_environment_variables)
        if Path(conf_path) != Path(self.conf_source) / self.base_env:
            return {}
        params_file = Path(self.conf_source).resolve().parent / PARAMS_FILE
        config = OmegaConf.load(params_file)
        if not isinstance(config, DictConfig):
            raise TypeError(f"{params_file} must hold a mapping of parameter groups")
        processed_files.add(params_file)
        return {params_file: config}


CONFIG_LOADER_CLASS = ParamsFileConfigLoader
CONFIG_LOADER_ARGS = {"base_env": "base", "default_run_env": "local"}

# kedro-viz installs kedro-telemetry; never let it prompt or phone home.
DISABLE_HOOKS_FOR_PLUGINS = ("kedro-telemetry",)
