"""The identity stage: person records -> links -> clusters -> stable UIDs -> golden records.

Incremental by default. ``silver/identity_resolved`` remembers a fingerprint (hash of the
matching fields) of every resolved record. A run then:

1. finds new, changed and deleted records (fingerprint anti-joins);
2. keeps the stored links of unchanged records (``silver/identity_links``) and scores
   only pairs touching new/changed records (the linker's ``new_keys``); deterministic
   links are recomputed in full by the linker (cheap), and every link that appeared or
   disappeared marks both its records as *seeds*;
3. widens the seeds to every record that shared a UID or a name (the key a lone record
   joins by, ``clustering.lone_records``) with one, takes the connected components
   touching them (strong edges, the weaker links a lone record may join by, and the
   links that attach nameless records), and re-clusters only those components;
4. updates the registry from the overlap between the old and new clusters of that
   scope; records outside it keep their UID, link kind and probability.

This equals a full run because clustering is per component and deterministic, and every
old UID's records lie inside the scope or wholly outside it. The documented exceptions
are threshold effects of the model itself: Splink's term-frequency adjustments use the
current population, so an unchanged pair scored near ``threshold_match_probability``
could cross it in a full re-score but keeps its stored score incrementally; and since
greedy merging resolves a conflicted component in order of match weight, a re-scored
pair can also change which of two incompatible records a third one joins
(``bench/bench_identity_incremental.py`` measures it: none of 5,868 records at 2,000
sample customers). A changed
configuration or a retrained model therefore triggers a full run; ``RunOptions.full``
forces one.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from vista.identity.cluster import (
    cluster_records,
    connected_components,
    name_keys,
    pair_edges,
    record_links,
    size_histogram,
)
from vista.identity.config import IdentityConfig
from vista.identity.golden import golden_records
from vista.identity.lineage import LineageBreaks
from vista.identity.link.trusted_ids import with_trusted_ids
from vista.identity.registry import DEFAULT_SALT, assign_uids, upsert_registry
from vista.schemas import LINKS

if TYPE_CHECKING:  # pragma: no cover
    from vista.identity.link.splink_model import TrainedModel
    from vista.lake import Lake
    from vista.runtime import RunContext

log = logging.getLogger(__name__)

PERSON_RECORDS_T = "silver/person_records"
INTERACTIONS_T = "silver/interactions"
GRAPH_T = "silver/identity_graph"
REGISTRY_T = "silver/uid_registry"
LINEAGE_T = "silver/uid_lineage"
GOLDEN_T = "silver/golden_customer"
LINKS_T = "silver/identity_links"
RESOLVED_T = "silver/identity_resolved"
RUNS_T = "silver/identity_runs"

GRAPH_COLUMNS = ["source", "source_record_id", "record_key", "uid", "link_kind",
                 "match_probability", "run_id"]


@dataclass(frozen=True)
class RunOptions:
    """The identity stage's per-run switches (from ``vista run`` / ``RunContext.options``).

    Attributes:
        full: Rebuild from scratch instead of an incremental run.
        retrain: Train the model again even when the registered one is current.
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


@dataclass(frozen=True)
class Resolution:
    """What one resolution computed, for the gate, the writes and the metrics.

    Attributes:
        links: Every link of the population (``LINKS``), to be stored.
        scope_rows: The graph rows of the re-clustered records.
        graph: The whole identity graph after this run.
        deleted: Record keys gone since the last run (None in a full run).
        registry_changes: Registry rows this run adds or changes.
        registry: The whole registry after this run.
        lineage: This run's UID lineage rows (None: nothing to record).
        stats: Clustering counts (``cluster_records``'s stats).
        scope_records: Records re-clustered.
        changed_records: New or changed records (all of them in a full run).
        unchanged: No record changed: the stored graph stands and nothing is written.
    """

    links: DataFrame
    scope_rows: DataFrame
    graph: DataFrame
    deleted: DataFrame | None
    registry_changes: DataFrame
    registry: DataFrame
    lineage: DataFrame | None
    stats: dict[str, int] = field(default_factory=dict)
    scope_records: int = 0
    changed_records: int = 0
    unchanged: bool = False


