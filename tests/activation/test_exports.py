"""Changes-only exports: adds, changes and removals against the last successful export."""

from __future__ import annotations

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from vista.activation.config import ActivationConfig
from vista.activation.errors import ActivationError
from vista.activation.exports import export_destination
from vista.lake import Lake

PROFILE = "uid string, consent_email boolean, value_tier string"
GOLDEN = ("uid string, email string, phone string, emails array<string>, "
          "ids map<string, array<string>>, postal_code string, country string")
RFM = "uid string, segment string"


def _config(root) -> ActivationConfig:
    return ActivationConfig.model_validate({
        "exports_root": str(root / "exports"),
        "destinations": [
            {"name": "crm", "purpose": "email_marketing",
             "identifier": {"kind": "source_id", "id_kind": "crm_id"},
             "profile_fields": ["value_tier"],
             "segments": [{"table": "gold/segments_rfm", "columns": {"rfm": "segment"}}],
             "format": "csv", "mode": "changes"},
            {"name": "ads", "purpose": "email_marketing",
             "identifier": {"kind": "hashed_email"}, "plain_fields": ["country"],
             "segments": [{"table": "gold/segments_missing", "columns": {"x": "segment"}}]},
        ]})


def _write(lake, spark, profile, rfm):
    lake.overwrite("gold/customer_profile", spark.createDataFrame(profile, PROFILE))
    lake.overwrite("gold/segments_rfm", spark.createDataFrame(rfm, RFM))


def _read_csv(spark, path):
    return spark.read.option("header", "true").csv(path)


def test_changes_only_export_state_consent_and_failure(spark, tmp_path):
    lake = Lake(spark, str(tmp_path / "lake"))
    cfg = _config(tmp_path)
    crm = cfg.destination("crm")
    lake.overwrite("silver/golden_customer", spark.createDataFrame([
        ("u1", "a@x.com", None, ["a@x.com"], {"crm_id": ["C1"]}, "28001", "ES"),
        ("u2", "b@x.com", None, ["b@x.com"], {"crm_id": ["C2", "C2b"]}, None, "ES"),
        ("u3", "c@x.com", None, ["c@x.com"], {"crm_id": ["C3"]}, None, "FR"),
        ("u4", "d@x.com", None, ["d@x.com"], {"account_id": ["A4"]}, None, "FR"),
    ], GOLDEN))
    _write(lake, spark,
           [("u1", True, "gold"), ("u2", True, "silver"), ("u3", None, "gold"),
            ("u4", True, "gold")],
           [("u1", "champions"), ("u2", "loyal"), ("u3", "loyal")])

    first = export_destination(lake, cfg, crm, "run1")
    # The manifest names the folder under the exports root, not the machine's path.
    assert (first.metrics()["folder"], "path" in first.metrics()) == ("crm/run1", False)
    # u3's consent is unknown: withheld; u4 has no CRM id: not reachable in the CRM.
    assert (first.added, first.changed, first.removed, first.withheld) == (3, 0, 0, 1)
    assert_df_equality(
        _read_csv(spark, first.path),
        spark.createDataFrame([("C1", "gold", "champions", "add"), ("C2", "silver", "loyal", "add"),
                               ("C2b", "silver", "loyal", "add")],
                              "crm_id string, value_tier string, rfm string, change string"),
        ignore_row_order=True, ignore_nullable=True)

    # u1 withdraws consent, u2 moves segment, u3 consents.
    _write(lake, spark,
           [("u1", False, "gold"), ("u2", True, "silver"), ("u3", True, "gold"),
            ("u4", True, "gold")],
           [("u1", "champions"), ("u2", "at_risk"), ("u3", "loyal")])
    dry = export_destination(lake, cfg, crm, "dry", dry_run=True)
    assert (dry.path, dry.added, dry.changed, dry.removed, dry.withheld) == (None, 1, 2, 1, 1)

    # A failed write (the folder is taken by a file) does not advance the state ...
    blocker = tmp_path / "exports" / "crm" / "run2"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a folder")
    with pytest.raises(ActivationError, match="state was not advanced"):
        export_destination(lake, cfg, crm, "run2")
    # ... so the next run emits the same changes.
    second = export_destination(lake, cfg, crm, "run3")
    assert (second.added, second.changed, second.removed, second.unchanged) == (1, 2, 1, 0)
    assert_df_equality(
        _read_csv(spark, second.path),
        spark.createDataFrame([("C1", None, None, "remove"), ("C2", "silver", "at_risk", "change"),
                               ("C2b", "silver", "at_risk", "change"), ("C3", "gold", "loyal", "add")],
                              "crm_id string, value_tier string, rfm string, change string"),
        ignore_row_order=True, ignore_nullable=True)
    assert_df_equality(
        lake.read(cfg.state_table).select("key", "uid", "export_id"),
        spark.createDataFrame([("C2", "u2", "run3"), ("C2b", "u2", "run3"), ("C3", "u3", "run3")],
                              "key string, uid string, export_id string"),
        ignore_row_order=True, ignore_nullable=True)

    third = export_destination(lake, cfg, crm, "run4")
    # Nothing changed: no empty delivery for the destination to pick up.
    assert (third.exported, third.unchanged, third.path, third.folder) == (0, 3, None, None)
    assert not (tmp_path / "exports" / "crm" / "run4").exists()

    with pytest.raises(ActivationError, match="gold/segments_missing.*does not exist"):
        export_destination(lake, cfg, cfg.destination("ads"), "run5")
    assert lake.read(cfg.state_table).where(F.col("destination") == "ads").count() == 0


