"""Protocol checks of the delta-rs engine (no Spark needed)."""

from __future__ import annotations

import pytest

from vista.errors import UnsupportedTableFeature
from vista.lake._features import check_protocol


def _check(**kw):
    args = {"reader_version": 1, "writer_version": 2, "reader_features": None,
            "writer_features": None, "configuration": {}, "schema_json": ""}
    args.update(kw)
    return check_protocol("t", **args)


def test_plain_tables_and_harmless_features_pass():
    # check_protocol raises UnsupportedTableFeature on anything it cannot honour
    assert _check() is None
    assert _check(reader_version=3, writer_version=7, reader_features=["timestampNtz"],
                  writer_features=["timestampNtz", "appendOnly"], for_write=True) is None


@pytest.mark.parametrize(("kw", "feature"), [
    ({"reader_version": 3, "reader_features": ["deletionVectors"]}, "deletionVectors"),
    ({"reader_version": 2, "writer_version": 5,
      "configuration": {"delta.columnMapping.mode": "name"}}, "columnMapping"),
    ({"reader_version": 3, "reader_features": ["typeWidening"]}, "typeWidening"),
    ({"reader_version": 4}, "reader version 4"),
])
def test_reader_features_the_engine_cannot_honour_are_named(kw, feature):
    with pytest.raises(UnsupportedTableFeature, match=feature):
        _check(**kw)


@pytest.mark.parametrize(("kw", "feature"), [
    ({"writer_version": 4, "configuration": {"delta.enableChangeDataFeed": "true"}},
     "changeDataFeed"),
    ({"writer_version": 3, "configuration": {"delta.constraints.pos": "x > 0"}},
     "checkConstraints"),
    ({"writer_version": 7, "writer_features": ["rowTracking"]}, "rowTracking"),
])
def test_writer_features_block_writes_but_not_reads(kw, feature):
    _check(**kw)
    with pytest.raises(UnsupportedTableFeature, match=feature):
        _check(for_write=True, **kw)