@dataclass(frozen=True)
class Scope:
    """What an incremental run re-resolves.

    Attributes:
        links: The population's links: stored ones of untouched records plus fresh ones.
        changed: New or changed record keys.
        deleted: Record keys gone since the last run.
        scope: Record keys to re-cluster.
        previous: The stored graph's ``record_key, uid``.
    """

    links: DataFrame
    changed: DataFrame
    deleted: DataFrame
    scope: DataFrame
    previous: DataFrame


def identity_config(config: Any) -> IdentityConfig:
    """The ``identity`` section of the root config (defaults when it has none)."""
    section = getattr(config, "identity", None)
    return section if isinstance(section, IdentityConfig) else IdentityConfig()


def uid_salt(cfg: IdentityConfig) -> str:
    """The UID salt from the environment (never from a file); the demo salt when unset."""
    salt = os.environ.get(cfg.uid_salt_env)
    if not salt:
        log.warning("%s is not set: UIDs use the public demo salt; set it (and never change "
                    "it) in production", cfg.uid_salt_env)
        return DEFAULT_SALT
    return salt


def matching_records(lake: Lake, cfg: IdentityConfig,
                     breaks: LineageBreaks | None = None) -> DataFrame:
    """The person records identity resolution reads (training included).

    Args:
        lake: The lake holding ``silver/person_records``.
        cfg: The identity config.
        breaks: How the frame is materialised (None: a local checkpoint).

    Returns:
        ``PERSON_RECORDS`` plus, with ``linking.deterministic.past_values`` enabled and
        the history table present, each record's ``past_identifiers``.
    """
    from vista.identity.link.deterministic import with_past_identifiers

    records = lake.read(PERSON_RECORDS_T)
    past = cfg.linking.deterministic.past_values
    if past.enabled and lake.exists(past.table):
        records = with_past_identifiers(records, lake.read(past.table),
                                        cfg.linking.deterministic)
    return (breaks or LineageBreaks(records.sparkSession))(records)


def fingerprints(records: DataFrame, columns: list[str]) -> DataFrame:
    """``record_key, fingerprint``: a hash of the record's matching fields."""
    present = [c for c in columns if c in records.columns]
    payload = F.to_json(F.struct(*[
        F.array_sort(F.map_entries(F.col(c))).alias(c) if c == "ids" else F.col(c)
        for c in present]))
    return records.select("record_key", F.sha2(payload, 256).alias("fingerprint"))


# --------------------------------------------------------------------------- links


def compute_links(
    records: DataFrame, cfg: IdentityConfig, model: Any, new_keys: DataFrame | None,
    breaks: LineageBreaks | None = None,
) -> DataFrame:
    """Links from the linking half (deterministic, then probabilistic)."""
    from vista.identity.link.links import link_records

    links = link_records(records, cfg.linking, model, new_keys=new_keys,
                         compatibility=cfg.clustering.compatibility, breaks=breaks)
    return links.select([f.name for f in LINKS.fields])


def device_uids(ctx: RunContext, records: DataFrame, graph: DataFrame,
                cfg: IdentityConfig) -> DataFrame | None:
    """Devices (cookies) seen with accounts of exactly one UID: ``device_key, uid, link_kind``.

    A device is evidence about *where* a person was seen, not that two accounts are one
    person (a family computer), so it never merges clusters; it only lets web and app
    events that carry a device id alone be attributed to a UID.
    """
    from vista.identity.link.devices import device_account_links

    if not ctx.lake.exists(INTERACTIONS_T):
        return None
    links = device_account_links(ctx.lake.read(INTERACTIONS_T), cfg.linking, records=records)
    keys = graph.select("record_key", "uid")
    ends = links.join(keys.withColumnRenamed("record_key", "record_key_r"), "record_key_r",
                      how="inner").select(F.col("record_key_l").alias("device_key"), "uid",
                                          "link_kind")
    ends = ends.unionByName(
        links.join(keys.withColumnRenamed("record_key", "record_key_l"), "record_key_l",
                   how="inner").select(F.col("record_key_r").alias("device_key"), "uid",
                                       "link_kind"))
    per_device = ends.groupBy("device_key").agg(
        F.countDistinct("uid").alias("n"), F.min("uid").alias("uid"),
        F.min("link_kind").alias("link_kind"))
    return per_device.where("n = 1").select("device_key", "uid", "link_kind",
                                            F.lit(ctx.run_id).alias("run_id"))


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


