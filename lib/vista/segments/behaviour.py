"""The behavioural half of the segments stage: lifestyle, intent, micro-segments, catalogue.

Reads the profile stage's UID-keyed tables (``gold/customer_order_lines``,
``gold/customer_interactions``, ``gold/customer_profile``) and the value segmentations
the stage has just written; writes ``gold/segments_lifestyle``,
``gold/segments_intent``, ``gold/micro_segments`` and ``gold/segment_catalogue``, and
appends the lifestyle and micro-segment transitions to ``gold/segment_transitions``.
Every table passes its quality gate before anything is written. The refresh's MLflow run
(``segments``, shared with the value half) gets the k search, sizes, drift, the registered
lifestyle model, plots and the catalogue as CSV.

A refresh assigns customers with the registered lifestyle model; it trains a new one
only with ``--retrain``, when none is registered, when the config that shapes it
changed, or when the drift of segment shares since training exceeds
``segments.lifestyle.max_drift``.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from vista.errors import VistaError
from vista.segments import features as fe
from vista.segments import lifestyle as ls
from vista.segments.catalogue import (
    CATALOGUE_SCHEMA,
    Segmentation,
    catalogue_rows,
    survey_answers,
)
from vista.segments.intent import intent_segments
from vista.segments.lifestyle_model import LifestyleModel, load_latest
from vista.segments.micro import fold, overlay
from vista.segments.transitions import changed_share, transition_counts

if TYPE_CHECKING:  # pragma: no cover
    from vista.runtime import RunContext
    from vista.segments.config import SegmentsConfig

log = logging.getLogger(__name__)

PROFILE_T = "gold/customer_profile"
LINES_T = "gold/customer_order_lines"
EVENTS_T = "gold/customer_interactions"
LIFESTYLE_T = "gold/segments_lifestyle"
INTENT_T = "gold/segments_intent"
MICRO_T = "gold/micro_segments"
CATALOGUE_T = "gold/segment_catalogue"
TRANSITIONS_T = "gold/segment_transitions"
GRAPH_T = "silver/identity_graph"
MIN_ELIGIBLE = 4  # two clusters of two: below this nothing can be clustered


class BehaviourInputError(VistaError):
    """A table the behavioural segmentations read is missing."""


def materialise(df: DataFrame) -> DataFrame:
    """Compute ``df`` once and cut its lineage (reliable checkpoint when configured)."""
    if df.sparkSession.sparkContext.getCheckpointDir():
        return df.checkpoint(eager=True)
    return df.localCheckpoint(eager=True)


# --------------------------------------------------------------------------- lifestyle


@dataclass
class LifestyleOutcome:
    """What the lifestyle step produced."""

    assignments: DataFrame  # uid, as_of, segment_id, segment, model_version
    model: LifestyleModel
    retrained: bool
    reason: str
    drift: float | None = None
    selection: ls.Selection | None = None
    eligible: int = 0
    metrics: dict[str, float] = field(default_factory=dict)


def _assign(fitted: LifestyleModel, feats: DataFrame, customers: DataFrame,
            as_of: dt.date, insufficient: str) -> DataFrame:
    """Every customer's segment id and name under ``fitted`` (0 without enough data)."""
    if fitted.model is None:  # too little behaviour in the whole lake to cluster
        return customers.select("uid", F.lit(as_of).alias("as_of"),
                                F.lit(ls.INSUFFICIENT_ID).alias("segment_id"),
                                F.lit(insufficient).alias("segment"),
                                F.lit(None).cast("string").alias("model_version"))
    spark = feats.sparkSession
    names = spark.createDataFrame(
        [(s.cluster, s.segment_id, s.name) for s in fitted.segments if s.cluster is not None],
        "cluster int, segment_id int, segment string")
    pred = fitted.model.transform(feats).select("uid", F.col("cluster").cast("int"))
    pred = pred.join(F.broadcast(names), on="cluster", how="inner")
    return (customers.select("uid").join(pred, on="uid", how="left")
            .select("uid", F.lit(as_of).alias("as_of"),
                    F.coalesce("segment_id", F.lit(ls.INSUFFICIENT_ID)).cast("int")
                    .alias("segment_id"),
                    F.coalesce("segment", F.lit(insufficient)).alias("segment"),
                    F.lit(fitted.version).cast("string").alias("model_version")))


