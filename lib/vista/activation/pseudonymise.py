"""Pseudonymised analyst views: gold tables with direct identifiers replaced by keyed hashes.

With ``activation.pseudonymise.enabled``, each listed gold table is written again as
``<prefix><table>`` (``gold/analyst/customer_profile``) where every listed identifier
column (UID, e-mail, phone, names, ...) holds ``HMAC-SHA256(key, value)`` instead. The
key comes from the environment (``key_env``), never from ``conf/``: analysts can join
the views with one another (the same value gives the same hash) but cannot recompute a
hash from a guessed address without the key. Without the key the views are not written.
"""

from __future__ import annotations

import logging
import os

from pyspark.sql import functions as F

from vista.activation.config import PseudonymiseConfig
from vista.identity.registry import hmac_sha256_hex
from vista.lake import Lake

log = logging.getLogger(__name__)


def pseudonymised_views(lake: Lake, cfg: PseudonymiseConfig) -> dict[str, int]:
    """Write the analyst views; returns ``{view: columns replaced}``.

    Tables that do not exist (yet) are skipped with a log line.
    """
    if not cfg.enabled:
        return {}
    key = os.environ.get(cfg.key_env)
    if not key:
        log.warning("pseudonymise: $%s is not set; the analyst views are not written",
                    cfg.key_env)
        return {}
    written: dict[str, int] = {}
    for table in cfg.tables:
        if not lake.exists(table):
            log.info("pseudonymise: %s does not exist; skipped", table)
            continue
        df = lake.read(table)
        replaced = [c for c in cfg.columns if c in df.columns]
        cols = [hmac_sha256_hex(F.col(f"`{c}`").cast("string"), key).alias(c)
                if c in replaced else F.col(f"`{c}`") for c in df.columns]
        view = f"{cfg.prefix}{table.split('/', 1)[-1]}"
        lake.overwrite(view, df.select(*cols))
        written[view] = len(replaced)
    return written
