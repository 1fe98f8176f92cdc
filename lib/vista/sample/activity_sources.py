"""Sources that hold what people do: orders, store sales, web, e-mail, support, survey."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from vista.sample import render as rd
from vista.sample import textnoise as tn
from vista.sample.identity_sources import Chunk
from vista.sample.params import CONTENT_CATEGORIES, PRODUCT_CATEGORIES
from vista.sample.pools import TIERS, Catalogue, content_titles, query_table
from vista.sample.sinks import inject_bad_rows

_CATS = np.array(PRODUCT_CATEGORIES, dtype=object)
_S = pa.string()
ORDERS_SCHEMA = pa.schema([("order_id", _S), ("account_id", _S), ("order_ts", pa.timestamp("ms", tz="UTC")),
                           ("currency", _S), ("total_amount", pa.float64()), ("discount_amount", pa.float64()),
                           ("items", pa.int32()), ("status", _S)])
LINES_SCHEMA = pa.schema([("order_id", _S), ("line_no", pa.int32()), ("sku", _S), ("category", _S),
                          ("brand", _S), ("price_tier", _S), ("quantity", pa.int32()),
                          ("unit_price", pa.float64()), ("line_amount", pa.float64()), ("promo", pa.bool_()),
                          ("currency", _S)])
_CONTENT = np.array(CONTENT_CATEGORIES, dtype=object)


def _round(x: np.ndarray, decimals: np.ndarray) -> np.ndarray:
    """Round each amount to its currency's decimals."""
    scale = 10.0 ** decimals
    return np.round(x * scale) / scale


def _latest_record(owner: pd.DataFrame, pos: np.ndarray, day: np.ndarray, id_col: str,
                   start_col: str) -> np.ndarray:
    """For each (pos, day), the id of the person's newest record created on or before ``day``."""
    rec = owner.sort_values([start_col], kind="stable")
    events = pd.DataFrame({"pos": pos, "day": day.astype(float), "i": np.arange(pos.size)})
    events = events.sort_values("day", kind="stable")
    rec = rec.assign(day=rec[start_col].astype(float))[["pos", "day", id_col]]
    m = pd.merge_asof(events, rec, on="day", by="pos", direction="backward")
    out = np.full(pos.size, None, dtype=object)
    out[m["i"].to_numpy()] = m[id_col].to_numpy()
    return out


