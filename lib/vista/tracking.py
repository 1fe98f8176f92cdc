"""MLflow tracking for vista's models: runs, artifacts, the model registry.

Tracking and registry live at ``mlflow.tracking_uri`` (a SQLite file by default).
Credentials for a remote server come from MLflow's own environment variables, never
from vista's config.

The identity model is registered as a pyfunc whose only artifact is the Splink settings
JSON (with its trained parameters); every run and model version carries the linking
config hash (tag ``vista.linking_config_hash``) so a pipeline can retrain only when the
config changed (:func:`model_is_current`).
"""

from __future__ import annotations

import csv
import io
import logging
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, redirect_stderr
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vista.errors import VistaError

if TYPE_CHECKING:  # pragma: no cover
    import mlflow
    from pyspark.sql import SparkSession

    from vista.config.models import MlflowConfig
    from vista.identity.link.config import LinkingConfig
    from vista.identity.link.splink_model import TrainedModel

log = logging.getLogger(__name__)

CONFIG_HASH_TAG = "vista.linking_config_hash"
DEFAULT_IDENTITY_MODEL = "vista-identity"
_SETTINGS_ARTIFACT = "identity_model.json"


class TrackingError(VistaError):
    """MLflow could not be reached or a registered model is missing."""


@contextmanager
def spark_model_staging(spark: SparkSession) -> Iterator[str | None]:
    """A folder where ``mlflow.spark`` stages a Spark ML model's files (its ``dfs_tmpdir``).

    MLflow saves a Spark model through Spark into a folder of the cluster's default file
    system, then copies it to the driver's disk with that file system (and back for a
    load); its default, ``/tmp/mlflow``, is never emptied. In local mode the folder is a
    temporary one on the local disk; on a cluster it is under the application's
    checkpoint folder when that is on the default file system (HDFS), so every executor
    reaches it; otherwise MLflow's default is left (an object store is not a file system
    MLflow can copy from). The folder is removed when the block ends.

    Args:
        spark: The running session.

    Yields:
        The folder as Spark names it, or ``None`` for MLflow's default.
    """
    from vista.lake import remove, resolve_location

    sc = spark.sparkContext
    if sc.master.startswith("local"):
        with tempfile.TemporaryDirectory(prefix="vista-sparkml-") as tmp:
            yield tmp
        return
    current = sc.getCheckpointDir()
    jvm, conf = sc._jvm, sc._jsc.hadoopConfiguration()
    default = str(jvm.org.apache.hadoop.fs.FileSystem.get(conf).getUri().getScheme())
    if not current or not current.startswith(f"{default}:"):
        yield None
        return
    folder = resolve_location(current).join("mlflow-models")
    try:
        yield folder.spark
    finally:
        remove(folder)


@contextmanager
def registry_notices_to_log() -> Iterator[None]:
    """Route what MLflow prints to stderr while registering a model to vista's debug log.

    MLflow's registry prints notices such as "Successfully registered model ..." straight
    to stderr, whatever ``MLFLOW_LOGGING_LEVEL`` says; a normal run shows vista's own
    "... registered as NAME version N" line instead, and ``--verbose`` shows MLflow's.
    Exceptions pass through unchanged.
    """
    buffer = io.StringIO()
    try:
        with redirect_stderr(buffer):
            yield
    finally:
        for line in buffer.getvalue().splitlines():
            if line.strip():
                log.debug("mlflow: %s", line.strip())


def _local_sqlite_path(uri: str) -> Path | None:
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///"):])
    return None


