"""Ground truth: who each record is, each person's latent traits and future, hard pairs,
bad rows. Written as Parquet under ``ground_truth/`` chunk by chunk."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from vista.sample.identity_sources import Chunk
from vista.sample.people import Period

S, I64, F64, B, D = pa.string(), pa.int64(), pa.float64(), pa.bool_(), pa.date32()

PERSONS = pa.schema([
    ("person_id", S), ("household_id", S), ("country", S), ("locale", S), ("gender", S),
    ("birth_date", D), ("first_name", S), ("last_name", S), ("email", S), ("email_new", S),
    ("has_email", B), ("uses_household_email", B), ("lifestyle", S), ("price_sensitivity", S),
    ("price_score", F64), ("preferred_channel", S), ("satisfaction", F64),
    ("purchase_rate_per_year", F64), ("dropout_p", F64), ("first_purchase_date", D),
    ("last_purchase_date", D), ("purchases_period", I64), ("value_period_eur", F64),
    ("lifecycle_state", S), ("purchases_holdout", I64), ("value_holdout_eur", F64),
    ("is_twin", B), ("twin_of", S), ("is_namesake", B), ("namesake_of", S), ("n_devices", I64),
])  # fmt: skip
RECORDS = pa.schema([("source", S), ("id_column", S), ("source_record_id", S), ("person_id", S),
                     ("is_duplicate_in_source", B)])
PAIRS = pa.schema([("person_id_l", S), ("person_id_r", S), ("kind", S), ("same_person", B)])
ORDERS = pa.schema([("source", S), ("order_id", S), ("person_id", S), ("order_date", D),
                    ("amount_eur", F64)])
BAD = pa.schema([("source", S), ("file", S), ("record_no", I64), ("record_id", S), ("kind", S),
                 ("column", S)])
CHANNELS = np.array(["online", "store", "omni"], dtype=object)


def spend_eur(buys: pd.DataFrame, lines: dict[str, pd.DataFrame], observed: np.ndarray,
              online: np.ndarray, period: Period, n: int) -> dict[str, np.ndarray]:
    """Per person: purchase count and euro value in the period and in the hold-out."""
    pos = buys["pos"].to_numpy()
    out = {}
    holdout = buys["day"].to_numpy() >= period.days
    value = np.zeros(len(buys))
    for key, m in (("online", observed & online), ("store", observed & ~online), ("holdout", holdout)):
        ln = lines[key]
        amt = ln["unit_price_eur"].to_numpy() * ln["qty"].to_numpy() * (1 - ln["discount_rate"].to_numpy())
        value[m] = np.bincount(ln["order_idx"].to_numpy(), amt, int(m.sum()))
    out["purchases_period"] = np.bincount(pos[observed], minlength=n)
    out["value_period_eur"] = np.round(np.bincount(pos[observed], value[observed], n), 2)
    out["purchases_holdout"] = np.bincount(pos[holdout], minlength=n)
    out["value_holdout_eur"] = np.round(np.bincount(pos[holdout], value[holdout], n), 2)
    return out


def lifecycle(buys: pd.DataFrame, n: int, c: Chunk) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lifecycle state at the period end, first and last purchase day.

    The rule looks only at purchases inside the observed period (what the lake holds),
    so it can be recomputed from the data. Days are counted back from the period end;
    thresholds are in ``SampleParams``: no purchase in the period -> prospect; first
    purchase within ``active_days`` -> new; a purchase within ``active_days`` after a gap
    of ``reactivation_gap_rule_days`` or more -> reactivated; last purchase within
    ``active_days`` -> active, within ``at_risk_days`` -> at_risk, within
    ``lapsed_days`` -> lapsed, older -> churned. Returned dates are the first and last
    purchase in the period.
    """
    p, end = c.params, c.period.days
    d = buys["day"].to_numpy()
    b = buys[(d >= 0) & (d < end)]
    pos, day = b["pos"].to_numpy(), b["day"].to_numpy()
    first, last = np.full(n, np.inf), np.full(n, -np.inf)
    np.minimum.at(first, pos, day)
    np.maximum.at(last, pos, day)
    window = day >= end - p.active_days
    before, first_in = np.full(n, -np.inf), np.full(n, np.inf)
    np.maximum.at(before, pos[~window], day[~window])
    np.minimum.at(first_in, pos[window], day[window])
    rec = end - last
    state = np.select(
        [np.isinf(last), end - first <= p.active_days,
         np.isfinite(first_in) & (first_in - before >= p.reactivation_gap_rule_days),
         rec <= p.active_days, rec <= p.at_risk_days, rec <= p.lapsed_days],
        ["prospect", "new", "reactivated", "active", "at_risk", "lapsed"], "churned").astype(object)
    return state, first, last


def _days_to_date(period: Period, d: np.ndarray) -> pd.Series:
    ok = np.isfinite(d)
    out = np.full(d.size, np.datetime64("NaT"), "datetime64[D]")
    out[ok] = period.start + np.floor(d[ok]).astype("timedelta64[D]")
    return pd.Series(out)


