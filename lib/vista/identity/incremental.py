"""Incremental runs: what changed since the last run, and the part of the graph it touches.

The identity stage is incremental by default. ``silver/identity_resolved`` remembers two
fingerprints of every resolved record: a hash of its matching fields and one of the
fields its golden record is built from. A run then:

1. finds new, changed and deleted records (fingerprint anti-joins);
2. keeps the stored links of unchanged records (``silver/identity_links``) and scores
   only pairs touching new/changed records (the linker's ``new_keys``); deterministic
   links are recomputed in full by the linker (cheap), and every link that appeared or
   disappeared marks both its records as *seeds*;
3. widens the seeds to every record that shared a UID or a name (the key a lone record
   joins by, ``clustering.lone_records``) with one, takes the connected components
   touching them (strong edges, the weaker links a lone record may join by, and the
   links that attach nameless records; found by widening from the seeds, not by
   labelling the whole population), and re-clusters only those components;
4. updates the registry from the overlap between the old and new clusters of that
   scope; records outside it keep their UID, link kind and probability;
5. rebuilds the golden records of the UIDs in the scope and of those one of whose
   records changed a golden input only (a consent, a raw name: not re-clustered), and
   merges them into ``silver/golden_customer``, deleting the UIDs that ended.

This equals a full run because clustering is per component and deterministic, every
old UID's records lie inside the scope or wholly outside it, and a stored link's score
is the one a full run gives the pair: both score with the term frequencies kept for the
model (``vista.identity.link.frequencies``). Frequencies computed afresh over each run's
population moved every stored score a little; at 10,000 sample customers a kept
support-ticket link at 0.9493 (0.9512 re-scored, ``match_threshold`` 0.95) left a record
out of its person's cluster. ``bench/bench_identity_incremental.py`` compares the two
partitions. A changed configuration triggers a full run, a retrained model one that
computes the frequencies again; ``RunOptions.full`` forces one (``vista.identity.stage``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from vista.identity.cluster import name_keys, pair_edges, reachable
from vista.identity.config import IdentityConfig
from vista.identity.golden import GOLDEN_INPUTS
from vista.identity.lineage import LineageBreaks
from vista.identity.link.links import attach_kinds, compute_links
from vista.identity.tables import GRAPH_T, LINKS_T, RESOLVED_T

if TYPE_CHECKING:  # pragma: no cover
    from vista.runtime import RunContext

#: ``silver/identity_resolved``'s hash of a record's golden inputs
GOLDEN_FP = "golden_fingerprint"


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


def _hash(records: DataFrame, columns: Sequence[str]) -> Column:
    present = [c for c in columns if c in records.columns]
    payload = F.to_json(F.struct(*[
        F.array_sort(F.map_entries(F.col(c))).alias(c) if c == "ids" else F.col(c)
        for c in present]))
    return F.sha2(payload, 256)


def fingerprints(records: DataFrame, columns: list[str]) -> DataFrame:
    """``record_key, fingerprint, golden_fingerprint``: a hash of the record's matching
    fields, and one of the fields its golden record is built from
    (``vista.identity.golden.GOLDEN_INPUTS``)."""
    return records.select("record_key", _hash(records, columns).alias("fingerprint"),
                          _hash(records, GOLDEN_INPUTS).alias(GOLDEN_FP))


def golden_changed(ctx: RunContext, fp: DataFrame) -> DataFrame | None:
    """Record keys whose golden inputs differ from the last run's (new records included):
    the records whose UID's golden record an incremental run rebuilds, whether or not
    they are re-clustered (a changed consent flag or name as delivered is not a matching
    change).

    None when the stored fingerprints predate golden fingerprints: the run then rebuilds
    every golden record and stores every record's fingerprints again, once.
    """
    stored = ctx.lake.read(RESOLVED_T)
    if GOLDEN_FP not in stored.columns:
        return None
    return fp.join(stored.select("record_key", GOLDEN_FP), on=["record_key", GOLDEN_FP],
                   how="left_anti").select("record_key")


def _endpoints(links: DataFrame) -> DataFrame:
    return links.select(F.col("record_key_l").alias("record_key")).unionByName(
        links.select(F.col("record_key_r").alias("record_key")))


def changed_links(now: DataFrame, stored: DataFrame) -> DataFrame:
    """Links present in one frame only (by pair and kind): the records they touch."""
    keys = ["record_key_l", "record_key_r", "link_kind"]
    a = now.select(*keys).distinct()
    b = stored.select(*keys).distinct()
    return _endpoints(a.join(b, on=keys, how="left_anti").unionByName(
        b.join(a, on=keys, how="left_anti"))).distinct()


def changes(ctx: RunContext, fp: DataFrame,
             breaks: LineageBreaks) -> tuple[DataFrame, DataFrame]:
    """``(changed, deleted)`` record keys since the last run, by fingerprint."""
    resolved = ctx.lake.read(RESOLVED_T).select("record_key", "fingerprint")
    changed = breaks(fp.join(resolved, on=["record_key", "fingerprint"], how="left_anti")
                            .select("record_key"))
    deleted = breaks(resolved.join(fp, on="record_key", how="left_anti")
                            .select("record_key"))
    return changed, deleted


def incremental_scope(ctx: RunContext, records: DataFrame, cfg: IdentityConfig, model: Any,
                       changed: DataFrame, deleted: DataFrame,
                       breaks: LineageBreaks, frequencies: DataFrame | None = None,
                       step: Callable[[str], None] | None = None) -> Scope:
    """New links, the seed records and the records to re-cluster in an incremental run.

    ``step`` is told when the links are done and the scope starts (``resolve/scope``).
    """
    lake = ctx.lake
    touched = changed.unionByName(deleted)
    stored = lake.read(LINKS_T)
    kept = (stored.where(~F.col("link_kind").startswith("deterministic:"))
            .join(touched.withColumnRenamed("record_key", "record_key_l"), "record_key_l",
                  how="left_anti")
            .join(touched.withColumnRenamed("record_key", "record_key_r"), "record_key_r",
                  how="left_anti"))
    fresh = compute_links(records, cfg, model if not changed.isEmpty() else None,
                          new_keys=changed, breaks=breaks, frequencies=frequencies)
    links = breaks(fresh.unionByName(kept).dropDuplicates(
        ["record_key_l", "record_key_r", "link_kind"]))
    if step is not None:
        step("resolve/scope")
    seeds = touched.unionByName(changed_links(links, stored)).distinct()
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
    # the components touching the seeds, found by widening from them (not by labelling
    # every component of the population)
    near = reachable(
        strong.select(F.col("record_key_l").alias("src"), F.col("record_key_r").alias("dst")),
        scope0.select(F.col("record_key").alias("node")), cfg.clustering.max_iterations, breaks)
    scope = (near.select(F.col("node").alias("record_key"))
             .join(records.select("record_key"), on="record_key", how="left_semi"))
    return Scope(links=links, changed=changed, deleted=deleted, scope=breaks(scope),
                 previous=prev)