def configure(cfg: MlflowConfig) -> str:
    """Point MLflow at the configured tracking store and experiment.

    Args:
        cfg: The ``mlflow`` config section.

    Returns:
        The experiment id.
    """
    import mlflow

    db = _local_sqlite_path(cfg.tracking_uri)
    if db is not None:
        db.parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(cfg.tracking_uri)
    mlflow.set_registry_uri(cfg.tracking_uri)
    exp = mlflow.get_experiment_by_name(cfg.experiment)
    if exp is not None:
        return exp.experiment_id
    location = None
    if cfg.artifact_location:
        location = cfg.artifact_location
        if "://" not in location:
            Path(location).mkdir(parents=True, exist_ok=True)
            location = Path(location).resolve().as_uri()
        else:  # MLflow's artifact stores name a bucket s3://, not Hadoop's s3a://
            from vista.lake import resolve_location

            location = resolve_location(location).object_store
    return mlflow.create_experiment(cfg.experiment, artifact_location=location)


@contextmanager
def start_run(
    cfg: MlflowConfig, run_name: str, tags: Mapping[str, str] | None = None
) -> Iterator[mlflow.ActiveRun]:
    """Start an MLflow run in the configured experiment.

    Args:
        cfg: The ``mlflow`` config section.
        run_name: Human-readable run name (e.g. ``identity-train``).
        tags: Extra tags (no PII).

    Yields:
        The active run; it ends (FINISHED, or FAILED on exception) on exit.
    """
    import mlflow

    experiment_id = configure(cfg)
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name,
                          tags=dict(tags or {})) as run:
        yield run


def log_metrics(metrics: Mapping[str, float], prefix: str = "") -> None:
    """Log numeric metrics to the active run (non-numbers are skipped)."""
    import mlflow

    clean = {f"{prefix}{k}": float(v) for k, v in metrics.items()
             if isinstance(v, int | float) and not isinstance(v, bool)}
    if clean:
        mlflow.log_metrics(clean)


def log_dict(data: Mapping[str, Any], artifact_file: str) -> None:
    """Log a JSON-able mapping as an artifact of the active run (aggregates, never PII)."""
    import mlflow

    mlflow.log_dict(dict(data), artifact_file)


def _m_u_csv(model: TrainedModel) -> str:
    buf = io.StringIO()
    rows = model.m_u_table()
    writer = csv.DictWriter(buf, fieldnames=["comparison", "level", "label", "m_probability",
                                             "u_probability", "match_weight"])
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _log_chart(chart: Any, name: str, out: Path) -> None:
    """Save an Altair chart as HTML (always) and PNG (when vl-convert is installed)."""
    import mlflow

    html = out / f"{name}.html"
    chart.save(str(html))
    mlflow.log_artifact(str(html), artifact_path="identity/charts")
    try:
        png = out / f"{name}.png"
        chart.save(str(png))
        mlflow.log_artifact(str(png), artifact_path="identity/charts")
    except Exception as exc:  # vl-convert missing or no network: HTML is enough
        log.debug("chart %s not saved as PNG: %s", name, exc)


def _params(model: TrainedModel) -> dict[str, str]:
    s = model.settings
    rules = [r["blocking_rule"] for r in s.get("blocking_rules_to_generate_predictions", [])]
    comps = [f"{c['output_column_name']}({len(c['comparison_levels'])} levels)"
             for c in s["comparisons"]]
    return {"blocking_rules": " | ".join(rules)[:6000], "comparisons": ", ".join(comps)[:6000],
            "link_type": str(s.get("link_type")), "n_comparisons": str(len(comps)),
            "config_hash": model.config_hash}


def _pyfunc_class():  # built lazily: importing mlflow.pyfunc is slow
    import mlflow.pyfunc

    class IdentityModel(mlflow.pyfunc.PythonModel):
        """The trained Splink settings; ``predict`` returns the m/u parameter table."""

        def load_context(self, context):  # noqa: ANN001
            from vista.identity.link.splink_model import TrainedModel

            text = Path(context.artifacts["settings"]).read_text()
            self.model = TrainedModel.from_json(text)

        def predict(self, context, model_input, params=None):  # noqa: ANN001, ARG002
            import pandas as pd

            return pd.DataFrame(self.model.m_u_table())

    return IdentityModel