def persons(c: Chunk, buys: pd.DataFrame, spend: dict[str, np.ndarray]) -> pd.DataFrame:
    people, p, n = c.people, c.params, len(c.people)
    state, first, last = lifecycle(buys, n, c)
    pid = people["person_id"].to_numpy()
    twin_of, ns_of = people["twin_of_pos"].to_numpy(), people["namesake_of_pos"].to_numpy()
    is_twin, is_ns = twin_of >= 0, ns_of >= 0
    is_twin[twin_of[twin_of >= 0]] = True
    is_ns[ns_of[ns_of >= 0]] = True
    ci = people["country_idx"].to_numpy()
    return pd.DataFrame({
        "person_id": pid, "household_id": people["household_id"].to_numpy(),
        "country": np.array([x.iso2 for x in p.countries], dtype=object)[ci],
        "locale": np.array([x.locale for x in p.countries], dtype=object)[ci],
        "gender": people["gender"].to_numpy(), "birth_date": people["birth_date"].to_numpy(),
        "first_name": people["first_name"].to_numpy(), "last_name": people["last_name"].to_numpy(),
        "email": people["email1"].to_numpy(), "email_new": people["email2"].to_numpy(),
        "has_email": people["email1"].notna().to_numpy(),
        "uses_household_email": people["family_email"].notna().to_numpy(),
        "lifestyle": np.array([x.name for x in p.lifestyles], dtype=object)[people["lifestyle_idx"].to_numpy()],
        "price_sensitivity": people["price_sensitivity"].to_numpy(),
        "price_score": people["price_score"].to_numpy(),
        "preferred_channel": CHANNELS[people["channel_idx"].to_numpy()],
        "satisfaction": people["satisfaction"].to_numpy(),
        "purchase_rate_per_year": people["purchase_rate"].to_numpy(),
        "dropout_p": people["dropout_p"].to_numpy(),
        "first_purchase_date": _days_to_date(c.period, first),
        "last_purchase_date": _days_to_date(c.period, last),
        "purchases_period": spend["purchases_period"], "value_period_eur": spend["value_period_eur"],
        "lifecycle_state": state, "purchases_holdout": spend["purchases_holdout"],
        "value_holdout_eur": spend["value_holdout_eur"],
        "is_twin": is_twin, "twin_of": np.where(twin_of >= 0, pid[np.maximum(twin_of, 0)], None),
        "is_namesake": is_ns, "namesake_of": np.where(ns_of >= 0, pid[np.maximum(ns_of, 0)], None),
        "n_devices": people["n_devices"].to_numpy(),
    })


def hard_pairs(c: Chunk) -> pd.DataFrame:
    """Pairs of different persons that look alike: twins, namesakes, household e-mail/phone."""
    people = c.people
    pid = people["person_id"].to_numpy()
    out = []
    for col, kind in (("twin_of_pos", "twin"), ("namesake_of_pos", "namesake")):
        v = people[col].to_numpy()
        m = v >= 0
        out.append(pd.DataFrame({"a": pid[m], "b": pid[v[m]], "kind": kind}))
    for col, kind in (("family_email", "shared_household_email"), ("landline", "shared_household_phone")):
        sub = people.loc[people[col].notna(), ["hh", "person_id"]]
        pairs = sub.merge(sub, on="hh", how="inner", suffixes=("_a", "_b"))
        pairs = pairs[pairs["person_id_a"] < pairs["person_id_b"]]
        out.append(pd.DataFrame({"a": pairs["person_id_a"].to_numpy(), "b": pairs["person_id_b"].to_numpy(),
                                 "kind": kind}))
    df = pd.concat(out, ignore_index=True)
    lo, hi = np.minimum(df["a"], df["b"]), np.maximum(df["a"], df["b"])
    return pd.DataFrame({"person_id_l": lo, "person_id_r": hi, "kind": df["kind"], "same_person": False})


def _table(df: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pandas(df, schema=schema, preserve_index=False)


def write_chunk(c: Chunk, buys: pd.DataFrame, spend: dict[str, np.ndarray],
                orders: list[pd.DataFrame]) -> None:
    """Append this chunk's persons, record map, hard pairs and order owners."""
    sinks = c.sinks
    sinks.parquet("ground_truth/persons.parquet", _table(persons(c, buys, spend), PERSONS))
    sinks.parquet("ground_truth/record_person.parquet", _table(pd.concat(c.truth, ignore_index=True), RECORDS))
    sinks.parquet("ground_truth/hard_pairs.parquet", _table(hard_pairs(c), PAIRS))
    o = pd.concat(orders, ignore_index=True)
    o["order_date"] = _days_to_date(c.period, o.pop("day").to_numpy()).to_numpy()
    o["amount_eur"] = o["amount_eur"].round(2)
    sinks.parquet("ground_truth/orders.parquet", _table(o, ORDERS))


def bad_rows_table(parts: list[pd.DataFrame]) -> pa.Table:
    """All planted bad rows, one row each."""
    if not parts:
        return BAD.empty_table()
    df = pd.concat(parts, ignore_index=True)
    df["record_id"] = df["record_id"].astype(object).where(df["record_id"].notna(), None)
    df["record_id"] = [None if v is None else str(v) for v in df["record_id"]]
    return _table(df, BAD)
