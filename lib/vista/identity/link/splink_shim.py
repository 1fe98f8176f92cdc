"""The one place vista reaches past Splink's public API: expectation maximisation and u.

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
5. **The u sample is scored once per comparison.** With one chunk, Splink still runs
   a job per comparison over the same pairs (and a Spark round trip for each one's
   proportions). :func:`estimate_u` scores every comparison on Splink's sample in one
   job and sets the same u-probabilities (a test compares them with Splink's method).
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


def estimate_u(linker: Any, max_pairs: float, seed: int | None) -> None:
    """Splink's ``estimate_u_using_random_sampling`` in one chunk, every comparison in one job.

    Splink scores its random sample of pairs once per comparison (a job each, plus a
    Spark round trip per comparison to turn the counts into proportions). This builds
    the same sample (Splink's SQL, the same seed) and the same pairs, computes every
    comparison's level on each pair in one pass, counts the pairs per comparison and
    level in the same job, and gives each level the u-probability Splink would:
    its count over the comparison's non-null pairs, "not observed" when zero. The
    result equals ``estimate_u_using_random_sampling(max_pairs, seed, num_chunks=1)``
    (checked by ``tests/identity/test_splink_shim.py``). Under another Splink release,
    or a link type other than ``dedupe_only``, Splink's own method runs.

    Args:
        linker: A Splink ``Linker`` (its settings get the u-probabilities).
        max_pairs: Splink's ``max_pairs``.
        seed: Splink's ``seed``.
    """
    try:
        check_splink_version()
    except SplinkVersionError:
        linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed,
                                                         num_chunks=1)
        return
    if linker._settings_obj._link_type != "dedupe_only":
        linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed,
                                                         num_chunks=1)
        return
    _apply_u(linker, _u_counts(linker, max_pairs, seed))
    linker._populate_m_u_from_trained_values()  # what Splink's method does after it


def _u_counts(linker: Any, max_pairs: float, seed: int | None) -> dict[tuple[str, int], int]:
    """``(comparison, level) -> pairs`` over Splink's u sample, in one job."""
    from copy import deepcopy

    from splink.internals import estimate_u as eu
    from splink.internals.pipeline import CTEPipeline
    from splink.internals.settings import Settings
    from splink.internals.vertically_concatenate import enqueue_df_concat

    training = deepcopy(linker)  # as Splink does: no term-frequency columns, no extras
    settings = training._settings_obj
    settings._retain_matching_columns = False
    settings._retain_intermediate_calculation_columns = False
    for comparison in settings.comparisons:
        for level in comparison.comparison_levels:
            level._tf_adjustment_column = None
    db_api = training._db_api

    pipeline = enqueue_df_concat(training, CTEPipeline())
    pipeline.enqueue_sql("select count(*) as count from __splink__df_concat",
                         "__splink__df_concat_count")
    counted = db_api.sql_pipeline_to_splink_dataframe(pipeline)
    total = counted.as_record_list()[0]["count"]
    counted.drop_table_from_database_and_remove_from_cache()
    proportion = min(eu._rows_needed_for_n_pairs(max_pairs) / total, 1.0) if total else 1.0

    uid_cols = settings.column_info_settings.unique_id_input_columns
    pipeline = enqueue_df_concat(training, CTEPipeline())
    pipeline.enqueue_sql(
        "select * from __splink__df_concat where 1=1 "
        + training._proportion_sample_sql(proportion, uid_cols, seed=seed), U_SAMPLE)
    sample = db_api.sql_pipeline_to_splink_dataframe(pipeline)
    try:
        blocking = [c for uid in uid_cols for c in uid.l_r_names_as_l_r]
        for comparison in settings.comparisons:
            blocking += comparison._columns_to_select_for_blocking()
        pipeline = CTEPipeline(input_dataframes=[sample])
        pipeline.enqueue_list_of_sqls(eu._estimate_u_comparison_vector_sqls(
            db_api=db_api, input_tablename_l=U_SAMPLE, input_tablename_r=U_SAMPLE,
            link_type=settings._link_type,
            source_dataset_input_column=settings.column_info_settings
            .source_dataset_input_column,
            unique_id_input_column=settings.column_info_settings.unique_id_input_column,
            blocking_cols=list(dict.fromkeys(blocking)),
            cv_cols=Settings.columns_to_select_for_comparison_vector_values(
                unique_id_input_columns=uid_cols, comparisons=settings.comparisons,
                retain_matching_columns=False, additional_columns_to_retain=[]),
            rhs_chunk_num=1, rhs_num_chunks=1))
        gammas = [c._gamma_column_name for c in settings.comparisons]
        pipeline.enqueue_sql(f"select {', '.join(gammas)}, count(*) as n "
                             f"from __splink__df_comparison_vectors group by {', '.join(gammas)}",
                             "__splink__u_patterns")
        result = db_api.sql_pipeline_to_splink_dataframe(pipeline)
        try:
            # one row per agreement pattern seen: bounded by the product of the levels
            # and by the sample's pairs, not by the data
            rows = result.as_record_list()
        finally:
            result.drop_table_from_database_and_remove_from_cache()
    finally:
        sample.drop_table_from_database_and_remove_from_cache()
    counts: dict[tuple[str, int], int] = {}
    for row in rows:
        for comparison, gamma in zip(settings.comparisons, gammas, strict=True):
            key = (comparison.output_column_name, int(row[gamma]))
            counts[key] = counts.get(key, 0) + int(row["n"])
    return counts


def _apply_u(linker: Any, counts: dict[tuple[str, int], int]) -> None:
    """Each non-null level's u: its share of the comparison's non-null pairs (Splink's
    proportion), or "not observed" without a pair, recorded as Splink's sampling does."""
    from splink.internals.comparison_level import LEVEL_NOT_OBSERVED_TEXT

    for comparison in linker._settings_obj.comparisons:
        name = comparison.output_column_name
        levels = comparison._comparison_levels_excluding_null
        total = float(sum(counts.get((name, int(lv.comparison_vector_value)), 0)
                          for lv in levels))
        for level in levels:
            n = float(counts.get((name, int(level.comparison_vector_value)), 0))
            level._add_trained_u_probability(
                n / total if n > 0 else LEVEL_NOT_OBSERVED_TEXT,
                "estimate u by random sampling")
