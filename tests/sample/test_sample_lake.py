"""The sample lake carries the mess real data has, and the truth to score against.

One small lake is generated once per session (no Spark needed); the tests read it with
pandas/pyarrow and check that each planted kind of noise is really there and tagged.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from unidecode import unidecode

from vista.errors import VistaError
from vista.sample import FOLDERS, SampleParams, generate_sample_lake
from vista.sample.pools import NICKNAMES
from vista.sample.sinks import BAD_ROW_KINDS

N = 800


@pytest.fixture(scope="session")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample") / "lake"
    generate_sample_lake(out, customers=N, seed=7)
    return out


@pytest.fixture(scope="session")
def truth(lake: Path) -> dict[str, pd.DataFrame]:
    gt = lake / "ground_truth"
    return {name: pd.read_parquet(gt / f"{name}.parquet")
            for name in ("persons", "record_person", "hard_pairs", "bad_rows", "orders")}


def _crm(lake: Path) -> pd.DataFrame:
    files = sorted((lake / "crm").glob("contacts_*.csv"))
    parts = [pd.read_csv(f, sep=";", dtype=str, keep_default_na=False).assign(file=f.name) for f in files]
    return pd.concat(parts, ignore_index=True).replace("", None)


def _identity_frame(lake: Path) -> pd.DataFrame:
    """(source, record id, first, last, email) from CRM, e-commerce, loyalty and survey."""
    crm = _crm(lake)
    acc = _jsonl(lake / "ecommerce/accounts.jsonl")
    loy = pd.read_csv(lake / "loyalty/members.csv", dtype=str)
    sur = pd.read_csv(lake / "survey/responses.csv", dtype=str)
    return pd.concat([
        pd.DataFrame({"source": "crm", "rid": crm["id_contacto"], "first": crm["nombre"],
                      "last": crm["apellidos"], "email": crm["email"]}),
        pd.DataFrame({"source": "ecommerce", "rid": acc["account_id"], "first": acc["first_name"],
                      "last": acc["last_name"], "email": acc["email"]}),
        pd.DataFrame({"source": "loyalty", "rid": loy["card_number"], "first": loy["full_name"],
                      "last": None, "email": loy["email"]}),
        pd.DataFrame({"source": "survey", "rid": sur["response_id"], "first": None, "last": None,
                      "email": sur["email"]}),
    ], ignore_index=True)


def _jsonl(path: Path) -> pd.DataFrame:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return pd.DataFrame(rows)


def _with_person(df: pd.DataFrame, truth: dict[str, pd.DataFrame]) -> pd.DataFrame:
    rp = truth["record_person"][["source", "source_record_id", "person_id"]]
    return df.merge(rp, left_on=["source", "rid"], right_on=["source", "source_record_id"], how="inner")


def _folder_hash(root: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(root)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def test_every_folder_is_written_with_rows(lake: Path) -> None:
    for folder in FOLDERS:
        files = [p for p in (lake / folder).iterdir() if p.is_file()]
        assert files, f"{folder} is empty"
    assert len(list((lake / "crm").glob("contacts_*.csv"))) == 8  # quarterly over 24 months
    assert len(list((lake / "web").glob("events_*.jsonl"))) == 24  # one per month


def test_most_people_appear_in_three_or_more_sources(truth) -> None:
    per_person = truth["record_person"].groupby("person_id")["source"].nunique()
    assert (per_person >= 3).mean() > 0.5


def test_record_keys_match_the_source_files(lake: Path, truth) -> None:
    rp = truth["record_person"]
    crm_ids = set(_crm(lake)["id_contacto"].dropna())
    truth_crm = set(rp.loc[rp["source"] == "crm", "source_record_id"])
    assert crm_ids <= truth_crm
    blanked = truth["bad_rows"].query("source == 'crm' and kind == 'missing_required_key'")
    assert truth_crm - crm_ids <= set(blanked["record_id"])  # only ids blanked as bad rows
    accounts = set(_jsonl(lake / "ecommerce/accounts.jsonl")["account_id"].dropna())
    assert accounts <= set(rp.loc[rp["source"] == "ecommerce", "source_record_id"])
    loy = set(pd.read_csv(lake / "loyalty/members.csv", dtype=str)["card_number"].dropna())
    assert loy <= set(rp.loc[rp["source"] == "loyalty", "source_record_id"])
    cookies = set(pd.concat([_jsonl(f)["cookie_id"] for f in (lake / "web").glob("*.jsonl")]).dropna())
    assert cookies == set(rp.loc[rp["source"] == "web", "source_record_id"])


def test_the_same_person_uses_different_email_spellings(lake: Path, truth) -> None:
    ids = _with_person(_identity_frame(lake), truth).dropna(subset=["email"])
    per_person = ids.groupby("person_id").agg(n_src=("source", "nunique"), n_email=("email", "nunique"))
    multi = per_person[per_person["n_src"] >= 2]
    share = (multi["n_email"] > 1).mean()
    assert 0.1 < share < 0.9
    lower = ids.assign(e=ids["email"].str.lower()).groupby("person_id")["e"].nunique()
    assert (lower < ids.groupby("person_id")["email"].nunique()).any()  # case-only variants


def test_names_come_with_and_without_accents_and_nicknames(lake: Path, truth) -> None:
    ids = _with_person(_identity_frame(lake), truth)
    names = ids.dropna(subset=["last"])
    accented = names[names["last"].map(lambda s: s != unidecode(s))]
    folded = set(zip(names["person_id"], names["last"], strict=True))
    assert any((p, unidecode(s)) in folded for p, s in zip(accented["person_id"], accented["last"], strict=True))
    nicknames = {n for v in NICKNAMES.values() for n in v}
    assert ids["first"].isin(nicknames).any()


def test_households_share_an_email_and_twins_look_alike(lake: Path, truth) -> None:
    pairs = truth["hard_pairs"]
    assert {"twin", "namesake", "shared_household_email", "shared_household_phone"} <= set(pairs["kind"])
    assert not pairs["same_person"].any()
    persons = truth["persons"].set_index("person_id")
    twins = pairs[pairs["kind"] == "twin"]
    a, b = persons.loc[twins["person_id_l"]], persons.loc[twins["person_id_r"]]
    assert (a["last_name"].to_numpy() == b["last_name"].to_numpy()).all()
    assert (a["birth_date"].to_numpy() == b["birth_date"].to_numpy()).all()
    assert (a["household_id"].to_numpy() == b["household_id"].to_numpy()).all()
    assert (a["first_name"].to_numpy() != b["first_name"].to_numpy()).all()
    crm = _with_person(_identity_frame(lake).query("source == 'crm'"), truth).dropna(subset=["email"])
    shared = crm.assign(e=crm["email"].str.lower()).groupby("e")["person_id"].nunique()
    assert (shared >= 2).any()  # one address, two people of a household
    assert (~truth["persons"]["has_email"]).mean() > 0.05  # some people never give one


def test_phones_come_in_mixed_formats(lake: Path) -> None:
    phones = _crm(lake)["telefono_movil"].dropna()
    patterns = {
        "plus": r"^\+\d+$", "double_zero": r"^00\d+$", "spaced": r"^\+\d+ \d{3} \d{3} \d+$",
        "dashed": r"^\d{3}-\d{3}-\d+$", "bracket": r"^\(\+\d+\) \d+$", "national": r"^0?\d{9,10}$",
    }
    found = {k for k, rx in patterns.items() if phones.str.match(rx).any()}
    assert found == set(patterns)


def _line(lake: Path, file: str, record_no: int) -> str:
    lines = (lake / file).read_text(encoding="utf-8").splitlines()
    return lines[record_no] if file.endswith(".csv") else lines[record_no - 1]  # CSV: header


def test_every_bad_row_kind_is_planted_and_tagged(lake: Path, truth) -> None:
    bad = truth["bad_rows"]
    assert set(bad["kind"]) == set(BAD_ROW_KINDS)
    for row in bad[bad["kind"] == "truncated_json"].head(20).itertuples():
        with pytest.raises(json.JSONDecodeError):
            json.loads(_line(lake, row.file, row.record_no))
    for row in bad[bad["file"].str.endswith(".jsonl") & (bad["kind"] != "truncated_json")].head(20).itertuples():
        rec = json.loads(_line(lake, row.file, row.record_no))
        value = rec[row.column]
        if row.kind == "missing_required_key":
            assert value is None
        elif row.kind == "unparseable_date":
            assert not re.match(r"^\d{4}-\d{2}-\d{2}T", str(value))
    pos = bad[bad["file"].str.startswith("pos/")]
    for row in pos.head(30).itertuples():
        df = pd.read_csv(lake / row.file, dtype=str, keep_default_na=False)
        value = df.iloc[row.record_no - 1][row.column]
        assert df.iloc[row.record_no - 1]["num_ticket"] == row.record_id
        if row.kind == "negative_amount":
            assert value.startswith("-")
        elif row.kind == "unknown_currency":
            assert value not in {"EUR", "MXN", "ARS", "COP", "CLP", "USD", "GBP"}


def test_parquet_bad_rows_point_at_the_right_row(lake: Path, truth) -> None:
    bad = truth["bad_rows"].query("file == 'ecommerce/orders_2024.parquet'")
    orders = pd.read_parquet(lake / "ecommerce/orders_2024.parquet")
    assert len(bad) > 0
    for row in bad.itertuples():
        got = orders.iloc[row.record_no - 1]
        assert got["order_id"] == row.record_id
        value = got[row.column]
        if row.kind == "negative_amount":
            assert value < 0
        elif row.kind == "impossible_date":
            assert value.year == 1900
        elif row.kind == "missing_required_key":
            assert pd.isna(value)
        elif row.kind == "unknown_currency":
            assert value not in {"EUR", "MXN", "ARS", "COP", "CLP", "USD", "GBP"}
    assert (orders.drop(index=bad["record_no"] - 1)["total_amount"] >= 0).all()


def test_only_tagged_json_lines_are_broken(lake: Path, truth) -> None:
    tagged = truth["bad_rows"].query("kind == 'truncated_json'")
    for file in ("ecommerce/accounts.jsonl", "web/events_2024-06.jsonl"):
        broken = set()
        for i, line in enumerate((lake / file).read_text(encoding="utf-8").splitlines(), start=1):
            try:
                json.loads(line)
            except json.JSONDecodeError:
                broken.add(i)
        assert broken == set(tagged.loc[tagged["file"] == file, "record_no"])


def _purchase_lines(lake: Path, truth) -> pd.DataFrame:
    orders = truth["orders"][["source", "order_id", "person_id"]]
    web = pd.concat([pd.read_parquet(f) for f in (lake / "ecommerce").glob("order_lines_*.parquet")])
    pos = pd.concat([pd.read_csv(f, dtype=str) for f in (lake / "pos").glob("sales_*.csv")])
    lines = pd.concat([
        web[["order_id", "category"]].assign(source="ecommerce"),
        pos.rename(columns={"num_ticket": "order_id", "familia": "category"})[["order_id", "category"]].assign(source="pos"),
    ])
    return lines.merge(orders, on=["source", "order_id"], how="inner")


def test_lifestyle_shows_in_what_people_buy(lake: Path, truth) -> None:
    lines = _purchase_lines(lake, truth).merge(truth["persons"][["person_id", "lifestyle"]], on="person_id")
    top = lines.groupby("lifestyle")["category"].agg(lambda s: s.value_counts().index[0])
    affinity = {ls.name: set(ls.products) for ls in SampleParams().lifestyles}
    assert len(top) == len(affinity)
    for lifestyle, category in top.items():
        assert category in affinity[lifestyle], (lifestyle, category)


def test_truth_has_lifecycle_states_and_a_future(truth) -> None:
    persons = truth["persons"]
    assert set(persons["lifecycle_state"]) == {"prospect", "new", "active", "at_risk", "lapsed",
                                               "reactivated", "churned"}
    assert (persons["purchases_holdout"] > 0).mean() > 0.1
    assert (persons.loc[persons["purchases_holdout"] == 0, "value_holdout_eur"] == 0).all()
    assert persons["last_purchase_date"].dropna().max() < date(2026, 1, 1)
    per_person = truth["orders"].groupby("person_id")["amount_eur"].sum()
    value = persons.set_index("person_id")["value_period_eur"].reindex(per_person.index)
    assert ((per_person - value).abs() <= 0.01 * value + 0.05).all()  # currency rounding only


def test_same_seed_same_bytes_other_seed_other_data(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate_sample_lake(a, customers=200, seed=11, months=6)
    generate_sample_lake(b, customers=200, seed=11, months=6)
    generate_sample_lake(c, customers=200, seed=12, months=6)
    assert _folder_hash(a) == _folder_hash(b)
    assert _folder_hash(a) != _folder_hash(c)
    assert (a / "loyalty/members.csv").read_bytes() != (c / "loyalty/members.csv").read_bytes()


def test_arguments_out_of_range_are_refused(tmp_path: Path) -> None:
    with pytest.raises(VistaError, match="customers must be >= 1"):
        generate_sample_lake(tmp_path, customers=0)
    with pytest.raises(VistaError, match="bad_row_rate"):
        generate_sample_lake(tmp_path, customers=10, bad_row_rate=0.9)
