"""What a stage receives: the session, the config, the lake, the manifest."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

    from vista.config import VistaConfig
    from vista.lake import Lake
    from vista.manifest import RunManifest


@dataclass
class RunContext:
    """Everything a stage needs; built once per run by ``vista.pipeline``.

    Attributes:
        spark: The active session.
        config: The typed configuration.
        lake: The lake layer; every table write goes through it.
        manifest: The run manifest; table writes are recorded automatically.
        run_id: This run's id.
        options: Per-run switches from the command line (``full``, ``retrain``, ...).
        checkpoint_dir: The session's checkpoint folder when the run started (a stage may
            move the session to another one; both are removed after the run).
    """

    spark: SparkSession
    config: VistaConfig
    lake: Lake
    manifest: RunManifest
    run_id: str
    options: dict[str, Any] = field(default_factory=dict)
    checkpoint_dir: str | None = None

    def manifest_dir(self) -> str:
        return manifest_dir(self.config)


def manifest_dir(config: VistaConfig) -> str:
    """Where manifests go: ``run.manifest_dir`` or ``<lake.root>/_manifests``."""
    return config.run.manifest_dir or f"{config.lake.root.rstrip('/')}/_manifests"
