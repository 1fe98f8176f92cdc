"""The Splink internals vista's EM workaround relies on are still there and still needed.

When one of these fails, Splink changed underneath ``vista.identity.link.splink_shim``: read
the shim against the new release before updating ``TESTED_SPLINK``.
"""

from __future__ import annotations

import inspect

import pytest
import splink
from splink.internals import comparison_level as cl_mod
from splink.internals import expectation_maximisation as em_mod
from splink.internals.em_training_session import EMTrainingSession
from splink.internals.settings import Settings

from vista.identity.link import splink_shim


def test_the_installed_splink_is_the_checked_release():
    assert ".".join(splink.__version__.split(".")[:2]) == splink_shim.TESTED_SPLINK
    splink_shim.check_splink_version()


def test_the_shim_refuses_another_release(monkeypatch):
    monkeypatch.setattr(splink, "__version__", "6.1.0")
    with pytest.raises(splink_shim.SplinkVersionError, match="Splink 6.1.0 is installed"):
        splink_shim.check_splink_version()


def test_splink_still_rejects_a_collapsed_m_probability():
    # the reason for the workaround: without it an EM session that drives m to 0 is lost
    with pytest.raises(ValueError, match="below the minimum"):
        cl_mod._validate_m_u_probability(0.0, "m_probability", cl_mod.LEVEL_NOT_OBSERVED_TEXT)
    assert cl_mod.M_U_CLAMP_MIN == 1e-300


def test_the_replaced_functions_keep_their_signatures():
    assert list(inspect.signature(cl_mod._validate_m_u_probability).parameters) == [
        "value", "param_name", "level_not_observed_text"]
    assert list(inspect.signature(em_mod.populate_m_u_from_lookup).parameters) == [
        "training_fixed_probabilities", "comparison_level", "output_column_name",
        "m_u_records_lookup"]
    # EM calls populate_m_u_from_lookup through its module global, so replacing it there
    # reaches every call
    assert "populate_m_u_from_lookup(" in inspect.getsource(em_mod.maximisation_step)


def test_the_private_state_read_still_exists():
    assert "_core_model_settings_history" in inspect.getsource(EMTrainingSession._train)
    assert "self.core_model_settings = " in inspect.getsource(Settings.__init__)
    assert isinstance(inspect.getattr_static(Settings, "_probability_two_random_records_match"),
                      property)


def test_the_replacement_lasts_one_session_even_when_it_fails():
    validate, populate = cl_mod._validate_m_u_probability, em_mod.populate_m_u_from_lookup
    with pytest.raises(RuntimeError), splink_shim.unobserved_m_as_not_observed():
        assert cl_mod._validate_m_u_probability is not validate
        cl_mod._validate_m_u_probability(0.0, "m_probability", "x")  # tolerated now
        raise RuntimeError("session failed")
    assert cl_mod._validate_m_u_probability is validate
    assert em_mod.populate_m_u_from_lookup is populate


def test_splink_still_leaves_the_u_sample_in_place():
    # the reason for spark_api: Splink materialises the u sample (its lineage break) but
    # does not repartition it, and the method the shim extends is still called per table
    from splink.backends.spark import SparkAPI
    from splink.internals import estimate_u

    assert f'"{splink_shim.U_SAMPLE}"' in inspect.getsource(estimate_u.estimate_u_values)
    source = inspect.getsource(SparkAPI._repartition_if_needed)
    assert f'r"{splink_shim.U_SAMPLE}",' not in source
    assert f'r"{splink_shim.U_SAMPLE}",' in inspect.getsource(
        SparkAPI._break_lineage_and_repartition)
    assert list(inspect.signature(SparkAPI._break_lineage_and_repartition).parameters) == [
        "self", "spark_df", "templated_name", "physical_name"]
    assert "self._break_lineage_and_repartition(" in inspect.getsource(
        SparkAPI._cleanup_for_execute_sql)


def test_spark_api_spreads_only_the_u_sample(spark):
    db = splink_shim.spark_api(spark, "persist")
    one = spark.range(40).coalesce(1)
    sample = db._break_lineage_and_repartition(one, splink_shim.U_SAMPLE, "t1")
    assert sample.rdd.getNumPartitions() == spark.sparkContext.defaultParallelism
    assert sorted(r.id for r in sample.collect()) == list(range(40))
    other = db._break_lineage_and_repartition(one, "__splink__m_u_counts", "t2")
    assert other.rdd.getNumPartitions() == 1


def test_the_u_sampling_internals_still_exist():
    # estimate_u builds Splink's sample and pairs with these (its result is checked
    # against Splink's own method in test_linking_splink.py)
    from splink.internals import estimate_u
    from splink.internals.comparison_level import ComparisonLevel
    from splink.internals.linker import Linker
    from splink.internals.linker_components.training import LinkerTraining

    assert list(inspect.signature(estimate_u._estimate_u_comparison_vector_sqls).parameters) == [
        "db_api", "input_tablename_l", "input_tablename_r", "link_type",
        "source_dataset_input_column", "unique_id_input_column", "blocking_cols", "cv_cols",
        "rhs_chunk_num", "rhs_num_chunks"]
    assert "_rows_needed_for_n_pairs(max_pairs)" in inspect.getsource(
        estimate_u.estimate_u_values)
    assert "_populate_m_u_from_trained_values()" in inspect.getsource(
        LinkerTraining
        .estimate_u_using_random_sampling)
    assert callable(Settings.columns_to_select_for_comparison_vector_values)
    assert callable(ComparisonLevel._add_trained_u_probability)
    assert callable(Linker._proportion_sample_sql)
