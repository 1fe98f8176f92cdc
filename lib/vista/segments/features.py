"""Behavioural features of each customer: what they bought and what they viewed.

A *feature family* is one way of describing behaviour (the categories bought, the brands
bought, the price tiers bought, the categories of pages and videos viewed ...). Each
family reads one UID-keyed table (``gold/customer_order_lines`` or
``gold/customer_interactions``), takes a Spark SQL expression as the *term* of each row
and counts terms per customer inside a time window. Within a family, a customer's counts
become shares (they sum to 1; square-rooted by default), so a heavy buyer and a light
one with the same taste look alike. Each share is centred on the population's mean share
of the term, and a customer with no event of a family gets 0 in all its columns (no
evidence rather than "none of these"). Terms are weighted to favour what distinguishes
people: 1 / sqrt(mean share) (``chi2``, the chi-square metric of correspondence
analysis), the inverse document frequency (``idf``) or the inverse mean share
(``lift``). The family weight scales the whole block.

The vocabulary (the terms kept, at most ``max_terms`` per family, each bought or viewed
by at least ``min_customers`` customers) comes from the data, never from code; it is
small (hundreds of terms) and is the only thing brought to the driver. The features are
one column per term (``t0``, ``t1``, ...), built by one grouped aggregation with the
vocabulary as its fixed list of columns, so a model stores which term each column is and
a refresh builds the same columns. ``VectorAssembler`` then packs them into a vector
that is sparse where that is smaller.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import Field, field_validator
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from vista.config.models import Section
from vista.errors import VistaError

log = logging.getLogger(__name__)

SOURCES = ("order_lines", "interactions")


class FeatureError(VistaError):
    """Behavioural features cannot be built from the given tables and config."""


class FeatureFamily(Section):
    """One family of behavioural terms.

    Attributes:
        name: The family's name, shown in segment traits (``bought_category``).
        source: ``order_lines`` (``gold/customer_order_lines``) or ``interactions``
            (``gold/customer_interactions``).
        term: Spark SQL expression over the source's columns giving the term of a row
            (``category``, ``brand``, ``attrs['content_category']``); null or blank rows
            are skipped.
        where: Optional Spark SQL filter on the source (``channel IN ('web', 'app')``).
        weight: Multiplies the family's block of features (0 turns it off).
        max_terms: At most this many terms are kept (the most widespread ones).
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    source: Literal["order_lines", "interactions"]
    term: str
    where: str | None = None
    weight: float = Field(1.0, ge=0.0)
    max_terms: int = Field(50, ge=1, le=5000)


def _default_families() -> list[FeatureFamily]:
    return [
        FeatureFamily(name="bought_category", source="order_lines", term="category"),
        FeatureFamily(name="bought_brand", source="order_lines", term="brand", weight=0.5),
        FeatureFamily(name="bought_price_tier", source="order_lines", term="price_tier",
                      weight=0.5),
        FeatureFamily(name="viewed_category", source="interactions", term="category",
                      where="channel IN ('web', 'app')"),
    ]


class LifestyleFeaturesConfig(Section):
    """How behaviour becomes a feature vector per customer.

    Attributes:
        families: The feature families (see :class:`FeatureFamily`).
        window_days: Only events of the last ``window_days`` before the as-of date count
            (None: all history up to the as-of date).
        min_events: Customers with fewer counted events (all families together) get the
            "not enough data" segment instead of a cluster.
        min_customers: A term is kept only when at least this many customers have it.
        weighting: ``chi2`` (1 / sqrt of the term's mean share: the chi-square metric of
            correspondence analysis), ``idf`` (``1 + ln((1 + N) / (1 + customers with
            the term))``), ``lift`` (1 / the term's mean share) or ``none``.
        sqrt_shares: Take the square root of shares before weighting (the Hellinger
            transform; it damps a customer's single dominant term).
    """

    families: list[FeatureFamily] = Field(default_factory=_default_families, min_length=1)
    window_days: int | None = Field(730, ge=1)
    min_events: int = Field(5, ge=1)
    min_customers: int = Field(5, ge=1)
    weighting: Literal["chi2", "idf", "lift", "none"] = "chi2"
    sqrt_shares: bool = True

    @field_validator("families")
    @classmethod
    def _unique_names(cls, families: list[FeatureFamily]) -> list[FeatureFamily]:
        names = [f.name for f in families]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"feature family names must be unique; found {dupes} twice")
        return families

    def config_hash(self) -> str:
        """A short hash of this section: a model trained with another one is stale."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Term:
    """One feature column: a family's term, its column name and weight."""

    index: int
    family: str
    value: str
    customers: int
    weight: float
    mean: float = 0.0

    @property
    def column(self) -> str:
        return f"t{self.index}"

    @property
    def label(self) -> str:
        return f"{self.family}={self.value}"


