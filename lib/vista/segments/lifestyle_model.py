"""The registered lifestyle model: an MLlib ``PipelineModel`` plus what gives it meaning.

A version in the MLflow registry (``segments.lifestyle.registered_model``) holds the
fitted ``PipelineModel`` (``mlflow.spark``), and its run holds the vocabulary (which
term each feature column is, its mean share and weight) and the segments (id, name,
description, size at training). A refresh loads all three, so it builds the same
columns, assigns with the same centroids and writes the same ids and names. The version
carries the hash of the config that shaped it (tag ``vista.lifestyle_model_hash``).
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vista.errors import VistaError
from vista.segments.features import Vocabulary
from vista.segments.lifestyle import SegmentInfo
from vista.tracking import registry_notices_to_log, spark_model_staging

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.ml import PipelineModel
    from pyspark.sql import SparkSession

    from vista.config.models import MlflowConfig

log = logging.getLogger(__name__)

HASH_TAG = "vista.lifestyle_model_hash"
VOCABULARY = "lifestyle/vocabulary.json"
SEGMENTS = "lifestyle/segments.json"
MODEL_ARTIFACT = "lifestyle_model"


class LifestyleModelError(VistaError):
    """The registered lifestyle model cannot be logged or loaded."""


@dataclass(frozen=True)
class LifestyleModel:
    """A fitted lifestyle model with its vocabulary and named segments."""

    model: PipelineModel
    vocabulary: Vocabulary
    segments: tuple[SegmentInfo, ...]
    model_hash: str
    version: str | None = None

    def training_shares(self) -> dict[int, float]:
        """Segment id -> share of customers at training (for the drift measure)."""
        return {s.segment_id: s.share for s in self.segments}

    def cluster_to_segment(self) -> dict[int, int]:
        """k-means cluster index -> segment id."""
        return {s.cluster: s.segment_id for s in self.segments if s.cluster is not None}


def log_model(fitted: LifestyleModel, registered_name: str, spark: SparkSession) -> str:
    """Log the model and its artifacts to the active MLflow run and register it.

    The model is saved by ``mlflow.spark.save_model`` on the driver's disk and logged as
    the run's ``lifestyle_model`` artifacts, whatever the artifact store: MLflow's own
    ``log_model`` first tries to have Spark write straight into a remote artifact store,
    which fails (with a Java stack trace in the log) when Hadoop has no connector for the
    store's scheme (``s3://``, where vista's Spark writes ``s3a://``).

    Args:
        fitted: The model.
        registered_name: Its name in the registry.
        spark: The session (where Spark stages the model: :func:`spark_model_staging`).

    Returns:
        The registered version.

    Raises:
        LifestyleModelError: No active run, or MLflow refused the model.
    """
    import mlflow
    import mlflow.spark

    run = mlflow.active_run()
    if run is None:
        raise LifestyleModelError("logging the lifestyle model needs an active MLflow run")
    mlflow.log_text(fitted.vocabulary.to_json(), VOCABULARY)
    mlflow.log_text(json.dumps([s.as_dict() for s in fitted.segments], ensure_ascii=False,
                               indent=1), SEGMENTS)
    try:
        with tempfile.TemporaryDirectory(prefix="vista-lifestyle-") as tmp, \
                spark_model_staging(spark) as staging:
            local = str(Path(tmp) / MODEL_ARTIFACT)
            mlflow.spark.save_model(fitted.model, local, dfs_tmpdir=staging)
            mlflow.log_artifacts(local, MODEL_ARTIFACT)
        with registry_notices_to_log():
            info = mlflow.register_model(f"runs:/{run.info.run_id}/{MODEL_ARTIFACT}",
                                         registered_name)
    except Exception as exc:  # MLflow and Spark raise their own types
        raise LifestyleModelError(f"cannot log the lifestyle model to MLflow: {exc}") from exc
    version = str(info.version)
    mlflow.MlflowClient().set_model_version_tag(registered_name, version, HASH_TAG,
                                                fitted.model_hash)
    log.info("lifestyle model registered as %s version %s", registered_name, version)
    return version


def load_latest(cfg: MlflowConfig, name: str, spark: SparkSession) -> LifestyleModel | None:
    """The latest registered version with its vocabulary and segments (None if none).

    Raises:
        LifestyleModelError: A version exists but cannot be loaded.
    """
    import mlflow
    import mlflow.spark

    from vista import tracking

    tracking.configure(cfg)
    client = mlflow.MlflowClient()
    versions = client.search_model_versions(f"name = '{name}'")
    if not versions:
        return None
    latest = max(versions, key=lambda v: int(v.version))
    try:
        with tempfile.TemporaryDirectory(prefix="vista-lifestyle-") as tmp, \
                spark_model_staging(spark) as staging:
            vocab = Path(mlflow.artifacts.download_artifacts(
                run_id=latest.run_id, artifact_path=VOCABULARY, dst_path=tmp)).read_text()
            segs = Path(mlflow.artifacts.download_artifacts(
                run_id=latest.run_id, artifact_path=SEGMENTS, dst_path=tmp)).read_text()
            # MLflow downloads the model into dst_path (without one, into a folder of its
            # own that is never removed), and Spark loads it from a copy in `staging`.
            model = mlflow.spark.load_model(f"models:/{name}/{latest.version}",
                                            dfs_tmpdir=staging, dst_path=tmp)
    except Exception as exc:
        raise LifestyleModelError(
            f"cannot load lifestyle model {name!r} version {latest.version}: {exc}; retrain "
            "it with `vista run --stages segments --retrain`") from exc
    return LifestyleModel(model=model, vocabulary=Vocabulary.from_json(vocab),
                          segments=tuple(SegmentInfo.from_dict(r) for r in json.loads(segs)),
                          model_hash=latest.tags.get(HASH_TAG, ""), version=str(latest.version))
