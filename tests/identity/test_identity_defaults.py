"""conf/identity.yaml writes out the identity defaults, and the local profile reads it."""

from __future__ import annotations

from pathlib import Path

import yaml

from vista.config import load_config
from vista.identity.config import IdentityConfig

CONF = Path(__file__).resolve().parents[2] / "conf"


def test_the_documented_defaults_are_the_built_in_ones():
    written = yaml.safe_load((CONF / "identity.yaml").read_text(encoding="utf-8"))["identity"]

    assert IdentityConfig.model_validate(written) == IdentityConfig()


def test_the_local_profile_includes_the_identity_defaults():
    text = (CONF / "local.yaml").read_text(encoding="utf-8")

    assert "identity.yaml" in yaml.safe_load(text)["include"]
    got = load_config(CONF / "local.yaml").identity
    assert got == IdentityConfig(break_lineage="local_checkpoint")


def test_small_inputs_run_interpreted_and_large_ones_compiled():
    interpreted = {"spark.sql.codegen.maxFields": "1000",
                   "spark.sql.codegen.wholeStage": "false",
                   "spark.sql.codegen.factoryMode": "NO_CODEGEN"}
    compiled = {"spark.sql.codegen.maxFields": "1000"}
    auto = IdentityConfig(interpreted_below_records=5_000)

    assert auto.spark_settings(4_999) == interpreted
    assert auto.spark_settings(5_000) == compiled
    assert IdentityConfig(execution="compiled").spark_settings(10) == compiled
    assert IdentityConfig(execution="interpreted").spark_settings(10**9) == interpreted
    assert IdentityConfig(interpreted_below_records=0).spark_settings(0) == compiled