# --------------------------------------------------------------------------- resolution


def _last_run(ctx: RunContext) -> dict[str, Any] | None:
    """The previous identity run (ordinal and resolution hash), a one-row aggregate."""
    if not ctx.lake.exists(RUNS_T):
        return None
    row = (ctx.lake.read(RUNS_T).orderBy(F.desc("run_seq"))
           .select("run_seq", "resolution_hash").first())
    return row.asDict() if row else None


def attach_kinds(cfg: IdentityConfig) -> list[str]:
    """The link kinds that only attach nameless records (never clustering edges)."""
    return [f"deterministic:{k}" for k in cfg.linking.deterministic.nameless_only_kinds]


def _graph_rows(records: DataFrame, uids: DataFrame, clusters: DataFrame, links: DataFrame,
                cfg: IdentityConfig, run_id: str) -> DataFrame:
    how = record_links(clusters, links, cfg.clustering, attach_kinds(cfg))
    return (
        records.select("source", "source_record_id", "record_key")
        .join(uids, on="record_key", how="inner")
        .join(how, on="record_key", how="left")
        .select(*GRAPH_COLUMNS[:-1], F.lit(run_id).alias("run_id"))
    )


def _endpoints(links: DataFrame) -> DataFrame:
    return links.select(F.col("record_key_l").alias("record_key")).unionByName(
        links.select(F.col("record_key_r").alias("record_key")))


def _changed_links(now: DataFrame, stored: DataFrame) -> DataFrame:
    """Links present in one frame only (by pair and kind): the records they touch."""
    keys = ["record_key_l", "record_key_r", "link_kind"]
    a = now.select(*keys).distinct()
    b = stored.select(*keys).distinct()
    return _endpoints(a.join(b, on=keys, how="left_anti").unionByName(
        b.join(a, on=keys, how="left_anti"))).distinct()


def _changes(ctx: RunContext, fp: DataFrame,
             breaks: LineageBreaks) -> tuple[DataFrame, DataFrame]:
    """``(changed, deleted)`` record keys since the last run, by fingerprint."""
    resolved = ctx.lake.read(RESOLVED_T).select("record_key", "fingerprint")
    changed = breaks(fp.join(resolved, on=["record_key", "fingerprint"], how="left_anti")
                            .select("record_key"))
    deleted = breaks(resolved.join(fp, on="record_key", how="left_anti")
                            .select("record_key"))
    return changed, deleted


def _unchanged(ctx: RunContext) -> Resolution:
    """The stage's output when no person record changed: the stored graph, nothing new."""
    lake = ctx.lake
    graph = lake.read(GRAPH_T)
    return Resolution(
        unchanged=True, links=lake.read(LINKS_T), scope_rows=graph.limit(0), graph=graph,
        deleted=graph.select("record_key").limit(0),
        registry_changes=lake.read(REGISTRY_T).limit(0), registry=lake.read(REGISTRY_T),
        lineage=lake.read(LINEAGE_T).limit(0) if lake.exists(LINEAGE_T) else None,
        stats={"edges_strong": 0, "components_split": 0, "records_fallback": 0,
               "records_lone_joined": 0, "records_attached": 0},
    )


