"""Identity resolution: linking, clustering, the UID registry, the golden record.

The public API is the names below; everything else in ``vista.identity`` may change.

* :func:`resolve` — the identity stage (``vista run --stages identity``) on a run context;
* :func:`person_records` — the person records as the stage reads them;
* :func:`train` — the Fellegi-Sunter model, trained as the stage trains it, and
  :func:`model_charts`, Splink's charts of it;
* :func:`evaluate`, :func:`evaluate_subset`, :func:`load_truth`, :func:`hard_cases` —
  precision, recall, F1 against a ground truth, overall and on hard cases;
* :func:`explain` — why a UID holds the records it holds;
* :class:`IdentityConfig` (the ``identity`` section) and :func:`identity_config` (that
  section of a loaded configuration), :class:`RunOptions` (the stage's switches),
  :class:`TrainedModel`,
  :class:`Explanation`, and :class:`IdentityError`, the base of every error raised here.

The package shows its concepts: ``person/`` (names, nicknames, compatibility), ``link/``
(deterministic links, devices, trusted ids, blocking, the Splink model), ``cluster/``
(components, constrained merging, attachment), then ``registry``, ``golden``,
``incremental``, ``resolution``, ``evaluate``, ``explain`` and a thin ``stage``.
``link/`` and ``cluster/`` never import each other.

``import vista.identity`` starts no Spark session.

Example:
    >>> from vista import identity
    >>> cfg = identity.IdentityConfig()
    >>> records = identity.person_records(lake, cfg)
    >>> model = identity.train(records, cfg)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# ``evaluate`` and ``explain`` are also module names: imported here, so that importing
# those modules later cannot shadow the functions. The rest is imported on first use
# (the stage and the clustering pull in pandas and Splink's helpers).
from vista.identity.config import IdentityConfig, identity_config
from vista.identity.errors import IdentityError
from vista.identity.evaluate import evaluate, evaluate_subset, hard_cases, load_truth
from vista.identity.explain import Explanation, explain

if TYPE_CHECKING:  # pragma: no cover
    from vista.identity.link.splink_model import TrainedModel, model_charts
    from vista.identity.records import matching_records as person_records
    from vista.identity.stage import RunOptions
    from vista.identity.stage import fit_model as train
    from vista.identity.stage import run as resolve

_LAZY: dict[str, tuple[str, str]] = {
    "resolve": ("vista.identity.stage", "run"),
    "person_records": ("vista.identity.records", "matching_records"),
    "RunOptions": ("vista.identity.stage", "RunOptions"),
    "train": ("vista.identity.stage", "fit_model"),
    "TrainedModel": ("vista.identity.link.splink_model", "TrainedModel"),
    "model_charts": ("vista.identity.link.splink_model", "model_charts"),
}

__all__ = [
    "Explanation", "IdentityConfig", "IdentityError", "RunOptions", "TrainedModel", "evaluate",
    "evaluate_subset", "explain", "hard_cases", "identity_config", "load_truth", "model_charts",
    "person_records", "resolve", "train",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'vista.identity' has no attribute {name!r}")
    module, attr = _LAZY[name]
    return getattr(import_module(module), attr)
