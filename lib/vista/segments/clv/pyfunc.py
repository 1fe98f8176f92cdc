"""The CLV model as an MLflow pyfunc: parameters in a JSON artifact, scoring in numpy.

``predict`` takes a pandas frame of ``frequency, recency, T, monetary`` and returns
``p_alive, expected_purchases, expected_spend, clv``. On Spark, load it with
``mlflow.pyfunc.spark_udf(spark, "models:/vista-clv/latest", result_type=...)`` or
score a summary directly with :func:`vista.segments.clv.score`.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

from vista.segments.clv.frame import ClvModel
from vista.tracking import registry_notices_to_log

log = logging.getLogger(__name__)

PARAMS_ARTIFACT = "clv_params.json"
INPUT_COLUMNS = ["frequency", "recency", "T", "monetary"]
OUTPUT_DDL = ("p_alive double, expected_purchases double, expected_spend double, "
              "clv double")


def _pyfunc_class() -> type:  # built lazily: importing mlflow.pyfunc is slow
    import mlflow.pyfunc

    class ClvPyfunc(mlflow.pyfunc.PythonModel):
        """BG/NBD + Gamma-Gamma with their fitted parameters and CLV settings."""

        def load_context(self, context):  # noqa: ANN001
            self.params = json.loads(Path(context.artifacts["params"]).read_text())

        def predict(self, context, model_input, params=None):  # noqa: ANN001, ARG002
            from vista.segments.clv.frame import predict_pandas

            missing = [c for c in INPUT_COLUMNS if c not in model_input.columns]
            if missing:
                raise ValueError(f"the CLV model needs columns {INPUT_COLUMNS}; missing "
                                 f"{missing}")
            p = self.params
            return predict_pandas(p, model_input["frequency"].to_numpy(),
                                  model_input["recency"].to_numpy(),
                                  model_input["T"].to_numpy(),
                                  model_input["monetary"].to_numpy(),
                                  int(p["horizon"]), float(p["discount_per_unit"]))

    return ClvPyfunc


def log_clv_model(clv: ClvModel, registered_name: str | None) -> str | None:
    """Log the CLV pyfunc to the active MLflow run and register it.

    Args:
        clv: The fitted model.
        registered_name: Registry name, or None to log without registering.

    Returns:
        The registered version, or None.
    """
    import mlflow
    import mlflow.pyfunc
    import pandas as pd
    from mlflow.models import infer_signature

    example = pd.DataFrame({"frequency": [0.0, 3.0], "recency": [0.0, 20.0],
                            "T": [10.0, 40.0], "monetary": [0.0, 35.0]})
    model = _pyfunc_class()()
    with tempfile.TemporaryDirectory(prefix="vista-clv-") as tmp:
        path = Path(tmp) / PARAMS_ARTIFACT
        path.write_text(json.dumps(clv.as_dict(), indent=2, sort_keys=True))
        model.params = clv.as_dict()
        signature = infer_signature(example, model.predict(None, example))
        with registry_notices_to_log():
            info = mlflow.pyfunc.log_model(
                name="clv_model", python_model=model, artifacts={"params": str(path)},
                signature=signature, input_example=example,
                pip_requirements=["mlflow==3.17.2", "scipy==1.17.1", "numpy==2.4.6",
                                  "pandas==3.1.1"],
                registered_model_name=registered_name)
    if registered_name is None:
        return None
    version = str(info.registered_model_version)
    log.info("clv model registered as %s version %s", registered_name, version)
    return version


def load_clv_model(model_uri: str) -> Any:
    """Load a logged or registered CLV pyfunc (``runs:/...`` or ``models:/name/version``)."""
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(model_uri)