def log_identity_model(
    model: TrainedModel,
    *,
    charts: Mapping[str, Any] | None = None,
    registered_name: str | None = DEFAULT_IDENTITY_MODEL,
) -> str | None:
    """Log a trained identity model to the active run and register it.

    Logs the settings JSON (artifact ``identity/identity_model.json``), the m/u table
    (``identity/m_u_parameters.csv``), charts (HTML, PNG when possible), params
    (blocking rules, comparisons, config hash) and metrics (λ, EM iterations, records).

    Args:
        model: The trained model.
        charts: Altair charts by name, e.g. ``{"match_weights": linker...chart()}``.
        registered_name: Model registry name; None to skip registration.

    Returns:
        The registered model version (as a string), or None when not registered.

    Raises:
        TrackingError: No run is active.
    """
    import mlflow

    run = mlflow.active_run()
    if run is None:
        raise TrackingError("log_identity_model needs an active run; wrap it in "
                            "vista.tracking.start_run(cfg, 'identity-train').")
    mlflow.set_tag(CONFIG_HASH_TAG, model.config_hash)
    mlflow.log_params(_params(model))
    log_metrics(model.metrics, prefix="identity_")
    with tempfile.TemporaryDirectory(prefix="vista-mlflow-") as tmp:
        out = Path(tmp)
        settings_path = out / _SETTINGS_ARTIFACT
        settings_path.write_text(model.to_json())
        mlflow.log_artifact(str(settings_path), artifact_path="identity")
        mlflow.log_text(_m_u_csv(model), "identity/m_u_parameters.csv")
        for name, chart in (charts or {}).items():
            _log_chart(chart, name, out)
        with registry_notices_to_log():
            info = mlflow.pyfunc.log_model(
                name="identity_model", python_model=_pyfunc_class()(),
                artifacts={"settings": str(settings_path)},
                pip_requirements=["splink==5.0.0", "mlflow==3.17.2"],
                registered_model_name=registered_name,
            )
    if registered_name is None:
        return None
    version = str(info.registered_model_version)
    mlflow.MlflowClient().set_model_version_tag(registered_name, version, CONFIG_HASH_TAG,
                                                model.config_hash)
    log.info("identity model registered as %s version %s", registered_name, version)
    return version


def _latest_version(client: Any, name: str) -> Any | None:
    versions = client.search_model_versions(f"name = '{name}'")
    return max(versions, key=lambda v: int(v.version)) if versions else None


def load_registered_identity_model(
    cfg: MlflowConfig, name: str = DEFAULT_IDENTITY_MODEL, version: str | int = "latest"
) -> TrainedModel:
    """Load a registered identity model back.

    Args:
        cfg: The ``mlflow`` config section.
        name: Registered model name.
        version: A version number or ``"latest"``.

    Returns:
        The trained model, ready for :func:`vista.identity.link.splink_model.predict`.

    Raises:
        TrackingError: The model or version is not registered.
    """
    import mlflow
    import mlflow.pyfunc

    configure(cfg)
    client = mlflow.MlflowClient()
    if str(version) == "latest":
        latest = _latest_version(client, name)
        if latest is None:
            raise TrackingError(f"no registered model named {name!r} at {cfg.tracking_uri}; "
                                "train one first (vista run --stages identity --retrain).")
        version = latest.version
    try:
        loaded = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    except Exception as exc:
        raise TrackingError(f"cannot load model {name!r} version {version}: {exc}") from exc
    return loaded.unwrap_python_model().model


def model_is_current(
    cfg: MlflowConfig, linking: LinkingConfig, name: str = DEFAULT_IDENTITY_MODEL
) -> bool:
    """Whether the latest registered identity model was trained with this config.

    Args:
        cfg: The ``mlflow`` config section.
        linking: The linking config in force.
        name: Registered model name.

    Returns:
        True when a version exists and its config-hash tag equals
        ``linking.model_hash()``; False otherwise (train again).
    """
    import mlflow

    configure(cfg)
    latest = _latest_version(mlflow.MlflowClient(), name)
    if latest is None:
        return False
    return latest.tags.get(CONFIG_HASH_TAG) == linking.model_hash()
