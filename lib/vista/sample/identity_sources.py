"""Sources that hold who people are: CRM exports, loyalty members, e-commerce accounts."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from vista.sample import render as rd
from vista.sample.params import SampleParams
from vista.sample.people import Period
from vista.sample.sinks import BadRows, Sinks, inject_bad_rows

COUNTRY_NAMES = {"ES": "España", "MX": "México", "AR": "Argentina", "CO": "Colombia",
                 "CL": "Chile", "US": "Estados Unidos", "FR": "Francia", "PT": "Portugal",
                 "IT": "Italia", "GB": "Reino Unido"}  # fmt: skip


@dataclass
class Chunk:
    """Everything one chunk's source builders share."""

    no: int
    people: pd.DataFrame
    params: SampleParams
    period: Period
    rng: np.random.Generator
    sinks: Sinks
    truth: list[pd.DataFrame] = field(default_factory=list)  # record -> person rows

    def sinks_bad(self, df: pd.DataFrame, spec: list[tuple[str, str]]) -> BadRows:
        """Plant bad rows in a text frame at the configured rate."""
        return inject_bad_rows(df, spec, self.params.bad_row_rate, self.rng)

    def add_truth(self, source: str, id_column: str, ids: np.ndarray, pos: np.ndarray,
                  duplicate: np.ndarray | None = None) -> None:
        self.truth.append(pd.DataFrame({
            "source": source, "id_column": id_column, "source_record_id": ids,
            "person_id": self.people["person_id"].to_numpy()[pos],
            "is_duplicate_in_source": np.zeros(pos.size, bool) if duplicate is None else duplicate,
        }))


def with_duplicates(pos: np.ndarray, rate: float, rng: np.random.Generator):
    """Records for ``pos`` plus a second record for about ``rate`` of them."""
    dup = pos[rng.random(pos.size) < rate]
    return np.concatenate([pos, dup]), np.concatenate([np.zeros(pos.size, bool), np.ones(dup.size, bool)])


def email_at(people: pd.DataFrame, pos: np.ndarray, day: np.ndarray | int) -> np.ndarray:
    """The address a person uses on ``day`` (the new one after an e-mail change)."""
    e1, e2 = people["email1"].to_numpy()[pos], people["email2"].to_numpy()[pos]
    changed = (people["email_change_day"].to_numpy()[pos] <= day) & pd.notna(e2)
    return np.where(changed, e2, e1)


def export_days(period: Period, every_months: int) -> list[np.datetime64]:
    """Last day of every ``every_months``-th month of the period."""
    months = np.arange(period.start.astype("datetime64[M]"), period.end.astype("datetime64[M]"))
    picked = months[every_months - 1 :: every_months]
    return [(m + 1).astype("datetime64[D]") - 1 for m in picked]