def _shares_of(assignments: DataFrame) -> dict[int, float]:
    rows = assignments.groupBy("segment_id").count().collect()  # one row per segment
    total = sum(r["count"] for r in rows)
    return {int(r["segment_id"]): r["count"] / total for r in rows} if total else {}


def _train(share_rows: DataFrame, eligible: int, customers: int, cfg: ls.LifestyleConfig
           ) -> tuple[LifestyleModel, DataFrame, ls.Selection]:
    vocab = fe.build_vocabulary(share_rows, eligible, cfg.features)
    feats = materialise(fe.feature_columns(share_rows, vocab))
    vecs = materialise(ls.vectors(feats, vocab))
    log.info("lifestyle: training on %d customers, %d terms", eligible, len(vocab.terms))
    selection = ls.select_k(vecs, cfg, eligible)
    model = ls.fit_model(feats, vocab, selection.k, cfg)
    profiles = ls.cluster_profiles(model.transform(feats), vocab, cfg.features.sqrt_shares)
    described = sum(n for n, _ in profiles.values())
    segments = ls.name_segments(profiles, vocab, cfg, customers - described)
    return (LifestyleModel(model, vocab, tuple(segments), cfg.model_hash()), feats, selection)


def lifestyle_refresh(ctx: RunContext, cfg: ls.LifestyleConfig, customers: DataFrame,
                      sources: dict[str, DataFrame], as_of: dt.date) -> LifestyleOutcome:
    """Assign every customer a lifestyle segment, retraining only when needed.

    Args:
        ctx: The run context (``options["retrain"]`` forces training).
        cfg: The lifestyle config.
        customers: ``uid`` of every active customer (the profile).
        sources: UID-keyed ``order_lines`` and ``interactions``.
        as_of: The profile's as-of date.

    Returns:
        The assignments (not yet written) and the model that made them.
    """
    counts = fe.term_counts(sources, cfg.features, as_of).join(
        customers.select("uid"), on="uid", how="left_semi")
    counts = materialise(counts)
    eligible = fe.eligible_customers(counts, cfg.features.min_events)
    share_rows = materialise(fe.shares(counts.join(eligible, on="uid", how="left_semi"),
                                       cfg.features.sqrt_shares))
    n_customers = customers.count()
    n_eligible = eligible.count()
    loaded = None if ctx.options.get("retrain") else load_latest(
        ctx.config.mlflow, cfg.registered_model, ctx.spark)
    reason = "retrain asked" if ctx.options.get("retrain") else "no registered model"
    if loaded is not None and loaded.model_hash != cfg.model_hash():
        reason, loaded = "the lifestyle config changed", None
    if loaded is not None:
        feats = fe.feature_columns(share_rows, loaded.vocabulary)
        assigned = materialise(_assign(loaded, feats, customers, as_of, cfg.insufficient_name))
        drift = ls.population_stability(loaded.training_shares(), _shares_of(assigned))
        if drift <= cfg.max_drift:
            log.info("lifestyle: assigned with registered version %s (drift %.4f)",
                     loaded.version, drift)
            return LifestyleOutcome(assigned, loaded, False, "registered model", drift,
                                    eligible=n_eligible)
        reason = f"drift {drift:.4f} > {cfg.max_drift}"
    log.info("lifestyle: training a model (%s)", reason)
    try:
        if n_eligible < MIN_ELIGIBLE:
            raise fe.FeatureError(f"{n_eligible} customer(s) have {cfg.features.min_events} "
                                  f"or more counted events; {MIN_ELIGIBLE} are needed")
        fitted, feats, selection = _train(share_rows, n_eligible, n_customers, cfg)
    except fe.FeatureError as exc:
        log.warning("lifestyle: too little behaviour to cluster (%s); every customer is "
                    "'%s' and no model is registered", exc, cfg.insufficient_name)
        empty = LifestyleModel(None, fe.Vocabulary(()), (ls.SegmentInfo(
            ls.INSUFFICIENT_ID, None, cfg.insufficient_name, "too little behaviour in the "
            "lake to cluster", n_customers, 1.0),), cfg.model_hash())
        assigned = materialise(_assign(empty, customers, customers, as_of,
                                       cfg.insufficient_name))
        return LifestyleOutcome(assigned, empty, False, str(exc), eligible=n_eligible)
    assigned = materialise(_assign(fitted, feats, customers, as_of, cfg.insufficient_name))
    return LifestyleOutcome(assigned, fitted, True, reason, None, selection, n_eligible)


