"""Activity keyed to UIDs: every order, order line and interaction gets its person's UID.

An order or interaction carries an ``ids`` map (id kind -> value) from its source's
``ids:`` config, and so does every person record. A ``(kind, value)`` pair therefore
leads to person records, and through ``silver/identity_graph`` to UIDs. Rows that carry
only a device (cookie) id reach a UID through ``silver/identity_devices``: the devices
identity saw with the accounts of exactly one UID.

Per row, the candidates of the strongest evidence decide (a person record's id before a
device). When they agree on one UID the row is attributed, and ``attributed_by`` names
the id kind that gave it. When they point at several UIDs the row is *not* guessed:
it stays unattributed with reason ``ambiguous``, unless
``profile.attribution.kind_priority`` names a kind that alone points at one UID.

Nothing here knows a source's name: only the id kinds of the config and the data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from vista.profile.config import AttributionConfig

log = logging.getLogger(__name__)

#: Reasons an activity row stays anonymous (``gold/unattributed_activity.reason``).
NO_IDS = "no_ids"
UNKNOWN_ID = "unknown_id"
AMBIGUOUS = "ambiguous"

_PERSON, _DEVICE = 0, 1  # evidence tiers: the lower decides


@dataclass(frozen=True)
class Attributed:
    """The activity tables of one run.

    Attributes:
        orders: ``silver/orders`` columns plus ``uid`` and ``attributed_by``.
        order_lines: ``silver/order_lines`` columns plus ``uid``, ``ts`` and ``channel``
            (the order's).
        interactions: ``silver/interactions`` columns plus ``uid`` and ``attributed_by``.
        unattributed: ``entity, key, source, ts, reason`` of the rows left anonymous.
        sources: ``entity, source`` of every order and interaction (the denominators of
            the anonymous shares).
        cached: The frames every table above derives from, when they were cached.
    """

    orders: DataFrame
    order_lines: DataFrame
    interactions: DataFrame
    unattributed: DataFrame
    sources: DataFrame
    cached: tuple[DataFrame, ...] = ()

    def release(self) -> None:
        """Drop the frames :func:`attribute_activity` cached (``cache=True``)."""
        for df in self.cached:
            df.unpersist()


def id_uids(records: DataFrame, graph: DataFrame) -> DataFrame:
    """Every ``(kind, value)`` a person record carries, with the UID(s) it leads to.

    Args:
        records: Person records (``record_key``, ``ids``).
        graph: ``silver/identity_graph`` (``record_key``, ``uid``).

    Returns:
        Distinct ``kind, value, uid`` rows; a value of several people has several rows.
    """
    pairs = records.select("record_key", F.explode("ids").alias("kind", "value"))
    return (
        pairs.where(_present(F.col("value")))
        .join(graph.select("record_key", "uid"), on="record_key", how="inner")
        .select("kind", F.trim("value").alias("value"), "uid")
        .distinct()
    )


def _present(value: Column) -> Column:
    return value.isNotNull() & (F.length(F.trim(value)) > 0)


_SET, _HASH = "_id_set", "_id_hash"


def _id_set(ids: Column) -> Column:
    """A row's ids as a sorted array of ``(key, value)`` entries: all its UID depends on.

    Many rows share one (the events of one device or account). Plain built-ins, so each
    row costs no lambda: blank values and the trimming are dealt with once per set.
    """
    return F.sort_array(F.map_entries(ids))


def _present_ids(id_set: Column) -> Column:
    """The set's ids with a value, trimmed: ``array<struct<kind, value>>``."""
    present = F.filter(id_set, lambda e: _present(e["value"]))
    return F.transform(present, lambda e: F.struct(e["key"].alias("kind"),
                                                   F.trim(e["value"]).alias("value")))


def _candidates(sets: DataFrame, ids: DataFrame, devices: DataFrame | None,
                device_kinds: dict[str, str]) -> DataFrame:
    """``_id_hash, _id_set, c``: every set with the candidates its ids lead to.

    ``c`` is an ``array<struct<tier, kind, uid>>``, empty when no id leads anywhere (a
    candidate may repeat: the decision reads distinct UIDs and minima only). One chain of
    left joins, so that ``sets`` (a distinct over every activity row) is computed once;
    with a union of the person and the device candidates and a join back to the sets,
    Spark planned that distinct three times.
    """
    row_ids = sets.select(_HASH, _SET, F.explode_outer(_present_ids(F.col(_SET))).alias("e")
                          ).select(_HASH, _SET, F.col("e.kind").alias("kind"),
                                   F.col("e.value").alias("value"))
    person = row_ids.join(ids.select("kind", "value", "uid"), on=["kind", "value"], how="left")
    found = [F.when(F.col("uid").isNotNull(), F.struct(
        F.lit(_PERSON).alias("tier"), F.col("kind"), F.col("uid")))]
    if devices is not None and device_kinds:
        prefix = F.element_at(F.create_map(*[F.lit(x) for kv in device_kinds.items()
                                            for x in kv]), F.col("kind"))
        key = F.when(F.col("kind").isin(list(device_kinds)),
                     F.concat(prefix, F.lit(":"), "value"))
        person = person.withColumn("device_key", key).join(
            devices.select("device_key", F.col("uid").alias("_device_uid")), on="device_key",
            how="left")
        found.append(F.when(F.col("_device_uid").isNotNull(), F.struct(
            F.lit(_DEVICE).alias("tier"), F.col("kind"), F.col("_device_uid").alias("uid"))))
    # collect_list skips the nulls of the ids that lead nowhere
    return person.groupBy(_HASH, _SET).agg(
        F.flatten(F.array(*[F.collect_list(c) for c in found])).alias("c"))


def resolve(activity: DataFrame, key: str, ids: DataFrame, devices: DataFrame | None,
            cfg: AttributionConfig, device_kinds: dict[str, str]) -> DataFrame:
    """One row per activity key: ``key, uid, attributed_by, reason``.

    ``uid`` is null when the row stays anonymous; ``reason`` then says why
    (``no_ids``, ``unknown_id`` or ``ambiguous``).

    Args:
        activity: Rows with ``key`` and an ``ids`` map.
        key: The key column (``order_key`` or ``event_key``).
        ids: :func:`id_uids`.
        devices: ``device_key, uid`` (``silver/identity_devices``), or None.
        cfg: The attribution rules.
        device_kinds: Id kind -> device-key prefix.
    """
    return (_resolved_rows(activity, key, ids, devices, cfg, device_kinds)
            .select(F.col(key).alias("key"), "uid", "attributed_by", "reason"))


def _resolved_rows(activity: DataFrame, key: str, ids: DataFrame, devices: DataFrame | None,
                   cfg: AttributionConfig, device_kinds: dict[str, str]) -> DataFrame:
    """Every column of ``activity`` plus ``uid, attributed_by, reason`` (see :func:`resolve`).

    A row's UID depends only on its set of ids, so each distinct set is decided once
    (millions of events share a few hundred thousand sets) and the rows join the
    decisions by the set's hash, the set itself compared after the exchange.
    """
    id_set = _id_set(F.col("ids"))
    listed = F.coalesce(F.size(id_set), F.lit(0)) > 0
    # a row without ids matches no decision: hashed by its key, so that such rows spread
    # over the join's partitions instead of all meeting in one
    row_hash = F.when(listed, F.xxhash64(id_set)).otherwise(F.xxhash64(key))
    sets = (activity.where(F.size(id_set) > 0)
            .select(F.xxhash64(id_set).alias(_HASH), id_set.alias(_SET)).distinct())
    # A set's candidates (a handful: its ids times the UIDs each leads to) are gathered
    # per set and decided with array functions.
    per_key = _candidates(sets, ids, devices, device_kinds).select(
        _HASH, _SET, "c", F.array_min(F.transform("c", lambda x: x["tier"])).alias("best"))
    priority = F.array(*[F.lit(k) for k in cfg.kind_priority]) if cfg.kind_priority \
        else F.array().cast("array<string>")

    def rank(kind: Column) -> Column:
        return F.array_position(priority, kind)

    kept = F.filter("c", lambda x: x["tier"] == F.col("best"))  # the strongest evidence decides

    def kind_uids(kind: Column) -> Column:
        return F.array_distinct(F.transform(F.filter(kept, lambda y: y["kind"] == kind),
                                            lambda y: y["uid"]))

    kept_uids = F.transform(kept, lambda x: x["uid"])
    n = F.size(F.array_distinct(kept_uids))
    if cfg.kind_priority:
        # the kind named: the first in kind_priority, else the first by name
        kind_any = F.array_min(F.transform(kept, lambda x: F.struct(
            F.when(rank(x["kind"]) > 0, rank(x["kind"])).otherwise(F.lit(1 << 30))
            .alias("r"), x["kind"].alias("kind"))))["kind"]
        # a kind of kind_priority that alone points at one UID, the first such; a
        # conditional branch, so only rows whose ids disagree evaluate it
        pick = F.when(n > 1, F.array_min(F.filter(F.transform(kept, lambda x: F.struct(
            rank(x["kind"]).alias("r"), x["uid"].alias("uid"), x["kind"].alias("kind"),
            F.size(kind_uids(x["kind"])).alias("m"))),
            lambda z: (z["m"] == 1) & (z["r"] > 0))))
    else:
        # no priority: every rank is 0, so the kind named is the first by name and no
        # kind is ever picked (the lambdas above cost most of this step at 10k customers)
        kind_any = F.array_min(F.transform(kept, lambda x: x["kind"]))
        pick = F.lit(None).cast("struct<r:int,uid:string,kind:string,m:int>")
    per_set = per_key.select(
        _HASH, _SET, n.alias("n"), F.array_min(kept_uids).alias("uid_any"),
        kind_any.alias("kind_any"), pick.alias("pick"), (F.size("c") > 0).alias("_matched"))
    uid = (F.when(F.col("n") == 1, F.col("uid_any"))
           .when(F.col("pick").isNotNull(), F.col("pick.uid")))
    by = (F.when(F.col("n") == 1, F.col("kind_any"))
          .when(F.col("pick").isNotNull(), F.col("pick.kind")))
    # every set, with or without candidates: whether it holds an id at all is decided here
    decided = per_set.select(
        _HASH, _SET, uid.alias("uid"), by.alias("attributed_by"), "_matched",
        (F.size(_present_ids(F.col(_SET))) > 0).alias("_has_ids"))
    # The rows are shuffled and sorted by the hash alone, without the set (a quarter of
    # a wide row); the set, computed again after the exchange, is compared on the joined
    # pairs. The comparison is wrapped in coalesce so that Spark does not take it for an
    # equi-join key: as `<=>` it became one, the exchange partitioned on the set and the
    # sort compared the sets of the rows of each hash (``_id_set`` is never null on the
    # decisions' side, so both forms match the same pairs).
    r, d = activity.select("*", row_hash.alias(_HASH)).alias("_r"), decided.alias("_d")
    same_set = F.coalesce(_id_set(F.col("_r.ids")) == F.col(f"_d.{_SET}"), F.lit(False))
    on = (F.col(f"_r.{_HASH}") == F.col(f"_d.{_HASH}")) & same_set
    return (
        r.join(d, on=on, how="left")
        .select(*[F.col(f"_r.`{c}`") for c in activity.columns], "uid", "attributed_by",
                F.when(F.col("uid").isNotNull(), F.lit(None).cast("string"))
                .when(~F.coalesce("_has_ids", F.lit(False)), F.lit(NO_IDS))
                .when(~F.coalesce("_matched", F.lit(False)), F.lit(UNKNOWN_ID))
                .otherwise(F.lit(AMBIGUOUS)).alias("reason"))
    )


def attribute_activity(orders: DataFrame, order_lines: DataFrame, interactions: DataFrame,
                       ids: DataFrame, devices: DataFrame | None, cfg: AttributionConfig,
                       device_kinds: dict[str, str], *, cache: bool = False) -> Attributed:
    """Key every order, order line and interaction to a UID (see the module docstring).

    Each row is resolved once: the keyed tables, the anonymous rows and the per-source
    totals are filters and projections of one resolved frame per entity.

    Args:
        orders: ``silver/orders``.
        order_lines: ``silver/order_lines``.
        interactions: ``silver/interactions``.
        ids: :func:`id_uids` of the person records.
        devices: ``silver/identity_devices`` or None.
        cfg: The attribution rules.
        device_kinds: Id kind -> device-key prefix.
        cache: Persist the resolved orders and interactions and the keyed order lines,
            so that writing every table (and the card) resolves each row only once;
            :meth:`Attributed.release` drops them.

    Returns:
        The activity tables (lazy frames; the caller writes them).
    """
    kinds = device_kinds if cfg.use_devices else {}
    if cache:
        ids = ids.persist()  # both entities join it
    o = _resolved_rows(orders, "order_key", ids, devices, cfg, kinds)
    i = _resolved_rows(interactions, "event_key", ids, devices, cfg, kinds)
    if cache:
        o, i = o.persist(), i.persist()
    keyed = F.col("uid").isNotNull()
    keyed_orders = o.where(keyed).select(*orders.columns, "uid", "attributed_by")
    keyed_lines = (order_lines.join(keyed_orders.select("order_key", "uid", "ts", "channel"),
                                    on="order_key", how="inner")
                   .select(*order_lines.columns, "uid", "ts", "channel"))
    if cache:
        keyed_lines = keyed_lines.persist()
    keyed_events = i.where(keyed).select(*interactions.columns, "uid", "attributed_by")
    entity_o, entity_i = F.lit("order").alias("entity"), F.lit("interaction").alias("entity")
    anonymous = (
        o.where(~keyed).select(entity_o, F.col("order_key").alias("key"), "source", "ts",
                               "reason")
        .unionByName(i.where(~keyed).select(entity_i, F.col("event_key").alias("key"),
                                            "source", "ts", "reason"))
    )
    sources = o.select(entity_o, "source").unionByName(i.select(entity_i, "source"))
    return Attributed(keyed_orders, keyed_lines, keyed_events, anonymous, sources,
                      cached=(ids, o, i, keyed_lines) if cache else ())


def attribution_shares(total: DataFrame, anonymous: DataFrame) -> list[dict[str, object]]:
    """Rows and anonymous rows per entity and source, for the run manifest.

    Args:
        total: ``entity, source`` of every activity row.
        anonymous: ``gold/unattributed_activity``.

    Returns:
        One dict per (entity, source): ``rows``, ``unattributed``, ``share`` and the
        count per reason. A handful of rows: one per source.
    """
    counts = total.groupBy("entity", "source").agg(F.count("*").alias("rows"))
    reasons = (anonymous.groupBy("entity", "source")
               .pivot("reason", [NO_IDS, UNKNOWN_ID, AMBIGUOUS]).count())
    rows = (counts.join(reasons, on=["entity", "source"], how="left")
            .orderBy("entity", "source").collect())  # one row per source
    out = []
    for r in rows:
        by_reason = {k: int(r[k] or 0) for k in (NO_IDS, UNKNOWN_ID, AMBIGUOUS)}
        n = int(r["rows"])
        missing = sum(by_reason.values())
        out.append({"entity": r["entity"], "source": r["source"], "rows": n,
                    "unattributed": missing, "share": round(missing / n, 4) if n else 0.0,
                    **by_reason})
    return out
