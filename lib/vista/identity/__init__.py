"""Identity resolution: linking, clustering, the UID registry, the golden record.

The public API is the names below; everything else in ``vista.identity`` may change.

* :func:`resolve` — the identity stage (``vista run --stages identity``) on a run context;
* :func:`person_records` — the person records as the stage reads them;
* :func:`train` — the Fellegi-Sunter model, trained as the stage trains it, and
  :func:`model_charts`, Splink's charts of it;
* :func:`evaluate`, :func:`evaluate_subset`, :func:`load_truth` — precision, recall, F1
  against a ground truth;
* :func:`explain` — why a UID holds the records it holds;
* :class:`IdentityConfig` (the ``identity`` section), :class:`TrainedModel`,
  :class:`Explanation`, and :class:`IdentityError`, the base of every error raised here.

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
from vista.identity.config import IdentityConfig
from vista.identity.errors import IdentityError
from vista.identity.evaluate import evaluate, evaluate_subset, load_truth
from vista.identity.explain import Explanation, explain

if TYPE_CHECKING:  # pragma: no cover
    from vista.identity.link.splink_model import TrainedModel, model_charts
    from vista.identity.stage import fit_model as train
    from vista.identity.stage import matching_records as person_records
    from vista.identity.stage import run as resolve

_LAZY: dict[str, tuple[str, str]] = {
    "resolve": ("vista.identity.stage", "run"),
    "person_records": ("vista.identity.stage", "matching_records"),
    "train": ("vista.identity.stage", "fit_model"),
    "TrainedModel": ("vista.identity.link.splink_model", "TrainedModel"),
    "model_charts": ("vista.identity.link.splink_model", "model_charts"),
}

__all__ = [
    "Explanation", "IdentityConfig", "IdentityError", "TrainedModel", "evaluate",
    "evaluate_subset", "explain", "load_truth", "model_charts", "person_records", "resolve",
    "train",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'vista.identity' has no attribute {name!r}")
    module, attr = _LAZY[name]
    return getattr(import_module(module), attr)