def consent_state(c: Chunk, pos: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Initial value and flip day (days after start) of each consent flag per record."""
    n, rng = pos.size, c.rng
    out = {}
    for flag, p in (("email", 0.65), ("sms", 0.4), ("profiling", 0.5)):
        flips = rng.random(n) < c.params.consent_flip_rate
        out[flag] = (rng.random(n) < p, np.where(flips, rng.integers(0, c.period.days, n), 10**6))
    return out


def landline(people: pd.DataFrame, pos: np.ndarray, p: SampleParams,
             rng: np.random.Generator) -> np.ndarray:
    """The household landline in a random format, or None."""
    ci = people["country_idx"].to_numpy()[pos]
    cc = np.array([x.calling_code for x in p.countries], dtype=object)[ci]
    trunk = np.array([x.trunk for x in p.countries], dtype=object)[ci]
    raw = people["landline"].to_numpy()[pos]
    has = pd.notna(raw)
    out = np.full(pos.size, None, dtype=object)
    out[has] = rd.tn.phone_format(cc[has], raw[has], trunk[has], rng.integers(0, 7, int(has.sum())))
    return out


def home_phone_sometimes(people: pd.DataFrame, pos: np.ndarray, phone: np.ndarray,
                         p: SampleParams, rng: np.random.Generator) -> np.ndarray:
    """Some people give the household landline instead of their mobile."""
    land = landline(people, pos, p, rng)
    return np.where(pd.notna(land) & (rng.random(pos.size) < p.landline_given_rate), land, phone)


def crm(c: Chunk) -> pd.DataFrame:
    """Quarterly full exports ``crm/contacts_<date>.csv`` (``;``-separated).

    Returns the contacts (pos, contact id, created day, consents) for the e-mail source.
    """
    p, rng, people = c.params, c.rng, c.people
    pos, dup = with_duplicates(np.flatnonzero(rng.random(len(people)) < p.crm_rate),
                               p.noise["crm"].duplicate, rng)
    acq = people["acq_day"].to_numpy()[pos]
    created = np.where(dup, np.maximum(acq, 0) + rng.integers(30, 600, pos.size),
                       np.minimum(acq, c.period.days - 1) - rng.integers(0, 20, pos.size))
    days = export_days(c.period, p.crm_export_every_months)
    seen = created <= int((days[-1] - c.period.start).astype(int))  # in at least one export
    pos, dup, created = pos[seen], dup[seen], created[seen]
    ids = rd.chunk_ids("C", pos.size, c.no, rng, 8)
    order = np.argsort(ids)
    pos, dup, created, ids = pos[order], dup[order], created[order], ids[order]
    c.add_truth("crm", "id_contacto", ids, pos, dup)
    e1 = rd.noisy_email(people["email1"].to_numpy()[pos], c.params.noise["crm"], rng)
    e2 = rd.noisy_email(people["email2"].to_numpy()[pos], c.params.noise["crm"], rng)
    ident = rd.render_identity(people, pos, people["email1"].to_numpy()[pos], p.noise["crm"], p, rng)
    consent = consent_state(c, pos)
    iso2 = np.array([x.iso2 for x in p.countries], dtype=object)[people["country_idx"].to_numpy()[pos]]
    country = np.array([COUNTRY_NAMES.get(x, x) for x in iso2], dtype=object)
    country = np.where(rng.random(pos.size) < 0.1, iso2, country)  # some rows hold the code
    country[rng.random(pos.size) < 0.03] = None
    land = landline(people, pos, p, rng)
    start = c.period.start
    for day in days:
        d = int((day - start).astype(int))
        m = created <= d
        q = pos[m]
        moved = (people["move_day"].to_numpy()[q] <= d) & pd.notna(people["street_new"].to_numpy()[q])
        changed = (people["email_change_day"].to_numpy()[q] <= d) & pd.notna(e2[m])
        df = rd.frame({
            "id_contacto": ids[m], "nombre": ident["first"][m], "apellidos": ident["last"][m],
            "email": np.where(changed, e2[m], e1[m]),
            "telefono_movil": ident["phone"][m], "telefono_fijo": land[m],
            "direccion": np.where(moved, people["street_new"].to_numpy()[q], people["street"].to_numpy()[q]),
            "codigo_postal": people["postcode"].to_numpy()[q], "ciudad": people["city"].to_numpy()[q],
            "pais": country[m], "fecha_nacimiento": rd.dmy(ident["birth"][m]),
            "sexo": np.where(people["gender"].to_numpy()[q] == "F", "M", "H"),
        })
        for flag, col in (("email", "acepta_email"), ("sms", "acepta_sms"), ("profiling", "acepta_perfilado")):
            v0, flip = consent[flag]
            df[col] = np.where(v0[m] ^ (flip[m] <= d), "S", "N")
        df["fecha_alta"] = rd.dmy(start + created[m].astype("timedelta64[D]"))
        df["fecha_modificacion"] = rd.dmy_hm(rd.to_ts(start, np.minimum(d, created[m] + rng.integers(0, 400, m.sum())) + rng.random(m.sum())))
        bad = inject_bad_rows(df, [("unparseable_date", "fecha_nacimiento"),
                                   ("missing_required_key", "id_contacto")], p.bad_row_rate, rng)
        c.sinks.csv(f"crm/contacts_{day}.csv", df, bad, ids[m], delimiter=";")
    return pd.DataFrame({"pos": pos, "contact_id": ids, "created": created, "dup": dup,
                         "consent_email0": consent["email"][0], "consent_email_flip": consent["email"][1]})


def loyalty(c: Chunk, spend_eur: np.ndarray) -> pd.DataFrame:
    """``loyalty/members.csv``; returns members (pos, card, enrolled day, dup) for POS."""
    p, rng, people = c.params, c.rng, c.people
    rate = np.asarray(p.loyalty_rate_by_channel)[people["channel_idx"].to_numpy()]
    pos, dup = with_duplicates(np.flatnonzero(rng.random(len(people)) < rate),
                               p.noise["loyalty"].duplicate, rng)
    acq = np.maximum(people["acq_day"].to_numpy()[pos], -700)
    enrolled = acq + rng.integers(0, 120, pos.size)
    enrolled = np.where(dup, np.maximum(enrolled, 0) + rng.integers(60, 500, pos.size), enrolled)
    seen = enrolled < c.period.days  # the file is a snapshot at the period end
    pos, dup, enrolled = pos[seen], dup[seen], enrolled[seen]
    ids = rd.chunk_ids("", pos.size, c.no, rng, 10)
    ident = rd.render_identity(people, pos, email_at(people, pos, enrolled), p.noise["loyalty"], p, rng)
    tier = np.array(["BRONCE", "PLATA", "ORO"], dtype=object)[np.digitize(spend_eur[pos], [300, 1200])]
    df = rd.frame({
        "card_number": ids,
        "full_name": rd.tn.join_words(ident["first"], ident["last"]),
        "phone": home_phone_sometimes(people, pos, ident["phone"], p, rng), "email": ident["email"],
        "birth_date": rd.compact_date(ident["birth"]), "tier": tier,
        "enrolled_on": rd.dmy(c.period.start + enrolled.astype("timedelta64[D]"), "-"),
    })
    order = np.argsort(ids)
    df, pos, dup, enrolled, ids = df.iloc[order].reset_index(drop=True), pos[order], dup[order], enrolled[order], ids[order]
    c.add_truth("loyalty", "card_number", ids, pos, dup)
    bad = inject_bad_rows(df, [("unparseable_date", "birth_date"), ("missing_required_key", "card_number")],
                          p.bad_row_rate, rng)
    c.sinks.csv("loyalty/members.csv", df, bad, ids)
    return pd.DataFrame({"pos": pos, "card": ids, "enrolled": enrolled, "dup": dup})


def accounts(c: Chunk, online_buyer: np.ndarray) -> pd.DataFrame:
    """``ecommerce/accounts.jsonl``; returns accounts (pos, account id, created, dup)."""
    p, rng, people = c.params, c.rng, c.people
    has_email = people["email1"].notna().to_numpy()
    want = np.where(online_buyer, rng.random(len(people)) < p.account_rate_online,
                    rng.random(len(people)) < p.account_rate_browser)
    pos, dup = with_duplicates(np.flatnonzero(has_email & want), p.noise["ecommerce"].duplicate, rng)
    created = np.minimum(people["acq_day"].to_numpy()[pos], c.period.days - 1) - rng.integers(0, 10, pos.size)
    created = np.where(dup, np.maximum(created, 0) + rng.integers(30, 500, pos.size), created).astype(float)
    created += rng.random(pos.size)
    seen = created < c.period.days  # the file is a snapshot at the period end
    pos, dup, created = pos[seen], dup[seen], created[seen]
    emails = email_at(people, pos, created)
    ids = rd.chunk_ids("", pos.size, c.no, rng, 9)
    ident = rd.render_identity(people, pos, emails, p.noise["ecommerce"], p, rng)
    email = np.where(pd.isna(ident["email"]), emails, ident["email"])  # the login is required
    iso2 = np.array([x.iso2 for x in p.countries], dtype=object)[people["country_idx"].to_numpy()[pos]]
    df = rd.frame({
        "account_id": ids.astype(object), "email": email, "first_name": ident["first"],
        "last_name": ident["last"], "phone": ident["phone"], "birth_date": rd.iso_date(ident["birth"]),
        "country": iso2, "created_at": rd.iso_ts(rd.to_ts(c.period.start, created)),
        "newsletter": (rng.random(pos.size) < 0.5).astype(object),
    })
    order = np.argsort(created, kind="stable")
    df, pos, dup, created, ids = df.iloc[order].reset_index(drop=True), pos[order], dup[order], created[order], ids[order]
    c.add_truth("ecommerce", "account_id", ids, pos, dup)
    bad = inject_bad_rows(df, [("truncated_json", "*"), ("missing_required_key", "account_id"),
                               ("unparseable_date", "created_at"), ("wrong_type", "newsletter")],
                          p.bad_row_rate, rng)
    c.sinks.jsonl("ecommerce/accounts.jsonl", df, bad, ids, rng)
    return pd.DataFrame({"pos": pos, "account_id": ids, "created": created, "dup": dup})
