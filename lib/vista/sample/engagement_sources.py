"""E-mail campaign events, support tickets and survey responses."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from vista.sample import render as rd
from vista.sample import textnoise as tn
from vista.sample.identity_sources import Chunk, email_at
from vista.sample.identity_sources import home_phone_sometimes as isrc_home_phone
from vista.sample.params import CONTENT_CATEGORIES

TOPICS = np.array(["entrega", "devolucion", "facturacion", "calidad_producto", "cuenta",
                   "puntos_fidelidad", "tienda"], dtype=object)  # fmt: skip
CHANNELS = np.array(["phone", "email", "chat", "store"], dtype=object)


def email_events(c: Chunk, contacts: pd.DataFrame) -> None:
    """``email/events_<yyyy>.csv``: one row per sent/open/click/unsubscribe/bounce.

    Monthly campaigns go to every primary CRM contact with an address and e-mail consent
    at send time; an address shared by a household is one subscriber (sent once).
    """
    p, rng, people = c.params, c.rng, c.people
    prim = contacts[~contacts["dup"].to_numpy()]
    months = np.arange(c.period.start.astype("datetime64[M]"), c.period.end.astype("datetime64[M]"))
    send_day = ((months.astype("datetime64[D]") - c.period.start).astype(int) + 3).astype(float)
    n_c, n_m = len(prim), months.size
    ci = np.repeat(np.arange(n_c), n_m)
    mi = np.tile(np.arange(n_m), n_c)
    pos, day = prim["pos"].to_numpy()[ci], send_day[mi] + rng.random(ci.size) * 0.5
    consent = prim["consent_email0"].to_numpy()[ci] ^ (prim["consent_email_flip"].to_numpy()[ci] <= day)
    addr = email_at(people, pos, day)
    keep = consent & (prim["created"].to_numpy()[ci] <= day) & pd.notna(addr)
    pos, day, mi, addr = pos[keep], day[keep], mi[keep], addr[keep]
    slot = np.where(addr == people["email1"].to_numpy()[pos], 0, 1)
    owner = np.where(people["family_email"].to_numpy()[pos] == addr,
                     people["head_pos"].to_numpy()[pos], pos)
    sub_no = people["pid"].to_numpy()[owner] * 2 + slot
    first = ~pd.DataFrame({"s": sub_no, "m": mi}).duplicated().to_numpy()
    pos, day, mi, addr, sub_no, owner = (x[first] for x in (pos, day, mi, addr, sub_no, owner))
    # engagement: satisfied people open more; unsubscribes stop later sends
    sat = people["satisfaction"].to_numpy()[pos] / 5.0
    opened = rng.random(pos.size) < p.email_open_base * 2 * sat
    clicked = opened & (rng.random(pos.size) < p.email_click_given_open)
    unsub = rng.random(pos.size) < p.email_unsubscribe * (2 - sat)
    bounced = rng.random(pos.size) < 0.01
    first_unsub = pd.Series(np.where(unsub, mi, 10**6)).groupby(sub_no).transform("min").to_numpy()
    alive = mi <= first_unsub
    sub_id = _sub_ids(sub_no, c, rng)
    _, firsts = np.unique(sub_no, return_index=True)
    c.add_truth("email", "subscriber_id", sub_id[firsts], owner[firsts])
    rows = []
    for ev, m, lag in (("sent", alive, 0.0), ("bounce", alive & bounced, 0.001),
                       ("open", alive & opened & ~bounced, 0.3), ("click", alive & clicked & ~bounced, 0.35),
                       ("unsubscribe", alive & unsub & ~bounced, 0.4)):
        rows.append(pd.DataFrame({"k": np.flatnonzero(m), "event": ev,
                                  "day": day[m] + lag * rng.random(int(m.sum())) * (ev != "sent")}))
    ev = pd.concat(rows).sort_values(["day", "k"], kind="stable")
    k = ev["k"].to_numpy()
    _, firsts, inv = np.unique(sub_no, return_index=True, return_inverse=True)
    shown = rd.noisy_email(addr[firsts], p.noise["email"], rng)[inv]  # one spelling per subscriber
    ts = rd.to_ts(c.period.start, ev["day"].to_numpy())
    df = rd.frame({
        "subscriber_id": sub_id[k], "email_address": shown[k],
        "campaign_id": tn.concat("CMP-", np.datetime_as_string(months[mi[k]]).astype(object)),
        "event": ev["event"].to_numpy(), "event_time": rd.iso_ts(ts, z=False),
    })
    year = np.datetime_as_string(ts.astype("datetime64[Y]"))
    for y in np.unique(year):
        part = df[year == y].reset_index(drop=True)
        bad = c.sinks_bad(part, [("unparseable_date", "event_time"), ("missing_required_key", "email_address")])
        c.sinks.csv(f"email/events_{y}.csv", part, bad, part["subscriber_id"].to_numpy())


def _sub_ids(sub_no: np.ndarray, c: Chunk, rng: np.random.Generator) -> np.ndarray:
    uniq, inv = np.unique(sub_no, return_inverse=True)
    return rd.chunk_ids("SUB", uniq.size, c.no, rng, 9)[inv]


def support(c: Chunk, n_purchases: np.ndarray) -> None:
    """``support/tickets_<yyyy>.jsonl``: one ticket per line, requester flattened."""
    p, rng, people = c.params, c.rng, c.people
    sat = people["satisfaction"].to_numpy()
    rate = p.support_tickets_per_year * (1 + 2 * (5 - sat) / 4) * (1 + np.minimum(n_purchases, 20) / 10)
    k = rng.poisson(rate * c.period.days / 365)
    pos = np.repeat(np.arange(len(people)), k)
    n = pos.size
    opened = rng.random(n) * c.period.days
    order = np.argsort(opened, kind="stable")
    pos, opened = pos[order], opened[order]
    ids = rd.chunk_ids("TK-", n, c.no, rng, 9)
    c.add_truth("support", "ticket_id", ids, pos)
    ident = rd.render_identity(people, pos, email_at(people, pos, opened), p.noise["support"], p, rng)
    closed = opened + rng.exponential(2.0, n)
    is_open = closed > c.period.days
    csat = np.clip(np.round(sat[pos] + rng.normal(0, 0.8, n)), 1, 5).astype(int).astype(object)
    csat[is_open | (rng.random(n) < 0.5)] = None
    chan = CHANNELS[rng.choice(4, n, p=[0.35, 0.3, 0.25, 0.1])]
    name = tn.join_words(ident["first"], ident["last"])
    df = rd.frame({
        "ticket_id": ids, "created": rd.iso_ts(rd.to_ts(c.period.start, opened), z=False),
        "closed": np.where(is_open, None, rd.iso_ts(rd.to_ts(c.period.start, np.minimum(closed, c.period.days - 1e-3)), z=False)),
        "status": np.where(is_open, "open", "closed"), "channel": chan,
        "topic": TOPICS[rng.integers(0, TOPICS.size, n)],
        "requester_name": name,
        "requester_email": ident["email"],
        "requester_phone": isrc_home_phone(people, pos, ident["phone"], p, rng),
        "csat": csat, "complaint": rng.random(n) < 0.05 + 0.4 * (5 - sat[pos]) / 4,
    })
    none = df["requester_email"].isna() & df["requester_phone"].isna()
    df.loc[none, "requester_phone"] = rd.noisy_phone(
        people, pos[none.to_numpy()], replace(p.noise["crm"], missing_phone=0.0), p, rng)
    year = np.datetime_as_string(rd.to_ts(c.period.start, opened).astype("datetime64[Y]"))
    for y in np.unique(year):
        m = year == y
        part = df[m].reset_index(drop=True)
        bad = c.sinks_bad(part, [("truncated_json", "*"), ("wrong_type", "csat"),
                                 ("missing_required_key", "ticket_id"), ("unparseable_date", "created")])
        c.sinks.jsonl(f"support/tickets_{y}.jsonl", part, bad, ids[m], rng)


def survey(c: Chunk) -> None:
    """``survey/responses.csv``: NPS and attitude answers of invited people with an e-mail."""
    p, rng, people = c.params, c.rng, c.people
    invited = people["email1"].notna().to_numpy() & (rng.random(len(people)) < p.survey_invite_rate)
    pos = np.flatnonzero(invited & (rng.random(len(people)) < p.survey_response_rate))
    n = pos.size
    day = rng.random(n) * c.period.days
    order = np.argsort(day, kind="stable")
    pos, day = pos[order], day[order]
    ids = rd.chunk_ids("R", n, c.no, rng, 9)
    c.add_truth("survey", "response_id", ids, pos)
    emails = rd.noisy_email(email_at(people, pos, day), p.noise["survey"], rng)
    sat = people["satisfaction"].to_numpy()[pos]
    nps = np.clip(np.round(2.4 * sat - 2 + rng.normal(0, 1.3, n)), 0, 10).astype(int)
    score = people["price_score"].to_numpy()[pos]
    ch = people["channel_idx"].to_numpy()[pos]
    top = _top_content(c)[people["lifestyle_idx"].to_numpy()[pos]]
    interest = np.where(rng.random(n) < 0.7, top, np.array(CONTENT_CATEGORIES, dtype=object)[
        rng.integers(0, len(CONTENT_CATEGORIES), n)])
    df = rd.frame({
        "response_id": ids, "submitted_at": rd.dmy_hm(rd.to_ts(c.period.start, day)), "email": emails,
        "nps": nps.astype(str), "q_price_importance": np.clip(np.round(1 + 4 * score + rng.normal(0, 0.6, n)), 1, 5).astype(int).astype(str),
        "q_store_preference": np.clip(np.array([2, 5, 3])[ch] + rng.integers(-1, 2, n), 1, 5).astype(str),
        "q_main_interest": interest, "would_recommend": np.where(nps >= 7, "Sí", "No"),
    })
    bad = c.sinks_bad(df, [("wrong_type", "nps"), ("unparseable_date", "submitted_at"),
                           ("missing_required_key", "response_id")])
    c.sinks.csv("survey/responses.csv", df, bad, ids)


def _top_content(c: Chunk) -> np.ndarray:
    return np.array([max(ls.content, key=ls.content.get) for ls in c.params.lifestyles], dtype=object)
