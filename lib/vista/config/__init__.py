"""Typed configuration: YAML files in conf/, environment overrides, every problem at once.

Example:
    >>> from vista.config import load_config
    >>> cfg = load_config(None, env={})
    >>> cfg.lake.engine
    'auto'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from vista.config.loader import ENV_PREFIX, load_config
    from vista.config.root import STAGE_NAMES, VistaConfig

__all__ = ["ENV_PREFIX", "STAGE_NAMES", "VistaConfig", "load_config"]


def __getattr__(name: str) -> Any:
    # Lazy, so that section modules (which import vista.config.models) can be imported
    # first without a cycle through the root model that composes them.
    if name in ("ENV_PREFIX", "load_config"):
        from vista.config import loader

        return getattr(loader, name)
    if name in ("STAGE_NAMES", "VistaConfig"):
        from vista.config import root

        return getattr(root, name)
    raise AttributeError(f"module 'vista.config' has no attribute {name!r}")
