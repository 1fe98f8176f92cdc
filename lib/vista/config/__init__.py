"""Typed configuration: YAML files in conf/, environment overrides, every problem at once.

Example:
    >>> from vista.config import load_config
    >>> cfg = load_config(None, env={})
    >>> cfg.lake.engine
    'auto'
"""

from vista.config.loader import ENV_PREFIX, load_config
from vista.config.root import STAGE_NAMES, VistaConfig

__all__ = ["ENV_PREFIX", "STAGE_NAMES", "VistaConfig", "load_config"]
