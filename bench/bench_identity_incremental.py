"""Incremental identity benchmark: UID stability, lineage, incremental == full, determinism.

On a generated sample lake (in a temp dir):

1. hold back the last CRM export and the last ``--hold-months`` months of web events;
   ingest + identity (a full first run) on lake A; snapshot A's identity graph;
2. put the held-back files back; ingest A again (incremental by file);
3. copy A to B (same person records, same registry, same model);
4. identity on A (incremental) and ``--full`` on B; compare the record -> UID partitions
   (and the UIDs themselves), UID stability of the snapshot's records, lineage by reason,
   and the two stages' wall times;
5. ingest + identity on A once more with no new data: nothing may change;
6. determinism: two copies of B without any identity table, one fresh identity run
   each; the whole graphs must be identical.

Prints a table; exits 1 when a promise fails.

    .venv/bin/python bench/bench_identity_incremental.py --customers 2000
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

REPO = Path(__file__).resolve().parents[1]
IDENTITY_TABLES = ["identity_graph", "uid_registry", "uid_lineage", "golden_customer",
                   "identity_links", "identity_resolved", "identity_runs",
                   "identity_devices", "identity_term_frequencies"]
GRAPH = "silver/identity_graph"
GOLDEN = "silver/golden_customer"
STABILITY_MIN = 0.995


def write_conf(root: Path, name: str, shared: Path) -> Path:
    """A config for lake ``name`` under ``root``; MLflow (the model) is shared."""
    conf = root / f"{name}.yaml"
    conf.write_text(
        f"include: [{REPO / 'conf' / 'local.yaml'}]\n"
        f"spark: {{master: 'local[2]', checkpoint_dir: {root / name / 'checkpoints'}, "
        "shuffle_partitions: 4}\n"
        f"lake: {{root: {root / name / 'lake'}}}\n"
        f"mlflow: {{tracking_uri: 'sqlite:///{shared / 'mlflow.db'}', "
        f"artifact_location: {shared / 'mlruns'}}}\n"
        f"ingest: {{inputs_root: {root / 'sample'}}}\n")
    return conf


def hold_back(sample: Path, months: int, aside: Path) -> list[str]:
    """Move the last CRM export and the last ``months`` web files aside."""
    aside.mkdir(parents=True, exist_ok=True)
    crm = sorted((sample / "crm").glob("contacts_*.csv"))[-1:]
    web = sorted((sample / "web").glob("events_*.jsonl"))[-months:]
    for f in crm + web:
        (aside / f.parent.name).mkdir(exist_ok=True)
        shutil.move(str(f), aside / f.parent.name / f.name)
    return [f"{f.parent.name}/{f.name}" for f in crm + web]


def put_back(sample: Path, aside: Path) -> None:
    for f in aside.glob("*/*"):
        shutil.move(str(f), sample / f.parent.name / f.name)


class Runner:
    """Runs pipeline stages in-process against several lakes (one Spark session)."""

    def __init__(self, spark, confs: dict[str, Path]):  # noqa: ANN001
        from vista.config import load_config

        self.spark = spark
        self.confs = confs
        self.cfgs = {name: load_config(path) for name, path in confs.items()}

    def run(self, lake: str, stages: list[str], full: bool = False) -> dict:
        from vista.pipeline import run_pipeline

        m = run_pipeline(self.cfgs[lake], self.spark, stages=stages, options={"full": full},
                         config_file=str(self.confs[lake]))
        out = {"run_id": m.run_id}
        for s in m.stages:
            out[s.name] = {"seconds": s.duration_s, **s.metrics}
        return out

    def lake(self, name: str):  # noqa: ANN201
        from vista.lake import Lake

        return Lake.from_config(self.spark, self.cfgs[name].lake)


def graph_of(lake) -> DataFrame:  # noqa: ANN001
    return lake.read(GRAPH).select("record_key", "uid", "link_kind", "match_probability")


def golden_of(lake) -> DataFrame:  # noqa: ANN001
    """The golden records without the run that built them; maps as sorted entries (set
    operations compare no maps)."""
    golden = lake.read(GOLDEN).drop("run_id")
    return golden.select(*[F.array_sort(F.map_entries(c)).alias(c) if c in ("ids", "source_ids")
                           else c for c in golden.columns])


def partition_diff(a: DataFrame, b: DataFrame) -> dict[str, float | int]:
    """Compare two record -> UID assignments (as partitions, and label by label)."""
    j = a.select("record_key", F.col("uid").alias("ua")).join(
        b.select("record_key", F.col("uid").alias("ub")), on="record_key", how="full_outer")
    only_one = j.where(F.col("ua").isNull() | F.col("ub").isNull()).count()
    j = j.dropna()
    both = j.groupBy("ua", "ub").count()

    def pairs(df: DataFrame) -> int:
        return int(df.agg(F.sum(F.col("count") * (F.col("count") - 1) / 2)).first()[0] or 0)

    pa, pb, pab = pairs(j.groupBy("ua").count()), pairs(j.groupBy("ub").count()), pairs(both)
    fan_a = both.groupBy("ua").agg(F.count("*").alias("na"))
    fan_b = both.groupBy("ub").agg(F.count("*").alias("nb"))
    bad = (j.join(fan_a, on="ua", how="inner").join(fan_b, on="ub", how="inner")
           .where("na > 1 OR nb > 1").count())
    union = pa + pb - pab
    return {"records_in_one_only": only_one, "records_in_differing_clusters": bad,
            "pair_agreement": round(pab / union, 6) if union else 1.0,
            "records_with_other_uid": j.where("ua != ub").count()}


def frames_equal(a: DataFrame, b: DataFrame) -> int:
    """Rows in one frame and not the other (0 = identical)."""
    return a.exceptAll(b).count() + b.exceptAll(a).count()


def fresh_copy(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst)
    for t in IDENTITY_TABLES:
        shutil.rmtree(dst / "lake" / "silver" / t, ignore_errors=True)
    shutil.rmtree(dst / "lake" / "_manifests", ignore_errors=True)


def lineage_by_reason(lake, run_id: str) -> dict[str, int]:  # noqa: ANN001
    rows = (lake.read("silver/uid_lineage").where(F.col("run_id") == run_id)
            .groupBy("reason").count().collect())  # at most four reasons
    return {r["reason"]: int(r["count"]) for r in rows}


def main() -> int:  # noqa: PLR0915 - a script reads top to bottom
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--hold-months", type=int, default=1)
    ap.add_argument("--workdir", default=None, help="keep everything here (default: temp)")
    ap.add_argument("--json", default=None, help="also write the figures to this file")
    ap.add_argument("--reuse", action="store_true",
                    help="with --workdir: reuse a lake whose first ingest is already done")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("py4j", "splink", "mlflow", "alembic"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("VISTA_UID_SALT", "bench-salt")

    from vista.sample import generate_sample_lake
    from vista.spark import build_session

    root = Path(args.workdir or tempfile.mkdtemp(prefix="vista-bench-inc-"))
    root.mkdir(parents=True, exist_ok=True)
    shared = root / "shared"
    shared.mkdir(exist_ok=True)
    reuse = args.reuse and (root / "A" / "lake" / "silver" / "person_records").is_dir()
    if reuse:  # a previous attempt stopped after its first ingest: start from there
        held = [f"{f.parent.name}/{f.name}" for f in sorted((root / "aside").glob("*/*"))]
        for n in ("B", "C", "D"):
            shutil.rmtree(root / n, ignore_errors=True)
    else:
        generate_sample_lake(str(root / "sample"), customers=args.customers, seed=args.seed)
        held = hold_back(root / "sample", args.hold_months, root / "aside")
    confs = {n: write_conf(root, n, shared) for n in ("A", "B", "C", "D")}
    r = Runner(None, confs)
    r.spark = build_session(r.cfgs["A"].spark)
    lake_a = r.lake("A")

    first = r.run("A", ["identity"] if reuse else ["ingest", "identity"])
    snap = graph_of(lake_a).select("record_key", "uid").localCheckpoint()
    snap.count()
    put_back(root / "sample", root / "aside")
    r.run("A", ["ingest"])
    shutil.copytree(root / "A", root / "B")
    t0 = time.perf_counter()
    inc = r.run("A", ["identity"])
    t_inc = time.perf_counter() - t0
    t0 = time.perf_counter()
    full = r.run("B", ["identity"], full=True)
    t_full = time.perf_counter() - t0
    g_inc, g_full = graph_of(lake_a), graph_of(r.lake("B"))

    kept = snap.join(g_inc.select("record_key", F.col("uid").alias("now")), "record_key",
                     how="inner")
    n_prev = kept.count()
    n_kept = kept.where("uid = now").count()
    stability = n_kept / n_prev if n_prev else 1.0
    reasons = lineage_by_reason(lake_a, inc["run_id"])
    vs_full = partition_diff(g_inc, g_full)
    graph_rows_differ = frames_equal(g_inc, g_full)
    golden_rows_differ = frames_equal(golden_of(lake_a), golden_of(r.lake("B")))
    golden_rebuilt = lake_a.read(GOLDEN).where(F.col("run_id") == inc["run_id"]).count()
    golden_total = lake_a.read(GOLDEN).count()

    before = graph_of(lake_a).localCheckpoint()
    before.count()
    lineage_rows_before = lake_a.read("silver/uid_lineage").count()
    t0 = time.perf_counter()
    again = r.run("A", ["ingest", "identity"])
    t_again = time.perf_counter() - t0
    again_changes = frames_equal(before, graph_of(lake_a))
    again_lineage = lake_a.read("silver/uid_lineage").count() - lineage_rows_before

    fresh_copy(root / "B", root / "C")
    fresh_copy(root / "B", root / "D")
    c = r.run("C", ["identity"])
    d = r.run("D", ["identity"])
    determinism_rows = frames_equal(graph_of(r.lake("C")), graph_of(r.lake("D")))

    ident = {k: v for k, v in inc["identity"].items() if isinstance(v, int | float)}
    figures = {
        "customers": args.customers, "held_back": held,
        "first_run": {"records": first["identity"]["records"],
                      "uids": first["identity"]["uids"],
                      "identity_s": first["identity"]["seconds"]},
        "incremental": ident, "full": {k: v for k, v in full["identity"].items()
                                       if isinstance(v, int | float)},
        "previously_resolved": n_prev, "kept_uid": n_kept, "stability": round(stability, 6),
        "lineage_by_reason": reasons, "incremental_vs_full": vs_full,
        "graph_rows_differ_vs_full": graph_rows_differ,
        "golden_rows_differ_vs_full": golden_rows_differ,
        "golden_rebuilt": {"incremental": golden_rebuilt, "of": golden_total},
        "identity_wall_s": {"incremental": round(t_inc, 1), "full": round(t_full, 1)},
        "no_new_data": {"graph_rows_changed": again_changes, "lineage_rows": again_lineage,
                        "ingest_plus_identity_s": round(t_again, 1),
                        "identity_s": again["identity"]["seconds"],
                        "mode": "full" if again["identity"]["full"] else "incremental"},
        "determinism_graph_rows_differ": determinism_rows,
        "fresh_runs_s": [c["identity"]["seconds"], d["identity"]["seconds"]],
    }
    checks = {
        f"stability >= {STABILITY_MIN:.1%}": stability >= STABILITY_MIN,
        "incremental run was incremental": not inc["identity"]["full"],
        "lineage has merges or splits": reasons.get("merge", 0) + reasons.get("split", 0) > 0,
        "incremental partition == full partition": vs_full["records_in_differing_clusters"]
        == 0 and vs_full["records_in_one_only"] == 0,
        "incremental UIDs == full UIDs": vs_full["records_with_other_uid"] == 0,
        "incremental golden records == full golden records": golden_rows_differ == 0,
        "no new data: nothing changes": again_changes == 0 and again_lineage == 0,
        "two fresh runs: identical graphs": determinism_rows == 0,
    }
    print(report(figures, checks))
    if args.json:
        Path(args.json).write_text(json.dumps({"figures": figures, "checks": checks}, indent=2))
    if not args.workdir:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if all(checks.values()) else 1


def report(fig: dict, checks: dict[str, bool]) -> str:
    inc, full = fig["incremental"], fig["full"]
    rows = [
        ("customers / held back", f"{fig['customers']} / {', '.join(fig['held_back'])}"),
        ("first run: records, UIDs, identity s",
         f"{fig['first_run']['records']}, {fig['first_run']['uids']}, "
         f"{fig['first_run']['identity_s']}"),
        ("incremental: records, changed, re-clustered",
         f"{inc['records']}, {inc['changed_records']}, {inc['reclustered_records']}"),
        ("previously resolved records keeping UID",
         f"{fig['kept_uid']}/{fig['previously_resolved']} = {fig['stability']:.4%}"),
        ("lineage rows by reason (incremental run)", json.dumps(fig["lineage_by_reason"])),
        ("incremental vs full: partition", json.dumps(fig["incremental_vs_full"])),
        ("incremental vs full: graph rows differing", fig["graph_rows_differ_vs_full"]),
        ("incremental vs full: golden rows differing", fig["golden_rows_differ_vs_full"]),
        ("golden records rebuilt by the incremental run",
         f"{fig['golden_rebuilt']['incremental']} of {fig['golden_rebuilt']['of']}"),
        ("identity wall s: incremental vs full (stage)",
         f"{inc['seconds']} vs {full['seconds']}"),
        ("no new data: graph rows changed, lineage rows",
         f"{fig['no_new_data']['graph_rows_changed']}, {fig['no_new_data']['lineage_rows']}"),
        ("no new data: ingest+identity s, identity s, mode",
         f"{fig['no_new_data']['ingest_plus_identity_s']}, "
         f"{fig['no_new_data']['identity_s']}, {fig['no_new_data']['mode']}"),
        ("determinism: graph rows differing (2 fresh runs)",
         fig["determinism_graph_rows_differ"]),
        ("fresh full identity runs s", fig["fresh_runs_s"]),
    ]
    w = max(len(k) for k, _ in rows)
    lines = [f"{k:<{w}}  {v}" for k, v in rows] + [""]
    lines += [f"{'PASS' if ok else 'FAIL'}  {name}" for name, ok in checks.items()]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
