"""Quality gate: outcomes that could be wrong, on tiny inline frames."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from vista.errors import QualityGateFailed
from vista.quality import (
    ExpectationSpec,
    QualityConfigError,
    builtin_expectations,
    gate,
    not_null,
    unique,
)
from vista.schemas import ORDERS, PERSON_RECORDS

SIMPLE = "k string, email string, amount double"


def _people(spark, rows):
    """Person records with only the fields under test set; everything else null."""
    full = []
    for i, (key, email, country) in enumerate(rows):
        r = dict.fromkeys(PERSON_RECORDS.fieldNames())
        r.update(record_key=key, source="crm", source_record_id=str(i), email_std=email,
                 country=country, observed_at=dt.datetime(2024, 5, 1, 12, 0))  # fmt: skip
        full.append(r)
    return spark.createDataFrame(full, PERSON_RECORDS)


def _by_label(result):
    return {(r["expectation"], r["column"]): r for r in result.results}


def test_passing_table_writes_data_docs(spark, tmp_path: Path):
    df = spark.createDataFrame([("a", "ana@example.com", 1.0), ("b", None, 0.0)], SIMPLE)
    specs = [*not_null(["k"]), *unique(["k"]),
             ExpectationSpec(type="expect_column_values_to_be_between",
                             kwargs={"column": "amount", "min_value": 0})]  # fmt: skip
    docs = tmp_path / "_quality" / "data_docs"
    result = gate(df, "silver/simple", specs, data_docs_dir=str(docs))
    assert result.passed
    assert [(r["expectation"], r["success"], r["unexpected_count"]) for r in result.results] == [
        ("expect_column_values_to_not_be_null", True, 0),
        ("expect_column_values_to_be_unique", True, 0),
        ("expect_column_values_to_be_between", True, 0),
    ]
    assert result.failed == [] and result.warnings == []
    assert (docs / "index.html").is_file()
    assert result.data_docs == str((docs / "index.html").resolve())
    assert list((docs / "validations").rglob("*.html")), "no validation page rendered"
    json.dumps(result.as_dict())  # manifest-ready


def test_critical_failure_raises_with_table_expectation_examples(spark):
    df = spark.createDataFrame(
        [("a", None, 1.0), ("b", None, -5.5), ("c", None, -7.25), ("d", None, 2.0)], SIMPLE
    )
    specs = [ExpectationSpec(type="expect_column_values_to_be_between",
                             kwargs={"column": "amount", "min_value": 0})]  # fmt: skip
    with pytest.raises(QualityGateFailed) as err:
        gate(df, "silver/orders_test", specs)
    msg = str(err.value)
    assert "silver/orders_test" in msg
    assert "expect_column_values_to_be_between on column 'amount'" in msg
    assert "2 unexpected" in msg and "-5.5" in msg and "-7.25" in msg

    result = gate(df, "silver/orders_test", specs, raise_on_failure=False)
    assert not result.passed
    assert [(r["column"], r["unexpected_count"], sorted(r["examples"])) for r in result.failed] == [
        ("amount", 2, [-7.25, -5.5])
    ]


def test_non_critical_failure_passes_with_warning(spark):
    df = spark.createDataFrame([("a", None, 1.0), ("b", None, 2.0)], SIMPLE)
    specs = [*not_null(["k"]), *not_null(["email"], critical=False)]
    result = gate(df, "silver/warn_test", specs)
    assert result.passed
    assert result.failed == []
    assert [(w["column"], w["critical"], w["unexpected_count"]) for w in result.warnings] == [
        ("email", False, 2)
    ]


def test_pii_examples_masked_in_result_message_and_docs(spark, tmp_path: Path):
    secret = "lucia.secret@example"  # malformed: no TLD
    df = spark.createDataFrame([("a", secret, 1.0), ("b", "ok@example.com", 1.0)], SIMPLE)
    specs = [ExpectationSpec(type="expect_column_values_to_match_regex",
                             kwargs={"column": "email", "regex": r"^[^@]+@[^@]+\.[a-z]{2,}$"})]  # fmt: skip
    docs = tmp_path / "docs"
    with pytest.raises(QualityGateFailed) as err:
        gate(df, "silver/pii_test", specs, data_docs_dir=str(docs), pii_columns=["email"])
    assert secret not in str(err.value)
    assert "***" in str(err.value)
    pages = [p.read_text() for p in docs.rglob("*.html")]
    assert pages and not any(secret in page for page in pages)

    result = gate(df, "silver/pii_test", specs, pii_columns=["email"], raise_on_failure=False)
    assert result.failed[0]["examples"] == ["***"]
    assert secret not in json.dumps(result.as_dict())


def test_builtin_person_records_flags_duplicate_key_and_bad_email(spark):
    df = _people(spark, [("crm:1", "ana@example.com", "ES"), ("crm:1", "not-an-email", "ES"),
                         ("crm:2", None, "ESP")])  # fmt: skip
    result = gate(df, "silver/person_records", builtin_expectations("person_records"),
                  raise_on_failure=False, pii_columns=["email_std"])  # fmt: skip
    assert not result.passed
    failed = {(r["expectation"], r["column"]): (r["unexpected_count"], r["examples"])
              for r in result.failed}  # fmt: skip
    assert failed == {
        ("expect_column_values_to_be_unique", "record_key"): (2, ["crm:1", "crm:1"]),
        ("expect_column_values_to_match_regex", "email_std"): (1, ["***"]),
        ("expect_column_values_to_match_regex", "country"): (1, ["ESP"]),
    }
    ok = _people(spark, [("crm:1", "ana@example.com", "ES"), ("crm:2", None, None)])
    assert gate(ok, "silver/person_records", builtin_expectations("person_records")).passed


def test_builtin_orders_amounts_and_time_range(spark):
    row = dict.fromkeys(ORDERS.fieldNames())
    good = {**row, "order_key": "web:1", "source": "web", "order_id": "1",
            "ts": dt.datetime(2024, 1, 2), "amount": 10.0, "currency": "EUR"}  # fmt: skip
    refund = {**good, "order_key": "web:2", "order_id": "2", "amount": -3.0}
    ancient = {**good, "order_key": "web:3", "order_id": "3", "ts": dt.datetime(1950, 1, 1)}
    df = spark.createDataFrame([good, refund, ancient], ORDERS)
    result = gate(df, "silver/orders", builtin_expectations("orders"), raise_on_failure=False)
    assert [(r["column"], r["examples"]) for r in result.failed] == [("amount", [-3.0])]
    assert [(r["column"], r["critical"], r["unexpected_count"]) for r in result.warnings] == [
        ("ts", False, 1)
    ]


def test_bad_specs_are_reported():
    with pytest.raises(ValidationError, match="unknown Great Expectations expectation"):
        ExpectationSpec(type="expect_column_values_to_be_purple", kwargs={"column": "k"})
    with pytest.raises(ValidationError):
        ExpectationSpec(type="expect_column_values_to_not_be_null", kwarg={"column": "k"})
    with pytest.raises(QualityConfigError, match="kinds? among"):
        builtin_expectations("unicorns")


def test_missing_column_is_a_config_error(spark):
    df = spark.createDataFrame([("a", None, 1.0)], SIMPLE)
    with pytest.raises(QualityConfigError, match="record_key"):
        gate(df, "silver/x", not_null(["record_key"]))


def test_a_passing_gate_fetches_no_examples(spark):
    """Examples cost one Spark job per expectation: a gate where everything passes asks
    for none (the failing gates above still show theirs)."""
    df = spark.createDataFrame([("a", "ana@example.com", 1.0), ("b", "bo@example.com", 2.0)],
                               SIMPLE)
    tracker = spark.sparkContext.statusTracker()
    before = set(tracker.getJobIdsForGroup(None))
    result = gate(df, "silver/simple_examples", [*not_null(["k", "email", "amount"])])
    assert result.passed and [r["unexpected_count"] for r in result.results] == [0, 0, 0]
    jobs = [tracker.getJobInfo(j) for j in set(tracker.getJobIdsForGroup(None)) - before]
    stages = [tracker.getStageInfo(s) for job in jobs if job for s in job.stageIds]
    names = [s.name for s in stages if s is not None]
    assert names, "the gate ran no Spark job at all"
    assert not [n for n in names if "condition_auxilliary" in n], names


def test_a_remote_sites_local_build_folder_goes_after_the_run(
        spark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A remote Data Docs site is built in a temporary folder, kept while gates add pages
    (GE's index lists the folder's pages) and removed by ``remove_docs_staging``.

    The object store is replaced by a local copy here (``upload_dir`` is the boundary; the
    S3 upload itself runs in the slow ``tests/test_object_store.py``).
    """
    import shutil
    import tempfile

    import vista.lake
    from vista.quality import remove_docs_staging

    bucket = tmp_path / "bucket"
    uploads: list[str] = []

    def upload(local_dir: str, location) -> str:  # noqa: ANN001 - a LakeLocation
        uploads.append(local_dir)
        shutil.copytree(local_dir, bucket, dirs_exist_ok=True)
        return location.spark

    monkeypatch.setattr(vista.lake, "upload_dir", upload)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    remote = "s3a://some-bucket/lake/_quality/data_docs"
    df = spark.createDataFrame([("a", None, 1.0)], SIMPLE)
    first = gate(df, "silver/first_table", not_null(["k"]), data_docs_dir=remote)
    gate(df, "silver/second_table", unique(["k"]), data_docs_dir=remote)

    assert first.data_docs == f"{remote}/index.html"
    assert len(set(uploads)) == 1 and Path(uploads[0]).parent == tmp_path / "tmp"
    index = (bucket / "index.html").read_text(encoding="utf-8")
    assert "vista__silver_first_table" in index and "vista__silver_second_table" in index
    assert remove_docs_staging() == 1
    assert list((tmp_path / "tmp").iterdir()) == []  # nothing left on the local disk
    # The next run builds in a fresh folder.
    gate(df, "silver/third_table", not_null(["k"]), data_docs_dir=remote)
    assert uploads[-1] != uploads[0] and Path(uploads[-1]).is_dir()
    assert remove_docs_staging() == 1 and not Path(uploads[-1]).exists()
