"""RFM scores and lifecycle stages at scale: vista on Spark against DuckDB's SQL.

Simulates the orders of N buyers (bench_clv's BG/NBD + Gamma-Gamma process) plus a third
as many prospects, writes them and a profile (``uid, as_of, recency_days, frequency,
monetary``) to Parquet, then computes the same RFM scores, segments and lifecycle stages
from the same files twice:

* vista: ``rfm_segments`` (approximate quantiles, relative error 0.001) and
  ``lifecycle_stages`` on Spark, written to Parquet;
* baseline: DuckDB SQL with exact quantiles (``quantile_disc``), the same score rule,
  the same ordered segment rules and the same lifecycle thresholds.

    python bench/bench_rfm.py [--customers 100000] [--max-ratio 3]

Prints seconds and CPU seconds for each (vista's best of two runs, after one warm-up), the ratio and the
share of customers on which the two agree. Exits 1 when the ratio exceeds
``--max-ratio`` or fewer than 99 % of RFM cells / 100 % of lifecycle stages agree.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_clv import DAYS, simulate  # noqa: E402
from bench_profile import cpu_seconds  # noqa: E402

AS_OF = dt.date(2024, 1, 1) + dt.timedelta(days=DAYS)


def write_inputs(customers: int, seed: int, folder: str) -> tuple[str, str]:
    """Orders and profile Parquet files."""
    orders = simulate(customers, seed)
    prospects = pd.DataFrame({"uid": [f"p{i:07d}" for i in range(customers // 3)]})
    day = orders["ts"].dt.normalize()
    per = orders.assign(day=day).groupby("uid").agg(
        frequency=("ts", "size"), revenue=("amount_reporting", "sum"), last=("day", "max"))
    per["recency_days"] = (pd.Timestamp(AS_OF) - per["last"]).dt.days.astype("int32")
    per["monetary"] = per["revenue"] / per["frequency"]
    profile = pd.concat([per.reset_index()[["uid", "recency_days", "frequency", "monetary"]],
                         prospects.assign(recency_days=pd.NA, frequency=0, monetary=np.nan)])
    profile["recency_days"] = profile["recency_days"].astype("Int32")
    profile["frequency"] = profile["frequency"].astype("int64")
    profile["as_of"] = AS_OF
    paths = (os.path.join(folder, "orders.parquet"), os.path.join(folder, "profile.parquet"))
    orders.to_parquet(paths[0])
    profile.to_parquet(paths[1])
    return paths


def duckdb_sql(orders: str, profile: str, cfg) -> tuple[str, str]:  # noqa: ANN001
    """The RFM and lifecycle queries, built from vista's config."""
    rfm, lc = cfg.rfm, cfg.lifecycle
    probs = "[" + ", ".join(str(k / rfm.bins) for k in range(1, rfm.bins)) + "]"
    rules = []
    for rule in rfm.segments:
        conds = [f"{d}_score BETWEEN {rng[0]} AND {rng[1]}" for d, rng in
                 (("r", rule.r), ("f", rule.f), ("m", rule.m)) if rng is not None]
        rules.append(f"WHEN {' AND '.join(conds) or 'TRUE'} THEN '{rule.name}'")
    score = "CASE WHEN bought THEN 1 + len(list_filter({q}, lambda c: c < {v})) END"
    rfm_sql = f"""
        WITH p AS (SELECT *, frequency > 0 AND recency_days IS NOT NULL AS bought
                   FROM read_parquet('{profile}')),
        q AS (SELECT quantile_disc(-recency_days, {probs}) AS qr,
                     quantile_disc(frequency, {probs}) AS qf,
                     quantile_disc(coalesce(monetary, 0), {probs}) AS qm FROM p WHERE bought),
        s AS (SELECT uid, {score.format(q='qr', v='-recency_days')} AS r_score,
                     {score.format(q='qf', v='frequency')} AS f_score,
                     {score.format(q='qm', v='coalesce(monetary, 0)')} AS m_score
              FROM p, q)
        SELECT uid, r_score, f_score, m_score,
               CASE WHEN r_score IS NULL THEN '{rfm.no_orders_segment}' {' '.join(rules)}
               END AS segment FROM s"""
    cc = lc.cadence

    def thr(multiple: float, days: int) -> str:
        return (f"(CASE WHEN cadence IS NOT NULL THEN greatest(cadence * {multiple}, "
                f"{cc.min_days}) ELSE {days} END)")

    lc_sql = f"""
        WITH d AS (SELECT DISTINCT uid, CAST(ts AS DATE) AS day FROM read_parquet('{orders}')
                   WHERE CAST(ts AS DATE) <= DATE '{AS_OF}'),
        agg AS (SELECT uid, count(*) AS n, min(day) AS first_day, max(day) AS last_day
                FROM d GROUP BY uid),
        prev AS (SELECT d.uid, max(d.day) AS previous_day FROM d JOIN agg USING (uid)
                 WHERE d.day < agg.last_day GROUP BY d.uid),
        base AS (SELECT p.uid, coalesce(n, 0) AS purchase_days,
                        date_diff('day', last_day, DATE '{AS_OF}') AS recency,
                        date_diff('day', first_day, DATE '{AS_OF}') AS tenure,
                        date_diff('day', previous_day, last_day) AS gap,
                        CASE WHEN n >= {cc.min_orders}
                             THEN date_diff('day', first_day, last_day) / (n - 1) END AS cadence
                 FROM read_parquet('{profile}') p LEFT JOIN agg USING (uid)
                 LEFT JOIN prev USING (uid))
        SELECT uid, CASE WHEN purchase_days = 0 THEN 'prospect'
            WHEN tenure <= {lc.new_days} THEN 'new'
            WHEN recency <= {thr(cc.active_multiple, lc.active_days)}
                 AND gap >= {thr(cc.reactivation_multiple, lc.reactivation_gap_days)}
                 THEN 'reactivated'
            WHEN recency <= {thr(cc.active_multiple, lc.active_days)} THEN 'active'
            WHEN recency <= {thr(cc.at_risk_multiple, lc.at_risk_days)} THEN 'at_risk'
            WHEN recency <= {thr(cc.lapsed_multiple, lc.lapsed_days)} THEN 'lapsed'
            ELSE 'churned' END AS stage FROM base"""
    return rfm_sql, lc_sql


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--max-ratio", type=float, default=3.0)
    args = ap.parse_args(argv)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    import duckdb

    from vista.config.models import SparkConfig
    from vista.segments.config import SegmentsConfig
    from vista.segments.lifecycle import lifecycle_stages
    from vista.segments.rfm import rfm_segments
    from vista.spark import build_session

    cfg = SegmentsConfig()
    work = tempfile.mkdtemp(prefix="bench-rfm-")
    orders_path, profile_path = write_inputs(args.customers, args.seed, work)
    spark = build_session(SparkConfig(app_name="bench-rfm", master="local[2]",
                                      driver_memory="3g", shuffle_partitions=4,
                                      checkpoint_dir=os.path.join(work, "ck")))

    def run_vista(out: str) -> tuple[float, float]:
        c0, t0 = cpu_seconds(with_children=True), time.perf_counter()
        profile = spark.read.parquet(profile_path)
        orders = spark.read.parquet(orders_path)
        rfm_segments(profile, cfg.rfm).write.mode("overwrite").parquet(f"{out}/rfm")
        lifecycle_stages(profile, orders, cfg.lifecycle, AS_OF).write.mode("overwrite").parquet(
            f"{out}/lifecycle")
        return time.perf_counter() - t0, cpu_seconds(with_children=True) - c0

    run_vista(os.path.join(work, "warmup"))
    t_vista, c_vista = min(run_vista(os.path.join(work, f"vista{i}")) for i in range(2))
    rfm_sql, lc_sql = duckdb_sql(orders_path, profile_path, cfg)
    con = duckdb.connect()
    c0, t0 = cpu_seconds(with_children=False), time.perf_counter()
    con.execute(f"COPY ({rfm_sql}) TO '{work}/duck_rfm.parquet' (FORMAT parquet)")
    con.execute(f"COPY ({lc_sql}) TO '{work}/duck_lc.parquet' (FORMAT parquet)")
    t_duck = time.perf_counter() - t0
    c_duck = cpu_seconds(with_children=False) - c0

    cmp_rfm = con.execute(f"""
        SELECT avg(CASE WHEN v.segment = d.segment AND v.rfm_cell IS NOT DISTINCT FROM
                   (CASE WHEN d.r_score IS NOT NULL
                         THEN concat(d.r_score, d.f_score, d.m_score) END) THEN 1 ELSE 0 END),
               avg(CASE WHEN v.segment = d.segment THEN 1 ELSE 0 END), count(*)
        FROM read_parquet('{work}/vista0/rfm/*.parquet') v
        JOIN read_parquet('{work}/duck_rfm.parquet') d USING (uid)""").fetchone()
    cmp_lc = con.execute(f"""
        SELECT avg(CASE WHEN v.stage = d.stage THEN 1 ELSE 0 END), count(*)
        FROM read_parquet('{work}/vista0/lifecycle/*.parquet') v
        JOIN read_parquet('{work}/duck_lc.parquet') d USING (uid)""").fetchone()
    spark.stop()
    ratio = t_vista / t_duck
    n = int(cmp_rfm[2])
    print(f"{n:,} profile rows ({args.customers:,} buyers); as of {AS_OF}")
    print(f"RFM cells agree on {cmp_rfm[0]:.4%}, segments on {cmp_rfm[1]:.4%} "
          f"(vista: approximate quantiles, DuckDB: exact)")
    print(f"lifecycle stages agree on {cmp_lc[0]:.4%} of {int(cmp_lc[1]):,}")
    print(f"vista (Spark local[2]) {t_vista:.2f} s, DuckDB {t_duck:.2f} s: ratio {ratio:.1f} "
          f"(target <= {args.max_ratio:g}); CPU seconds {c_vista:.2f} vs {c_duck:.2f} "
          f"(load average {os.getloadavg()[0]:.1f})")
    ok = ratio <= args.max_ratio and cmp_rfm[0] >= 0.99 and cmp_lc[0] == 1.0
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
