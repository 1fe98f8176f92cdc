"""The suppression list: erased people stay out when a source sends them again.

Ingest calls :func:`drop_suppressed` on each raw batch before it is validated. When the
list is empty (or absent) the batch is returned untouched, at the cost of one metadata
check. Otherwise each of the source's outputs is applied to the raw rows, the salted
tokens of the canonical rows' identifiers (record key, source ids, e-mail, E.164 phones)
are joined with the list (broadcast: it holds a few tokens per erased person), and a raw
row with a suppressed token is dropped: it reaches neither bronze nor quarantine.

``vista unsuppress`` lifts the suppression of the request(s) an identifier belongs to,
for a person who returns with consent.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from vista.activation.config import ActivationConfig
from vista.activation.errors import ErasureError
from vista.activation.raw_match import RID, with_lineage_defaults
from vista.activation.tokens import (
    SUPPRESSION_TABLE,
    privacy_salt,
    row_digest_sql,
    token,
)

if TYPE_CHECKING:  # pragma: no cover
    from vista.ingest.config import IngestConfig, SourceConfig
    from vista.lake import Lake

log = logging.getLogger(__name__)


def _token_rows(canon: DataFrame, entity: str, salt: str) -> DataFrame:
    """``RID, token`` for every identifier of canonical rows (order lines carry none)."""
    if "ids" not in canon.columns:
        return canon.select(RID, F.lit(None).cast("string").alias("token")).where("false")
    pairs: list[Column] = [F.transform(
        F.map_entries(F.col("ids")),
        lambda e: F.struct(F.concat(F.lit("id:"), e["key"]).alias("k"), e["value"].alias("v")))]
    if entity == "person":
        pairs.append(F.array(
            F.struct(F.lit("record").alias("k"), F.col("record_key").alias("v")),
            F.struct(F.lit("email").alias("k"), F.col("email_std").alias("v")),
            F.struct(F.lit("phone").alias("k"), F.col("phone_e164").alias("v"))))
        pairs.append(F.transform(F.coalesce(F.col("other_phones_e164"), F.array()),
                                 lambda p: F.struct(F.lit("phone").alias("k"), p.alias("v"))))
    exploded = canon.select(RID, F.explode(F.flatten(F.array(*pairs))).alias("p"))
    return exploded.select(RID, token(F.col("p.k"), F.col("p.v"), salt).alias("token")).where(
        F.col("token").isNotNull())


def drop_suppressed(lake: Lake, src: SourceConfig, cfg: IngestConfig,
                    rows: DataFrame) -> DataFrame:
    """``rows`` (a raw batch of ``src``) without the rows of suppressed people.

    Args:
        lake: The lake (holds the suppression list).
        src: The source the batch comes from.
        cfg: The ingest config (its mapping is applied to find identifiers).
        rows: The raw batch, as read (lineage columns optional).
    """
    from vista.ingest.mapping import to_canonical

    if not src.outputs or not lake.exists(SUPPRESSION_TABLE):
        return rows
    suppressed = lake.read(SUPPRESSION_TABLE).select("token")
    salt = privacy_salt()
    base = rows.withColumn(RID, F.expr(row_digest_sql(rows.columns)))
    mapped = with_lineage_defaults(base, src)
    hits = None
    for out in src.outputs:
        canon = mapped.transform(to_canonical(src, out, cfg, keep=[RID]))
        found = _token_rows(canon, out.entity, salt).join(
            F.broadcast(suppressed), on="token", how="left_semi").select(RID)
        hits = found if hits is None else hits.unionByName(found)
    return base.join(hits.distinct(), on=RID, how="left_anti").drop(RID)


def unsuppress(lake: Lake, cfg: ActivationConfig, kind: str, value: str) -> int:
    """Lift the suppression of every request the identifier belongs to.

    Args:
        lake: The lake.
        cfg: The activation section.
        kind: ``email``, ``record`` (``source:id`` as a record key) or ``id:<kind>``.
        value: The identifier, normalised as the suppression list has it.

    Returns:
        The number of tokens removed (0: the identifier was not suppressed).

    Raises:
        ErasureError: There is no suppression list.
    """
    from vista.activation.erasure import ErasureReport, _token_value, audit

    table = SUPPRESSION_TABLE
    if not lake.exists(table):
        raise ErasureError("there is no suppression list yet: nobody was erased.")
    started = datetime.now(timezone.utc).replace(tzinfo=None)
    salt = privacy_salt()
    tok = _token_value(lake.spark, kind, value, salt)
    sup = lake.read(table)
    requests = [r[0] for r in sup.where(F.col("token") == tok).select("request_id")
                .distinct().collect()]
    report = ErasureReport(request_id="+".join(requests) or "none",
                           identifier_kind=kind.split(":")[0], identifier_token=tok)
    removed = 0
    if requests:
        removed = sup.where(F.col("request_id").isin(requests)).count()
        lake.delete(table, "request_id IN (" + ", ".join(f"'{r}'" for r in requests) + ")")
    report.status = "done"
    report.tokens_suppressed = -removed
    audit(lake, cfg, report, "unsuppress", started)
    log.info("unsuppress: %d token(s) of %d request(s) lifted", removed, len(requests))
    return removed
