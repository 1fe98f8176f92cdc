"""Who an erasure request is about: from one identifier to all of the person's records.

``--email``, ``--id SOURCE:ID`` (a source and its record id, or an id kind and its value)
or ``--uid`` is resolved through silver: the records carrying the identifier, their UIDs
in the identity graph, then every record of those UIDs, their past values (the SCD2
history) and the devices attributed to them. Everything collected is one person's
handful of values; it is never logged.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from vista.activation.errors import ErasureError
from vista.lake import Lake

log = logging.getLogger(__name__)

RECORDS = "silver/person_records"
HISTORY = "silver/person_records_history"
GRAPH = "silver/identity_graph"
DEVICES = "silver/identity_devices"
ORDERS = "silver/orders"


@dataclass(frozen=True)
class ForgetRequest:
    """One erasure request: exactly one of the three identifiers.

    Attributes:
        email: An e-mail address (matched trimmed and lower-cased).
        record_id: ``SOURCE:ID`` (a source's record id) or ``ID_KIND:VALUE``.
        uid: A UID.
    """

    email: str | None = None
    record_id: str | None = None
    uid: str | None = None

    def __post_init__(self) -> None:
        given = [v for v in (self.email, self.record_id, self.uid) if v]
        if len(given) != 1:
            raise ErasureError("give exactly one of --email, --id SOURCE:ID or --uid.")
        if self.record_id and ":" not in self.record_id.strip(":"):
            raise ErasureError("--id takes SOURCE:ID (e.g. crm:C0001) or ID_KIND:VALUE "
                               "(e.g. loyalty_card:7788).")

    @property
    def kind(self) -> str:
        """``email``, ``id`` or ``uid``: goes into the audit table with the token."""
        return "email" if self.email else ("id" if self.record_id else "uid")

    def identifier(self) -> tuple[str, str]:
        """``(token kind, normalised value)`` of the identifier given."""
        if self.email:
            return "email", self.email.strip().lower()
        if self.uid:
            return "uid", self.uid.strip()
        return "record", str(self.record_id).strip()


@dataclass(frozen=True)
class Person:
    """Everything that identifies one person in the lake (held in memory only).

    Attributes:
        uids: The person's UIDs.
        record_keys: Their person records (``source:id``) and device keys.
        identifiers: ``(kind, value)``: ``email``, ``phone``, ``id:<kind>``, ``record``.
        needles: Values as delivered (addresses, numbers, ids) for scanning text.
        names: Full names as delivered (only to scan side files at purge).
        order_keys: Their orders (to find order lines, which carry no person column).
    """

    uids: tuple[str, ...] = ()
    record_keys: tuple[str, ...] = ()
    identifiers: tuple[tuple[str, str], ...] = ()
    needles: tuple[str, ...] = field(default=(), repr=False)
    names: tuple[str, ...] = field(default=(), repr=False)
    order_keys: tuple[str, ...] = ()

    def contact_values(self) -> tuple[str, ...]:
        """Addresses, numbers (as delivered and E.164) and full names: the values worth
        scanning free-form side files for (ids are short codes that match anything)."""
        ids = {v for k, v in self.identifiers if k.startswith("id:") or k == "record"}
        return tuple(sorted({n for n in self.needles if n not in ids and len(n) >= 6}
                            | set(self.names)))

    def values(self, kind: str) -> list[str]:
        return sorted({v for k, v in self.identifiers if k == kind})

    def id_pairs(self) -> list[str]:
        """``<kind>:<value>`` of every source id of the person."""
        return sorted({f"{k[3:]}:{v}" for k, v in self.identifiers if k.startswith("id:")})

    @property
    def found(self) -> bool:
        return bool(self.uids or self.record_keys)


def _records(lake: Lake, table: str) -> DataFrame | None:
    return lake.read(table) if lake.exists(table) else None


def _initial_keys(lake: Lake, request: ForgetRequest, sources: dict[str, str]) -> Column | None:
    """A condition on person records selecting those the identifier names."""
    if request.email:  # compared as digests: a printed query plan holds no address
        digest = hashlib.sha256(request.email.strip().lower().encode("utf-8")).hexdigest()
        return F.sha2(F.col("email_std"), 256) == digest
    if request.record_id:
        head, _, value = request.record_id.strip().partition(":")
        if head in sources:
            return F.col("record_key") == f"{sources[head]}:{value}"
        return F.col("ids").getItem(head) == value
    return None


def resolve(lake: Lake, request: ForgetRequest, sources: dict[str, str],
            device_prefixes: dict[str, str]) -> Person:
    """Find the person behind ``request`` in silver.

    Args:
        lake: The lake.
        request: The identifier given.
        sources: Source name -> its record-key namespace.
        device_prefixes: Device id kind -> the prefix of its device keys
            (``identity.linking.devices.device_id_kinds``).

    Returns:
        The person; without matches, just the identifier given (bronze, quarantine and
        the suppression list are still covered by it).
    """
    kind, value = request.identifier()
    records = [df for df in (_records(lake, RECORDS), _records(lake, HISTORY)) if df is not None]
    cols = ["record_key", "ids", "email", "email_std", "phone", "phone_e164", "other_phones_e164",
            "first_name", "last_name", "full_name_std"]
    union = (reduce(DataFrame.unionByName, [df.select(*cols) for df in records])
             if records else None)
    keys: set[str] = set()
    idents: set[tuple[str, str]] = set()
    if kind == "email":
        idents.add(("email", value))
    elif kind == "record":
        head, _, rest = value.partition(":")
        if head in sources:
            keys.add(f"{sources[head]}:{rest}")
        else:
            idents.add((f"id:{head}", rest))
    cond = _initial_keys(lake, request, sources)
    if union is not None and cond is not None:
        keys |= {r[0] for r in union.where(cond).select("record_key").distinct().collect()}
    uids: set[str] = {value} if kind == "uid" else set()
    graph = _records(lake, GRAPH)
    if graph is not None:
        if keys:
            uids |= {r[0] for r in graph.where(F.col("record_key").isin(sorted(keys)))
                     .select("uid").distinct().collect()}
        if uids:
            keys |= {r[0] for r in graph.where(F.col("uid").isin(sorted(uids)))
                     .select("record_key").distinct().collect()}
    needles: set[str] = {value} if kind == "email" else set()
    names: set[str] = set()
    if union is not None and keys:
        rows = (union.where(F.col("record_key").isin(sorted(keys)))
                .select("record_key", F.map_entries("ids").alias("ids"), "email", "email_std",
                        "phone", "phone_e164", "other_phones_e164",
                        F.concat_ws(" ", "first_name", "last_name").alias("name"))
                .distinct().collect())
        for r in rows:
            idents.add(("record", r["record_key"]))
            for e in r["ids"] or []:
                if e["value"]:
                    idents.add((f"id:{e['key']}", e["value"]))
                    needles.add(e["value"])
            for k, v in (("email", r["email_std"]), ("phone", r["phone_e164"])):
                if v:
                    idents.add((k, v))
                    needles.add(v)
            for v in r["other_phones_e164"] or []:
                idents.add(("phone", v))
                needles.add(v)
            needles |= {v.strip() for v in (r["email"], r["phone"]) if v and v.strip()}
            if r["name"] and " " in r["name"].strip():
                names.add(r["name"].strip())
    devices = _records(lake, DEVICES)
    if devices is not None and uids:
        prefix_kind = {p: k for k, p in device_prefixes.items()}
        for (dkey,) in devices.where(F.col("uid").isin(sorted(uids))).select("device_key").collect():
            keys.add(dkey)
            prefix, _, device = dkey.partition(":")
            if prefix in prefix_kind:
                idents.add((f"id:{prefix_kind[prefix]}", device))
    idents |= {("record", k) for k in keys}
    order_keys: set[str] = set()
    orders = _records(lake, ORDERS)
    pairs = sorted({f"{k[3:]}:{v}" for k, v in idents if k.startswith("id:")})
    if orders is not None and pairs:
        cond = ids_match("ids", pairs, orders.schema["ids"].dataType)
        order_keys = {r[0] for r in orders.where(cond).select("order_key").collect()}
    needles |= {v for k, v in idents if k.startswith("id:")}
    person = Person(uids=tuple(sorted(uids)), record_keys=tuple(sorted(keys)),
                    identifiers=tuple(sorted(idents)),
                    needles=tuple(sorted(n for n in needles if len(n) >= 4)),
                    names=tuple(sorted(names)), order_keys=tuple(sorted(order_keys)))
    log.info("erasure: the request resolves to %d UID(s), %d record(s), %d identifier(s)",
             len(person.uids), len(person.record_keys), len(person.identifiers))
    return person


def _isin(column: str, values: list[str]) -> Column | None:
    return F.col(f"`{column}`").isin(values) if values else None


def ids_match(column: str, pairs: list[str], dtype: T.DataType) -> Column | None:
    """Rows whose ``ids`` map holds one of the person's ``kind:value`` ids."""
    if not pairs or not isinstance(dtype, T.MapType):
        return None
    if isinstance(dtype.valueType, T.ArrayType):
        return F.exists(F.map_entries(F.col(column)), lambda e: F.exists(
            e["value"], lambda v: F.concat_ws(":", e["key"], v).isin(pairs)))
    return F.exists(F.map_entries(F.col(column)),
                    lambda e: F.concat_ws(":", e["key"], e["value"]).isin(pairs))


def person_condition(df: DataFrame, person: Person) -> Column | None:
    """A condition selecting the person's rows in a lake table, by the columns it has.

    UIDs (``uid``, ``old_uid``, ``new_uid``), record keys (``record_key``, the two ends of
    a link, ``device_key``) and source ids (an ``ids`` map). ``None``: the table holds no
    column that names a person.
    """
    types = {f.name: f.dataType for f in df.schema.fields}
    uids, keys = list(person.uids), list(person.record_keys)
    conds = [_isin(c, uids) for c in ("uid", "old_uid", "new_uid") if c in types]
    conds += [_isin(c, keys) for c in ("record_key", "record_key_l", "record_key_r",
                                       "device_key") if c in types]
    if "order_key" in types:
        conds.append(_isin("order_key", list(person.order_keys)))
    if "ids" in types:
        conds.append(ids_match("ids", person.id_pairs(), types["ids"]))
    live = [c for c in conds if c is not None]
    if not any(c in types for c in ("uid", "old_uid", "new_uid", "record_key", "record_key_l",
                                    "device_key", "ids", "order_key")):
        return None
    return reduce(lambda a, b: a | b, live) if live else F.lit(False)
