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
