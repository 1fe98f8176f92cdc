"""Canonical schemas: the contract between stages, as ``StructType`` constants.

Silver tables have exactly these columns (in this order). Source-specific extras go in
the ``attrs`` map so no source needs a schema change downstream.

Identifiers a record carries are in ``ids``: a map from an id *kind* declared in config
(for example ``crm_id``, ``account_id``, ``loyalty_card``, ``device_id``) to its value.
Identity resolution links records that share a strong id kind/value.
"""

from __future__ import annotations

from pyspark.sql import types as T

_IDS = T.MapType(T.StringType(), T.StringType())
_ATTRS = T.MapType(T.StringType(), T.StringType())

# One row per identity-bearing source record (CRM contact, e-commerce account, loyalty
# member, a support ticket's contact, ...). `record_key` = "<source>:<source_record_id>".
PERSON_RECORDS = T.StructType(
    [
        T.StructField("record_key", T.StringType(), False),
        T.StructField("source", T.StringType(), False),
        T.StructField("source_record_id", T.StringType(), False),
        T.StructField("ids", _IDS, True),
        T.StructField("first_name", T.StringType(), True),  # as delivered
        T.StructField("last_name", T.StringType(), True),  # as delivered
        T.StructField("first_name_std", T.StringType(), True),  # lower, accents folded
        T.StructField("last_name_std", T.StringType(), True),  # lower, accents folded
        T.StructField("full_name_std", T.StringType(), True),
        T.StructField("email", T.StringType(), True),  # as delivered
        T.StructField("email_std", T.StringType(), True),  # lower-cased, trimmed, valid or null
        T.StructField("phone", T.StringType(), True),  # as delivered
        T.StructField("phone_e164", T.StringType(), True),
        # the person's further numbers (work, second mobile), E.164, without phone_e164
        T.StructField("other_phones_e164", T.ArrayType(T.StringType()), True),
        T.StructField("birth_date", T.DateType(), True),
        T.StructField("gender", T.StringType(), True),
        T.StructField("address", T.StringType(), True),  # as delivered
        T.StructField("address_std", T.StringType(), True),
        T.StructField("postal_code", T.StringType(), True),
        T.StructField("city", T.StringType(), True),
        T.StructField("country", T.StringType(), True),  # ISO 3166-1 alpha-2
        T.StructField("consent_email", T.BooleanType(), True),
        T.StructField("consent_sms", T.BooleanType(), True),
        T.StructField("consent_profiling", T.BooleanType(), True),
        T.StructField("observed_at", T.TimestampType(), True),  # when the source last saw it
        T.StructField("attrs", _ATTRS, True),
        T.StructField("batch_id", T.StringType(), True),
    ]
)

ORDERS = T.StructType(
    [
        T.StructField("order_key", T.StringType(), False),  # "<source>:<order_id>"
        T.StructField("source", T.StringType(), False),
        T.StructField("order_id", T.StringType(), False),
        T.StructField("ids", _IDS, True),
        T.StructField("ts", T.TimestampType(), False),
        T.StructField("channel", T.StringType(), True),  # online | store | ...
        T.StructField("store_id", T.StringType(), True),
        T.StructField("currency", T.StringType(), True),
        T.StructField("amount", T.DoubleType(), True),
        T.StructField("amount_reporting", T.DoubleType(), True),
        T.StructField("discount_amount", T.DoubleType(), True),
        T.StructField("n_items", T.IntegerType(), True),
        T.StructField("attrs", _ATTRS, True),
        T.StructField("batch_id", T.StringType(), True),
    ]
)

ORDER_LINES = T.StructType(
    [
        T.StructField("order_key", T.StringType(), False),
        T.StructField("line_no", T.IntegerType(), False),
        T.StructField("source", T.StringType(), False),
        T.StructField("product_id", T.StringType(), True),
        T.StructField("category", T.StringType(), True),
        T.StructField("brand", T.StringType(), True),
        T.StructField("price_tier", T.StringType(), True),
        T.StructField("quantity", T.IntegerType(), True),
        T.StructField("unit_price", T.DoubleType(), True),
        T.StructField("amount", T.DoubleType(), True),
        T.StructField("currency", T.StringType(), True),
        T.StructField("amount_reporting", T.DoubleType(), True),
        T.StructField("promo", T.BooleanType(), True),
        T.StructField("attrs", _ATTRS, True),
        T.StructField("batch_id", T.StringType(), True),
    ]
)

# Web, app, email, support and survey events in one long table.
INTERACTIONS = T.StructType(
    [
        T.StructField("event_key", T.StringType(), False),  # "<source>:<event id or hash>"
        T.StructField("source", T.StringType(), False),
        T.StructField("ids", _IDS, True),
        T.StructField("ts", T.TimestampType(), False),
        T.StructField("channel", T.StringType(), False),  # web | app | email | support | survey
        T.StructField("type", T.StringType(), False),  # page_view, search, open, ticket, ...
        T.StructField("category", T.StringType(), True),
        T.StructField("content", T.StringType(), True),
        T.StructField("value", T.DoubleType(), True),
        T.StructField("attrs", _ATTRS, True),
        T.StructField("batch_id", T.StringType(), True),
    ]
)

# Pairwise evidence that two person records are the same person.
LINKS = T.StructType(
    [
        T.StructField("record_key_l", T.StringType(), False),
        T.StructField("record_key_r", T.StringType(), False),
        T.StructField("link_kind", T.StringType(), False),  # "deterministic:<id kind>" | "probabilistic"
        T.StructField("match_weight", T.DoubleType(), True),
        T.StructField("match_probability", T.DoubleType(), True),
    ]
)
