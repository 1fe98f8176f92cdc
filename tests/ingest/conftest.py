"""Fixtures for the ingest tests."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from faker import Faker


@pytest.fixture()
def inputs(tmp_path: Path) -> Path:
    root = tmp_path / "raw"
    root.mkdir()
    return root


@pytest.fixture()
def surnames() -> list[str]:
    """Four generated surnames (plain letters, so their standard form is just lower case)."""
    fake = Faker("en_US")
    fake.seed_instance(4)
    names = [n for n in (fake.unique.last_name() for _ in range(30)) if re.fullmatch(r"[A-Za-z]+", n)]
    return names[:4]
