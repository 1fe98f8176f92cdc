"""Configuration fingerprints: silver is never silently stale after a mapping change.

Each source's fingerprint is a SHA-256 of the settings that decide its silver rows and
its quarantine: the declared schema, key, ids, checks (``required``, ``rules``,
``on_error``), defaults for country and region, currency settings, every output's
mapping, and the ingest section's currency rates. Where the files are (``path``), how
they are read (``options``), quality expectations and PII masking are left out: they do
not change a row already delivered.

The fingerprints silver was built with are kept next to it, in
``_state/ingest_config`` (one row per source and change). When a source's current
fingerprint differs from the stored one, the stage either rebuilds silver from bronze
(replaying the quarantine first) or, with ``ingest.on_config_change: stop``, stops with a
message that says to run ``--full``. A source never published has no stored fingerprint
and nothing to rebuild.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from vista.ingest.config import IngestConfig, SourceConfig

if TYPE_CHECKING:  # pragma: no cover
    from vista.lake import Lake

FINGERPRINT_TABLE = "_state/ingest_config"
#: Source settings that do not change a delivered row's silver form or its checks.
_NOT_FINGERPRINTED = {"path", "options", "expectations", "enabled", "pii", "jdbc",
                      "watermark_column"}
#: Settings added after lakes were built, with their defaults: they count only when set
#: to something else, so upgrading vista does not make every source's fingerprint change.
_LATER_DEFAULTS = {"on_missing_column": "quarantine"}


def fingerprint(src: SourceConfig, cfg: IngestConfig) -> str:
    """The source's mapping and standardisation settings as a SHA-256 hex digest."""
    settings = src.model_dump(mode="json", by_alias=True, exclude=_NOT_FINGERPRINTED)
    for name, default in _LATER_DEFAULTS.items():
        if settings.get(name) == default:
            del settings[name]
    settings["_currency"] = {"reporting": cfg.reporting_currency,
                             "rates": dict(sorted(cfg.currency_rates.items()))}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def stored_fingerprints(lake: Lake) -> dict[str, str]:
    """The fingerprint each source's silver rows were last built with (one small job)."""
    if not lake.exists(FINGERPRINT_TABLE):
        return {}
    rows = (lake.read(FINGERPRINT_TABLE).groupBy("source")
            .agg(F.max_by("fingerprint", "seq").alias("fp")).collect())
    return {r["source"]: r["fp"] for r in rows}


def changed_sources(lake: Lake, cfg: IngestConfig, sources: list[SourceConfig]) -> list[str]:
    """Sources whose settings changed since their silver rows were built."""
    stored = stored_fingerprints(lake)
    return [s.name for s in sources if s.name in stored and stored[s.name] != fingerprint(s, cfg)]


#: Stored instead of a fingerprint when rows moved from quarantine to bronze and silver
#: has not been rebuilt with them yet: the next run sees the source as changed.
UNPUBLISHED = "unpublished_replay"


def mark_unpublished(spark: SparkSession, lake: Lake, names: list[str], run_id: str) -> None:
    """Mark sources whose bronze gained replayed rows that silver does not have yet.

    A replay moves rows with their old batch ids, which incremental publishing skips; if
    the rebuild that follows fails (a quality gate), the mark makes the next run rebuild
    those sources instead of leaving the rows out of silver for good.
    """
    if not names:
        return
    seq = (lake.read(FINGERPRINT_TABLE).agg(F.max("seq")).first()[0] or 0
           if lake.exists(FINGERPRINT_TABLE) else 0)
    lake.append(FINGERPRINT_TABLE, spark.createDataFrame(
        [(n, UNPUBLISHED, run_id, seq + i + 1) for i, n in enumerate(names)],
        "source string, fingerprint string, run_id string, seq long"))


def record_fingerprints(spark: SparkSession, lake: Lake, cfg: IngestConfig,
                        sources: list[SourceConfig], run_id: str) -> list[str]:
    """Store the current fingerprint of every source whose stored one differs or is absent.

    Returns:
        The sources recorded (nothing is written when none changed).
    """
    stored = stored_fingerprints(lake)
    seq = (lake.read(FINGERPRINT_TABLE).agg(F.max("seq")).first()[0] or 0) if stored else 0
    new = [(s.name, fingerprint(s, cfg), run_id, seq + i + 1)
           for i, s in enumerate(x for x in sources if stored.get(x.name) != fingerprint(x, cfg))]
    if new:
        lake.append(FINGERPRINT_TABLE, spark.createDataFrame(
            new, "source string, fingerprint string, run_id string, seq long"))
    return [n[0] for n in new]
