"""The identity stage: person records -> links -> clusters -> stable UIDs -> golden records.

Each step lives in its own module; the stage runs them in order and records what it did:

1. the person records (:mod:`vista.identity.records`) and the id kinds this lake shows
   to be personal (:mod:`vista.identity.link.trusted_ids`);
2. the model, loaded from the registry or trained (:func:`train_or_load`);
3. a full or an incremental resolution (:mod:`vista.identity.resolution`,
   :mod:`vista.identity.incremental`): links, clusters, UIDs;
4. the quality gate, the writes (merged in an incremental run), the golden records
   (:mod:`vista.identity.golden`), the devices (:mod:`vista.identity.link.devices`) and
   the run's metrics.

A changed configuration or a retrained model triggers a full run; ``RunOptions.full``
forces one.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from vista.identity.cluster import size_histogram
from vista.identity.config import IdentityConfig, identity_config
from vista.identity.golden import golden_records
from vista.identity.incremental import fingerprints, golden_changed
from vista.identity.lineage import LineageBreaks
from vista.identity.link.devices import device_uids
from vista.identity.link.trusted_ids import with_trusted_ids
from vista.identity.records import matching_records
from vista.identity.registry import DEFAULT_SALT
from vista.identity.resolution import Resolution, resolve
from vista.identity.tables import (
    DEVICES_T,
    FREQUENCIES_T,
    GOLDEN_T,
    GRAPH_T,
    LINEAGE_T,
    LINKS_T,
    PERSON_RECORDS_T,
    REGISTRY_T,
    RESOLVED_T,
    RUNS_T,
)
from vista.spark import session_conf

if TYPE_CHECKING:  # pragma: no cover
    from vista.identity.link.splink_model import TrainedModel
    from vista.runtime import RunContext

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    """The identity stage's per-run switches (from ``vista run`` / ``RunContext.options``).

    Attributes:
        full: Re-resolve every record instead of an incremental run (scored with
            the model's kept term frequencies, see :func:`kept_frequencies`).
        retrain: Train the model again even when the registered one is current (its
            term frequencies are computed again, over this run's records).
        gate: Run the quality gate (False only for tests that run the stage many times
            and check the gate on one run).
    """

    full: bool = False
    retrain: bool = False
    gate: bool = True

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> RunOptions:
        """The stage's switches from a run's options (other stages' keys are ignored)."""
        return cls(full=bool(options.get("full", False)),
                   retrain=bool(options.get("retrain", False)),
                   gate=bool(options.get("gate", True)))


def uid_salt(cfg: IdentityConfig) -> str:
    """The UID salt from the environment (never from a file); the demo salt when unset."""
    salt = os.environ.get(cfg.uid_salt_env)
    if not salt:
        log.warning("%s is not set: UIDs use the public demo salt; set it (and never change "
                    "it) in production", cfg.uid_salt_env)
        return DEFAULT_SALT
    return salt


def fit_model(records: DataFrame, cfg: IdentityConfig) -> TrainedModel:
    """Train the Fellegi-Sunter model on person records, as the identity stage does.

    Args:
        records: The records from :func:`matching_records`.
        cfg: The identity config (its linking section, and the nickname lists of
            ``clustering.compatibility.first_name`` for name comparisons).

    Returns:
        The trained model.

    Raises:
        ModelError: A configured column is missing, or EM failed on every rule.
        BlockingRuleTooBroad: A training blocking rule makes too many comparisons.
    """
    from vista.identity.link.splink_model import train

    return train(records, cfg.linking, names=cfg.clustering.compatibility.first_name)


def train_or_load(ctx: RunContext, records: DataFrame, cfg: IdentityConfig) -> tuple[Any, bool]:
    """Train or load the Fellegi-Sunter model: ``(model or None, retrained)``."""
    if not cfg.linking.probabilistic.enabled:
        return None, False
    from vista import tracking
    from vista.identity.link.splink_model import model_charts

    mlflow_cfg = ctx.config.mlflow
    retrain = RunOptions.from_mapping(ctx.options).retrain
    if not retrain and tracking.model_is_current(mlflow_cfg, cfg.linking):
        return tracking.load_registered_identity_model(mlflow_cfg), False
    with tracking.start_run(mlflow_cfg, "identity-train", tags={"vista_run": ctx.run_id}) as run:
        model = fit_model(records, cfg)
        try:
            charts = model_charts(records, model)
        except Exception as exc:  # charts are a nicety; never fail training for them
            log.info("identity model charts skipped: %s", exc)
            charts = None
        tracking.log_identity_model(model, charts=charts)
        ctx.manifest.record_mlflow_run("identity", run.info.run_id, "identity-train")
    return model, True


def kept_frequencies(ctx: RunContext, records: DataFrame, model: Any, retrained: bool,
                     breaks: LineageBreaks) -> tuple[DataFrame | None, bool]:
    """The model's term frequencies kept in the lake: ``(frequencies, computed now)``.

    Computed over this run's records the first time a model is applied to the lake (or
    when it was retrained), then kept (``silver/identity_term_frequencies``) and scored
    with by every run, incremental or full, until the model changes: a stored link's
    score then does not move with the population (``vista.identity.link.frequencies``).
    None when the model adjusts no column by term frequency.
    """
    from vista.identity.link.frequencies import frequency_columns, model_key
    from vista.identity.link.splink_model import TrainedModel, model_frequencies

    if not isinstance(model, TrainedModel) or not frequency_columns(model.settings):
        return None, False
    lake, key = ctx.lake, model_key(model.settings)
    if not retrained and lake.exists(FREQUENCIES_T):
        kept = lake.read(FREQUENCIES_T).where(F.col("model_key") == key)
        if not kept.isEmpty():
            return kept, False
    log.info("identity: the model's term frequencies are computed over this run's records "
             "and kept for later runs")
    return breaks(model_frequencies(records, model)), True


def _last_run(ctx: RunContext) -> dict[str, Any] | None:
    """The previous identity run (ordinal and resolution hash), a one-row aggregate."""
    if not ctx.lake.exists(RUNS_T):
        return None
    row = (ctx.lake.read(RUNS_T).orderBy(F.desc("run_seq"))
           .select("run_seq", "resolution_hash").first())
    return row.asDict() if row else None


# --------------------------------------------------------------------------- gate & writes


def consistency_checks(records: DataFrame, graph: DataFrame, registry: DataFrame) -> DataFrame:
    """One row per checked entity: ``check, key, ok`` (keys are record keys or UIDs).

    * ``record_has_one_uid``: every person record is in the graph exactly once, with a UID;
      no graph row without a person record;
    * ``uid_has_records``: every active UID has records and every graph UID is active;
    * ``lineage``: a merged UID points to a UID of the registry; statuses are known.
    """
    per_record = graph.groupBy("record_key").agg(
        F.count("*").alias("n"), F.count("uid").alias("n_uid"))
    rec = records.select("record_key", F.lit(True).alias("present")).join(
        per_record, on="record_key", how="full_outer").select(
        F.lit("record_has_one_uid").alias("check"), F.col("record_key").alias("key"),
        (F.coalesce("present", F.lit(False)) & (F.col("n") == 1) & (F.col("n_uid") == 1))
        .alias("ok"))
    active = registry.where("status = 'active'").select("uid", F.lit(True).alias("active"))
    used = graph.select("uid", F.lit(True).alias("used")).distinct()
    uid = active.join(used, on="uid", how="full_outer").select(
        F.lit("uid_has_records").alias("check"), F.col("uid").alias("key"),
        (F.coalesce("active", F.lit(False)) & F.coalesce("used", F.lit(False))).alias("ok"))
    targets = registry.select(F.col("uid").alias("merged_into"), F.lit(True).alias("known"))
    lin = registry.join(targets, on="merged_into", how="left").select(
        F.lit("lineage").alias("check"), F.col("uid").alias("key"),
        (F.col("status").isin("active", "merged", "retired")
         & ((F.col("status") != "merged") | F.coalesce("known", F.lit(False)))).alias("ok"))
    return rec.unionByName(uid).unionByName(lin).select(
        "check", "key", F.coalesce("ok", F.lit(False)).alias("ok"))


def _gate(ctx: RunContext, records: DataFrame, out: Resolution) -> None:
    from vista.quality import ExpectationSpec, gate

    def spec(kind: str, **kw: Any) -> ExpectationSpec:
        return ExpectationSpec(type=f"expect_{kind}", kwargs=kw)

    graph_specs = [
        spec("column_values_to_not_be_null", column="record_key"),
        spec("column_values_to_be_unique", column="record_key"),
        spec("column_values_to_not_be_null", column="uid"),
        spec("column_values_to_not_be_null", column="link_kind"),
        spec("column_values_to_be_between", column="match_probability", min_value=0.0,
             max_value=1.0),
    ]
    ctx.manifest.record_quality(gate(out.graph, GRAPH_T, graph_specs))
    checks = consistency_checks(records, out.graph, out.registry)
    ctx.manifest.record_quality(gate(
        checks, f"{GRAPH_T}#consistency",
        [spec("column_values_to_be_in_set", column="ok", value_set=[True])]))


def _write(ctx: RunContext, fp: DataFrame, out: Resolution, full: bool,
           golden_keys: DataFrame | None) -> None:
    """Store the graph, the records' fingerprints, links, registry and lineage.

    An incremental run merges the re-clustered records' graph rows and the fingerprints
    of those records and of the ones whose golden inputs changed (``golden_keys``; None:
    the stored fingerprints predate golden fingerprints, and all are stored again).
    """
    lake = ctx.lake
    fp_rows = fp.withColumn("run_id", F.lit(ctx.run_id))
    if full or golden_keys is None:
        lake.overwrite(RESOLVED_T, fp_rows)
    else:
        lake.merge(RESOLVED_T, fp_rows.join(_rebuilt_keys(out, golden_keys), on="record_key",
                                            how="left_semi").withColumn("_op", F.lit("U"))
                   .unionByName(out.deleted.select("record_key", F.lit("D").alias("_op")),
                                allowMissingColumns=True),
                   ["record_key"], delete_when="_op = 'D'")
    if out.unchanged:
        return
    if full:
        lake.overwrite(GRAPH_T, out.graph)
    else:
        dropped = out.deleted.select("record_key", F.lit("D").alias("_op"))
        lake.merge(GRAPH_T, out.scope_rows.withColumn("_op", F.lit("U")).unionByName(
            dropped, allowMissingColumns=True), ["record_key"], delete_when="_op = 'D'")
    lake.overwrite(LINKS_T, out.links)
    if lake.exists(REGISTRY_T):
        lake.merge(REGISTRY_T, out.registry_changes, ["uid"])
    else:
        lake.overwrite(REGISTRY_T, out.registry)
    lake.append(LINEAGE_T, out.lineage)


def _rebuilt_keys(out: Resolution, golden_keys: DataFrame) -> DataFrame:
    """Record keys an incremental run stores again: re-clustered or golden input changed
    (may repeat a key; only ever the right side of a semi join)."""
    if out.unchanged:
        return golden_keys
    return golden_keys.unionByName(out.scope_rows.select("record_key"))


def _write_golden(ctx: RunContext, records: DataFrame, out: Resolution, cfg: IdentityConfig,
                  full: bool, golden_keys: DataFrame | None) -> None:
    """Golden records: every UID's in a full run; in an incremental run, by merge, only
    those of the UIDs it re-clustered or one of whose records changed a golden input
    (``golden_keys``), and the deletion of the UIDs it ended (merged or retired). A
    golden row's ``run_id`` is then the run that last rebuilt it; the rows equal a full
    run's (``tests/identity/test_identity_stage.py``)."""
    lake = ctx.lake
    if full or golden_keys is None or not lake.exists(GOLDEN_T):
        lake.overwrite(GOLDEN_T, golden_records(records, out.graph, cfg.survivorship,
                                                ctx.run_id))
        return
    graph = out.graph.select("record_key", "uid")
    uids = graph.join(_rebuilt_keys(out, golden_keys), on="record_key",
                      how="left_semi").select("uid")
    rebuilt = golden_records(records, graph.join(uids, on="uid", how="left_semi"),
                             cfg.survivorship, ctx.run_id).withColumn("_op", F.lit("U"))
    ended = out.registry_changes.where(F.col("status") != "active").select(
        "uid", F.lit("D").alias("_op"))
    lake.merge(GOLDEN_T, rebuilt.unionByName(ended, allowMissingColumns=True), ["uid"],
               delete_when="_op = 'D'")


def _link_counts(links: DataFrame) -> dict[str, int]:
    kinds = links.groupBy(F.when(F.col("link_kind").startswith("deterministic:"),
                                 "deterministic").otherwise(F.col("link_kind")).alias("k")
                          ).count().collect()  # a handful of link kinds
    return {f"links_{r['k']}": int(r["count"]) for r in kinds}


def _lineage_counts(lineage: DataFrame | None) -> dict[str, int]:
    counts = {f"uids_{r}": 0 for r in ("new", "merge", "split", "retired")}
    if lineage is None:
        return counts
    rows = lineage.groupBy("reason").count().collect()  # at most four reasons
    counts.update({f"uids_{r['reason']}": int(r["count"]) for r in rows})
    return counts


# --------------------------------------------------------------------------- the stage


def run(ctx: RunContext) -> dict[str, int | float]:
    """Resolve identities: links, clusters, UIDs, lineage, golden records.

    Options: ``full`` (rebuild from scratch), ``retrain`` (train the model again),
    ``gate`` (default True; False skips the quality gate, for tests that run the stage
    many times and check the gate on one run only).

    Args:
        ctx: The run context.

    Returns:
        Counts for the stage's INFO line (records, links by kind, clusters, UID changes).

    Raises:
        QualityGateFailed: A record without exactly one UID, a UID without records, or
            inconsistent lineage.
    """
    cfg = identity_config(ctx.config)
    with session_conf(ctx.spark, stage_settings(ctx, cfg)), \
            LineageBreaks(ctx.spark, cfg.break_lineage) as breaks:
        return _run(ctx, cfg, breaks)


def stage_settings(ctx: RunContext, cfg: IdentityConfig) -> dict[str, str]:
    """The Spark SQL settings the stage (or ``vista identity train``) runs with: code
    generation or interpreted execution by the number of person records
    (:meth:`IdentityConfig.spark_settings`). Counting them reads table metadata only
    (Delta's statistics or the Parquet footers), in one small Spark job."""
    records = ctx.lake.read(PERSON_RECORDS_T).count() if ctx.lake.exists(
        PERSON_RECORDS_T) else 0
    settings = cfg.spark_settings(records)
    interpreted = settings.get("spark.sql.codegen.factoryMode") == "NO_CODEGEN"
    log.info("identity: %d person records; Spark runs the stage's queries %s "
             "(identity.execution: %s)", records,
             "interpreted" if interpreted else "compiled", cfg.execution)
    return settings


class _Steps:
    """Wall-clock seconds per step of a run (the manifest's ``step_seconds``)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._name: str | None = None
        self._t = time.perf_counter()

    def __call__(self, name: str) -> None:
        """Close the running step and start ``name``."""
        now = time.perf_counter()
        if self._name is not None:
            self.seconds[self._name] = round(
                self.seconds.get(self._name, 0.0) + now - self._t, 3)
        self._name, self._t = name, now


def _run(ctx: RunContext, cfg: IdentityConfig, breaks: LineageBreaks) -> dict[str, int | float]:
    from vista.identity.link.splink_model import derived_inputs

    lake = ctx.lake
    step = _Steps()
    step("records")
    records = matching_records(ctx.lake, cfg, breaks)
    # which declared id kinds outweigh a failed name or birth-date rule is measured on
    # this lake (clustering.compatibility.trusted_ids); the learned kinds are part of
    # the resolution hash, so a change in them makes this a full run
    cfg = with_trusted_ids(cfg, records)
    last = _last_run(ctx)
    run_seq = int(last["run_seq"]) + 1 if last else 1
    step("model")
    model, retrained = train_or_load(ctx, records, cfg)
    frequencies, fresh = kept_frequencies(ctx, records, model, retrained, breaks)
    options = RunOptions.from_mapping(ctx.options)
    full = options.full or last is None or retrained or fresh or not lake.exists(
        GRAPH_T) or last["resolution_hash"] != cfg.resolution_hash()
    log.info("identity: %s run #%d", "full" if full else "incremental", run_seq)
    step("resolve")
    fp_columns = [*cfg.fingerprint_columns, *derived_inputs(cfg.linking)]
    fp = breaks(fingerprints(records, list(dict.fromkeys(fp_columns))))
    out = resolve(ctx, records, fp, cfg, model, full, run_seq, uid_salt(cfg), breaks,
                  frequencies, step)
    # read before the write below stores this run's fingerprints
    golden_keys = None if full else golden_changed(ctx, fp)
    if golden_keys is not None:
        golden_keys = breaks(golden_keys)
    if options.gate:
        step("gate")
        _gate(ctx, records, out)
    step("write")
    # nothing changed, not even a golden input: nothing to write
    idle = out.unchanged and golden_keys is not None and golden_keys.isEmpty()
    if not idle:
        _write(ctx, fp, out, full, golden_keys)
    if fresh:
        lake.overwrite(FREQUENCIES_T, frequencies)
    step("golden")
    if not idle:
        _write_golden(ctx, records, out, cfg, full, golden_keys)
    step("devices")
    devices = device_uids(ctx, records, out.graph, cfg)
    if devices is not None:
        lake.overwrite(DEVICES_T, devices)
    step("metrics")
    metrics = {**_metrics(out, full), "lineage_breaks": breaks.count}
    lake.append(RUNS_T, ctx.spark.createDataFrame(
        [(run_seq, ctx.run_id, "full" if full else "incremental", cfg.resolution_hash(),
          metrics["records"], metrics["uids"])],
        "run_seq long, run_id string, mode string, resolution_hash string, records long, "
        "uids long").withColumn("at", F.current_timestamp()))
    histogram = size_histogram(out.graph)
    step("done")
    ctx.manifest.record_metrics("identity", {**metrics, "cluster_sizes": histogram,
                                             "step_seconds": step.seconds})
    if cfg.track_mlflow:
        _track(ctx, metrics, histogram)
    return metrics


def _metrics(out: Resolution, full: bool) -> dict[str, int | float]:
    graph = out.graph
    sizes = graph.groupBy("uid").count().agg(F.count("*").alias("uids"),
                                              F.max("count").alias("largest")).first()
    return {
        "records": graph.count(),
        "uids": int(sizes["uids"]),
        "largest_cluster": int(sizes["largest"] or 0),
        "full": int(full),
        "changed_records": int(out.changed_records),
        "reclustered_records": int(out.scope_records),
        **_link_counts(out.links),
        **{k: int(v) for k, v in out.stats.items()},
        **_lineage_counts(out.lineage),
    }


def _track(ctx: RunContext, metrics: dict[str, int | float],
           histogram: list[dict[str, Any]]) -> None:
    from vista import tracking

    with tracking.start_run(ctx.config.mlflow, "identity-resolve",
                            tags={"vista_run": ctx.run_id}) as run:
        tracking.log_metrics(metrics, prefix="identity_")
        tracking.log_dict({"cluster_sizes": histogram}, "identity/cluster_sizes.json")
        ctx.manifest.record_mlflow_run("identity", run.info.run_id, "identity-resolve")
