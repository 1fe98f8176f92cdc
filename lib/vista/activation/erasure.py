"""The right to be forgotten: ``vista forget --email X | --id SOURCE:ID | --uid U``.

One request:

1. resolves the person (:mod:`vista.activation.person`);
2. adds the salted tokens of all their identifiers to the suppression list *first*, so a
   run that ingests while the erasure goes on cannot bring them back;
3. deletes their rows from every Delta table under the lake (bronze, quarantine, silver
   with its history, the identity graph, links, registry, lineage, golden record, gold
   tables, export state, ...). Each table is searched with a Spark filter; the rows found
   are deleted by their row digests in one commit, so only the files that hold the
   person are rewritten and the table's history names no value of theirs;
4. removes their rows from export files already written under each destination's path;
5. records the request in the audit table: the token of the identifier given, the
   tables and row counts, the status. Never the identifier itself.

Old table versions still hold the person until ``--purge-history``
(:mod:`vista.activation.purge`).
"""

from __future__ import annotations

import fnmatch
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from vista.activation import files
from vista.activation.config import ActivationConfig
from vista.activation.errors import ErasureError
from vista.activation.person import ForgetRequest, Person, person_condition, resolve
from vista.activation.raw_match import (
    RID,
    as_raw,
    canonical_matches,
    source_of,
    text_match,
    value_match,
)
from vista.activation.tokens import (
    AUDIT_TABLE,
    SUPPRESSION_TABLE,
    privacy_salt,
    row_digest_sql,
    token,
)
from vista.ingest.config import IngestConfig
from vista.lake import Lake

log = logging.getLogger(__name__)


@dataclass
class ErasureReport:
    """What one request did (no PII: counts, table names and a token).

    Attributes:
        request_id: Id of the request (audit and suppression rows).
        identifier_kind: ``email``, ``id`` or ``uid``.
        identifier_token: Salted token of the identifier given.
        found: The identifier led to records or a UID in silver.
        tables: Table -> rows deleted.
        export_folders: Export folders rewritten without the person.
        tokens_suppressed: Identifier tokens added to the suppression list.
        destinations: Destinations whose state showed the person (already sent there).
        status: ``done`` or ``failed``.
    """

    request_id: str
    identifier_kind: str
    identifier_token: str
    found: bool = False
    tables: dict[str, int] = field(default_factory=dict)
    export_folders: int = 0
    tokens_suppressed: int = 0
    destinations: list[str] = field(default_factory=list)
    purged_tables: int = 0
    purged_files: int = 0
    status: str = "failed"
    message: str = ""
    needles: tuple[str, ...] = field(default=(), repr=False)  # for --purge-history only

    @property
    def rows_deleted(self) -> int:
        return sum(self.tables.values())


def _token_value(spark, kind: str, value: str, salt: str) -> str:  # noqa: ANN001
    df = spark.createDataFrame([(kind, value)], "kind string, value string")
    return df.select(token(F.col("kind"), F.col("value"), salt)).first()[0]


def _skipped(table: str, cfg: ActivationConfig) -> bool:
    own = (SUPPRESSION_TABLE, AUDIT_TABLE)
    return table in own or any(fnmatch.fnmatch(table, p) for p in cfg.privacy.skip_tables)


def _person_rows(lake: Lake, table: str, person: Person, ingest: IngestConfig) -> DataFrame | None:
    """The person's rows of ``table`` (with the row digest in ``RID``), or None."""
    df = lake.read(table)
    with_rid = df.withColumn(RID, F.expr(row_digest_sql(df.columns)))
    src = source_of(table, ingest)
    if src is not None:
        raw = as_raw(with_rid, src, table)
        rids = canonical_matches(raw, src, ingest, value_match(person))
        if "raw" in df.columns:  # a corrupt line: scan its text
            rids = rids.unionByName(with_rid.where(text_match("raw", person.needles)).select(RID))
        return with_rid.join(rids.distinct(), on=RID, how="left_semi")
    cond = person_condition(df, person)
    if cond is None:
        return None
    return with_rid.where(cond)


def erase_table(lake: Lake, table: str, person: Person, ingest: IngestConfig,
                max_keys: int) -> int:
    """Delete the person's rows from one table; returns the rows deleted.

    The rows are found with a Spark filter; only their digests (one person's rows) come
    to the driver, and each delete commit names at most ``max_keys`` of them.
    """
    rows = _person_rows(lake, table, person, ingest)
    if rows is None:
        return 0
    counts = rows.groupBy(RID).count().collect()
    if not counts:
        return 0
    digests = sorted(r[0] for r in counts)
    expr = row_digest_sql([c for c in rows.columns if c != RID])
    for i in range(0, len(digests), max_keys):
        chunk = ", ".join(f"'{d}'" for d in digests[i:i + max_keys])
        lake.delete(table, f"{expr} IN ({chunk})")
    n = sum(int(r["count"]) for r in counts)
    log.info("erasure: %s: %d row(s) deleted", table, n)
    return n


