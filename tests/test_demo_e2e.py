"""`vista demo` end to end at tiny scale: the run, its manifest, and where outputs are."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def test_demo_succeeds_and_prints_where_every_output_is(demo_run) -> None:
    assert demo_run.code == 0
    out = demo_run.stdout
    assert "vista demo finished" in out and "succeeded" in out
    manifest_line = next(line for line in out.splitlines() if "run manifest:" in line)
    assert Path(manifest_line.split("run manifest:")[1].strip()).is_file()
    for needle in ("silver/person_records", "silver/golden_customer", "quality Data Docs",
                   "mlflow ui --backend-store-uri"):
        assert needle in out


def test_demo_manifest_records_stages_tables_quality_and_mlflow(demo_run) -> None:
    m = demo_run.manifest
    assert m["status"] == "succeeded" and m["engine"] == "delta-rs"
    assert [(s["name"], s["status"]) for s in m["stages"]] == [
        (name, "succeeded") for name in ("ingest", "identity", "profile", "segments",
                                         "activation")]
    written = {t["table"] for t in m["tables"]}
    assert {"silver/person_records", "silver/orders", "silver/order_lines",
            "silver/interactions", "silver/identity_graph", "silver/uid_registry",
            "silver/uid_lineage", "silver/golden_customer", "gold/customer_profile",
            "gold/segments_rfm", "gold/segments_lifecycle", "gold/clv",
            "gold/segments_lifestyle", "gold/segment_catalogue"} <= written
    assert all(isinstance(t["version"], int) for t in m["tables"])
    assert m["quality"] and all(q["passed"] for q in m["quality"])
    assert {"identity", "segments"} <= {r["stage"] for r in m["mlflow_runs"]}
    identity = m["stages"][1]["metrics"]
    assert identity["records"] > 0 and identity["uids"] > 0
    # Every configured destination exported, and each export folder is in the ledger
    # erasure searches.
    activation = m["stages"][4]["metrics"]
    assert sorted(activation["destinations"]) == ["ad_platform", "bi", "cms", "crm",
                                                  "email_platform"]
    assert activation["exported"] > 0 and activation["withheld"] > 0
    assert {"_state/activation_exports", "_privacy/export_folders"} <= written


def test_data_docs_are_written(demo_run) -> None:
    assert (demo_run.root / "lake" / "_quality" / "data_docs" / "index.html").is_file()


def test_runs_lists_the_demo_run(demo_run, capsys: pytest.CaptureFixture[str]) -> None:
    from vista.cli import main

    assert main(["runs", "--conf", str(demo_run.conf)]) == 0
    assert demo_run.manifest["run_id"] in capsys.readouterr().out
