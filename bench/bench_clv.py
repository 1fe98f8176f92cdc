"""CLV fit on sufficient statistics (vista) against lifetimes' per-customer fitters.

Simulates purchases of N customers from BG/NBD and Gamma-Gamma with known parameters
(the CDNOW estimates), builds the per-customer summary with vista on Spark, then fits:

* vista: Spark reduces the summary to distinct (frequency, recency, T) patterns and
  (frequency, spend bin) groups; scipy fits the 4 + 3 parameters on the driver;
* baseline: ``lifetimes.BetaGeoFitter`` + ``GammaGammaFitter`` on the per-customer frame
  (the same summary, collected: fine for a benchmark, never in vista).

    python bench/bench_clv.py [--customers 100000] [--seed 7]

Prints both parameter sets, the CPU seconds of each fit (wall seconds too: on a shared
machine they measure the neighbours), the ratio, and how many patterns
the driver saw. Exits 1 when a parameter differs by more than 1 % or vista's fit takes
more than 0.1x lifetimes' time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time

import numpy as np
import pandas as pd

TRUE = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "p": 6.25, "q": 3.74,
        "gamma": 15.44}
DAYS = 730
MAX_REPEATS = 80


def simulate(customers: int, seed: int) -> pd.DataFrame:
    """Orders (uid, ts, amount_reporting) of BG/NBD + Gamma-Gamma customers over two
    years, weeks as the model's time unit."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(TRUE["r"], 1.0 / TRUE["alpha"], customers)  # purchases per week
    drop = rng.beta(TRUE["a"], TRUE["b"], customers)
    t_days = rng.integers(1, DAYS + 1, customers)  # days since the first purchase
    gaps = rng.exponential(1.0, (customers, MAX_REPEATS)) / lam[:, None]
    times = np.floor(np.cumsum(gaps, axis=1) * 7.0)
    repeats_before_drop = rng.geometric(drop)
    valid = (times <= t_days[:, None]) & (np.arange(1, MAX_REPEATS + 1)[None, :]
                                         <= repeats_before_drop[:, None])
    nu = rng.gamma(TRUE["q"], 1.0 / TRUE["gamma"], customers)
    first = dt.datetime(2024, 1, 1) + pd.to_timedelta(DAYS - t_days, unit="D")
    cust, k = np.nonzero(valid)
    offsets = np.concatenate([np.zeros(customers), times[cust, k]])
    who = np.concatenate([np.arange(customers), cust])
    spend = rng.gamma(TRUE["p"], 1.0 / nu[who])
    return pd.DataFrame({
        "uid": pd.Series(who).map(lambda i: f"c{i:07d}"),
        "ts": pd.to_datetime(first[who]) + pd.to_timedelta(offsets, unit="D")
        + pd.Timedelta(hours=12),
        "amount_reporting": spend})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    import lifetimes

    from vista.config.models import SparkConfig
    from vista.segments.clv import frame
    from vista.segments.clv import model as clv_model
    from vista.spark import build_session

    orders = simulate(args.customers, args.seed)
    as_of = dt.date(2024, 1, 1) + dt.timedelta(days=DAYS)
    work = tempfile.mkdtemp(prefix="bench-clv-")
    spark = build_session(SparkConfig(app_name="bench-clv", master="local[2]",
                                      driver_memory="3g", shuffle_partitions=4,
                                      checkpoint_dir=os.path.join(work, "ck")))
    path = os.path.join(work, "orders.parquet")
    orders.to_parquet(path)
    summary = frame.customer_summary(spark.read.parquet(path), as_of, 7.0).checkpoint(
        eager=True)
    print(f"{args.customers:,} customers, {len(orders):,} orders; as of {as_of}")

    t0 = time.perf_counter()
    patterns = frame.bgnbd_patterns(summary)
    groups = frame.gamma_gamma_groups(summary, 0.001)
    t_reduce = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    bg = clv_model.fit_bgnbd(patterns["frequency"].to_numpy(), patterns["recency"].to_numpy(),
                             patterns["T"].to_numpy(), patterns["n"].to_numpy())
    gg = clv_model.fit_gamma_gamma(groups["frequency"].to_numpy(),
                                   groups["sum_log_m"].to_numpy(), groups["m"].to_numpy(),
                                   groups["n"].to_numpy())
    t_vista, c_vista = time.perf_counter() - t0, time.process_time() - c0

    per_customer = summary.select("frequency", "recency", "T", "monetary").toPandas()
    t0, c0 = time.perf_counter(), time.process_time()
    bgf = lifetimes.BetaGeoFitter()
    bgf.fit(per_customer["frequency"], per_customer["recency"], per_customer["T"])
    rep = per_customer[(per_customer["frequency"] > 0) & (per_customer["monetary"] > 0)]
    ggf = lifetimes.GammaGammaFitter()
    ggf.fit(rep["frequency"], rep["monetary"])
    t_base, c_base = time.perf_counter() - t0, time.process_time() - c0
    spark.stop()

    ours = {**bg.params, **gg.params}
    theirs = {**bgf.params_.to_dict(), **{("gamma" if k == "v" else k): v
                                          for k, v in ggf.params_.to_dict().items()}}
    print(f"\n{'param':>6} {'vista':>10} {'lifetimes':>10} {'rel.diff':>9} {'true':>8}")
    worst = 0.0
    for name in TRUE:
        diff = abs(ours[name] - theirs[name]) / abs(theirs[name])
        worst = max(worst, diff)
        print(f"{name:>6} {ours[name]:10.4f} {theirs[name]:10.4f} {diff:9.2e} {TRUE[name]:8.3f}")
    ratio = c_vista / c_base  # CPU seconds: the machine may be shared
    print(f"\nsufficient statistics: {bg.patterns:,} BG/NBD patterns and {gg.patterns:,} "
          f"spend groups for {bg.customers:,} customers ({gg.customers:,} repeat buyers); "
          f"bound for {DAYS} days of history: patterns <= x_max * D(D+1)/2")
    print(f"vista fit {c_vista:.3f} CPU s ({t_vista:.3f} s wall, + {t_reduce:.1f} s wall of "
          f"Spark reduction); lifetimes {c_base:.3f} CPU s ({t_base:.3f} s wall); ratio "
          f"{ratio:.3f} of CPU time (target <= 0.1; wall ratio {t_vista / t_base:.3f})")
    ok = worst <= 0.01 and ratio <= 0.1
    print("PASS" if ok else f"FAIL: worst parameter difference {worst:.2%}, time ratio "
          f"{ratio:.3f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