def _suppress(lake: Lake, cfg: ActivationConfig, person: Person, request_id: str,
              salt: str) -> int:
    spark = lake.spark
    if not person.identifiers:
        return 0
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = spark.createDataFrame(list(person.identifiers), "kind string, value string")
    kinds = F.when(F.col("kind").startswith("id:"), F.lit("id")).otherwise(F.col("kind"))
    tokens = (rows.select(token(F.col("kind"), F.col("value"), salt).alias("token"),
                          kinds.alias("kind"))
              .where(F.col("token").isNotNull()).dropDuplicates(["token"])
              .select("token", "kind", F.lit(request_id).alias("request_id"),
                      F.lit(now).cast("timestamp").alias("added_at")))
    lake.merge(SUPPRESSION_TABLE, tokens, keys=["token"], update=False)
    return len(person.identifiers)


def audit(lake: Lake, cfg: ActivationConfig, report: ErasureReport, action: str,
          started: datetime, purged: bool = False) -> None:
    """Append one row to the audit table (no PII)."""
    row = [(report.request_id, action, report.identifier_kind, report.identifier_token,
            started, datetime.now(timezone.utc).replace(tzinfo=None), report.status,
            report.found, json.dumps(report.tables, sort_keys=True), report.rows_deleted,
            report.export_folders, report.tokens_suppressed, ",".join(report.destinations),
            purged, report.purged_files, report.message)]
    schema = ("request_id string, action string, identifier_kind string, "
              "identifier_token string, requested_at timestamp, finished_at timestamp, "
              "status string, found boolean, tables string, rows_deleted long, "
              "export_folders long, tokens_suppressed long, destinations string, "
              "purged boolean, purged_files long, message string")
    lake.append(AUDIT_TABLE, lake.spark.createDataFrame(row, schema))


def _destinations_with(lake: Lake, cfg: ActivationConfig, person: Person) -> list[str]:
    if not person.uids or not lake.exists(cfg.state_table):
        return []
    return sorted(r[0] for r in lake.read(cfg.state_table)
                  .where(F.col("uid").isin(list(person.uids)))
                  .select("destination").distinct().collect())


def forget(lake: Lake, cfg: ActivationConfig, ingest: IngestConfig, request: ForgetRequest,
           device_prefixes: dict[str, str]) -> ErasureReport:
    """Carry out one erasure request (steps in the module docstring).

    Args:
        lake: The lake.
        cfg: The activation section (destinations, privacy).
        ingest: The ingest section (sources, to read bronze and quarantine).
        request: The identifier given.
        device_prefixes: ``identity.linking.devices.device_id_kinds``.

    Returns:
        The report, also written to the audit table.

    Raises:
        ErasureError: A step failed; the audit row says ``failed`` and which tables were
            already done. Re-running the request finishes the rest.
    """
    from vista.activation.export_erasure import erase_exports

    started = datetime.now(timezone.utc).replace(tzinfo=None)
    salt = privacy_salt()
    kind, value = request.identifier()
    report = ErasureReport(request_id=uuid.uuid4().hex[:16], identifier_kind=request.kind,
                           identifier_token=_token_value(lake.spark, kind, value, salt))
    try:
        sources = {s.name: s.key_namespace for s in ingest.sources}
        person = resolve(lake, request, sources, device_prefixes)
        report.found = person.found
        report.needles = person.contact_values()
        report.destinations = _destinations_with(lake, cfg, person)
        report.tokens_suppressed = _suppress(lake, cfg, person, report.request_id, salt)
        for table in files.delta_tables(lake.spark, lake.root):
            if _skipped(table, cfg):
                continue
            n = erase_table(lake, table, person, ingest, cfg.privacy.max_keys_per_commit)
            if n:
                report.tables[table] = n
        report.export_folders = erase_exports(lake, cfg, person)
        report.status = "done"
    except Exception as exc:
        report.message = f"{type(exc).__name__}; re-run the request to finish it"
        audit(lake, cfg, report, "forget", started)
        raise ErasureError(
            f"erasure request {report.request_id} failed ({type(exc).__name__}: see the log); "
            f"tables done so far: {sorted(report.tables)}. Re-run it to finish.") from exc
    audit(lake, cfg, report, "forget", started)
    log.info("erasure %s: %d row(s) in %d table(s), %d export folder(s) rewritten, %d "
             "identifier token(s) suppressed", report.request_id, report.rows_deleted,
             len(report.tables), report.export_folders, report.tokens_suppressed)
    return report
