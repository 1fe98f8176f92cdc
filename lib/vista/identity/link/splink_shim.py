"""The one place vista reaches past Splink's public API: expectation maximisation.

Everything else in vista uses Splink's public API. EM needs three things it does not
offer, so they live here, behind a version check, and ``tests/identity/test_splink_shim.py``
fails as soon as the Splink underneath changes any of them:

1. **An m-probability that collapses to 0.** Splink 5 rejects m < 1e-300
   (``comparison_level._validate_m_u_probability``), which EM reaches whenever a level
   occurs only among a session's non-matches; the whole session would then be lost.
   Splink already reads a "not observed" level as m = 1e-6, so during EM the collapsed
   value is stored that way (:func:`unobserved_m_as_not_observed`). The replacement
   lasts for one EM session only and is undone even when the session fails.
2. **A failed session leaves the settings without the comparisons it had set aside**
   for its blocking rule (the session edits the linker's settings in place), and any
   session leaves its blocked-set λ behind: the settings are restored from a copy
   (:func:`em_session`).
3. **How many iterations a session ran** (a training fact vista records).
4. **The u sample is scored on one core.** Splink's Spark backend leaves its random
   sample of records (``__splink__df_concat_sample``, about 1,400 rows for a million
   pairs) in the one partition it was written as, so each comparison's u job pairs it
   with itself in a single task. :func:`spark_api` returns a Spark backend that spreads
   the sample over the session's cores once it is materialised: the same rows, the same
   pairs, the same counts (sums), so the same u-probabilities.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Iterator
from typing import Any

from vista.identity.errors import SplinkVersionError

log = logging.getLogger(__name__)

TESTED_SPLINK = "5.0"
"""The Splink release (major.minor) whose internals this module was checked against."""


def check_splink_version() -> None:
    """Stop when the installed Splink is not :data:`TESTED_SPLINK`.

    Raises:
        SplinkVersionError: A different Splink release is installed.
    """
    import splink

    found = ".".join(splink.__version__.split(".")[:2])
    if found != TESTED_SPLINK:
        raise SplinkVersionError(
            f"vista's EM workaround (vista.identity.link.splink_shim) was checked against Splink "
            f"{TESTED_SPLINK}.x; Splink {splink.__version__} is installed. Install the "
            "pinned Splink, or check the shim against the new release (run "
            "tests/identity/test_splink_shim.py) and update TESTED_SPLINK.")


@contextlib.contextmanager
def unobserved_m_as_not_observed() -> Iterator[None]:
    """During one EM session, an m-probability below Splink's floor means "not observed"."""
    from splink.internals import comparison_level as cl_mod
    from splink.internals import expectation_maximisation as em_mod

    validate, populate = cl_mod._validate_m_u_probability, em_mod.populate_m_u_from_lookup

    def lenient(value: Any, name: str, not_observed: str) -> None:
        if name != "m_probability":
            validate(value, name, not_observed)

    def populate_floored(fixed: Any, level: Any, column: str, lookup: Any) -> None:
        populate(fixed, level, column, lookup)
        m = level._m_probability
        if isinstance(m, (int, float)) and m < cl_mod.M_U_CLAMP_MIN:
            level._m_probability = cl_mod.LEVEL_NOT_OBSERVED_TEXT

    cl_mod._validate_m_u_probability = lenient
    em_mod.populate_m_u_from_lookup = populate_floored
    try:
        yield
    finally:
        cl_mod._validate_m_u_probability = validate
        em_mod.populate_m_u_from_lookup = populate


def em_session(linker: Any, blocking_rule: Any, max_pairs: float | None,
               without_term_frequencies: bool = False) -> int:
    """One EM session on ``blocking_rule``; the number of iterations it ran.

    The population prior λ is kept (a session leaves its blocked-set estimate behind),
    and a session that fails leaves the settings as they were.

    Args:
        linker: A Splink ``Linker``.
        blocking_rule: The session's blocking rule (a Splink blocking rule creator).
        max_pairs: Splink's ``max_pairs`` for the session.
        without_term_frequencies: Splink's ``estimate_without_term_frequencies``.

    Returns:
        Iterations run.

    Raises:
        ValueError: Splink rejected the session's estimates (settings restored).
    """
    check_splink_version()
    settings = linker._settings_obj
    prior = settings._probability_two_random_records_match
    before = copy.deepcopy(settings.core_model_settings)
    try:
        with unobserved_m_as_not_observed():
            session = linker.training.estimate_parameters_using_expectation_maximisation(
                blocking_rule, max_pairs=max_pairs,
                estimate_without_term_frequencies=without_term_frequencies)
    except ValueError:
        settings.core_model_settings = before
        raise
    finally:
        settings._probability_two_random_records_match = prior
    return len(session._core_model_settings_history)


U_SAMPLE = "__splink__df_concat_sample"
"""The records Splink's u estimation pairs with themselves, one job per comparison
(``splink.internals.estimate_u``)."""

_SPARK_API: type | None = None


def spark_api(spark: Any, break_lineage: str) -> Any:
    """Splink's Spark backend, with the u sample spread over the session's cores.

    Args:
        spark: The Spark session.
        break_lineage: Splink's ``break_lineage_method``.

    Returns:
        A ``splink.backends.spark.SparkAPI``: a subclass that repartitions
        :data:`U_SAMPLE` to the default parallelism after Splink materialised it, or
        Splink's own class under another Splink release (the same results, the u sample
        on one core).
    """
    global _SPARK_API
    from splink.backends.spark import SparkAPI

    try:
        check_splink_version()
    except SplinkVersionError:
        return SparkAPI(spark_session=spark, break_lineage_method=break_lineage)
    if _SPARK_API is None:
        class SpreadUSample(SparkAPI):
            def _break_lineage_and_repartition(self, spark_df: Any, templated_name: str,
                                               physical_name: str) -> Any:
                out = super()._break_lineage_and_repartition(spark_df, templated_name,
                                                              physical_name)
                if templated_name == U_SAMPLE:  # materialised above: the rows are fixed
                    out = out.repartition(self.spark.sparkContext.defaultParallelism)
                return out

        _SPARK_API = SpreadUSample
    return _SPARK_API(spark_session=spark, break_lineage_method=break_lineage)


def splink_errors() -> tuple[type[Exception], ...]:
    """The exception classes Splink raises on purpose (its public API exports none).

    vista turns them into a ``ModelError`` naming the vista setting to change.
    """
    from splink.internals.exceptions import SplinkException

    return (SplinkException,)