def test_pseudonymised_view_replaces_identifiers_with_keyed_hashes(spark, tmp_path, monkeypatch):
    import hashlib
    import hmac

    from vista.activation.config import PseudonymiseConfig
    from vista.activation.pseudonymise import pseudonymised_views

    lake = Lake(spark, str(tmp_path / "lake"))
    lake.overwrite("gold/customer_profile", spark.createDataFrame(
        [("u1", "a@x.com", "gold")], "uid string, email string, value_tier string"))
    cfg = PseudonymiseConfig(enabled=True)
    assert pseudonymised_views(lake, cfg) == {}  # no key in the environment: no view
    monkeypatch.setenv(cfg.key_env, "k3y")
    assert pseudonymised_views(lake, cfg) == {"gold/analyst/customer_profile": 2}

    def keyed(v):
        return hmac.new(b"k3y", v.encode(), hashlib.sha256).hexdigest()

    assert_df_equality(
        lake.read("gold/analyst/customer_profile"),
        spark.createDataFrame([(keyed("u1"), keyed("a@x.com"), "gold")],
                              "uid string, email string, value_tier string"),
        ignore_nullable=True)


def test_diff_kinds_and_withheld_customers(spark):
    from vista.activation.exports import _counts, diff

    current = spark.createDataFrame([
        ("k1", "u1", True, "f1", "gold"),     # in the state, same values
        ("k2", "u2", True, "f2new", "gold"),  # in the state, new values
        ("k3", "u3", False, "f3", "gold"),    # in the state, consent withdrawn
        ("k4", "u4", False, "f4", "gold"),    # never consented
        ("k5", "u5", True, "f5", "gold"),     # new
    ], "__key string, uid string, __allowed boolean, __fingerprint string, tier string")
    previous = spark.createDataFrame([
        ("k1", "f1", "u1"), ("k2", "f2", "u2"), ("k3", "f3", "u3old"),
        ("k6", "f6", "u6"),                   # erased since: gone from the view
    ], "__key string, __prev_fingerprint string, __prev_uid string")
    delta = diff(current, previous)
    assert_df_equality(
        delta.select("__key", "uid", "tier", "change"),
        spark.createDataFrame([
            ("k1", "u1", "gold", "same"), ("k2", "u2", "gold", "change"),
            ("k3", "u3old", None, "remove"), ("k4", "u4", "gold", "withheld"),
            ("k5", "u5", "gold", "add"), ("k6", "u6", None, "remove"),
        ], "__key string, uid string, tier string, change string"),
        ignore_row_order=True, ignore_nullable=True)
    # Withheld: u3 and u4, the current rows without consent; u6 is gone, not withheld.
    assert _counts(delta) == {"add": 1, "change": 1, "same": 1, "remove": 2, "withheld": 2}


def test_a_key_two_people_share_is_left_out_and_a_repeated_one_sent_once(spark, tmp_path):
    from vista.activation.rows import destination_rows

    lake = Lake(spark, str(tmp_path / "lake"))
    lake.overwrite("silver/golden_customer", spark.createDataFrame([
        ("u1", "a@x.com", None, ["a@x.com", " A@x.com", "fam@x.com"], {}, None, "ES"),
        ("u2", "b@x.com", None, ["fam@x.com", "b@x.com"], {}, None, "ES"),
    ], GOLDEN))
    _write(lake, spark, [("u1", True, "gold"), ("u2", False, "silver")], [("u1", "loyal")])
    cfg = ActivationConfig.model_validate({"destinations": [
        {"name": "mail", "purpose": "email_marketing",
         "identifier": {"kind": "email", "all_values": True}, "profile_fields": ["value_tier"],
         "segments": [{"table": "gold/segments_rfm", "columns": {"rfm": "segment"}}]}]})
    built = destination_rows(lake, cfg, cfg.destination("mail"))
    assert_df_equality(
        built.rows,
        spark.createDataFrame([("a@x.com", "u1", True, "gold", "loyal"),
                               ("b@x.com", "u2", False, "silver", None)],
                              "__key string, uid string, __allowed boolean, value_tier string, "
                              "rfm string"),
        ignore_row_order=True, ignore_nullable=True)
