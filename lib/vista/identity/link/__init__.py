"""Linking: which pairs of person records are one person, and how sure that is.

* :mod:`~vista.identity.link.config`: the typed ``identity.linking`` section (ids and
  guards, devices, the probabilistic model's comparisons and blocking rules);
* :mod:`~vista.identity.link.deterministic`: links from shared identifier values,
  guarded against placeholders and shared (household, shop) values;
* :mod:`~vista.identity.link.devices`: device-to-account evidence (never merges people);
* :mod:`~vista.identity.link.trusted_ids`: which declared id kinds this lake shows to
  be personal, and which person rules its data entry breaks;
* :mod:`~vista.identity.link.blocking`: each blocking rule's comparison count, checked
  before a model is trained or applied;
* :mod:`~vista.identity.link.model_inputs`: fits the configured model to the columns a
  lake fills;
* :mod:`~vista.identity.link.splink_model`: the Fellegi-Sunter model on Splink
  (settings, training, prediction, explanation), with
  :mod:`~vista.identity.link.splink_shim`, the one version-checked workaround;
* :mod:`~vista.identity.link.links`: deterministic then probabilistic links, as the
  stage asks for them.

``link`` uses ``vista.identity.person`` and never imports ``vista.identity.cluster``.
"""

from __future__ import annotations

from vista.identity.link.config import LinkingConfig, NameSplitConfig
from vista.identity.link.deterministic import (
    deterministic_links,
    identifier_values,
    with_past_identifiers,
)
from vista.identity.link.devices import device_account_links
from vista.identity.link.links import link_records
from vista.identity.link.splink_model import (
    LINK_KIND,
    TrainedModel,
    derived_inputs,
    explain_pairs,
    model_charts,
    predict,
    split_names,
    train,
)
from vista.identity.link.trusted_ids import with_trusted_ids

__all__ = [
    "LINK_KIND", "LinkingConfig", "NameSplitConfig", "TrainedModel", "derived_inputs", "deterministic_links",
    "device_account_links", "explain_pairs", "identifier_values", "link_records",
    "model_charts", "predict", "split_names", "train", "with_past_identifiers",
    "with_trusted_ids",
]
