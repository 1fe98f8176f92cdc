"""What people do: purchases (BG/NBD-like), web sessions and events, all vectorised.

Times are float days relative to the period start; negative = before the period,
``>= period.days`` = in the hold-out window (kept only for ground truth).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from vista.sample.params import CONTENT_CATEGORIES, PRODUCT_CATEGORIES, SampleParams
from vista.sample.people import Period
from vista.sample.pools import Catalogue


def affinity_matrices(params: SampleParams) -> tuple[np.ndarray, np.ndarray]:
    """Per-lifestyle probability over product categories and over content categories."""
    def mat(attr: str, cats: tuple[str, ...]) -> np.ndarray:
        m = np.full((len(params.lifestyles), len(cats)), params.background_affinity)
        for i, ls in enumerate(params.lifestyles):
            for cat, w in getattr(ls, attr).items():
                m[i, cats.index(cat)] += w
        return m / m.sum(axis=1, keepdims=True)
    return mat("products", PRODUCT_CATEGORIES), mat("content", CONTENT_CATEGORIES)


def draw_rows(prob: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One categorical draw per element of ``rows`` from ``prob[rows]`` (inverse CDF)."""
    cum = np.cumsum(prob, axis=1)
    u = rng.random(rows.size)
    return np.minimum((cum[rows] < u[:, None]).sum(axis=1), prob.shape[1] - 1)


