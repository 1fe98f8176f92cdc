"""vista.tracking: what registering a model shows a user (no Spark)."""

from __future__ import annotations

import logging

import pytest

from vista.tracking import registry_notices_to_log


@pytest.fixture
def scratch_tracking(tmp_path):
    """A throwaway MLflow store; the previous tracking URI is put back afterwards."""
    import mlflow

    before = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        yield mlflow
    finally:
        mlflow.set_tracking_uri(before)


def _register(mlflow) -> None:
    with mlflow.start_run() as run:
        mlflow.log_text("flavors: {}\n", "model/MLmodel")
    mlflow.register_model(f"runs:/{run.info.run_id}/model", "vista-test-model")


def test_registry_notices_go_to_the_debug_log_not_the_terminal(scratch_tracking, capfd,
                                                               caplog):
    # what vista hides: MLflow prints it whatever its log level (if it stops, the
    # wrapper can go)
    _register(scratch_tracking)
    assert "Successfully registered model" in capfd.readouterr().err

    caplog.set_level(logging.DEBUG, logger="vista.tracking")
    with registry_notices_to_log():
        _register(scratch_tracking)  # a second version of the same model

    assert "registered model" not in capfd.readouterr().err.lower()
    notices = [r.getMessage() for r in caplog.records if r.name == "vista.tracking"]
    assert any(n.startswith("mlflow: Registered model 'vista-test-model' already exists")
               for n in notices), notices


def test_an_error_inside_still_raises_and_keeps_what_was_printed(caplog):
    import sys

    caplog.set_level(logging.DEBUG, logger="vista.tracking")
    with pytest.raises(RuntimeError, match="boom"), registry_notices_to_log():
        print("half-way notice", file=sys.stderr)
        raise RuntimeError("boom")
    assert [r.getMessage() for r in caplog.records] == ["mlflow: half-way notice"]
