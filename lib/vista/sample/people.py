"""People and households of one chunk: true identity plus latent behaviour.

Everything is drawn with numpy over whole arrays; the only per-group loop is over the
handful of countries (each has its own Faker pool).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from vista.sample import textnoise as tn
from vista.sample.params import SampleParams
from vista.sample.pools import EMAIL_DOMAINS, LocalePool


@dataclass(frozen=True)
class Period:
    """The observed period and the hold-out window after it, as numpy days."""

    start: np.datetime64
    end: np.datetime64  # exclusive
    holdout_end: np.datetime64  # exclusive

    @property
    def days(self) -> int:
        return int((self.end - self.start).astype(int))


def _households(n: int, params: SampleParams, rng: np.random.Generator, hh0: int):
    probs = np.asarray(params.household_size_probs, float)
    sizes = rng.choice(np.arange(1, probs.size + 1), size=n, p=probs / probs.sum())
    sizes = sizes[: np.searchsorted(np.cumsum(sizes), n) + 1]
    sizes[-1] -= sizes.sum() - n
    hh_local = np.repeat(np.arange(sizes.size), sizes)
    starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
    rank = np.arange(n) - starts
    return hh_local, rank, sizes, hh0 + hh_local


def _names(df: pd.DataFrame, pools: list[LocalePool], rng: np.random.Generator) -> None:
    n = len(df)
    first = np.empty(n, dtype=object)
    s1 = np.empty(n, dtype=object)
    s2 = np.empty(n, dtype=object)
    for ci, pool in enumerate(pools):
        m = (df["country_idx"] == ci).to_numpy()
        k = int(m.sum())
        female = df["gender"].to_numpy()[m] == "F"
        first[m] = np.where(female, pool.female[rng.integers(0, pool.female.size, k)],
                            pool.male[rng.integers(0, pool.male.size, k)])
        s1[m] = pool.surnames[rng.integers(0, pool.surnames.size, k)]
        s2[m] = pool.surnames[rng.integers(0, pool.surnames.size, k)]
    df["first_name"], df["surname1"], df["surname2"] = first, s1, s2


def _share_within_household(df: pd.DataFrame, params: SampleParams, rng: np.random.Generator) -> None:
    head = (df.index.to_numpy() - df["hh_rank"].to_numpy())
    same = (df["hh_rank"].to_numpy() > 0) & (rng.random(len(df)) < params.same_surname_in_household)
    s1 = df["surname1"].to_numpy().copy()
    s1[same] = s1[head[same]]
    df["surname1"] = s1
    df["head_pos"] = head


def _twins(df: pd.DataFrame, sizes: np.ndarray, params: SampleParams, rng: np.random.Generator) -> None:
    """The 2nd member of some households is the head's twin: same surnames, birth date, address."""
    rank, head = df["hh_rank"].to_numpy(), df["head_pos"].to_numpy()
    hh_twin = (sizes >= 2) & (rng.random(sizes.size) < params.twin_rate)
    twin = (rank == 1) & hh_twin[df["hh_local"].to_numpy()]
    for col in ("surname1", "surname2", "birth_date", "country_idx"):
        v = df[col].to_numpy().copy()
        v[twin] = v[head[twin]]
        df[col] = v
    first = df["first_name"].to_numpy().copy()
    clash = np.flatnonzero(twin & (first == first[head]))
    first[clash] = first[(clash + 7) % len(first)]
    df["first_name"] = first
    df["twin_of_pos"] = np.where(twin, head, -1)


def _namesakes(df: pd.DataFrame, params: SampleParams, rng: np.random.Generator) -> None:
    """Some persons carry the full name of someone unrelated in another household."""
    n = len(df)
    pick = np.flatnonzero(rng.random(n) < params.namesake_rate)
    src = rng.integers(0, n, pick.size)
    ok = (df["hh_local"].to_numpy()[src] != df["hh_local"].to_numpy()[pick]) & (df["twin_of_pos"].to_numpy()[pick] < 0)
    pick, src = pick[ok], src[ok]
    for col in ("first_name", "surname1", "surname2", "gender"):
        v = df[col].to_numpy().copy()
        v[pick] = v[src]
        df[col] = v
    ns = np.full(n, -1)
    ns[pick] = src
    df["namesake_of_pos"] = ns