def _episodes(t0: np.ndarray, rate_day: np.ndarray, p: np.ndarray, cap: int,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Purchases of one alive episode per row: first at ``t0``, then Poisson(rate) until
    a geometric number of purchases (dropout with prob ``p`` after each) is reached."""
    k = np.minimum(rng.geometric(p), cap)
    rep = np.repeat(np.arange(t0.size), k)
    gaps = rng.exponential(1.0 / rate_day[rep])
    starts = np.cumsum(k) - k
    gaps[starts] = 0.0
    cs = np.cumsum(gaps)
    times = t0[rep] + cs - np.repeat(cs[starts], k)
    return rep, times


def purchases(people: pd.DataFrame, params: SampleParams, period: Period,
              rng: np.random.Generator) -> pd.DataFrame:
    """All purchases up to the hold-out end, with their true person position.

    Columns: ``pos`` (row of ``people``), ``day``, ``episode`` (1 or 2 = reactivation).
    """
    buyers = np.flatnonzero(~people["non_buyer"].to_numpy())
    rate = people["purchase_rate"].to_numpy()[buyers] / 365.0
    p = people["dropout_p"].to_numpy()[buyers]
    t0 = people["acq_day"].to_numpy()[buyers].astype(float)
    rep1, t1 = _episodes(t0, rate, p, params.max_purchases, rng)
    last = np.full(buyers.size, -np.inf)
    np.maximum.at(last, rep1, t1)
    back = rng.random(buyers.size) < params.reactivation_rate
    t0b = last[back] + 60 + rng.exponential(params.reactivation_gap_days, back.sum())
    rep2, t2 = _episodes(t0b, rate[back], p[back], params.max_purchases, rng)
    out = pd.DataFrame({
        "pos": np.concatenate([buyers[rep1], buyers[np.flatnonzero(back)][rep2]]),
        "day": np.concatenate([t1, t2]),
        "episode": np.concatenate([np.ones(t1.size, np.int8), np.full(t2.size, 2, np.int8)]),
    })
    horizon = (period.holdout_end - period.start).astype(int)
    out = out[out["day"] < horizon].sort_values(["pos", "day"], kind="stable")
    return out.reset_index(drop=True)


def order_lines(orders: pd.DataFrame, people: pd.DataFrame, params: SampleParams,
                cat: Catalogue, prod_prob: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Lines of each order: category from the lifestyle, tier and promo from price sensitivity.

    ``orders`` needs ``pos``; returns one row per line with ``order_idx`` (row in orders).
    """
    n_lines = 1 + rng.poisson(params.lines_mean_extra, len(orders))
    oi = np.repeat(np.arange(len(orders)), n_lines)
    pos = orders["pos"].to_numpy()[oi]
    ls = people["lifestyle_idx"].to_numpy()[pos]
    score = people["price_score"].to_numpy()[pos]
    c = draw_rows(prod_prob, ls, rng)
    w = np.stack([score**2, 2 * score * (1 - score), (1 - score) ** 2], axis=1) + 0.03
    tier = draw_rows(w / w.sum(axis=1, keepdims=True), np.arange(oi.size), rng)
    k = cat.by_cat_tier.shape[2]
    prod = cat.by_cat_tier[c, tier, rng.integers(0, k, oi.size)]
    qty = 1 + (rng.random(oi.size) < 0.15) * (1 + rng.poisson(0.5, oi.size))
    promo = rng.random(oi.size) < 0.08 + 0.6 * score
    disc = np.where(promo, np.round(rng.choice([0.1, 0.15, 0.2, 0.3, 0.4], oi.size), 2), 0.0)
    line_no = np.arange(oi.size) - np.repeat(np.cumsum(n_lines) - n_lines, n_lines) + 1
    return pd.DataFrame({
        "order_idx": oi, "line_no": line_no, "product": prod, "category": c, "tier": tier,
        "qty": qty, "promo": promo, "discount_rate": disc,
        "unit_price_eur": cat.price_eur[prod],
    })


def web_sessions(people: pd.DataFrame, params: SampleParams, period: Period,
                 rng: np.random.Generator) -> pd.DataFrame:
    """Sessions within the period: ``pos``, ``device_k``, ``start`` (days), ``n_events``."""
    per_year = np.asarray(params.web_sessions_per_year)[people["channel_idx"].to_numpy()]
    first = np.clip(people["acq_day"].to_numpy() - 30, 0, period.days - 1).astype(float)
    span_years = (period.days - first) / 365.0
    n = rng.poisson(per_year * span_years * rng.gamma(2.0, 0.5, len(people)))
    pos = np.repeat(np.arange(len(people)), n)
    start = first[pos] + rng.random(pos.size) * (period.days - first[pos])
    device_k = (rng.random(pos.size) * people["n_devices"].to_numpy()[pos]).astype(int)
    n_ev = 1 + rng.poisson(params.web_events_per_session - 1, pos.size)
    return pd.DataFrame({"pos": pos, "device_k": device_k, "start": start, "n_events": n_ev})


def web_events(sessions: pd.DataFrame, people: pd.DataFrame, params: SampleParams,
               prod_prob: np.ndarray, content_prob: np.ndarray,
               rng: np.random.Generator, period_days: int) -> pd.DataFrame:
    """Events of each session: type, time, product or content category (inside the period)."""
    si = np.repeat(np.arange(len(sessions)), sessions["n_events"].to_numpy())
    pos = sessions["pos"].to_numpy()[si]
    ls = people["lifestyle_idx"].to_numpy()[pos]
    types, tp = zip(*params.web_event_types, strict=True)
    etype = rng.choice(len(types), si.size, p=np.asarray(tp) / sum(tp))
    is_view = np.isin(etype, [types.index("page_view"), types.index("video_view")])
    content = is_view & (rng.random(si.size) < params.content_event_share)
    pcat = draw_rows(prod_prob, ls, rng)
    ccat = draw_rows(content_prob, ls, rng)
    secs = rng.exponential(45.0, si.size)
    starts = np.cumsum(sessions["n_events"].to_numpy()) - sessions["n_events"].to_numpy()
    cs = np.cumsum(secs)
    offset = cs - np.repeat(cs[starts], sessions["n_events"].to_numpy())
    out = pd.DataFrame({
        "session_idx": si, "pos": pos, "type": etype, "is_content": content,
        "product_cat": pcat, "content_cat": ccat,
        "day": sessions["start"].to_numpy()[si] + offset / 86400.0,
    })
    return out[out["day"].to_numpy() < period_days].reset_index(drop=True)
