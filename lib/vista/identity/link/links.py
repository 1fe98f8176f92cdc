"""The linking half of identity resolution: deterministic + probabilistic links.

:func:`link_records` is what the identity stage calls; the clustering step consumes its
``LINKS`` output.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame

from vista.identity.lineage import LineageBreaks
from vista.identity.link.config import LinkingConfig
from vista.identity.link.deterministic import deterministic_links
from vista.identity.link.splink_model import TrainedModel, predict
from vista.identity.person.config import CompatibilityConfig
from vista.schemas import LINKS

if TYPE_CHECKING:  # pragma: no cover - the identity section composes link/'s config
    from vista.identity.config import IdentityConfig

log = logging.getLogger(__name__)


def link_records(
    records: DataFrame,
    cfg: LinkingConfig,
    model: TrainedModel | None,
    *,
    new_keys: DataFrame | None = None,
    compatibility: CompatibilityConfig | None = None,
    breaks: LineageBreaks | None = None,
    frequencies: DataFrame | None = None,
) -> DataFrame:
    """All links between person records: deterministic, then probabilistic.

    Args:
        records: Person records (``PERSON_RECORDS``).
        cfg: The linking config.
        model: A trained model, or None to emit deterministic links only.
        new_keys: Optional ``record_key`` frame restricting probabilistic scoring to
            pairs touching these records (incremental run). Deterministic links are
            always recomputed in full: they are cheap and a changed shared value can
            drop old links.
        compatibility: The clustering's compatibility rules, for the shared-value guard
            (see :func:`~vista.identity.link.deterministic.deterministic_links`).
        breaks: How the deterministic half materialises the frames it reads more than
            once (None: local checkpoints).
        frequencies: Kept term frequencies to score with (see
            :func:`~vista.identity.link.splink_model.predict`); None: computed over
            ``records``.

    Returns:
        A ``LINKS`` frame (one row per pair and link kind).
    """
    links = deterministic_links(records, cfg, compatibility, breaks)
    if model is not None and cfg.probabilistic.enabled:
        links = links.unionByName(predict(records, model, cfg, new_keys=new_keys,
                                          breaks=breaks, frequencies=frequencies))
    return links


def compute_links(
    records: DataFrame, cfg: IdentityConfig, model: Any, new_keys: DataFrame | None,
    breaks: LineageBreaks | None = None, frequencies: DataFrame | None = None,
) -> DataFrame:
    """Links from the linking half (deterministic, then probabilistic)."""
    links = link_records(records, cfg.linking, model, new_keys=new_keys,
                         compatibility=cfg.clustering.compatibility, breaks=breaks,
                         frequencies=frequencies)
    return links.select([f.name for f in LINKS.fields])


def attach_kinds(cfg: IdentityConfig) -> list[str]:
    """The link kinds that only attach nameless records (never clustering edges)."""
    return [f"deterministic:{k}" for k in cfg.linking.deterministic.nameless_only_kinds]
