"""The identity stage on a tiny lake: incremental run == full run, stable UIDs, lineage."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from vista.identity import stage, tables
from vista.identity.config import IdentityConfig
from vista.schemas import LINKS, PERSON_RECORDS
from vista.spark import session_conf

D = dt.date


def _rec(key, first, last, born, ids=None, **other):
    source, rid = key.split(":")
    row = {f.name: None for f in PERSON_RECORDS.fields}
    row.update(record_key=key, source=source, source_record_id=rid, first_name_std=first,
               last_name_std=last, birth_date=born, ids=ids or {},
               observed_at=dt.datetime(2025, 1, 1), **other)
    return tuple(row[f.name] for f in PERSON_RECORDS.fields)


V1 = [
    _rec("crm:1", "alpha", "fam-a", D(1980, 1, 1), {"crm_id": "C1"}),
    _rec("shop:1", "alpha", "fam-a", D(1980, 1, 1), {"crm_id": "C1"}),
    _rec("crm:2", "bravo", "fam-b", D(1990, 5, 5)),
    _rec("shop:2", "bravo", "fam-b", D(1990, 5, 5)),
    _rec("crm:3", "charlie", "fam-c", D(1970, 7, 7)),
    _rec("crm:4", "delta", "fam-d", D(1960, 6, 6)),
    _rec("loy:4", "delta", "fam-d", D(1960, 6, 6)),
    _rec("crm:5", "echo", "fam-e", D(1985, 3, 3)),
    _rec("crm:6", "foxtrot", "fam-f", D(1975, 1, 1), {"loyalty_card": "L6"}),
    _rec("loy:6", "foxtrot", "fam-f", D(1975, 1, 2)),
    _rec("crm:7", "golf", "fam-g", D(1965, 2, 2)),  # untouched by V2
]
V2 = [r for r in V1 if r[0] not in ("crm:1", "shop:2", "crm:5", "loy:4")] + [
    # not a matching change (not re-clustered), but its golden record's consent changes
    _rec("crm:1", "alpha", "fam-a", D(1980, 1, 1), {"crm_id": "C1"}, consent_email=False),
    _rec("web:3", "charlie", "fam-c", D(1970, 7, 7)),  # joins person 3
    _rec("loy:4", "zulu", "fam-d", D(1999, 12, 12)),  # changed: person 4 splits
    _rec("web:6", "foxtrot", "fam-f", D(1975, 1, 2), {"loyalty_card": "L6"}),  # merges 6
]


def fake_predict(records, model, cfg, *, new_keys=None, breaks=None, frequencies=None):
    """A stand-in for the Splink model: same surname and birth date -> 0.97."""
    r = records.select("record_key", "last_name_std", "birth_date")
    pairs = r.alias("l").join(r.alias("r"), on=[
        F.col("l.last_name_std") == F.col("r.last_name_std"),
        F.col("l.birth_date") == F.col("r.birth_date"),
        F.col("l.record_key") < F.col("r.record_key")], how="inner").select(
        F.col("l.record_key").alias("record_key_l"), F.col("r.record_key").alias("record_key_r"))
    if new_keys is not None:
        keys = [k[0] for k in new_keys.collect()]  # a handful of keys in this test
        pairs = pairs.where(F.col("record_key_l").isin(keys) | F.col("record_key_r").isin(keys))
    return pairs.select("record_key_l", "record_key_r", F.lit("probabilistic").alias("link_kind"),
                        F.lit(8.0).alias("match_weight"), F.lit(0.97).alias("match_probability")
                        ).select([f.name for f in LINKS.fields])


@pytest.fixture()
def run_stage(spark, monkeypatch, tmp_path):
    from vista.lake import Lake
    from vista.manifest import RunManifest

    monkeypatch.setattr("vista.identity.link.links.predict", fake_predict)
    monkeypatch.setattr(stage, "train_or_load", lambda ctx, records, cfg: ("fake-model", False))
    monkeypatch.setenv("VISTA_UID_SALT", "stage-test-salt")
    # local checkpoints: lineage is cut without writing (tiny data, one JVM)
    config = SimpleNamespace(identity=IdentityConfig(track_mlflow=False,
                                                     break_lineage="local_checkpoint"),
                             mlflow=None)

    def _run(lake_name: str, rows, run_id: str, **options):
        options.setdefault("gate", False)  # the gate is checked on one run (it is slow)
        lake = Lake(spark, str(tmp_path / lake_name), engine="delta-rs")
        lake.overwrite(tables.PERSON_RECORDS_T, spark.createDataFrame(rows, PERSON_RECORDS))
        ctx = SimpleNamespace(spark=spark, config=config, lake=lake, options=options,
                              run_id=run_id, manifest=RunManifest(run_id=run_id))
        return lake, stage.run(ctx), ctx.manifest

    return _run


def _graph(lake):
    return lake.read(tables.GRAPH_T).select("record_key", "uid", "link_kind", "match_probability")


def _golden(lake):  # maps as sorted entries: rows are compared in sorted order
    golden = lake.read(tables.GOLDEN_T).drop("run_id")
    return golden.select(*[F.array_sort(F.map_entries(c)).alias(c) if c in ("source_ids", "ids")
                           else c for c in golden.columns])


def _golden_runs(lake):
    return {r["uid"]: r["run_id"] for r in lake.read(tables.GOLDEN_T).collect()}


def assert_frames_equal(a, b):
    assert_df_equality(a, b, ignore_row_order=True, ignore_nullable=True)


@pytest.mark.slow  # five identity runs: make test-slow
def test_incremental_equals_full_and_uids_are_stable(run_stage):
    inc, m1, _ = run_stage("inc", V1, "r1")
    first_graph = _graph(inc).localCheckpoint()
    first = {r["record_key"]: r["uid"] for r in first_graph.collect()}
    first_golden = _golden_runs(inc)
    assert m1["uids"] == 8 and m1["largest_cluster"] == 2 and m1["full"] == 1
    _, m2, manifest = run_stage("inc", V2, "r2", gate=True)
    assert m2["full"] == 0 and m2["reclustered_records"] < m2["records"]
    assert len(manifest.quality) == 2 and all(q["passed"] for q in manifest.quality)
    steps = next(r for r in manifest.stages if r.name == "identity").metrics["step_seconds"]
    assert set(steps) == {"records", "model", "resolve", "resolve/changes", "resolve/links",
                          "resolve/scope", "resolve/cluster", "resolve/uids", "gate", "write",
                          "golden", "devices", "metrics"}
    assert m2["lineage_breaks"] >= 5  # records, fingerprints, changes, links, scope, ...

    full, _, _ = run_stage("full", V1, "r1")
    assert_frames_equal(_graph(full), first_graph)  # determinism: a second fresh run gives the same UIDs
    _, m2f, _ = run_stage("full", V2, "r2", full=True)
    assert m2f["full"] == 1
    assert_frames_equal(_graph(inc), _graph(full))
    assert_frames_equal(inc.read(tables.REGISTRY_T), full.read(tables.REGISTRY_T))
    lineage = ["old_uid", "new_uid", "reason", "run_id"]
    assert_frames_equal(inc.read(tables.LINEAGE_T).select(lineage), full.read(tables.LINEAGE_T).select(lineage))
    # golden records: merged for the UIDs the run touched, equal to the full run's
    assert_frames_equal(_golden(inc), _golden(full))
    golden = _golden_runs(inc)
    assert {r["consent_email"] for r in inc.read(tables.GOLDEN_T).where(
        F.array_contains("record_keys", "crm:1")).collect()} == {False}
    assert golden[first["crm:7"]] == "r1"  # untouched person: its golden row is kept
    assert golden[first["crm:1"]] == "r2"  # a golden input changed: rebuilt, same UID
    assert first["crm:5"] not in golden and first_golden[first["crm:5"]] == "r1"  # retired

    after = {r["record_key"]: r["uid"] for r in _graph(inc).collect()}
    assert after["crm:1"] == after["shop:1"] == first["crm:1"]  # untouched person
    assert after["web:3"] == after["crm:3"] == first["crm:3"]  # a new record joins
    assert after["crm:4"] == first["crm:4"] != after["loy:4"]  # split: smaller key keeps
    assert after["crm:6"] == after["loy:6"] == after["web:6"]  # merge: one of the two
    assert after["crm:6"] in (first["crm:6"], first["loy:6"])
    reasons = sorted(r["reason"] for r in inc.read(tables.LINEAGE_T).where("run_id = 'r2'")
                     .collect())
    assert reasons == ["merge", "retired", "split"]
    # a third run over unchanged input re-clusters nothing and changes no UID
    before = _graph(inc).select("record_key", "uid")
    _, m3, _ = run_stage("inc", V2, "r3")
    assert (m3["changed_records"], m3["reclustered_records"], m3["uids_new"]) == (0, 0, 0)
    assert_frames_equal(_graph(inc).select("record_key", "uid"), before)
    assert _golden_runs(inc) == golden  # nothing rebuilt
    # a lake whose stored fingerprints predate golden fingerprints rebuilds every golden
    # record once, and stores the new fingerprints
    resolved = inc.read(tables.RESOLVED_T).drop("golden_fingerprint").localCheckpoint()
    inc.overwrite(tables.RESOLVED_T, resolved)
    _, m4, _ = run_stage("inc", V2, "r4")
    assert m4["reclustered_records"] == 0
    assert "golden_fingerprint" in inc.read(tables.RESOLVED_T).columns
    assert set(_golden_runs(inc).values()) == {"r4"}
    assert_frames_equal(_golden(inc), _golden(full))


def test_the_stage_sql_settings_are_restored_after_it(spark):
    key = "spark.sql.codegen.maxFields"
    before = spark.conf.get(key)
    with pytest.raises(RuntimeError), session_conf(spark, {key: "777"}):
        assert spark.conf.get(key) == "777"
        raise RuntimeError("the stage failed")
    assert spark.conf.get(key) == before