def _emails(df: pd.DataFrame, sizes: np.ndarray, params: SampleParams, rng: np.random.Generator) -> None:
    n = len(df)
    f = tn.lower(tn.fold_accents(df["first_name"].to_numpy()))
    f = np.array([s.replace(" ", "") for s in f], dtype=object) if n else f
    s = tn.lower(tn.fold_accents(df["surname1"].to_numpy()))
    s = np.array([x.replace(" ", "") for x in s], dtype=object) if n else s
    num = rng.integers(1, 999, n).astype(str).astype(object)
    domains = np.array(EMAIL_DOMAINS, dtype=object)
    pattern = rng.integers(0, 5, n)
    initial = np.array([x[:1] for x in f], dtype=object) if n else f
    options = [tn.concat(f, ".", s), tn.concat(f, "_", s, num), tn.concat(f, s, num),
               tn.concat(initial, s, num), tn.concat(s, ".", f)]
    local = np.empty(n, dtype=object)
    for i, opt in enumerate(options):
        local[pattern == i] = opt[pattern == i]
    email1 = tn.concat(local, "@", domains[rng.integers(0, domains.size, n)])
    alt_local = tn.concat(f, s, rng.integers(1000, 9999, n).astype(str).astype(object))
    email2 = tn.concat(alt_local, "@", domains[rng.integers(0, domains.size, n)])
    # family e-mail: first two members (and half of the rest) use it instead of their own
    hh_fam = (sizes >= 2) & (rng.random(sizes.size) < params.family_email_rate)
    hl, rank, head = df["hh_local"].to_numpy(), df["hh_rank"].to_numpy(), df["head_pos"].to_numpy()
    fam_addr = tn.concat("familia", s[head], num[head], "@", domains[rng.integers(0, domains.size, n)][head])
    uses_fam = hh_fam[hl] & ((rank <= 1) | (rng.random(n) < 0.5))
    email1 = np.where(uses_fam, fam_addr, email1)
    no_email = (rng.random(n) < params.no_email_rate) & ~uses_fam
    email1[no_email] = None
    changes = ~no_email & ~uses_fam & (rng.random(n) < params.email_change_rate)
    email2[~changes] = None
    df["email1"], df["email2"] = email1, email2
    df["family_email"] = np.where(uses_fam, fam_addr, None)
    df["email_change_day"] = rng.integers(30, 700, n)  # days after start; used when email2


def _phones_addresses(df: pd.DataFrame, sizes: np.ndarray, params: SampleParams,
                      pools: list[LocalePool], rng: np.random.Generator) -> None:
    n = len(df)
    ci = df["country_idx"].to_numpy()
    mobile, landline = np.empty(n, dtype=object), np.empty(n, dtype=object)
    street, city, postcode = (np.empty(n, dtype=object) for _ in range(3))
    street2 = np.empty(n, dtype=object)
    head = df["head_pos"].to_numpy()
    for i, c in enumerate(params.countries):
        m = ci == i
        k = int(m.sum())
        mobile[m] = tn.concat(np.full(k, c.mobile_prefix, dtype=object),
                              tn.random_digits(rng, k, c.mobile_len - len(c.mobile_prefix)))
        landline[m] = tn.concat(np.full(k, "9" if c.iso2 == "ES" else "2", dtype=object),
                                tn.random_digits(rng, k, c.mobile_len - 1))
        pool = pools[i]
        for arr in (street, street2):
            arr[m] = tn.concat(pool.streets[rng.integers(0, pool.streets.size, k)], " ",
                               rng.integers(1, 200, k).astype(str).astype(object))
        j = rng.integers(0, pool.cities.size, k)
        city[m], postcode[m] = pool.cities[j], pool.postcodes[j]
    hh_land = rng.random(sizes.size) < params.landline_rate
    hh_move = rng.random(sizes.size) < params.move_rate
    hl = df["hh_local"].to_numpy()
    df["mobile"] = mobile
    df["landline"] = np.where(hh_land[hl], landline[head], None)
    df["street"], df["city"], df["postcode"] = street[head], city[head], postcode[head]
    df["street_new"] = np.where(hh_move[hl], street2[head], None)
    df["move_day"] = rng.integers(60, 680, n)[head]