def _currency(c: Chunk, pos: np.ndarray, usd_share: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Currency code, units per euro and decimals per purchase (some LatAm billing in USD)."""
    ci = c.people["country_idx"].to_numpy()[pos]
    cur = np.array([x.currency for x in c.params.countries], dtype=object)[ci]
    fx = np.array([x.fx_per_eur for x in c.params.countries])[ci]
    dec = np.array([x.decimals for x in c.params.countries])[ci]
    usd = np.isin(cur, ["MXN", "ARS", "COP", "CLP"]) & (c.rng.random(pos.size) < usd_share)
    return np.where(usd, "USD", cur), np.where(usd, 1.08, fx), np.where(usd, 2, dec)


def ecommerce_orders(c: Chunk, buys: pd.DataFrame, lines: pd.DataFrame, cat: Catalogue,
                     accounts: pd.DataFrame) -> list[pd.DataFrame]:
    """``ecommerce/orders_<year>.parquet`` and ``order_lines_<year>.parquet``."""
    rng, n = c.rng, len(buys)
    pos, day = buys["pos"].to_numpy(), buys["day"].to_numpy()
    acct = _latest_record(accounts, pos, day, "account_id", "created")
    acct = np.where(pd.isna(acct), accounts.set_index("pos")["account_id"].groupby(level=0).first()  # noqa: E711
                    .reindex(pos).to_numpy(), acct)
    cur, fx, dec = _currency(c, pos, 0.1)
    li = lines["order_idx"].to_numpy()
    unit = _round(lines["unit_price_eur"].to_numpy() * fx[li], dec[li])
    gross = unit * lines["qty"].to_numpy()
    disc = _round(gross * lines["discount_rate"].to_numpy(), dec[li])
    amount = gross - disc
    ids = rd.chunk_ids("", n, c.no, rng, 9)
    ts = pd.to_datetime(rd.to_ts(c.period.start, day)).tz_localize("UTC")
    orders = pd.DataFrame({
        "order_id": ids, "account_id": acct, "order_ts": ts, "currency": cur,
        "total_amount": np.round(np.bincount(li, amount, n), 2),
        "discount_amount": np.round(np.bincount(li, disc, n), 2),
        "items": np.bincount(li, lines["qty"].to_numpy(), n).astype(np.int32),
        "status": np.array(["delivered", "returned", "cancelled"], dtype=object)[
            rng.choice(3, n, p=[0.9, 0.07, 0.03])],
    })
    ol = pd.DataFrame({
        "order_id": ids[li], "line_no": lines["line_no"].to_numpy().astype(np.int32),
        "sku": cat.sku[lines["product"].to_numpy()], "category": _CATS[lines["category"].to_numpy()],
        "brand": cat.brand[lines["product"].to_numpy()], "price_tier": TIERS[lines["tier"].to_numpy()],
        "quantity": lines["qty"].to_numpy().astype(np.int32), "unit_price": unit,
        "line_amount": np.round(amount, 2), "promo": lines["promo"].to_numpy(), "currency": cur[li],
    })
    year = ts.year.to_numpy()
    for y in np.unique(year):
        o, line = orders[year == y].reset_index(drop=True), ol[year[li] == y].reset_index(drop=True)
        bad = inject_bad_rows(o, [("negative_amount", "total_amount"), ("unknown_currency", "currency"),
                                  ("missing_required_key", "account_id"), ("impossible_date", "order_ts")],
                              c.params.bad_row_rate, rng, typed=True)
        c.sinks.parquet(f"ecommerce/orders_{y}.parquet", pa.Table.from_pandas(o, schema=ORDERS_SCHEMA, preserve_index=False),
                        bad, o["order_id"].to_numpy())
        bad = inject_bad_rows(line, [("negative_amount", "line_amount")], c.params.bad_row_rate, rng, typed=True)
        c.sinks.parquet(f"ecommerce/order_lines_{y}.parquet", pa.Table.from_pandas(line, schema=LINES_SCHEMA, preserve_index=False),
                        bad, line["order_id"].to_numpy())
    return [pd.DataFrame({"source": "ecommerce", "order_id": ids, "person_id": c.people["person_id"].to_numpy()[pos],
                          "day": day, "amount_eur": np.bincount(li, amount / fx[li], n)})]


def pos_sales(c: Chunk, buys: pd.DataFrame, lines: pd.DataFrame, cat: Catalogue,
              members: pd.DataFrame) -> list[pd.DataFrame]:
    """``pos/sales_<yyyy-mm>.csv``: one row per ticket line; a ticket is (tienda, num_ticket)."""
    rng, n, p = c.rng, len(buys), c.params
    pos, day = buys["pos"].to_numpy(), buys["day"].to_numpy()
    card = _latest_record(members, pos, day, "card", "enrolled")
    card[rng.random(n) >= p.loyalty_card_presented] = None
    cur, fx, dec = _currency(c, pos, 0.0)
    ci = c.people["country_idx"].to_numpy()[pos]
    home = rng.integers(0, p.n_stores, len(c.people))[pos]
    other = rng.random(n) < 0.2
    store = np.where(other, rng.integers(0, p.n_stores, n), home)
    iso2 = np.array([x.iso2 for x in p.countries], dtype=object)[ci]
    store_id = tn.concat("T-", iso2, "-", np.char.zfill(store.astype(str), 3).astype(object))
    ticket = rd.chunk_ids("", n, c.no, rng, 9)
    li = lines["order_idx"].to_numpy()
    unit = _round(lines["unit_price_eur"].to_numpy() * fx[li], dec[li])
    gross = unit * lines["qty"].to_numpy()
    disc = _round(gross * lines["discount_rate"].to_numpy(), dec[li])
    ts = rd.to_ts(c.period.start, day)
    df = rd.frame({
        "tienda": store_id[li], "num_ticket": ticket[li], "fecha_hora": rd.dmy_hm(ts[li], seconds=True),
        "tarjeta_fidelidad": card[li], "linea": lines["line_no"].to_numpy().astype(str),
        "sku": cat.sku[lines["product"].to_numpy()], "familia": _CATS[lines["category"].to_numpy()],
        "marca": cat.brand[lines["product"].to_numpy()], "cantidad": lines["qty"].to_numpy().astype(str),
        "precio_unitario": rd.money(unit, dec[li], comma=True),
        "descuento": rd.money(disc, dec[li], comma=True),
        "importe_linea": rd.money(gross - disc, dec[li], comma=True), "moneda": cur[li],
    })
    month = np.datetime_as_string(ts[li].astype("datetime64[M]"))
    for mth in np.unique(month):
        part = df[month == mth].reset_index(drop=True)
        bad = inject_bad_rows(part, [("non_numeric_amount", "importe_linea"), ("negative_amount", "importe_linea"),
                                     ("unparseable_date", "fecha_hora"), ("unknown_currency", "moneda")],
                              p.bad_row_rate, rng)
        c.sinks.csv(f"pos/sales_{mth}.csv", part, bad, part["num_ticket"].to_numpy())
    amount_eur = np.bincount(li, (gross - disc) / fx[li], n)
    return [pd.DataFrame({"source": "pos", "order_id": ticket, "person_id": c.people["person_id"].to_numpy()[pos],
                          "day": day, "amount_eur": amount_eur})]


def devices(c: Chunk) -> pd.DataFrame:
    """Each person's web devices (cookie ids); ground truth keyed by ``cookie_id``."""
    k = c.people["n_devices"].to_numpy()
    pos = np.repeat(np.arange(len(c.people)), k)
    dk = np.arange(pos.size) - np.repeat(np.cumsum(k) - k, k)
    ids = rd.hex_ids(c.rng, pos.size)
    kind = np.array(["mobile", "desktop", "tablet"], dtype=object)[c.rng.choice(3, pos.size, p=[0.6, 0.3, 0.1])]
    return pd.DataFrame({"pos": pos, "device_k": dk, "cookie_id": ids, "device_type": kind})


def web(c: Chunk, sessions: pd.DataFrame, events: pd.DataFrame, devs: pd.DataFrame,
        accounts: pd.DataFrame, cat: Catalogue) -> None:
    """``web/events_<yyyy-mm>.jsonl``: page views, searches, videos, add-to-cart."""
    rng, p = c.rng, c.params
    si = events["session_idx"].to_numpy()
    key = sessions["pos"].to_numpy() * 8 + sessions["device_k"].to_numpy()
    dev = devs.set_index(devs["pos"].to_numpy() * 8 + devs["device_k"].to_numpy())
    cookie = dev["cookie_id"].reindex(key).to_numpy()
    used = dev.loc[np.unique(key[np.unique(si)])]  # only cookies that show up in events
    c.add_truth("web", "cookie_id", used["cookie_id"].to_numpy(), used["pos"].to_numpy())
    dtype = dev["device_type"].reindex(key).to_numpy()
    first_acct = accounts[~accounts["dup"]].set_index("pos")["account_id"]
    acct = first_acct.reindex(sessions["pos"].to_numpy()).to_numpy()
    login = (rng.random(len(sessions)) < p.web_login_rate) & pd.notna(acct)
    user = np.where(login, acct, None)
    sid = rd.hex_ids(rng, len(sessions), 6)
    et = events["type"].to_numpy()
    names = np.array([t for t, _ in p.web_event_types], dtype=object)
    pc_, cc = events["product_cat"].to_numpy(), events["content_cat"].to_numpy()
    content = events["is_content"].to_numpy()
    is_search, is_cart = names[et] == "search", names[et] == "add_to_cart"
    k = cat.by_cat_tier.shape[2]
    sku = cat.sku[cat.by_cat_tier[pc_, rng.integers(0, 3, et.size), rng.integers(0, k, et.size)]]
    query = query_table()[pc_, rng.integers(0, 4, et.size)]
    query = tn.where(is_search & (rng.random(et.size) < 0.08), lambda a: tn.typo(a, rng), query)
    titles = content_titles()[cc, rng.integers(0, 5, et.size)]
    url = np.where(content, tn.concat("/contenidos/", _CONTENT[cc], "/", titles),
                   np.where(is_search, "/buscar", tn.concat("/p/", _CATS[pc_], "/", sku)))
    ts = (rd.to_ts(c.period.start, events["day"].to_numpy()).astype("datetime64[ms]")
          + rng.integers(0, 1000, et.size).astype("timedelta64[ms]"))
    df = rd.frame({
        "event_id": rd.hex_ids(rng, et.size), "ts": rd.iso_ts(ts, "ms"), "cookie_id": cookie[si],
        "user_id": user[si], "session_id": sid[si], "event_type": names[et], "page_url": url,
        "category": np.where(content | is_search, None, _CATS[pc_]),
        "content_category": np.where(content, _CONTENT[cc], None),
        "search_query": np.where(is_search, query, None),
        "video_id": np.where(content & (names[et] == "video_view"), titles, None),
        "sku": np.where(is_cart, sku, None), "device_type": dtype[si],
    })
    month = np.datetime_as_string(ts.astype("datetime64[M]"))
    order = np.lexsort((ts, month))
    df, month = df.iloc[order].reset_index(drop=True), month[order]
    bounds = np.flatnonzero(np.r_[True, month[1:] != month[:-1], True])
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        part = df.iloc[a:b].reset_index(drop=True)
        bad = inject_bad_rows(part, [("truncated_json", "*"), ("missing_required_key", "cookie_id"),
                                     ("unparseable_date", "ts"), ("wrong_type", "ts")], p.bad_row_rate, rng)
        wrong = bad.rows[bad.kinds == "wrong_type"]  # a bare number where a timestamp belongs
        epoch = (1_700_000_000 + rng.integers(0, 10**8, wrong.size)).astype(str).astype(object)
        c.sinks.jsonl(f"web/events_{month[a]}.jsonl", part, bad, part["event_id"].to_numpy(), rng,
                      raw={"ts": (wrong, epoch)})
