"""A person's phone numbers: the main one and the further ones, standardised."""

from __future__ import annotations

import datetime as dt

from ingest_helpers import make_config
from pyspark.sql import functions as F

from vista.ingest.config import SourceConfig
from vista.ingest.mapping import check_output, to_canonical

CONTACTS = {
    "name": "crm",
    "format": "csv",
    "path": "crm/*.csv",
    "schema": {"id": "string", "mobile": "string", "home": "string", "work": "string"},
    "key": ["id"],
    "default_region": "ES",
    "outputs": [{"entity": "person",
                 "mapping": {"phone": "coalesce(mobile, home)"},
                 "other_phones": ["home", "work"]}],
}


def test_other_phones_are_standardised_distinct_and_without_the_main_one(spark, tmp_path):
    cfg = make_config(tmp_path, CONTACTS)
    src = cfg.sources[0]
    bronze = spark.createDataFrame([
        ("1", "600 111 222", "91 555 12 34", "+34 915551234"),  # work = home, other format
        ("2", None, "915 556 677", None),  # the home number is the main one
        ("3", "600111333", "not a number", ""),
        ("4", None, None, None),
    ], "id string, mobile string, home string, work string").withColumns({
        "_batch_id": F.lit(0), "_file_modified_at": F.lit(dt.datetime(2025, 1, 1)),
        "_ingested_at": F.lit(dt.datetime(2025, 1, 2))})

    got = bronze.transform(to_canonical(src, src.outputs[0], cfg))

    assert sorted(tuple(r) for r in got.select(
        "source_record_id", "phone_e164", "other_phones_e164").collect()) == [
        ("1", "+34600111222", ["+34915551234"]),
        ("2", "+34915556677", []),
        ("3", "+34600111333", []),
        ("4", None, []),
    ]


def test_other_phones_are_checked_against_the_schema_and_the_entity():
    src = SourceConfig.model_validate({
        **CONTACTS,
        "outputs": [{"entity": "person", "other_phones": [{"field": "fax"}]},
                    {"entity": "interaction", "other_phones": ["home"],
                     "mapping": {"ts": "'2025-01-01'", "channel": "'web'", "type": "'x'"}}]})

    assert check_output(src, src.outputs[0]) == ["mapping field 'fax' is not in the schema"]
    assert check_output(src, src.outputs[1]) == [
        "other_phones is for person outputs, not interaction"]
