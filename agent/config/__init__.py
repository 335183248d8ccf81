"""Settings: one TOML file plus MLLENS_* environment overrides, validated before any work.

`load_settings(path)` reads the file, overlays the environment (`MLLENS_<SECTION>__<KEY>`, nested
with `__`, e.g. `MLLENS_CHECKS__PARAMS__SAGEMAKER_TRAINING_NO_MANAGED_SPOT__SPOT_MIN_RUNTIME_S`)
and validates the result into a frozen `Settings`. Every problem is a `ConfigError` naming the
key path. Check parameters are validated against what each check declares (`Check.params`), so
the settings model is built from the check catalog at run time, never at import.
"""

from agent.config.load import ConfigError, load_settings, read_toml, scan_request
from agent.config.models import ENV_PREFIX, Settings, settings_model
from agent.config.values import OUTPUT_FORMATS, cron_trigger

__all__ = [
    "ENV_PREFIX",
    "OUTPUT_FORMATS",
    "ConfigError",
    "Settings",
    "cron_trigger",
    "load_settings",
    "read_toml",
    "scan_request",
    "settings_model",
]