# --------------------------------------------------------------------------- the rest


def _read(ctx: RunContext, table: str) -> DataFrame:
    if not ctx.lake.exists(table):
        raise BehaviourInputError(f"{table} is missing; run the profile stage first "
                                  "(vista run --stages profile segments)")
    return ctx.lake.read(table)


def _optional(ctx: RunContext, table: str) -> DataFrame | None:
    return ctx.lake.read(table) if ctx.lake.exists(table) else None


def _micro(ctx: RunContext, cfg: SegmentsConfig, customers: DataFrame,
           lifestyle: DataFrame) -> DataFrame | None:
    frames = {}
    for dim in cfg.micro.dimensions:
        if dim.table == LIFESTYLE_T:
            frames[dim.name] = lifestyle.select("uid", F.col(dim.column).alias("segment"))
            continue
        df = _optional(ctx, dim.table)
        if df is None:
            log.warning("micro-segments: %s is missing; dimension %s is '%s' for everyone",
                        dim.table, dim.name, cfg.micro.missing)
            df = customers.select("uid", F.lit(None).cast("string").alias(dim.column))
        frames[dim.name] = df.select("uid", F.col(dim.column).alias("segment"))
    assigned = overlay(frames, customers, cfg.micro.missing)
    return fold(assigned, list(frames), cfg.micro)


def _value_segmentations(ctx: RunContext, cfg: SegmentsConfig) -> list[Segmentation]:
    out = []
    rfm = _optional(ctx, "gold/segments_rfm")
    if rfm is not None:
        desc = {r.name: r.description for r in cfg.rfm.segments if r.description}
        out.append(Segmentation("rfm", rfm.select("uid", "segment"), desc))
    life = _optional(ctx, "gold/segments_lifecycle")
    if life is not None:
        out.append(Segmentation("lifecycle", life.select("uid", F.col("stage").alias("segment"))))
    clv = _optional(ctx, "gold/clv")
    if clv is not None and "clv_tier" in clv.columns:
        out.append(Segmentation("clv", clv.where(F.col("clv_tier").isNotNull())
                                .select("uid", F.col("clv_tier").alias("segment"))))
    return out


def _gate(lifestyle: DataFrame, customers: int, cfg: ls.LifestyleConfig,
          sizes: dict[str, int], ctx: RunContext) -> None:
    from vista.quality import ExpectationSpec, gate

    def spec(kind: str, critical: bool = True, **kw: Any) -> ExpectationSpec:
        return ExpectationSpec(type=f"expect_{kind}", kwargs=kw, critical=critical)

    ctx.manifest.record_quality(gate(lifestyle, LIFESTYLE_T, [
        spec("column_values_to_not_be_null", column="uid"),
        spec("column_values_to_be_unique", column="uid"),
        spec("column_values_to_not_be_null", column="segment"),
        spec("table_row_count_to_equal", value=customers),
    ]))
    clustered = {k: v for k, v in sizes.items() if k != cfg.insufficient_name}
    total = sum(clustered.values())
    rows = [(name, n, n / total if total else 0.0) for name, n in clustered.items()]
    frame = ctx.spark.createDataFrame(rows, "segment string, size long, share double")
    ctx.manifest.record_quality(gate(frame, f"{LIFESTYLE_T}#sizes", [
        spec("column_values_to_be_between", column="size", min_value=1),
        spec("column_values_to_be_between", critical=cfg.size_bounds == "error",
             column="share", min_value=cfg.min_segment_share,
             max_value=cfg.max_segment_share),
    ]))


