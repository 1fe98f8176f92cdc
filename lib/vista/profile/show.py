"""Find one customer and read their card as a role sees it (``vista profile show``).

Everything here reads one UID's rows with a filter on ``uid`` (or one record key or one
e-mail), so what reaches the driver is one card and a few timeline rows, whatever the
size of the lake.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F

from vista.errors import VistaError
from vista.profile.config import ProfileConfig
from vista.profile.fields import FIELDS, SECTIONS, matches
from vista.profile.views import TIMELINE, view_table

if TYPE_CHECKING:  # pragma: no cover
    from vista.lake import Lake

log = logging.getLogger(__name__)


class CustomerNotFound(VistaError):
    """No customer matches the UID, source id or e-mail asked for."""


class UnknownRole(VistaError):
    """The role asked for is not declared under ``profile.views``."""


def find_uid(lake: Lake, *, uid: str | None = None, source_id: str | None = None,
             email: str | None = None) -> str:
    """The active UID of a customer given by UID, ``SOURCE:ID`` or e-mail.

    A UID merged into another one leads to the surviving UID.

    Raises:
        CustomerNotFound: Nothing matches (the message never repeats an e-mail).
        VistaError: Not exactly one of the three was given.
    """
    given = [x for x in (uid, source_id, email) if x]
    if len(given) != 1:
        raise VistaError("give exactly one of --uid, --id SOURCE:ID or --email")
    if source_id:
        if ":" not in source_id:
            raise VistaError(f"--id expects SOURCE:ID (e.g. crm:C000123); found {source_id!r}")
        row = (lake.read("silver/identity_graph").where(F.col("record_key") == source_id)
               .select("uid").first())
        if row is None:
            raise CustomerNotFound(f"no customer has the source id {source_id}")
        uid = row["uid"]
    elif email:
        wanted = email.strip().lower()
        row = (lake.read("silver/golden_customer")
               .where(F.array_contains("emails", wanted)).select("uid").first())
        if row is None:
            raise CustomerNotFound("no customer has that e-mail address")
        uid = row["uid"]
    reg = (lake.read("silver/uid_registry").where(F.col("uid") == uid)
           .select("status", "merged_into").first())
    if reg is None:
        raise CustomerNotFound(f"no customer has the UID {uid}")
    if reg["status"] == "merged" and reg["merged_into"]:
        return find_uid(lake, uid=reg["merged_into"])
    if reg["status"] != "active":
        raise CustomerNotFound(f"the UID {uid} is {reg['status']}; it has no card")
    return str(uid)


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def timeline(lake: Lake, cfg: ProfileConfig, uid: str) -> list[dict[str, Any]]:
    """The customer's latest orders and contacts (support tickets, survey answers),
    newest first: at most ``profile.timeline_events`` of each."""
    n = cfg.timeline_events
    if n == 0:
        return []
    e = cfg.events
    orders = (lake.read("gold/customer_orders").where(F.col("uid") == uid)
              .select("ts", F.lit("order").alias("kind"), "channel",
                      F.format_string("%.2f", "amount_reporting").alias("what"))
              .orderBy(F.desc("ts")).limit(n).collect())
    contact = matches(e.ticket) | matches(e.nps)  # the customer contacting the brand
    contacts = (lake.read("gold/customer_interactions").where((F.col("uid") == uid) & contact)
                .select("ts", F.col("type").alias("kind"), "channel",
                        F.concat_ws(" ", F.coalesce("category", F.lit("")),
                                    F.coalesce("content", F.lit(""))).alias("what"))
                .orderBy(F.desc("ts")).limit(n).collect())
    rows = sorted([r.asDict() for r in orders + contacts], key=lambda r: r["ts"], reverse=True)
    return [_plain(r) for r in rows]


def card(lake: Lake, cfg: ProfileConfig, uid: str, role: str) -> dict[str, Any]:
    """The card of ``uid`` as ``role`` sees it: its fields by section, and its timeline
    when the role is given ``timeline``.

    Returns:
        ``{"uid", "role", "sections": {section: {field: value}}, "timeline": [...]}``.

    Raises:
        UnknownRole: The role is not declared.
        CustomerNotFound: The UID has no card (the profile stage has not run since).
    """
    if role not in cfg.views:
        raise UnknownRole(f"no role {role!r}; declared roles: {', '.join(sorted(cfg.views))}")
    row = lake.read(view_table(role)).where(F.col("uid") == uid).first()
    if row is None:
        raise CustomerNotFound(f"the UID {uid} has no card in {view_table(role)}; run the "
                               "profile stage")
    values = row.asDict()
    section_of = {}
    for f in FIELDS:
        for w in cfg.engagement_windows_days:
            section_of[f.name.format(w=w)] = f.section
    sections: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    for name, value in values.items():
        sections[section_of.get(name, "identity")][name] = _plain(value)
    out: dict[str, Any] = {"uid": uid, "role": role,
                           "sections": {s: v for s, v in sections.items() if v}}
    if TIMELINE in cfg.views[role].fields:
        out["timeline"] = timeline(lake, cfg, uid)
    return out
