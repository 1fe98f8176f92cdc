"""Erasure in export files: every folder ever written, wherever the config points now."""

from __future__ import annotations

import hashlib

from chispa import assert_df_equality

from vista.activation.config import ActivationConfig
from vista.activation.export_erasure import erase_exports
from vista.activation.exports import export_all
from vista.activation.person import Person
from vista.lake import Lake

GOLDEN = ("uid string, email string, phone string, emails array<string>, "
          "ids map<string, array<string>>")
PROFILE = "uid string, consent_email boolean, consent_profiling boolean"


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _config(exports_root, names: list[str]) -> ActivationConfig:
    destinations = {
        "email_platform": {"name": "email_platform", "purpose": "email_marketing",
                           "identifier": {"kind": "email"}, "format": "csv", "mode": "changes",
                           "segments": [{"table": "gold/segments_rfm",
                                         "columns": {"rfm": "segment"}}]},
        "ads": {"name": "ads", "purpose": "advertising",
                "identifier": {"kind": "hashed_email", "all_values": True},
                "hashed_fields": ["phone"], "format": "parquet", "mode": "changes"},
        "cms": {"name": "cms", "identifier": {"kind": "uid"}, "format": "jsonl", "mode": "full",
                "segments": [{"table": "gold/segments_rfm", "columns": {"rfm": "segment"}}]},
    }
    return ActivationConfig.model_validate({
        "exports_root": str(exports_root),
        "destinations": [destinations[n] for n in names]})


def _texts(root) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", errors="ignore").lower()
                     for p in root.rglob("*") if p.is_file() and p.suffix != ".parquet")


def test_forget_rewrites_folders_written_before_the_config_moved_or_dropped_them(
        spark, tmp_path):
    lake = Lake(spark, str(tmp_path / "lake"))
    lake.overwrite("silver/golden_customer", spark.createDataFrame([
        ("u1", "ana.b@x.com", "+34600111222", ["ana.b@x.com", "ana@work.org"], {"crm_id": ["C1"]}),
        ("u2", "bo@x.com", "+34600333444", ["bo@x.com"], {"crm_id": ["C2"]}),
    ], GOLDEN))
    lake.overwrite("gold/customer_profile", spark.createDataFrame(
        [("u1", True, True), ("u2", True, True)], PROFILE))
    lake.overwrite("gold/segments_rfm", spark.createDataFrame(
        [("u1", "champions"), ("u2", "loyal")], "uid string, segment string"))
    old = tmp_path / "old_exports"
    written = export_all(lake, _config(old, ["email_platform", "ads", "cms"]), "run1")
    assert [r.exported for r in written] == [2, 3, 2]
    assert "ana.b@x.com" in _texts(old)  # the person is in the files to begin with
    # Another export adds a folder, not a ledger row: one row per destination folder.
    export_all(lake, _config(old, ["cms"]), "run2")
    assert lake.read("_privacy/export_folders").count() == 3

    # Since then the exports moved elsewhere and the CMS is no longer a destination.
    person = Person(uids=("u1",), identifiers=(
        ("email", "ana.b@x.com"), ("email", "ana@work.org"), ("id:crm_id", "C1"),
        ("phone", "+34600111222")))
    assert erase_exports(lake, _config(tmp_path / "new_exports", ["email_platform", "ads"]),
                         person) == 4

    assert_df_equality(
        spark.read.option("header", "true").csv(str(old / "email_platform" / "run1")),
        spark.createDataFrame([("bo@x.com", "loyal", "add")],
                              "email string, rfm string, change string"),
        ignore_nullable=True)
    # The digests of the person's addresses and phone are gone with the rows they keyed.
    assert_df_equality(
        spark.read.parquet(str(old / "ads" / "run1")),
        spark.createDataFrame([(_sha("bo@x.com"), _sha("+34600333444"), "add")],
                              "email_sha256 string, phone_sha256 string, change string"),
        ignore_nullable=True)
    # JSON lines come back as they were written: the kept line byte for byte (fields in
    # the export's order, not alphabetical), in a .json file.
    kept = sorted((old / "cms" / "run1").glob("part-*"))
    assert [p.suffix for p in kept] == [".json"]
    assert kept[0].read_text().splitlines() == ['{"uid":"u2","rfm":"loyal"}']
    # Their keys left the export state too, whatever UID the state kept them under.
    cfg = _config(old, ["email_platform", "ads", "cms"])
    assert_df_equality(
        lake.read(cfg.state_table).select("destination", "key"),
        spark.createDataFrame([("email_platform", "bo@x.com"), ("ads", _sha("bo@x.com")),
                               ("cms", "u2")], "destination string, key string"),
        ignore_row_order=True, ignore_nullable=True)
    left = _texts(old)
    assert "ana.b@x.com" not in left and _sha("ana.b@x.com") not in left
    assert not list(old.rglob("*.erasing"))
