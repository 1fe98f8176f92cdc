"""Lakes that fill only some person columns train and link with the default settings.

The comparisons, rules and vetoes are the defaults; only the small-data knobs (sampled
pairs, iterations, lineage breaks) are turned down, as in ``test_linking_splink``.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from pyspark.sql import functions as F
from synthetic import synthetic_person_records

from vista.config import load_config
from vista.errors import ConfigError
from vista.identity.errors import ModelError
from vista.identity.link.config import LinkingConfig, ProbabilisticConfig
from vista.identity.link.model_inputs import fit_to_records
from vista.identity.link.splink_model import predict, preparation, train

SMALL = {"u_max_pairs": 2e4, "u_num_chunks": 1, "max_iterations": 10,
         "break_lineage": "persist"}
CFG = LinkingConfig(probabilistic=ProbabilisticConfig(**SMALL))


@pytest.fixture(scope="module")
def data(spark):
    records, truth = synthetic_person_records(spark, 30, seed=5)
    return records.localCheckpoint(), truth.localCheckpoint()


def _fitted(records, p=CFG.probabilistic):
    from vista.identity.link.splink_model import _prepare, model_columns

    return fit_to_records(p, _prepare(records, model_columns(p), preparation(p)))


def _pairs_found(links, truth):
    """(true pairs linked, false pairs linked, true pairs in all)."""
    t = truth.select("record_key", "person_id")
    lab = (links.join(t.toDF("record_key_l", "p_l"), "record_key_l", how="inner")
           .join(t.toDF("record_key_r", "p_r"), "record_key_r", how="inner"))
    true_pairs = (truth.groupBy("person_id").count()
                  .select(F.sum(F.col("count") * (F.col("count") - 1) / 2)).first()[0])
    return lab.where("p_l = p_r").count(), lab.where("p_l != p_r").count(), true_pairs


def test_without_email_or_phone_the_rules_on_them_are_left_out(data):
    records, _ = data
    no_email = records.withColumns({"email": F.lit(None), "email_std": F.lit(None)})
    no_phone = records.withColumns({c: F.lit(None).cast(records.schema[c].dataType)
                                    for c in ("phone", "phone_e164", "other_phones_e164")})

    email_changes, phone_changes = _fitted(no_email).changes, _fitted(no_phone).changes

    assert email_changes["comparisons"] == ["email_std"]
    assert email_changes["training_blocking_rules"] == ["['email_std']"]
    assert set(email_changes["blocking_rules"]) == {
        "['email_std']", "[\"substring_index(email_std, '@', 1)\"]"}
    assert email_changes["prior.deterministic_rules (as used)"] == [
        "['first_name_std', 'last_name_std', 'birth_date']"]
    assert phone_changes == {"comparisons": ["phone_digits"],
                             "blocking_rules": ["['right(phone_digits, 7)']"]}


@pytest.mark.slow  # trains and predicts on a whole lake: make test-slow
def test_a_lake_without_email_links_with_the_defaults(data):
    records, truth = data
    no_email = records.withColumns({"email": F.lit(None), "email_std": F.lit(None)})

    model = train(no_email, CFG)
    found, false, true_pairs = _pairs_found(predict(no_email, model, CFG), truth)

    assert "email_std" not in {c["output_column_name"] for c in model.settings["comparisons"]}
    assert found >= 0.8 * true_pairs, (found, true_pairs)
    assert false <= 1, false


@pytest.mark.slow  # trains and predicts on a whole lake: make test-slow
def test_a_lake_with_only_full_names_links_with_the_defaults(data):
    records, truth = data
    # a frame with no other person column at all: the absent ones read as null
    names = records.select("record_key", "source", "source_record_id", "full_name_std")
    fitted = _fitted(names)

    model = train(names, CFG)
    found, false, true_pairs = _pairs_found(predict(names, model, CFG), truth)

    # [first, last] fixes both names: it is left out, and each name gets a session
    # blocked on the other
    assert fitted.changes["training_blocking_rules"] == [
        "['first_name_std', 'last_name_std']", "['birth_date']", "['email_std']"]
    assert fitted.changes["training_blocking_rules (added)"] == [
        "['last_name_std']", "['first_name_std']"]
    assert {c["output_column_name"] for c in model.settings["comparisons"]} == {
        "first_name_std", "last_name_std"}
    assert found >= 0.6 * true_pairs, (found, true_pairs)
    assert false <= 0.1 * found, (false, found)


def test_a_lake_with_only_first_names_is_refused_naming_the_setting(spark):
    records = spark.createDataFrame([("a", "ana"), ("b", "ana"), ("c", "eva")],
                                    "record_key string, first_name_std string")

    with pytest.raises(ModelError, match=r"identity\.linking\.probabilistic\.\w*blocking_rules"):
        fit_to_records(CFG.probabilistic, records)


def test_a_rule_naming_an_absent_column_is_a_config_error_with_its_key_path(tmp_path):
    conf = tmp_path / "bad.yaml"
    conf.write_text("identity:\n  linking:\n    probabilistic:\n"
                    "      blocking_rules: [[emial_std]]\n"
                    "      vetoes: [{comparison: birth_dat}]\n", encoding="utf-8")

    with pytest.raises(ConfigError) as err:
        load_config(conf)

    text = str(err.value)
    assert "identity.linking.probabilistic" in text
    assert "blocking_rules[0]: 'emial_std'" in text
    assert "vetoes[0].comparison: 'birth_dat'" in text
    with pytest.raises(ValidationError, match=r"comparisons\[0\].swapped_with: 'surname'"):
        ProbabilisticConfig(comparisons=[{"column": "first_name_std", "kind": "name",
                                          "swapped_with": "surname"}])