def _sizes(assignments: DataFrame, fitted: LifestyleModel) -> dict[str, int]:
    """Customers per segment name, every segment of the model included (0 when empty)."""
    rows = assignments.groupBy("segment").count().collect()  # one row per segment
    got = {r["segment"]: int(r["count"]) for r in rows}
    return {s.name: got.pop(s.name, 0) for s in fitted.segments} | got


def _lifestyle_metrics(out: LifestyleOutcome, sizes: dict[str, int]) -> dict[str, float]:
    m: dict[str, float] = {"lifestyle_retrained": float(out.retrained),
                           "lifestyle_segments": float(sum(1 for s in out.model.segments
                                                           if s.cluster is not None)),
                           "lifestyle_eligible": float(out.eligible),
                           "lifestyle_insufficient": float(sizes.get(
                               out.model.segments[0].name, 0))}
    if out.drift is not None:
        m["lifestyle_drift_psi"] = out.drift
    if out.selection is not None:
        m["lifestyle_k"] = float(out.selection.k)
        m["lifestyle_k_stable_found"] = float(out.selection.stable_found)
        for s in out.selection.scores:
            m[f"lifestyle_silhouette_k{s.k}"] = s.silhouette
            m[f"lifestyle_stability_ari_k{s.k}"] = s.stability
            m[f"lifestyle_stability_jaccard_k{s.k}"] = s.jaccard
    return m


def _truth_metrics(ctx: RunContext, cfg: ls.LifestyleConfig, assigned: DataFrame
                   ) -> dict[str, float]:
    """ARI against known latent labels, when ``segments.lifestyle.truth`` is set."""
    from vista.segments.lifestyle_truth import lifestyle_ari, uid_labels

    truth = cfg.truth
    if truth.persons is None or truth.record_person is None:
        return {}
    try:
        persons = ctx.spark.read.parquet(truth.persons)
        record_person = ctx.spark.read.parquet(truth.record_person)
        labels = uid_labels(_read(ctx, GRAPH_T), record_person, persons, truth.label)
        ari, scored = lifestyle_ari(assigned, labels)
    except BehaviourInputError:
        raise
    except Exception as exc:  # a wrong path or column: say which setting to fix
        raise BehaviourInputError(
            f"segments.lifestyle.truth: cannot score against {truth.persons} / "
            f"{truth.record_person} (label {truth.label!r}): {str(exc).splitlines()[0]}"
        ) from exc
    log.info("lifestyle: adjusted Rand index %.4f against %s on %d customers", ari,
             truth.label, scored)
    return {"lifestyle_ari": ari, "lifestyle_ari_customers": float(scored)}


