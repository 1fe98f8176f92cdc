"""The value half of the segments stage: RFM, lifecycle and lifetime value.

Reads ``gold/customer_profile`` (one row per active UID, with its ``as_of`` date) and
``gold/customer_orders``; writes ``gold/segments_rfm``, ``gold/segments_lifecycle`` and
``gold/clv`` by their changes only (:mod:`vista.segments.publish`), and appends this
run's transition counts to ``gold/segment_transitions``. Every table passes its quality
gate before anything is written.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from vista.errors import VistaError
from vista.segments import clv as clv_mod
from vista.segments.config import ClvConfig, SegmentsConfig
from vista.segments.lifecycle import STAGES, lifecycle_stages, with_transitions
from vista.segments.publish import Published, publish_changes
from vista.segments.rfm import rfm_segments
from vista.segments.transitions import transition_counts

if TYPE_CHECKING:  # pragma: no cover
    from vista.runtime import RunContext

log = logging.getLogger(__name__)

PROFILE_T = "gold/customer_profile"
ORDERS_T = "gold/customer_orders"
GRAPH_T = "silver/identity_graph"
RFM_T = "gold/segments_rfm"
LIFECYCLE_T = "gold/segments_lifecycle"
CLV_T = "gold/clv"
TRANSITIONS_T = "gold/segment_transitions"

PROFILE_COLUMNS = ["uid", "as_of", "recency_days", "frequency", "monetary"]
ORDER_COLUMNS = ["uid", "ts", "amount_reporting"]
CLV_COLUMNS = ["uid", "as_of", "frequency", "recency", "T", "monetary", "p_alive",
               "expected_purchases", "expected_spend", "clv", "clv_tier"]


class SegmentsInputError(VistaError):
    """The profile tables the segments stage reads are missing or lack columns."""


@dataclass
class ValueSegments:
    """The three assignments of one refresh, before they are published.

    Attributes:
        as_of: The profile's as-of date.
        rfm: ``gold/segments_rfm`` rows (without ``run_id``).
        lifecycle: ``gold/segments_lifecycle`` rows (without ``run_id``).
        clv: ``gold/clv`` rows (without ``run_id``).
        summary: The CLV summary of every buyer.
        model: The fitted CLV models.
        transitions: Transition counts of RFM segments and lifecycle stages.
        extra: Figures for metrics (independence check, ...).
    """

    as_of: dt.date
    rfm: DataFrame
    lifecycle: DataFrame
    clv: DataFrame
    summary: DataFrame
    model: clv_mod.ClvModel
    transitions: DataFrame
    extra: dict[str, float] = field(default_factory=dict)


def segments_config(config: Any) -> SegmentsConfig:
    """The ``segments`` section of the root config (defaults when it has none)."""
    section = getattr(config, "segments", None)
    return section if isinstance(section, SegmentsConfig) else SegmentsConfig()


def read_inputs(ctx: RunContext) -> tuple[DataFrame, DataFrame]:
    """``(profile, orders)`` with the columns the value segmentations need.

    Raises:
        SegmentsInputError: A table is missing or lacks columns.
    """
    frames = []
    for table, columns in ((PROFILE_T, PROFILE_COLUMNS), (ORDERS_T, ORDER_COLUMNS)):
        if not ctx.lake.exists(table):
            raise SegmentsInputError(f"{table} does not exist; run the profile stage first "
                                     f"(vista run --stages profile segments)")
        df = ctx.lake.read(table)
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise SegmentsInputError(f"{table} lacks column(s) {missing}; expected at least "
                                     f"{columns}")
        frames.append(df)
    profile, orders = frames
    uids = profile.select("uid")
    # the profile's as-of cut applies to every reader: later orders are ignored downstream
    return profile, orders.join(uids, on="uid", how="left_semi").select(ORDER_COLUMNS)


def profile_as_of(profile: DataFrame) -> dt.date:
    """The profile's as-of date (one value on every row).

    Raises:
        SegmentsInputError: The profile is empty or mixes dates.
    """
    row = profile.agg(F.min("as_of").alias("lo"), F.max("as_of").alias("hi")).first()
    if row is None or row["lo"] is None:
        raise SegmentsInputError(f"{PROFILE_T} is empty; nothing to segment")
    if row["lo"] != row["hi"]:
        raise SegmentsInputError(f"{PROFILE_T} mixes as-of dates ({row['lo']} to {row['hi']});"
                                 f" rebuild it with one --as-of")
    return row["lo"]


def clv_table(summary: DataFrame, model: clv_mod.ClvModel, cfg: ClvConfig,
              as_of: dt.date) -> DataFrame:
    """``gold/clv`` rows: scores plus ``clv_tier`` from CLV quantiles (equal CLV, equal
    tier; the top tier takes the first share)."""
    scored = clv_mod.score(summary, model).checkpoint(eager=True)
    broken = scored.where(F.isnan("clv") | F.isnan("p_alive")
                          | F.isnan("expected_purchases")).count()
    if broken:
        raise clv_mod.ClvFitError(
            f"{broken} customer(s) got a non-finite CLV or P(alive): the fitted parameters "
            f"{ {k: round(v, 6) for k, v in model.as_dict().items()} } sit where the "
            f"expectation's hypergeometric series breaks down; set a small "
            f"segments.clv.l2_penalty (e.g. 0.01) or use more purchase history")
    probs, acc = [], 0.0
    for tier in cfg.tiers[:-1]:
        acc += tier.share
        probs.append(1.0 - acc)
    cuts = scored.approxQuantile("clv", probs, cfg.relative_error) if probs else []
    tier = F.lit(cfg.tiers[-1].name)
    for t, cut in reversed(list(zip(cfg.tiers[:-1], cuts, strict=True))):
        tier = F.when(F.col("clv") >= F.lit(cut), F.lit(t.name)).otherwise(tier)
    return scored.select(
        "uid", F.lit(as_of).alias("as_of"), "frequency", "recency", "T", "monetary",
        "p_alive", "expected_purchases", "expected_spend", "clv", tier.alias("clv_tier"))


def independence_check(summary: DataFrame, cfg: ClvConfig) -> dict[str, float]:
    """Gamma-Gamma's assumption: frequency and average spend of repeat buyers are
    uncorrelated. Returns the Pearson correlation (logged; a warning past the limit)."""
    corr = (summary.where((F.col("frequency") > 0) & (F.col("monetary") > 0))
            .agg(F.corr(F.col("frequency").cast("double"), "monetary").alias("c")).first()["c"])
    value = float(corr) if corr is not None else 0.0
    if abs(value) > cfg.independence_max_corr:
        log.warning("clv: frequency and average spend correlate (%.3f, limit %.2f): "
                    "Gamma-Gamma assumes they do not, so expected spend is biased for "
                    "frequent buyers", value, cfg.independence_max_corr)
    else:
        log.info("clv: frequency/spend correlation %.3f (Gamma-Gamma independence holds "
                 "within %.2f)", value, cfg.independence_max_corr)
    return {"clv_frequency_spend_corr": value}


def compute(ctx: RunContext, cfg: SegmentsConfig) -> ValueSegments:
    """Compute the three assignments and the transitions, without writing anything."""
    lake = ctx.lake
    profile, orders = read_inputs(ctx)
    as_of = profile_as_of(profile)
    profile = profile.select(*PROFILE_COLUMNS).checkpoint(eager=True)
    orders = orders.checkpoint(eager=True)
    rfm = rfm_segments(profile, cfg.rfm).checkpoint(eager=True)
    previous = lake.read(LIFECYCLE_T) if lake.exists(LIFECYCLE_T) else None
    lifecycle = with_transitions(lifecycle_stages(profile, orders, cfg.lifecycle, as_of),
                                 previous).checkpoint(eager=True)
    c = cfg.clv
    summary = clv_mod.customer_summary(orders, as_of, c.unit_days).checkpoint(eager=True)
    model = clv_mod.fit(summary, l2=c.l2_penalty, max_iterations=c.max_iterations,
                        monetary_precision=c.monetary_precision, horizon=c.horizon,
                        discount_per_unit=c.discount_per_unit, unit_days=c.unit_days,
                        min_repeat_buyers=c.min_repeat_buyers)
    clv = clv_table(summary, model, c, as_of)
    prev_rfm = lake.read(RFM_T) if lake.exists(RFM_T) else None
    transitions = transition_counts(prev_rfm, rfm, "rfm").unionByName(
        transition_counts(previous, lifecycle, "lifecycle", column="stage"))
    return ValueSegments(as_of=as_of, rfm=rfm, lifecycle=lifecycle, clv=clv,
                         summary=summary, model=model,
                         transitions=transitions.checkpoint(eager=True),
                         extra=independence_check(summary, c))


def consistency(profile_uids: DataFrame, out: ValueSegments) -> DataFrame:
    """One row per profile UID (and per stray UID): whether it has exactly one RFM row and
    one lifecycle row and nothing else: ``uid, ok``."""
    def per_uid(df: DataFrame, name: str) -> DataFrame:
        return df.groupBy("uid").agg(F.count("*").alias(name))

    joined = (profile_uids.select("uid", F.lit(True).alias("in_profile"))
              .join(per_uid(out.rfm, "n_rfm"), on="uid", how="full_outer")
              .join(per_uid(out.lifecycle, "n_lifecycle"), on="uid", how="full_outer"))
    ok = (F.coalesce("in_profile", F.lit(False)) & (F.col("n_rfm") == 1)
          & (F.col("n_lifecycle") == 1))
    return joined.select("uid", F.coalesce(ok, F.lit(False)).alias("ok"))


def gate_value(profile_uids: DataFrame, out: ValueSegments, cfg: SegmentsConfig) -> list:
    """Great Expectations on the three assignments; raises on a critical failure."""
    from vista.quality import ExpectationSpec, gate

    def spec(kind: str, critical: bool = True, **kw: Any) -> ExpectationSpec:
        return ExpectationSpec(type=f"expect_{kind}", kwargs=kw, critical=critical)

    def keyed(column: str = "uid") -> list[ExpectationSpec]:
        return [spec("column_values_to_not_be_null", column=column),
                spec("column_values_to_be_unique", column=column)]

    bins = cfg.rfm.bins
    names = cfg.rfm.segment_names()
    rfm_specs = [*keyed(), spec("column_values_to_not_be_null", column="segment"),
                 spec("column_values_to_be_in_set", column="segment", value_set=names),
                 *[spec("column_values_to_be_between", column=c, min_value=1, max_value=bins)
                   for c in ("r_score", "f_score", "m_score")]]
    if cfg.rfm.empty_segments != "allow":
        rfm_specs.append(spec("column_distinct_values_to_contain_set", column="segment",
                              value_set=names[:-1],
                              critical=cfg.rfm.empty_segments == "error"))
    lc_specs = [*keyed(), spec("column_values_to_be_in_set", column="stage",
                               value_set=list(STAGES)),
                spec("column_values_to_not_be_null", column="stage"),
                spec("column_values_to_not_be_null", column="changed_at")]
    clv_specs = [*keyed(), spec("column_values_to_not_be_null", column="clv"),
                 spec("column_values_to_be_between", column="clv", min_value=0),
                 spec("column_values_to_be_between", column="expected_purchases", min_value=0),
                 spec("column_values_to_be_between", column="p_alive", min_value=0,
                      max_value=1),
                 spec("column_values_to_be_in_set", column="clv_tier",
                      value_set=[t.name for t in cfg.clv.tiers])]
    checks = consistency(profile_uids, out)
    return [gate(out.rfm, RFM_T, rfm_specs), gate(out.lifecycle, LIFECYCLE_T, lc_specs),
            gate(out.clv, CLV_T, clv_specs),
            gate(checks, f"{RFM_T}#one_per_uid",
                 [spec("column_values_to_be_in_set", column="ok", value_set=[True])])]


def publish(ctx: RunContext, out: ValueSegments) -> list[Published]:
    """Write the three tables by their changes, and append the transition counts."""
    lake = ctx.lake
    written = [publish_changes(lake, RFM_T, out.rfm, ctx.run_id),
               publish_changes(lake, LIFECYCLE_T, out.lifecycle, ctx.run_id),
               publish_changes(lake, CLV_T, out.clv, ctx.run_id)]
    lake.append(TRANSITIONS_T, out.transitions.select(
        "segmentation", "previous", "current", "customers",
        F.lit(out.as_of).alias("as_of"), F.lit(ctx.run_id).alias("run_id")))
    return written


def sizes(df: DataFrame, column: str) -> dict[str, int]:
    """Customers per value of ``column`` (a handful of segments)."""
    rows = df.groupBy(column).agg(F.count("*").alias("n")).collect()
    return {str(r[column]): int(r["n"]) for r in sorted(rows, key=lambda r: -r["n"])}