def _latent(df: pd.DataFrame, params: SampleParams, period: Period, rng: np.random.Generator) -> None:
    n = len(df)
    ls = rng.integers(0, len(params.lifestyles), n)
    shift = np.array([x.price_shift for x in params.lifestyles])[ls]
    score = np.clip(rng.beta(*params.price_beta, n) + shift, 0.0, 1.0)
    df["lifestyle_idx"], df["price_score"] = ls, score
    df["price_sensitivity"] = np.array(params.price_labels, dtype=object)[
        np.digitize(score, [1 / 3, 2 / 3])]
    df["channel_idx"] = rng.choice(3, n, p=np.asarray(params.channel_probs))
    df["satisfaction"] = np.round(1 + 4 * rng.beta(4, 1.6, n), 2)
    scale = params.purchase_rate_mean / params.purchase_rate_shape
    df["purchase_rate"] = rng.gamma(params.purchase_rate_shape, scale, n)
    df["dropout_p"] = rng.beta(params.dropout_a, params.dropout_b, n)
    existing = rng.random(n) < params.existing_customer_share
    acq = np.where(existing, -rng.integers(1, 2 * 365, n), rng.integers(0, period.days, n))
    df["acq_day"] = acq  # days relative to period start
    df["non_buyer"] = rng.random(n) < params.non_buyer_rate
    df["n_devices"] = rng.integers(params.devices_range[0], params.devices_range[1] + 1, n)


def make_people(n: int, pid0: int, hh0: int, params: SampleParams, pools: list[LocalePool],
                period: Period, rng: np.random.Generator) -> tuple[pd.DataFrame, int]:
    """Draw ``n`` people (whole households) with ids starting at ``pid0`` / ``hh0``.

    Returns:
        The people frame (one row per person, positional index) and the number of
        households used.
    """
    hh_local, rank, sizes, hh = _households(n, params, rng, hh0)
    shares = np.array([c.share for c in params.countries])
    hh_country = rng.choice(shares.size, sizes.size, p=shares / shares.sum())
    age_days = rng.integers(params.age_range[0] * 365, params.age_range[1] * 365, n)
    df = pd.DataFrame({
        "pid": np.arange(pid0, pid0 + n), "hh": hh, "hh_local": hh_local, "hh_rank": rank,
        "country_idx": hh_country[hh_local],
        "gender": np.where(rng.random(n) < 0.5, "F", "M").astype(object),
        "birth_date": period.end - age_days.astype("timedelta64[D]"),
    })
    _names(df, pools, rng)
    _share_within_household(df, params, rng)
    _twins(df, sizes, params, rng)
    _namesakes(df, params, rng)
    _emails(df, sizes, params, rng)
    _phones_addresses(df, sizes, params, pools, rng)
    _latent(df, params, period, rng)
    es = np.array([c.locale.startswith("es_") for c in params.countries])[df["country_idx"].to_numpy()]
    df["last_name"] = np.where(es, tn.concat(df["surname1"].to_numpy(), " ", df["surname2"].to_numpy()),
                               df["surname1"].to_numpy())
    df["person_id"] = tn.concat("P", np.char.zfill(df["pid"].to_numpy().astype(str), 7).astype(object))
    df["household_id"] = tn.concat("H", np.char.zfill(df["hh"].to_numpy().astype(str), 7).astype(object))
    for col in df.columns:  # plain object columns with None, whatever pandas infers
        if df[col].dtype == object or isinstance(df[col].dtype, pd.StringDtype):
            df[col] = pd.Series(np.where(df[col].isna(), None, df[col].to_numpy(dtype=object)),
                                dtype=object)
    return df, int(sizes.size)
