"""The root configuration model: one section per concern."""

from __future__ import annotations

from pydantic import Field

from vista.activation.config import ActivationConfig
from vista.config.models import (
    STAGE_NAMES,
    LakeConfig,
    MlflowConfig,
    RunConfig,
    Section,
    SparkConfig,
)
from vista.identity.config import IdentityConfig
from vista.ingest.config import IngestConfig
from vista.profile.config import ProfileConfig
from vista.segments.config import SegmentsConfig

__all__ = ["STAGE_NAMES", "DemoConfig", "VistaConfig"]


class DemoConfig(Section):
    """What `vista demo` generates (into ``ingest.inputs_root``) before it runs the pipeline."""

    customers: int = Field(1000, ge=10)
    seed: int = 7
    months: int = Field(24, ge=1)
    bad_row_rate: float = Field(0.01, ge=0.0, le=0.5)


class VistaConfig(Section):
    """All of vista's configuration, as loaded from ``conf/*.yaml``."""

    spark: SparkConfig = Field(default_factory=SparkConfig)
    lake: LakeConfig = Field(default_factory=LakeConfig)
    mlflow: MlflowConfig = Field(default_factory=MlflowConfig)
    run: RunConfig = Field(default_factory=RunConfig)
    demo: DemoConfig = Field(default_factory=DemoConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    identity: IdentityConfig = Field(default_factory=IdentityConfig)
    activation: ActivationConfig = Field(default_factory=ActivationConfig)
    segments: SegmentsConfig = Field(default_factory=SegmentsConfig)
    profile: ProfileConfig = Field(default_factory=ProfileConfig)