def _incremental_scope(ctx: RunContext, records: DataFrame, cfg: IdentityConfig, model: Any,
                       changed: DataFrame, deleted: DataFrame,
                       breaks: LineageBreaks) -> Scope:
    """New links, the seed records and the records to re-cluster in an incremental run."""
    lake = ctx.lake
    touched = changed.unionByName(deleted)
    stored = lake.read(LINKS_T)
    kept = (stored.where(~F.col("link_kind").startswith("deterministic:"))
            .join(touched.withColumnRenamed("record_key", "record_key_l"), "record_key_l",
                  how="left_anti")
            .join(touched.withColumnRenamed("record_key", "record_key_r"), "record_key_r",
                  how="left_anti"))
    fresh = compute_links(records, cfg, model if not changed.isEmpty() else None,
                          new_keys=changed, breaks=breaks)
    links = breaks(fresh.unionByName(kept).dropDuplicates(
        ["record_key_l", "record_key_r", "link_kind"]))
    seeds = touched.unionByName(_changed_links(links, stored)).distinct()
    prev = lake.read(GRAPH_T).select("record_key", "uid")
    seed_uids = prev.join(seeds, on="record_key", how="left_semi").select("uid").distinct()
    scope0 = seeds.unionByName(prev.join(seed_uids, on="uid", how="left_semi")
                               .select("record_key")).distinct()
    # a record whose name a seed carries may become (or stop being) the one other
    # holder of that name a lone record joins (clustering.lone_records)
    if cfg.clustering.lone_records.enabled:
        keys = name_keys(records)
        seed_names = keys.join(scope0, "record_key", how="left_semi").select("name_key")
        scope0 = scope0.unionByName(keys.join(seed_names.distinct(), "name_key",
                                              how="left_semi").select("record_key")).distinct()
    # attach links and weaker links join the scope too: a nameless cluster or a lone
    # record, and every cluster it may join
    edges = pair_edges(links, cfg.clustering)
    weak = (F.col("probability") >= cfg.clustering.lone_records.min_probability
            if cfg.clustering.lone_records.enabled else F.col("strong"))
    strong = edges.where(F.col("strong") | weak).select(
        "record_key_l", "record_key_r").unionByName(
        links.where(F.col("link_kind").isin(attach_kinds(cfg))).select(
            "record_key_l", "record_key_r"))
    comps = connected_components(
        strong.select(F.col("record_key_l").alias("src"), F.col("record_key_r").alias("dst")),
        cfg.clustering.max_iterations, breaks)
    hit = comps.join(scope0.withColumnRenamed("record_key", "node"), on="node",
                     how="left_semi").select("component").distinct()
    scope = (comps.join(hit, on="component", how="left_semi")
             .select(F.col("node").alias("record_key")).unionByName(scope0).distinct()
             .join(records.select("record_key"), on="record_key", how="left_semi"))
    return Scope(links=links, changed=changed, deleted=deleted, scope=breaks(scope),
                 previous=prev)