@dataclass(frozen=True)
class Vocabulary:
    """The terms a model was trained on, in column order; JSON round-trips."""

    terms: tuple[Term, ...]

    @property
    def columns(self) -> list[str]:
        return [t.column for t in self.terms]

    @property
    def weights(self) -> list[float]:
        return [t.weight for t in self.terms]

    def to_json(self) -> str:
        return json.dumps([t.__dict__ for t in self.terms], ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Vocabulary:
        return cls(tuple(Term(**row) for row in json.loads(text)))


_COUNTS = T.StructType([
    T.StructField("uid", T.StringType(), False),
    T.StructField("family", T.StringType(), False),
    T.StructField("term", T.StringType(), False),
    T.StructField("n", T.LongType(), False),
])


def term_counts(sources: dict[str, DataFrame], cfg: LifestyleFeaturesConfig,
                as_of: date) -> DataFrame:
    """Count each customer's terms per family inside the window.

    Args:
        sources: ``order_lines`` and/or ``interactions`` frames with ``uid`` and ``ts``.
        cfg: The features config.
        as_of: Events after this date are ignored; the window ends here.

    Returns:
        ``uid, family, term, n`` (one row per customer, family and term).

    Raises:
        FeatureError: A family reads a source that was not given, or its expression
            does not apply to the source's columns.
    """
    end = F.lit(as_of + timedelta(days=1)).cast("timestamp")
    parts = []
    for fam in cfg.families:
        if fam.weight == 0:
            continue
        if fam.source not in sources:
            raise FeatureError(f"feature family {fam.name!r} reads {fam.source!r}, which is "
                               f"not available (have {sorted(sources)})")
        df = sources[fam.source].where(F.col("uid").isNotNull() & (F.col("ts") < end))
        if cfg.window_days:
            start = F.lit(as_of - timedelta(days=cfg.window_days - 1)).cast("timestamp")
            df = df.where(F.col("ts") >= start)
        try:
            if fam.where:
                df = df.where(F.expr(fam.where))
            terms = df.select("uid", F.trim(F.expr(fam.term).cast("string")).alias("term"))
        except Exception as exc:  # AnalysisException: a bad expression or column
            raise FeatureError(f"feature family {fam.name!r}: cannot apply term {fam.term!r}"
                               f" / where {fam.where!r} to {fam.source}: "
                               f"{str(exc).splitlines()[0]}") from exc
        parts.append(terms.where(F.col("term").isNotNull() & (F.col("term") != ""))
                     .groupBy("uid", "term").agg(F.count("*").alias("n"))
                     .select("uid", F.lit(fam.name).alias("family"), "term", "n"))
    if not parts:
        raise FeatureError("every feature family has weight 0; give one a positive weight")
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out


def eligible_customers(counts: DataFrame, min_events: int) -> DataFrame:
    """``uid, events``: customers with at least ``min_events`` counted events."""
    return (counts.groupBy("uid").agg(F.sum("n").alias("events"))
            .where(F.col("events") >= min_events))


def shares(counts: DataFrame, sqrt_shares: bool) -> DataFrame:
    """``uid, family, term, share``: each term's share of the customer's family total."""
    w_total = F.sum("n").over(_by_uid_family())
    share = F.col("n") / w_total
    return counts.select("uid", "family", "term",
                         (F.sqrt(share) if sqrt_shares else share).alias("share"))


def _by_uid_family():  # noqa: ANN202
    from pyspark.sql import Window

    return Window.partitionBy("uid", "family")


def build_vocabulary(share_rows: DataFrame, customers: int, cfg: LifestyleFeaturesConfig
                     ) -> Vocabulary:
    """Pick the terms of each family and weigh them.

    Args:
        share_rows: Output of :func:`shares`, restricted to eligible customers.
        customers: The number of eligible customers (N).
        cfg: The features config.

    Returns:
        The vocabulary, ordered by family (config order), then by customers descending
        and term.

    Raises:
        FeatureError: No term is shared by ``min_customers`` customers.
    """
    per_family = share_rows.groupBy("family").agg(F.countDistinct("uid").alias("fam_n"))
    stats = (share_rows.groupBy("family", "term")
             .agg(F.count("*").alias("customers"), F.sum("share").alias("share_sum"))
             .where(F.col("customers") >= cfg.min_customers)
             .join(per_family, on="family", how="inner"))
    # one row per (family, term) after the cut: small, bounded by max_terms per family
    rows = stats.collect()
    order = {f.name: i for i, f in enumerate(cfg.families)}
    family = {f.name: f for f in cfg.families}
    rows.sort(key=lambda r: (order[r["family"]], -r["customers"], r["term"]))
    kept, seen = [], {}
    for r in rows:
        seen[r["family"]] = seen.get(r["family"], 0) + 1
        if seen[r["family"]] <= family[r["family"]].max_terms:
            kept.append(r)
    if not kept:
        raise FeatureError(f"no behavioural term is shared by {cfg.min_customers} customers; "
                           "lower segments.lifestyle.features.min_customers or check that "
                           "the order lines and interactions carry the configured terms")
    terms = []
    for i, r in enumerate(kept):
        mean = float(r["share_sum"]) / max(int(r["fam_n"]), 1)
        terms.append(Term(index=i, family=r["family"], value=r["term"],
                          customers=int(r["customers"]), mean=mean,
                          weight=family[r["family"]].weight * _weight(cfg, r, customers, mean)))
    return Vocabulary(tuple(terms))


def _weight(cfg: LifestyleFeaturesConfig, row: Any, customers: int, mean: float) -> float:
    if cfg.weighting == "idf":
        return 1.0 + math.log((1.0 + customers) / (1.0 + row["customers"]))
    if cfg.weighting == "lift":
        return 1.0 / max(mean, 1e-12)
    if cfg.weighting == "chi2":
        return 1.0 / math.sqrt(max(mean, 1e-12))
    return 1.0


def feature_columns(share_rows: DataFrame, vocab: Vocabulary) -> DataFrame:
    """One row per customer with one column per vocabulary term.

    A column holds the customer's share of the term minus the population's mean share
    (among customers with the family), so "like everybody" is 0. A customer without
    any event of a family gets 0 in all its columns: no evidence, not "none of these",
    which keeps buyers and browsers with the same taste together.

    Args:
        share_rows: Output of :func:`shares` for the customers to describe.
        vocab: The terms, in column order.

    Returns:
        ``uid, t0, t1, ...`` (doubles); customers with none of the terms are absent.
    """
    index = share_rows.sparkSession.createDataFrame(
        [(t.family, t.value, t.index) for t in vocab.terms],
        "family string, term string, idx int")
    keyed = share_rows.join(F.broadcast(index), on=["family", "term"], how="inner")
    families = list(dict.fromkeys(t.family for t in vocab.terms))
    wide = keyed.groupBy("uid").agg(
        *[F.max(F.when(F.col("idx") == t.index, F.col("share"))).alias(t.column)
          for t in vocab.terms],
        *[F.max(F.when(F.col("family") == f, F.lit(True))).alias(f"_has_{f}")
          for f in families])
    return wide.select("uid", *[
        F.when(F.col(f"_has_{t.family}"), F.coalesce(F.col(t.column), F.lit(0.0))
               - F.lit(t.mean)).otherwise(F.lit(0.0)).alias(t.column)
        for t in vocab.terms])
