"""What every ``vista`` command shares: where its config is, and its SparkSession.

Kept apart from :mod:`vista.cli`, which registers the stages' own commands
(``vista.<stage>.cli``): those import this module, never the CLI that imports them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

DEFAULT_CONF = "conf/local.yaml"


def resolve_conf(path: str | None, *, packaged: bool = False) -> str:
    """``--conf``, else ``$VISTA_CONF``, else ``conf/local.yaml`` when present, else (for
    ``packaged``: the demo) the local profile shipped inside the package.

    Raises:
        ConfigError: No configuration anywhere, in one line that says what to do.
    """
    from vista.config.profiles import NO_CONFIG, packaged_profile
    from vista.errors import ConfigError, ConfigProblem

    if path:
        return path
    if os.environ.get("VISTA_CONF"):
        return os.environ["VISTA_CONF"]
    if Path(DEFAULT_CONF).is_file():
        return DEFAULT_CONF
    if packaged:
        return str(packaged_profile())
    raise ConfigError([ConfigProblem("--conf", NO_CONFIG)])


def session(cfg: Any) -> SparkSession:
    """The SparkSession of a command, built from the config's ``spark`` section, with the
    executors on this Python."""
    from vista.spark import build_session

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return build_session(cfg.spark)
