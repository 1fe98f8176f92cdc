"""Typed configuration models: the root and the cross-cutting sections.

Every model forbids unknown keys, so a typo is reported with its key path instead of
being silently ignored. Stage-specific sections live next to the stage that owns them
and are composed here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

STAGE_NAMES = ("ingest", "identity", "profile", "segments", "activation")


class Section(BaseModel):
    """Base of every config section: frozen, no unknown keys.

    A field whose YAML key is a Python keyword or shadows a pydantic attribute is declared
    with ``Field(alias=...)`` and may also be set by its Python name.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SparkConfig(Section):
    """How the SparkSession is built when vista starts it (ignored keys under spark-submit:
    ``master`` and ``driver_memory`` come from the submit)."""

    app_name: str = "vista"
    master: str = "local[*]"
    driver_memory: str = "4g"
    shuffle_partitions: int = Field(8, ge=1)
    timezone: str = "UTC"
    checkpoint_dir: str = ".vista/checkpoints"
    ui: bool = False
    console_progress: bool = False
    log_level: Literal["ERROR", "WARN", "INFO", "DEBUG"] = "ERROR"
    jars: list[str] = Field(default_factory=list)
    delta: bool = False
    """Fetch Delta Lake's JARs (the release matching the installed ``delta-spark``) from
    Maven Central when the session starts, so ``lake.engine: auto`` picks delta-spark.
    Ignored under ``spark-submit``: pass ``--packages`` there."""
    packages: list[str] = Field(default_factory=list)
    """More Maven coordinates for ``spark.jars.packages`` (``group:artifact:version``),
    e.g. Hadoop's S3 connector or a JDBC driver."""
    ivy_dir: str | None = None
    """Where Spark's Ivy keeps the fetched JARs (``spark.jars.ivy``); ``None``: ``~/.ivy2``."""
    conf: dict[str, str | int | float | bool] = Field(default_factory=dict)


class LakeConfig(Section):
    """Where the Delta tables live and which engine writes them."""

    root: str = ".vista/lake"
    engine: Literal["auto", "delta-spark", "delta-rs"] = "auto"
    vacuum_retention_hours: int = Field(168, ge=0)
    """Vacuum keeps every file a version younger than this needs (time travel window)."""
    maintain_after_run: bool = True
    """After a successful run, compact and vacuum the tables it wrote."""
    compact_target_file_mb: int = Field(128, ge=1)
    """Compaction rewrites small files into files of about this size."""
    compact_min_files: int = Field(50, ge=2)
    """A partition is compacted once it holds this many files under the target size, as
    Delta's own auto compaction (``minNumFiles``, 50) does: streaming ingestion adds a few
    per batch, while a table a stage rewrites whole has as many files as the stage's
    shuffle partitions, and recompacting those after every run would write its rows twice."""


class MlflowConfig(Section):
    """MLflow tracking. Credentials for a remote server come from MLflow's own
    environment variables (``MLFLOW_TRACKING_TOKEN`` ...), never from this file."""

    tracking_uri: str = "sqlite:///.vista/mlflow.db"
    artifact_location: str | None = ".vista/mlruns"
    experiment: str = "vista"


class RunConfig(Section):
    """Pipeline run defaults."""

    stages: list[str] = Field(default_factory=lambda: list(STAGE_NAMES))
    manifest_dir: str | None = None  # default: <lake.root>/_manifests

    @field_validator("stages")
    @classmethod
    def _known_stages(cls, stages: list[str]) -> list[str]:
        unknown = [s for s in stages if s not in STAGE_NAMES]
        if unknown:
            raise ValueError(f"unknown stage(s) {unknown}; expected some of {list(STAGE_NAMES)}")
        return stages
