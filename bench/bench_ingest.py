"""Ingest stage speed on the sample lake: seconds per step, rows/s, Spark jobs.

Generates a sample lake of ``--customers`` (default 1,000) once, then for each variant
runs ``vista run --stages ingest`` on a fresh lake and prints one table:

- the stage's total, and seconds per step from the run manifest (``step_seconds``:
  ``bronze/<source>``, ``silver/<entity>/standardise|gate|write``, ``silver/progress``);
  a variant whose manifest has no steps (older code) shows the quality-gate seconds
  per table instead, which the manifest has always had;
- rows per second (rows read from the raw files, or silver rows written);
- the number of Spark jobs (from the Spark event log).

Variants: the working tree (``current``); ``--baseline REF`` adds the code of a git
commit (``git archive REF lib`` into a scratch folder, imported through ``PYTHONPATH``)
so both run side by side on the same data. ``--rerun`` adds an incremental run with
nothing new and a ``--full`` rebuild on the current code.

Usage:
    .venv/bin/python bench/bench_ingest.py --customers 1000
    .venv/bin/python bench/bench_ingest.py --customers 1000 --baseline 8f8aa2a --rerun
    .venv/bin/python bench/bench_ingest.py --workdir DIR --repeat 2   # reuse DIR/sample

Not part of pytest. Timings on a shared machine are noisy: the load average is printed
with the results; repeat and compare the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _write_conf(workdir: Path, run_dir: Path, events: Path) -> Path:
    conf = run_dir / "bench.yaml"
    conf.write_text(
        f"include:\n  - {REPO / 'conf' / 'local.yaml'}\n"
        f"spark: {{checkpoint_dir: {run_dir / 'checkpoints'}, conf: "
        f"{{spark.eventLog.enabled: 'true', spark.eventLog.compress: 'false', "
        f"spark.eventLog.rolling.enabled: 'false', spark.eventLog.dir: '{events.as_uri()}'}}}}\n"
        f"lake: {{root: {run_dir / 'lake'}}}\n"
        f"mlflow: {{tracking_uri: 'sqlite:///{run_dir / 'mlflow.db'}', "
        f"artifact_location: {run_dir / 'mlruns'}}}\n"
        f"ingest: {{inputs_root: {workdir / 'sample'}}}\n")
    return conf


def _baseline_lib(ref: str, into: Path) -> Path:
    """The ``lib/`` folder of commit ``ref``, extracted without touching the work tree."""
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", ref, "lib"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "lib"


def _spark_jobs(events: Path) -> int:
    """Jobs started in the newest event log under ``events``."""
    logs = sorted((p for p in events.iterdir() if p.is_file()), key=lambda p: p.stat().st_mtime)
    if not logs:
        return -1
    with logs[-1].open(encoding="utf-8") as fh:
        return sum('"Event":"SparkListenerJobStart"' in line for line in fh)


def _run(conf: Path, events: Path, lib: Path | None, extra: list[str]) -> dict:
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable)
    if lib is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(lib), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    lake = Path(conf).parent / "lake"
    before = set((lake / "_manifests").glob("*.json")) if (lake / "_manifests").exists() else set()
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "vista", "run", "--conf", str(conf), "--stages",
                    "ingest", *extra], check=True, env=env, cwd=conf.parent,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    new = sorted(set((lake / "_manifests").glob("*.json")) - before)
    manifest = json.loads(new[-1].read_text(encoding="utf-8"))
    return {"wall": wall, "manifest": manifest, "jobs": _spark_jobs(events)}


def _steps(result: dict) -> dict[str, float]:
    """Seconds per step: the manifest's step_seconds, else the quality gates' seconds."""
    stage = next(s for s in result["manifest"]["stages"] if s["name"] == "ingest")
    steps = {"process (wall)": result["wall"], "ingest stage": stage["duration_s"]}
    if "step_seconds" in stage["metrics"]:
        steps.update(stage["metrics"]["step_seconds"])
    for q in result["manifest"]["quality"]:
        steps[f"gate {q['table']}"] = q["statistics"]["seconds"]
    steps["spark jobs (count)"] = result["jobs"]
    return steps


def _rows(result: dict) -> dict[str, int]:
    metrics = next(s for s in result["manifest"]["stages"] if s["name"] == "ingest")["metrics"]
    rows = {f"bronze/{name}": src["rows_in"] for name, src in metrics.get("per_source", {}).items()}
    rows["ingest stage"] = int(metrics.get("rows_in", 0))
    for key, value in metrics.items():
        if key.startswith("silver_"):
            rows[f"silver/{key.removeprefix('silver_')}/write"] = int(value)
    return rows


def _print(results: dict[str, dict], load: str) -> None:
    names = list(results)
    steps: list[str] = []
    for res in results.values():
        steps += [s for s in _steps(res) if s not in steps]
    rows = _rows(next(iter(results.values())))  # the rows column: the first run's
    width = max(len(s) for s in steps) + 2
    col = max(22, *(len(n) + 2 for n in names))
    head = f"{'step':<{width}}" + "".join(f"{n:>{col}}" for n in names) + f"{'rows':>10}"
    print(head)
    print("-" * len(head))
    for step in steps:
        line = f"{step:<{width}}"
        for name in names:
            value = _steps(results[name]).get(step)
            if value is None:
                line += f"{'':>{col}}"
            elif step.endswith("(count)"):
                line += f"{int(value):>{col}}"
            else:
                n = _rows(results[name]).get(step)  # rows/s of this run's own rows
                rate = f" ({n / value:,.0f}/s)" if n and value else ""
                line += f"{value:>{col - 12}.1f}s{rate:>11}"
        line += f"{rows[step]:>10,}" if step in rows else ""
        print(line)
    print(f"\nload average at the end: {load}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="scratch folder (default: a temporary one); its sample/ is reused")
    parser.add_argument("--baseline", metavar="REF", default=None,
                        help="also run the code of this git commit, side by side")
    parser.add_argument("--rerun", action="store_true",
                        help="also time a no-new-data run and a --full rebuild (current code)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per variant")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="vista-bench-ingest-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if not (workdir / "sample").exists():
        subprocess.run([sys.executable, "-m", "vista", "sample", "--out", str(workdir / "sample"),
                        "--customers", str(args.customers), "--seed", str(args.seed)],
                       check=True, stdout=subprocess.DEVNULL)
    variants: dict[str, Path | None] = {"current": None}
    if args.baseline:
        variants[f"baseline {args.baseline}"] = _baseline_lib(args.baseline, workdir / "baseline")
    results: dict[str, dict] = {}
    for i in range(args.repeat):
        for name, lib in variants.items():
            run_dir = workdir / f"run-{name.split()[0]}-{i}"
            events = run_dir / "events"
            events.mkdir(parents=True, exist_ok=True)
            conf = _write_conf(workdir, run_dir, events)
            label = name if args.repeat == 1 else f"{name} #{i + 1}"
            results[label] = _run(conf, events, lib, [])
            if args.rerun and lib is None:
                results[f"{label} no-new-data"] = _run(conf, events, lib, [])
                results[f"{label} --full"] = _run(conf, events, lib, ["--full"])
    print(f"\ningest of a {args.customers:,}-customer sample lake (seed {args.seed}), "
          f"workdir {workdir}\n")
    _print(results, os.getloadavg().__repr__())


if __name__ == "__main__":
    main()
