"""Why is this person one UID? The links among a UID's records, field by field.

Given the identity graph (``silver/identity_graph``: record_key, uid, ...) and the links
(``LINKS``), :func:`explain` returns the links among the records of one UID with
per-comparison match weights (probabilistic links are re-scored with the model), as a
DataFrame and as text. The text shows record keys, field names, comparison levels and
weights, never field values.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from vista.identity.errors import ExplainError
from vista.identity.link.splink_model import LINK_KIND, TrainedModel, explain_pairs

log = logging.getLogger(__name__)

EXPLANATION_COLUMNS = ["record_key_l", "record_key_r", "link_kind", "match_probability",
                       "comparison", "level", "label", "match_weight", "tf_adjustment_weight"]


@dataclass(frozen=True)
class Explanation:
    """The answer of :func:`explain`.

    Attributes:
        uid: The UID explained.
        record_keys: Its records.
        details: One row per (link, comparison); deterministic links have one row with
            ``comparison`` = the id kind.
        text: A readable rendering without field values.
    """

    uid: str
    record_keys: list[str]
    details: DataFrame
    text: str


def _resolve_uid(graph: DataFrame, uid_or_record_key: str) -> str:
    hit = graph.where(F.col("uid") == uid_or_record_key).select("uid").limit(1).collect()
    if hit:
        return hit[0].uid
    hit = graph.where(F.col("record_key") == uid_or_record_key).select("uid").limit(1).collect()
    if hit:
        return hit[0].uid
    raise ExplainError(f"{uid_or_record_key!r} is neither a uid nor a record_key "
                       "(<source>:<source_record_id>) of the identity graph; check the id "
                       "or run the identity stage first.")


def explain(
    uid_or_record_key: str,
    *,
    graph: DataFrame,
    links: DataFrame,
    records: DataFrame | None = None,
    model: TrainedModel | None = None,
    max_records: int = 200,
) -> Explanation:
    """Explain one UID: its records and the evidence linking them.

    Args:
        uid_or_record_key: A UID, or a record key ``<source>:<source_record_id>``.
        graph: The identity graph (at least ``record_key, uid``).
        links: The links table (``LINKS``).
        records: Person records; needed with ``model`` to re-score probabilistic links.
        model: The trained model; without it, probabilistic links show only their
            stored total weight.
        max_records: Refuse UIDs with more records (an over-merge to investigate in
            bulk, not one by one).

    Returns:
        The :class:`Explanation`.

    Raises:
        ExplainError: Unknown id, or the UID has more than ``max_records`` records.
    """
    uid = _resolve_uid(graph, uid_or_record_key)
    keys = sorted(r.record_key for r in graph.where(F.col("uid") == uid)
                  .select("record_key").distinct().limit(max_records + 1).collect())
    if len(keys) > max_records:
        raise ExplainError(f"uid {uid} has more than {max_records} records; raise "
                           "max_records or inspect it with a query on the identity graph.")
    spark = graph.sparkSession
    kdf = spark.createDataFrame([(k,) for k in keys], "record_key string")
    inside = (links.join(kdf.toDF("record_key_l"), "record_key_l", "left_semi")
              .join(kdf.toDF("record_key_r"), "record_key_r", "left_semi"))
    det = inside.where(F.col("link_kind") != LINK_KIND).select(
        "record_key_l", "record_key_r", "link_kind", "match_probability",
        F.regexp_extract("link_kind", r"^[^:]+:(.*)$", 1).alias("comparison"),
        F.lit(None).cast("int").alias("level"),
        F.lit("same identifier value").alias("label"),
        F.col("match_weight"), F.lit(None).cast("double").alias("tf_adjustment_weight"))
    prob = inside.where(F.col("link_kind") == LINK_KIND)
    if model is not None and records is not None:
        parts = explain_pairs(records, model, prob.select("record_key_l", "record_key_r"))
        prob_rows = parts.select(
            "record_key_l", "record_key_r", F.lit(LINK_KIND).alias("link_kind"),
            F.col("pair_match_probability").alias("match_probability"), "comparison", "level",
            "label", "match_weight", "tf_adjustment_weight")
    else:
        prob_rows = prob.select(
            "record_key_l", "record_key_r", "link_kind", "match_probability",
            F.lit("(total)").alias("comparison"), F.lit(None).cast("int").alias("level"),
            F.lit("stored link weight").alias("label"), "match_weight",
            F.lit(None).cast("double").alias("tf_adjustment_weight"))
    details = det.unionByName(prob_rows).select(*EXPLANATION_COLUMNS)
    return Explanation(uid=uid, record_keys=keys, details=details,
                       text=render(uid, keys, details))


def render(uid: str, keys: list[str], details: DataFrame) -> str:
    """Text rendering of an explanation (small: one UID's links)."""
    rows = details.orderBy("record_key_l", "record_key_r", "link_kind", "comparison").collect()
    sources = sorted({k.split(":", 1)[0] for k in keys})
    lines = [f"UID {uid}: {len(keys)} record(s) from {len(sources)} source(s) "
             f"({', '.join(sources)})", "records: " + ", ".join(keys)]
    pairs: dict[tuple[str, str, str], list] = {}
    for r in rows:
        pairs.setdefault((r.record_key_l, r.record_key_r, r.link_kind), []).append(r)
    lines.append(f"links ({len(pairs)}):")
    for (left, right, kind), parts in pairs.items():
        prob = parts[0].match_probability
        total = sum(p.match_weight or 0.0 for p in parts)
        head = f"  {left} -- {right}  {kind}"
        if prob is not None:
            head += f"  p={prob:.4f}"
        if kind == LINK_KIND:
            head += f"  field weights sum {total:+.2f}"
        lines.append(head)
        if kind == LINK_KIND:
            for p in sorted(parts, key=lambda p: -(p.match_weight or 0.0)):
                tf = f" (tf {p.tf_adjustment_weight:+.2f})" if p.tf_adjustment_weight else ""
                weight = "" if p.match_weight is None else f"{p.match_weight:+.2f}"
                lines.append(f"      {p.comparison:<18} {p.label:<45} {weight}{tf}")
    if not pairs:
        lines.append("  (none: a singleton, or linked only through records of other UIDs)")
    return "\n".join(lines)
