"""Customer lifetime value: BG/NBD + Gamma-Gamma fitted on sufficient statistics, scored
on Spark.

Example:
    >>> from vista.segments.clv import customer_summary, fit, score    # doctest: +SKIP
    >>> summary = customer_summary(orders, as_of, unit_days=7.0)       # doctest: +SKIP
"""

from vista.segments.clv.frame import ClvModel, customer_summary, fit, predict_pandas, score
from vista.segments.clv.model import ClvFitError, Fit

__all__ = ["ClvFitError", "ClvModel", "Fit", "customer_summary", "fit", "predict_pandas",
           "score"]