def run_behavioural(ctx: RunContext, cfg: SegmentsConfig) -> dict[str, Any]:
    """Lifestyle, intent, micro-segments and the catalogue for every profile UID.

    Args:
        ctx: The run context (``options``: ``retrain``, ``gate``).
        cfg: The ``segments`` config section.

    Returns:
        Metrics for the stage's INFO line and the manifest.

    Raises:
        BehaviourInputError: The profile tables are missing or too thin.
        QualityGateFailed: An assignment failed its gate; nothing was written.
    """
    from vista.segments import behaviour_tracking

    lake = ctx.lake
    profile = _read(ctx, PROFILE_T)
    as_of = profile.select("as_of").first()["as_of"]  # the same value on every row
    customers = materialise(profile.select("uid").distinct())
    n_customers = customers.count()
    lines, events = _read(ctx, LINES_T), _read(ctx, EVENTS_T)
    sources = {"order_lines": lines, "interactions": events}
    metrics: dict[str, Any] = {"behaviour_customers": n_customers}
    life = lifestyle_refresh(ctx, cfg.lifestyle, customers, sources, as_of)
    sizes = _sizes(life.assignments, life.model)
    metrics.update(_lifestyle_metrics(life, sizes))
    metrics.update(_truth_metrics(ctx, cfg.lifestyle, life.assignments))
    if ctx.options.get("gate", True):
        _gate(life.assignments, n_customers, cfg.lifestyle, sizes, ctx)
    with behaviour_tracking.run(ctx, cfg) as tracker:
        if life.retrained:
            life.model = behaviour_tracking.register(life.model, cfg.lifestyle, ctx.spark)
            life.assignments = life.assignments.withColumn(
                "model_version", F.lit(life.model.version))
        prev_life = _optional(ctx, LIFESTYLE_T)
        prev_life = materialise(prev_life.select("uid", "segment")) if prev_life else None
        lifestyle = materialise(life.assignments.withColumn("run_id", F.lit(ctx.run_id)))
        lake.overwrite(LIFESTYLE_T, lifestyle)
        transitions = transition_counts(prev_life, lifestyle, "lifestyle")
        if cfg.intent.enabled:
            intent = materialise(intent_segments(events, lines, cfg.intent, as_of, ctx.run_id))
            lake.overwrite(INTENT_T, intent)
            metrics["intent_rows"] = intent.count()
            metrics["intent_customers"] = intent.select("uid").distinct().count()
        micro = None
        if cfg.micro.enabled:
            prev_micro = _optional(ctx, MICRO_T)
            prev_micro = (materialise(prev_micro.select("uid", "micro_segment"))
                          if prev_micro else None)
            micro = materialise(_micro(ctx, cfg, customers, lifestyle)
                                .withColumn("run_id", F.lit(ctx.run_id)))
            lake.overwrite(MICRO_T, micro)
            metrics["micro_segments"] = micro.select("micro_segment").distinct().count()
            transitions = transitions.unionByName(transition_counts(
                prev_micro, micro, "micro", column="micro_segment"))
        transitions = materialise(transitions)
        lake.append(TRANSITIONS_T, transitions.select(
            "segmentation", "previous", "current", "customers",
            F.lit(as_of).alias("as_of"), F.lit(ctx.run_id).alias("run_id")))
        metrics["lifestyle_changed_share"] = changed_share(
            transitions.where(F.col("segmentation") == "lifestyle"))
        if cfg.catalogue.enabled:
            catalogue = _catalogue(ctx, cfg, profile, events, life, lifestyle, micro, as_of)
            lake.overwrite(CATALOGUE_T, catalogue)
            tracker.catalogue = catalogue
        tracker.log(metrics, life, sizes, transitions, cfg)
    return metrics


def _catalogue(ctx: RunContext, cfg: SegmentsConfig, profile: DataFrame, events: DataFrame,
               life: LifestyleOutcome, lifestyle: DataFrame, micro: DataFrame | None,
               as_of: dt.date) -> DataFrame:
    segs = _value_segmentations(ctx, cfg)
    segs.append(Segmentation(
        "lifestyle", lifestyle.select("uid", "segment"),
        {s.name: s.description for s in life.model.segments},
        {s.name: list(s.top_terms) for s in life.model.segments}))
    if cfg.intent.enabled and ctx.lake.exists(INTENT_T):
        intent = ctx.lake.read(INTENT_T)
        segs.append(Segmentation(
            "intent", intent.select("uid", F.col("category").alias("segment")),
            population=profile.count()))
    if micro is not None:
        segs.append(Segmentation("micro", micro.select(
            "uid", F.col("micro_segment").alias("segment"))))
    previous = _optional(ctx, CATALOGUE_T)
    rows = catalogue_rows(segs, profile, cfg.catalogue, survey_answers(events,
                          cfg.catalogue.survey), previous, as_of, ctx.run_id)
    return ctx.spark.createDataFrame(rows, CATALOGUE_SCHEMA)
