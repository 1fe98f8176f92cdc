"""The person records identity resolution reads, training included."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import DataFrame

from vista.identity.config import IdentityConfig
from vista.identity.lineage import LineageBreaks
from vista.identity.link.deterministic import with_past_identifiers
from vista.identity.tables import PERSON_RECORDS_T

if TYPE_CHECKING:  # pragma: no cover
    from vista.lake import Lake


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
    records = lake.read(PERSON_RECORDS_T)
    past = cfg.linking.deterministic.past_values
    if past.enabled and lake.exists(past.table):
        records = with_past_identifiers(records, lake.read(past.table),
                                        cfg.linking.deterministic)
    return (breaks or LineageBreaks(records.sparkSession))(records)
