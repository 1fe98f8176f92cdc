"""Ad-platform identifiers: normalised as the platforms document it, then SHA-256 hex."""

from __future__ import annotations

from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from vista.activation.config import NormalisationConfig
from vista.activation.identifiers import hashed, plain

# Digests of the normalised forms, computed once and written down (known answers).
JANE_GMAIL = "831f6494ad6be4fcb3a724c3d5fef22d3ceffa3c62ef3a7984e45a0ea177f982"  # jane.doe@gmail.com
JANE_GMAIL_NODOTS = "d6117306485ed0e50afab3ac871e98f81699151f30281527d63ff5f233656c69"
JANE_EXAMPLE = "86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d"
PHONE_E164 = "38dbd333ed8ecfb8fa0c220691021d4e44ffb673ea4c1571e625d7909d8f6b2b"  # +34600123456
PHONE_DIGITS = "14976e7970d2191d37cb8853db2d372d671594e432cae1f6602668060303222a"  # 34600123456
JANE = "81f8f6dde88365f3928796ec7aa53f72820b06db8664f5fe76a7eb13e24546a2"
GARCIA_LOPEZ = "01f102f8959143b982963f4f24ba696db116cf6f78e613faa43c376fe746b15e"


def assert_frames(got, expected, checkRowOrder=True):  # noqa: N803
    assert_df_equality(got, expected, ignore_nullable=True, ignore_row_order=not checkRowOrder)


def _one(spark, values, fn):
    df = spark.createDataFrame([(v,) for v in values],
                               T.StructType([T.StructField("v", T.StringType())]))
    return df.select(fn(F.col("v")).alias("h"))


def _expect(spark, digests):
    return spark.createDataFrame([(d,) for d in digests],
                                 T.StructType([T.StructField("h", T.StringType())]))


def test_email_digests_with_and_without_gmail_dots(spark):
    emails = ["  Jane.Doe@GMAIL.com ", "jane.doe@example.com", "Jane.Doe@Example.COM", None, " "]
    keep = NormalisationConfig()
    dots = NormalisationConfig(gmail_dots=True)
    assert_frames(_one(spark, emails, lambda c: hashed("email", c, keep)),
                         _expect(spark, [JANE_GMAIL, JANE_EXAMPLE, JANE_EXAMPLE, None, None]),
                         checkRowOrder=True)
    # The dots go only at dot-insensitive domains.
    assert_frames(_one(spark, emails, lambda c: hashed("email", c, dots)),
                         _expect(spark, [JANE_GMAIL_NODOTS, JANE_EXAMPLE, JANE_EXAMPLE, None, None]),
                         checkRowOrder=True)


def test_phone_digests_in_e164_or_digits(spark):
    phones = ["+34600123456", " +34 600-123-456 ", "600123456", None]
    assert_frames(
        _one(spark, phones, lambda c: hashed("phone", c, NormalisationConfig())),
        _expect(spark, [PHONE_E164, PHONE_E164, None, None]), checkRowOrder=True)
    assert_frames(
        _one(spark, phones, lambda c: hashed("phone", c, NormalisationConfig(phone_format="digits"))),
        _expect(spark, [PHONE_DIGITS, PHONE_DIGITS, None, None]), checkRowOrder=True)


def test_names_lower_trimmed_and_plain_fields_never_hashed(spark):
    names = ["  JANE ", "García   López", "Jane."]
    assert_frames(
        _one(spark, names, lambda c: hashed("first_name", c,
                                            NormalisationConfig(strip_name_punctuation=True))),
        _expect(spark, [JANE, GARCIA_LOPEZ, JANE]), checkRowOrder=True)
    assert_frames(
        _one(spark, [" es ", "28001"], lambda c: plain("country", c, NormalisationConfig())),
        _expect(spark, ["es", "28001"]), checkRowOrder=True)
