"""Fixtures for the ingest tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture()
def inputs(tmp_path: Path) -> Path:
    root = tmp_path / "raw"
    root.mkdir()
    return root