def _resolve(ctx: RunContext, records: DataFrame, fp: DataFrame, cfg: IdentityConfig,
             model: Any, full: bool, run_seq: int, salt: str,
             breaks: LineageBreaks) -> Resolution:
    """Cluster the scope and assign UIDs; returns the frames the stage writes."""
    lake = ctx.lake
    registry = lake.read(REGISTRY_T) if lake.exists(REGISTRY_T) else None
    if full:
        links = breaks(compute_links(records, cfg, model, None, breaks))
        scope_records = records
        previous = lake.read(GRAPH_T).select("record_key", "uid") if lake.exists(GRAPH_T) \
            else None
        deleted = None
        n_changed = records.count()
    else:
        changed, deleted = _changes(ctx, fp, breaks)
        if changed.isEmpty() and deleted.isEmpty():
            log.info("identity: no person record changed since the last run; graph kept")
            return _unchanged(ctx)
        inc = _incremental_scope(ctx, records, cfg, model, changed, deleted, breaks)
        links, deleted = inc.links, inc.deleted
        scope_records = records.join(inc.scope, on="record_key", how="left_semi")
        gone_or_scoped = inc.scope.unionByName(deleted)
        previous = inc.previous.join(gone_or_scoped, on="record_key", how="left_semi")
        n_changed = inc.changed.count()
    scope_links = links.join(scope_records.select(F.col("record_key").alias("record_key_l")),
                             "record_key_l", how="left_semi")
    outside = None
    if not full:  # the untouched population still carries names a lone record may share
        outside = (lake.read(GRAPH_T).select("record_key", F.col("uid").alias("cluster_id"))
                   .join(inc.scope, "record_key", how="left_anti")
                   .join(name_keys(records), "record_key", how="inner")
                   .select("name_key", "cluster_id").distinct())
    clusters, stats = cluster_records(scope_records, scope_links, cfg.clustering,
                                      attach_kinds(cfg), outside, breaks)
    assigned = assign_uids(clusters, previous, registry, run_id=ctx.run_id, run_seq=run_seq,
                           salt=salt)
    uids = breaks(assigned.assignments)
    rows = breaks(_graph_rows(scope_records, uids, clusters, scope_links, cfg, ctx.run_id))
    if full:
        graph = rows
    else:
        untouched = lake.read(GRAPH_T).join(rows.select("record_key"), on="record_key",
                                            how="left_anti").join(
            deleted, on="record_key", how="left_anti")
        graph = breaks(untouched.select(GRAPH_COLUMNS).unionByName(rows))
    return Resolution(
        links=links, scope_rows=rows, graph=graph, deleted=deleted,
        registry_changes=breaks(assigned.registry),
        registry=breaks(upsert_registry(registry, assigned.registry)),
        lineage=breaks(assigned.lineage), stats=stats,
        scope_records=n_changed if full else scope_records.count(), changed_records=n_changed,
    )


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


def _write(ctx: RunContext, fp: DataFrame, out: Resolution, full: bool) -> None:
    lake = ctx.lake
    if out.unchanged:
        return
    fp_rows = fp.withColumn("run_id", F.lit(ctx.run_id))
    if full:
        lake.overwrite(GRAPH_T, out.graph)
        lake.overwrite(RESOLVED_T, fp_rows)
    else:
        dropped = out.deleted.select("record_key", F.lit("D").alias("_op"))
        lake.merge(GRAPH_T, out.scope_rows.withColumn("_op", F.lit("U")).unionByName(
            dropped, allowMissingColumns=True), ["record_key"], delete_when="_op = 'D'")
        resolved = fp_rows.join(out.scope_rows.select("record_key"), on="record_key",
                                how="left_semi").withColumn("_op", F.lit("U"))
        lake.merge(RESOLVED_T, resolved.unionByName(dropped, allowMissingColumns=True),
                   ["record_key"], delete_when="_op = 'D'")
    lake.overwrite(LINKS_T, out.links)
    if lake.exists(REGISTRY_T):
        lake.merge(REGISTRY_T, out.registry_changes, ["uid"])
    else:
        lake.overwrite(REGISTRY_T, out.registry)
    lake.append(LINEAGE_T, out.lineage)


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
    with LineageBreaks(ctx.spark, cfg.break_lineage) as breaks:
        return _run(ctx, cfg, breaks)


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
    options = RunOptions.from_mapping(ctx.options)
    full = options.full or last is None or retrained or not lake.exists(
        GRAPH_T) or last["resolution_hash"] != cfg.resolution_hash()
    log.info("identity: %s run #%d", "full" if full else "incremental", run_seq)
    step("resolve")
    fp_columns = [*cfg.fingerprint_columns, *derived_inputs(cfg.linking)]
    fp = breaks(fingerprints(records, list(dict.fromkeys(fp_columns))))
    out = _resolve(ctx, records, fp, cfg, model, full, run_seq, uid_salt(cfg), breaks)
    if options.gate:
        step("gate")
        _gate(ctx, records, out)
    step("write")
    _write(ctx, fp, out, full)
    step("golden")
    lake.overwrite(GOLDEN_T, golden_records(records, out.graph, cfg.survivorship, ctx.run_id))
    step("devices")
    devices = device_uids(ctx, records, out.graph, cfg)
    if devices is not None:
        lake.overwrite("silver/identity_devices", devices)
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
