"""The profile stage: activity keyed to UIDs, the customer card, the role views.

``run(ctx)``:

1. attributes every silver order, order line and interaction to a UID
   (:mod:`vista.profile.attribution`) and writes ``gold/customer_orders``,
   ``gold/customer_order_lines``, ``gold/customer_interactions`` and
   ``gold/unattributed_activity``; the anonymous share per source goes to the manifest;
2. computes ``gold/customer_profile`` as of a date (``ctx.options["as_of"]``, default the
   latest event in the lake), with contact data and consent as they were then
   (``silver/person_records_history``); incremental when it can be
   (:mod:`vista.profile.incremental`);
3. gates the card with Great Expectations and writes one ``gold/profile_<role>`` per
   declared role.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import reduce
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from vista.errors import VistaError
from vista.identity.golden import golden_records
from vista.profile.attribution import (
    Attributed,
    attribute_activity,
    attribution_shares,
    id_uids,
)
from vista.profile.card import ProfileInputs, build_profile, records_as_of
from vista.profile.checks import gate_profile
from vista.profile.config import ProfileConfig
from vista.profile.incremental import changed_uids, config_hash, last_run, record_run, scope
from vista.profile.views import check_views, role_view, view_table
from vista.schemas import PERSON_RECORDS

if TYPE_CHECKING:  # pragma: no cover
    from vista.runtime import RunContext

log = logging.getLogger(__name__)

ORDERS_T = "gold/customer_orders"
LINES_T = "gold/customer_order_lines"
EVENTS_T = "gold/customer_interactions"
UNATTRIBUTED_T = "gold/unattributed_activity"
PROFILE_T = "gold/customer_profile"
HISTORY_T = "silver/person_records_history"
_NEEDED = ("silver/orders", "silver/order_lines", "silver/interactions",
           "silver/person_records", "silver/identity_graph", "silver/uid_registry")


class ProfileInputMissing(VistaError):
    """A table the profile stage reads does not exist yet."""


def profile_config(config: Any) -> ProfileConfig:
    """The ``profile`` section of the root config (defaults when it has none)."""
    section = getattr(config, "profile", None)
    return section if isinstance(section, ProfileConfig) else ProfileConfig()


def _device_kinds(ctx: RunContext, cfg: ProfileConfig) -> dict[str, str]:
    if cfg.attribution.device_kinds:
        return dict(cfg.attribution.device_kinds)
    identity = getattr(ctx.config, "identity", None)
    return dict(identity.linking.devices.device_id_kinds) if identity is not None else {}


def latest_event_date(ctx: RunContext) -> dt.date:
    """The date of the latest order or interaction in the lake (one aggregate)."""
    lake = ctx.lake
    ts = lake.read("silver/orders").select("ts").unionByName(
        lake.read("silver/interactions").select("ts"))
    latest = ts.agg(F.max("ts").alias("m")).first()["m"]
    return latest.date() if latest is not None else dt.date.today()


def keyed_activity(ctx: RunContext, cfg: ProfileConfig) -> Attributed:
    """The UID-keyed activity tables of this run (lazy, over cached resolved rows: call
    ``release()`` when done)."""
    lake = ctx.lake
    graph = lake.read("silver/identity_graph")
    devices = lake.read("silver/identity_devices") if lake.exists(
        "silver/identity_devices") else None
    ids = id_uids(lake.read("silver/person_records"), graph)
    return attribute_activity(lake.read("silver/orders"), lake.read("silver/order_lines"),
                              lake.read("silver/interactions"), ids, devices,
                              cfg.attribution, _device_kinds(ctx, cfg), cache=True)


def activity_changes(ctx: RunContext, out: Attributed) -> DataFrame:
    """UIDs whose activity rows differ from the stored activity tables (materialised,
    since the tables are about to be overwritten)."""
    lake = ctx.lake
    parts = [changed_uids(new, lake.read(table)) for new, table in
             ((out.orders, ORDERS_T), (out.order_lines, LINES_T), (out.interactions, EVENTS_T))]
    return reduce(DataFrame.unionByName, parts).distinct().checkpoint(eager=True)


def write_activity(ctx: RunContext, out: Attributed) -> list[dict[str, Any]]:
    """Write the activity tables; return the anonymous share per entity and source."""
    lake = ctx.lake
    lake.overwrite(ORDERS_T, out.orders)
    lake.overwrite(LINES_T, out.order_lines)
    lake.overwrite(EVENTS_T, out.interactions)
    lake.overwrite(UNATTRIBUTED_T, out.unattributed)
    return attribution_shares(out.sources, out.unattributed)


def profile_inputs(ctx: RunContext, as_of: dt.date, activity: Attributed) -> ProfileInputs:
    """The card's inputs, with person records as they were at ``as_of`` and this run's
    activity tables (the frames just written, still cached)."""
    lake = ctx.lake
    graph = lake.read("silver/identity_graph").select("record_key", "uid")
    columns = [f.name for f in PERSON_RECORDS.fields]
    if lake.exists(HISTORY_T):
        records = records_as_of(lake.read(HISTORY_T), as_of, columns)
    else:
        records = lake.read("silver/person_records").select(*columns)
    identity = getattr(ctx.config, "identity", None)
    from vista.identity.golden_config import SurvivorshipConfig

    survivorship = identity.survivorship if identity is not None else SurvivorshipConfig()
    golden = golden_records(records, graph, survivorship, ctx.run_id).drop("run_id")
    uids = lake.read("silver/uid_registry").where(F.col("status") == "active").select("uid")
    return ProfileInputs(uids=uids, golden=golden, orders=activity.orders,
                         order_lines=activity.order_lines, interactions=activity.interactions)


def write_views(ctx: RunContext, cfg: ProfileConfig, profile: DataFrame) -> list[str]:
    """One ``gold/profile_<role>`` per declared role; returns the tables written."""
    written = []
    for role in cfg.views:
        ctx.lake.overwrite(view_table(role), role_view(profile, cfg, role))
        written.append(view_table(role))
    return written


def _tier_counts(profile: DataFrame) -> dict[str, int]:
    rows = profile.groupBy("value_tier").count().collect()  # one row per tier rule
    return {str(r["value_tier"]): int(r["count"]) for r in rows}


def _scoped(inputs: ProfileInputs, uids: DataFrame) -> ProfileInputs:
    def only(df: DataFrame) -> DataFrame:
        return df.join(uids, on="uid", how="left_semi")
    return ProfileInputs(uids=uids, golden=only(inputs.golden), orders=only(inputs.orders),
                         order_lines=only(inputs.order_lines),
                         interactions=only(inputs.interactions))


def _incremental_cards(ctx: RunContext, cfg: ProfileConfig, inputs: ProfileInputs,
                       changes: DataFrame, as_of: dt.date) -> tuple[DataFrame, DataFrame, int]:
    """``(final table, rows to merge, cards recomputed)`` of an incremental run."""
    stored = ctx.lake.read(PROFILE_T)
    sc = scope(inputs.uids, stored, [changes], inputs.golden)
    uids = sc.uids.checkpoint(eager=True)
    deleted = sc.deleted.checkpoint(eager=True)
    cards = build_profile(_scoped(inputs, uids), cfg, as_of).checkpoint(eager=True)
    final = (stored.join(uids.unionByName(deleted), on="uid", how="left_anti")
             .unionByName(cards))
    merge = cards.withColumn("_op", F.lit("U")).unionByName(
        deleted.withColumn("_op", F.lit("D")), allowMissingColumns=True)
    return final, merge, uids.count()


def run(ctx: RunContext) -> dict[str, Any]:
    """Run the profile stage (see the module docstring).

    Options: ``as_of`` (a ``datetime.date``), ``full`` (recompute every card),
    ``gate`` (default True).

    Args:
        ctx: The run context.

    Returns:
        Counts for the stage's INFO line (profiles, recomputed cards, attributed rows,
        the as-of date).

    Raises:
        ProfileInputMissing: Ingest or identity has not run on this lake.
        ConfigError: A role names an unknown field or a tier rule is not valid SQL.
        QualityGateFailed: The card breaks one of its expectations; nothing is published.
    """
    cfg = profile_config(ctx.config)
    check_views(cfg)
    lake = ctx.lake
    missing = [t for t in _NEEDED if not lake.exists(t)]
    if missing:
        raise ProfileInputMissing(
            f"the profile stage reads {', '.join(missing)}, which do not exist yet; run "
            f"the ingest and identity stages first (vista run --stages ingest identity).")
    as_of = ctx.options.get("as_of") or latest_event_date(ctx)
    if isinstance(as_of, str):
        as_of = dt.date.fromisoformat(as_of)
    cfg_hash = config_hash(cfg)
    last = last_run(lake)
    incremental = (not ctx.options.get("full") and last is not None
                   and last["as_of"] == as_of and last["config_hash"] == cfg_hash
                   and all(lake.exists(t) for t in (PROFILE_T, ORDERS_T, LINES_T, EVENTS_T)))
    log.info("profile: %s run, cards as of %s", "incremental" if incremental else "full", as_of)
    out = keyed_activity(ctx, cfg)
    try:
        metrics, shares, tiers = _publish(ctx, cfg, out, as_of, incremental)
    finally:
        out.release()
    record_run(lake, ctx.spark, ctx.run_id, as_of, cfg_hash,
               "incremental" if incremental else "full", metrics["recomputed"])
    ctx.manifest.record_metrics("profile", {**metrics, "attribution": shares,
                                            "value_tiers": tiers})
    return metrics


def _publish(ctx: RunContext, cfg: ProfileConfig, out: Attributed, as_of: dt.date,
             incremental: bool) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, int]]:
    """Write the activity tables, the gated card and the role views.

    Returns:
        The stage's metrics, the anonymous shares and the cards per value tier.
    """
    lake = ctx.lake
    changes = activity_changes(ctx, out) if incremental else None
    shares = write_activity(ctx, out)
    inputs = profile_inputs(ctx, as_of, out)
    if changes is not None:
        final, merge, recomputed = _incremental_cards(ctx, cfg, inputs, changes, as_of)
    else:
        # materialised once: the gate, the write and the views all read it
        final = merge = build_profile(inputs, cfg, as_of).checkpoint(eager=True)
        recomputed = -1
    if ctx.options.get("gate", True):
        registry = lake.read("silver/uid_registry")
        for result in gate_profile(final, registry, as_of, cfg,
                                   lake.path("_quality/data_docs")):
            ctx.manifest.record_quality(result)
    if changes is not None:
        lake.merge(PROFILE_T, merge, ["uid"], delete_when="_op = 'D'")
        written = lake.read(PROFILE_T)
    else:
        lake.overwrite(PROFILE_T, final)
        written = final  # the rows just written, without reading them back
    views = write_views(ctx, cfg, written)
    tiers = _tier_counts(written)
    profiles = sum(tiers.values())  # every card has a tier
    attributed = {e: sum(s["rows"] - s["unattributed"] for s in shares
                         if s["entity"] == e) for e in ("order", "interaction")}
    metrics = {
        "as_of": as_of.isoformat(),
        "full": int(not incremental),
        "profiles": profiles,
        "recomputed": profiles if recomputed < 0 else recomputed,
        "orders_attributed": attributed["order"],
        "interactions_attributed": attributed["interaction"],
        "views": len(views),
    }
    return metrics, shares, tiers
