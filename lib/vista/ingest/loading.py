"""Load the ``ingest`` section on its own (tests, notebooks, ``vista`` tooling)."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from vista.errors import ConfigError, ConfigProblem
from vista.ingest.config import IngestConfig


def load_ingest_config(path: str | Path, inputs_root: str | None = None) -> IngestConfig:
    """Read a YAML file holding an ``ingest:`` section into a typed ``IngestConfig``.

    Args:
        path: The YAML file (e.g. ``conf/sources/sample.yaml``).
        inputs_root: Overrides ``ingest.inputs_root`` when given.

    Returns:
        The validated config.

    Raises:
        ConfigError: Every problem found, each with its key path.
    """
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    section = data.get("ingest") if isinstance(data, dict) else None
    if not isinstance(section, dict):
        found = "an empty file" if data is None else f"{type(section or data).__name__}"
        raise ConfigError([ConfigProblem("ingest", f"expected an `ingest:` mapping of "
                                                   f"sources, found {found}")], source=str(path))
    section = dict(section)
    if inputs_root is not None:
        section["inputs_root"] = inputs_root
    from vista.config.loader import key_path  # late: vista.config imports this package

    try:
        return IngestConfig.model_validate(section)
    except ValidationError as exc:
        problems = [ConfigProblem("ingest." + key_path(e["loc"]), e["msg"]) for e in exc.errors()]
        raise ConfigError(problems, source=str(path)) from None
