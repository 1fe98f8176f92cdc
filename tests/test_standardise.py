"""Standardisers: input → expected output, whole frames, tiny inline data."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality
from pydantic import ValidationError
from pyspark.sql import functions as F

from vista.standardise import (
    StandardiseConfig,
    fold_text,
    parse_date,
    parse_timestamp,
    std_address,
    std_bool,
    std_country,
    std_email,
    std_name,
    std_phone_e164,
    std_postal_code,
    within_range,
)

IN_OUT = "i int, s string"


def assert_frames_equal(actual, expected):
    # chispa rather than pyspark.testing.assertDataFrameEqual: the latter imports
    # pyspark.pandas, which does not import with pandas 3.
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def _pairs(spark, rows, out_type="string"):
    """(input frame, expected frame) from [(input, expected), ...] keyed by row index."""
    inp = spark.createDataFrame([(i, r[0]) for i, r in enumerate(rows)], IN_OUT)
    exp = spark.createDataFrame([(i, r[1]) for i, r in enumerate(rows)], f"i int, out {out_type}")
    return inp, exp


def test_fold_text_accents_case_space_punctuation(spark):
    inp, exp = _pairs(
        spark,
        [
            ("  José   PÉREZ ", "jose perez"),
            ("ÑOÑO", "nono"),
            ("Straße Œuvre", "strasse oeuvre"),
            ("O’Neill, Jr.", "o'neill jr"),
            ("Smith–Jones", "smith-jones"),
            ("-loose- 'quotes'", "loose quotes"),
            ("e\u0301cole", "ecole"),  # already decomposed: e + combining acute
            ("João\u00a0Gonçalves", "joao goncalves"),  # no-break space
            ("Łódź Đakovo", "lodz dakovo"),
            ("Nguyễn", "nguyen"),
            ("Иванов", "иванов"),  # other scripts are kept
            ("  ", None),
            (None, None),
        ],
    )
    assert_frames_equal(inp.select("i", fold_text("s").alias("out")), exp)


def test_std_name_honorifics_and_compound_surnames(spark):
    inp, exp = _pairs(
        spark,
        [
            ("Sr. D. Ñúñez", "d nunez"),  # "d" is not in the default list
            ("Dra. García de la Fuente", "garcia de la fuente"),
            ("MRS  Smith-Jones", "smith-jones"),
            ("Sra.", "sra"),  # a lone title is kept rather than blanked
            ("Drake", "drake"),  # only whole words are titles
            (None, None),
        ],
    )
    assert_frames_equal(inp.select("i", std_name("s").alias("out")), exp)


def test_std_name_custom_honorifics(spark):
    inp, exp = _pairs(spark, [("Herr Müller", "muller"), ("Mr Müller", "mr muller")])
    assert_frames_equal(inp.select("i", std_name("s", honorifics=["herr"]).alias("out")), exp)


def test_std_email_validity(spark):
    inp, exp = _pairs(
        spark,
        [
            ("  Ana.Lopez+news@GMail.COM ", "ana.lopez+news@gmail.com"),
            ("mailto:luis@ex-ample.pt", "luis@ex-ample.pt"),
            ("bad@", None),
            ("no-at-sign.com", None),
            ("a..b@example.com", None),
            (".a@example.com", None),
            ("a@example.c", None),
            ("a@-example.com", None),
            ("a b@example.com", "ab@example.com"),
            ("", None),
            (None, None),
        ],
    )
    assert_frames_equal(inp.select("i", std_email("s").alias("out")), exp)


def test_std_email_canonical_gmail(spark):
    inp, exp = _pairs(
        spark,
        [
            ("Ana.Lopez+news@gmail.com", "analopez@gmail.com"),
            ("ana.lopez@googlemail.com", "analopez@gmail.com"),
            ("ana.lopez+x@example.com", "ana.lopez+x@example.com"),  # other providers untouched
            ("bad@", None),
        ],
    )
    assert_frames_equal(inp.select("i", std_email("s", canonicalise=True).alias("out")), exp)
    custom = inp.select("i", std_email("s", True, ["example.com"], {}).alias("out"))
    exp2 = spark.createDataFrame(
        [
            (0, "ana.lopez+news@gmail.com"),
            (1, "ana.lopez@googlemail.com"),
            (2, "analopez@example.com"),
            (3, None),
        ],
        "i int, out string",
    )
    assert_frames_equal(custom, exp2)


def test_std_phone_e164_per_row_region(spark):
    rows = [
        ("+34 600 12 34 56", "ES", "+34600123456"),
        ("600123456", "ES", "+34600123456"),
        ("0034600123456", "ES", "+34600123456"),
        ("0034600123456", None, "+34600123456"),
        ("(55) 1234-5678", "MX", "+525512345678"),
        ("912 345 678", "PT", "+351912345678"),
        ("(11) 98765-4321", "BR", "+5511987654321"),
        ("020 7946 0958", "gb", "+442079460958"),
        ("600123456", None, None),  # national number, no region: cannot know
        ("12", "ES", None),
        ("not a phone", "ES", None),
        (None, "ES", None),
    ]
    inp = spark.createDataFrame([(i, s, r) for i, (s, r, _) in enumerate(rows)], "i int, s string, r string")
    exp = spark.createDataFrame([(i, e) for i, (_, _, e) in enumerate(rows)], "i int, out string")
    assert_frames_equal(inp.select("i", std_phone_e164("s", F.col("r")).alias("out")), exp)


def test_std_phone_e164_literal_region(spark):
    inp, exp = _pairs(
        spark,
        [("600 123 456", "+34600123456"), ("+52 55 1234 5678", "+525512345678"), ("(55) 1234-5678", None)],
    )
    assert_frames_equal(inp.select("i", std_phone_e164("s", "ES").alias("out")), exp)


def test_parse_date_multiple_formats(spark):
    inp, exp = _pairs(
        spark,
        [
            ("2020-01-05", dt.date(2020, 1, 5)),
            ("05/01/2020", dt.date(2020, 1, 5)),
            (" 5/1/2020 ", dt.date(2020, 1, 5)),
            ("20200105", dt.date(2020, 1, 5)),
            ("31/02/2020", None),
            ("garbage", None),
            (None, None),
        ],
        out_type="date",
    )
    out = inp.select("i", parse_date("s", ["yyyy-MM-dd", "d/M/yyyy", "yyyyMMdd"]).alias("out"))
    assert_frames_equal(out, exp)


def test_parse_timestamp_and_range(spark):
    inp, exp = _pairs(
        spark,
        [
            ("2021-03-04 10:11:12", dt.datetime(2021, 3, 4, 10, 11, 12)),
            ("04/03/2021 10:11", dt.datetime(2021, 3, 4, 10, 11)),
            ("1850-01-01 00:00:00", None),  # parses but implausible
            ("04/03/2021", None),
        ],
        out_type="timestamp",
    )
    ts = parse_timestamp("s", ["yyyy-MM-dd HH:mm:ss", "dd/MM/yyyy HH:mm"])
    out = inp.select("i", within_range(ts, dt.datetime(1900, 1, 1), F.current_timestamp()).alias("out"))
    assert_frames_equal(out, exp)
    with pytest.raises(ValueError, match="at least one format"):
        parse_date("s", [])


def test_std_country_codes_and_names(spark):
    inp, exp = _pairs(
        spark,
        [
            ("España", "ES"),
            ("spain", "ES"),
            ("ESP", "ES"),
            ("es", "ES"),
            ("México", "MX"),
            ("MEXICO", "MX"),
            ("Brasil", "BR"),
            ("Alemanha", "DE"),
            ("United Kingdom", "GB"),
            ("UK", "GB"),
            ("EE.UU.", "US"),
            ("Narnia", None),
            ("", "PT"),
            (None, "PT"),
        ],
    )
    assert_frames_equal(inp.select("i", std_country("s", default="PT").alias("out")), exp)


def test_std_address_and_postal_code(spark):
    inp, exp = _pairs(
        spark,
        [
            ("C/ Mayor, 5 - 3º B", "calle mayor 5 3o b"),
            ("Avda. de la Constitución 12", "avenida de la constitucion 12"),
            ("R. Augusta 1500, 2º Dto", "rua augusta 1500 2o direito"),
            ("12 High St.", "12 high street"),
            (None, None),
        ],
    )
    assert_frames_equal(inp.select("i", std_address("s").alias("out")), exp)

    rows = [("8001", "ES", "08001"), (" 28013 ", "ES", "28013"), ("sw1a  1aa", "GB", "SW1A 1AA"),
            ("1000 - 001", "PT", "1000-001"), ("8001", None, "8001"), ("", "ES", None)]  # fmt: skip
    pc = spark.createDataFrame([(i, s, c) for i, (s, c, _) in enumerate(rows)], "i int, s string, c string")
    exp_pc = spark.createDataFrame([(i, e) for i, (_, _, e) in enumerate(rows)], "i int, out string")
    assert_frames_equal(pc.select("i", std_postal_code("s", F.col("c")).alias("out")), exp_pc)


def test_std_bool(spark):
    inp, exp = _pairs(
        spark,
        [("Sí", True), ("no", False), ("1", True), ("0", False), ("Y", True), ("f", False),
         ("Não", False), ("sim", True), ("maybe", None), (None, None)],  # fmt: skip
        out_type="boolean",
    )
    assert_frames_equal(inp.select("i", std_bool("s").alias("out")), exp)


def test_config_is_frozen_and_strict():
    with pytest.raises(ValidationError):
        StandardiseConfig(honorific=["x"])  # typo: unknown key
    cfg = StandardiseConfig()
    with pytest.raises(ValidationError):
        cfg.honorifics = ("x",)
