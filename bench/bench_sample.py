"""Benchmark the sample lake generator (not part of pytest).

Usage:
    .venv/bin/python bench/bench_sample.py [--customers 100000] [--seed 7] [--keep DIR]

Prints wall time, peak RSS of the process and rows/files/bytes per source folder as JSON.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from vista.sample import generate_sample_lake


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep", help="write here and keep the lake (default: a temp dir, removed)")
    args = ap.parse_args(argv)
    out = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="vista-bench-sample-"))
    try:
        t0 = time.perf_counter()
        summary = generate_sample_lake(out / "lake", customers=args.customers, seed=args.seed)
        wall = time.perf_counter() - t0
        size = {f: sum(p.stat().st_size for p in (out / "lake" / f).rglob("*") if p.is_file())
                for f in summary.rows}
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        report = {
            "customers": args.customers, "households": summary.households, "wall_s": round(wall, 1),
            "peak_rss_mb": round(peak_mb), "bad_rows": summary.bad_rows,
            "folders": {f: {"files": summary.files[f], "rows": summary.rows[f],
                            "mb": round(size[f] / 2**20, 1)} for f in summary.rows},
        }
        print(json.dumps(report, indent=2))
    finally:
        if not args.keep:
            shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
