"""The ``vista`` command: sample, run, demo, runs, identity.

Every command has ``--help``. Errors vista raises on purpose are printed as one clear
message (exit code 2); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from vista.cli_support import DEFAULT_CONF, resolve_conf
from vista.cli_support import session as _session
from vista.config.models import STAGE_NAMES
from vista.errors import VistaError

log = logging.getLogger("vista")

_QUIET = ("py4j", "pyspark", "great_expectations", "alembic", "urllib3",
          "matplotlib", "numexpr", "py.warnings")
# Splink logs one WARNING per untrainable comparison level; that is model detail the
# MLflow run keeps, not progress a user needs.
_QUIETER = ("splink", "mlflow")
# Without --verbose a run prints its progress only: these loggers' INFO lines (the run's
# start, one line per stage, where its manifest is, the sample and housekeeping
# summaries), plus every warning and error. --verbose shows every step.
_PROGRESS = frozenset({"vista", "vista.pipeline", "vista.housekeeping",
                       "vista.identity.cli"})


class _ProgressOnly(logging.Filter):
    """Passes warnings and errors, and INFO lines of the :data:`_PROGRESS` loggers."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or record.name in _PROGRESS


def setup_logging(verbose: bool = False) -> None:
    """One readable line per event on stderr; chatty libraries at WARNING.

    The loggers' levels stay at INFO (DEBUG with ``verbose``) so that anything else that
    listens (a notebook, pytest's ``caplog``) still gets every step; only what reaches the
    terminal is filtered, to progress lines, unless ``verbose``.
    """
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-5s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
        force=True,
    )
    if not verbose:
        for handler in logging.getLogger().handlers:
            handler.addFilter(_ProgressOnly())
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in _QUIETER:
        logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger("py.warnings").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"(altair|mlflow)\b")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # MLflow sets its own logger's level when it is first imported (after this runs)
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")


def cmd_sample(args: argparse.Namespace) -> int:
    from vista.sample import generate_sample_lake

    summary = generate_sample_lake(
        args.out, customers=args.customers, seed=args.seed, start=args.start,
        months=args.months, bad_row_rate=args.bad_row_rate,
    )
    print(summary.table())
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from vista.config import load_config
    from vista.pipeline import run_pipeline

    conf = resolve_conf(args.conf)
    cfg = load_config(conf)
    spark = _session(cfg)
    options = {"full": args.full, "retrain": args.retrain}
    if args.as_of is not None:
        options["as_of"] = args.as_of
    manifest = run_pipeline(cfg, spark, stages=args.stages, options=options, config_file=conf)
    print(f"run {manifest.run_id}: {manifest.status}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from vista.config import load_config
    from vista.pipeline import built_stages, run_pipeline
    from vista.runtime import manifest_dir
    from vista.sample import generate_sample_lake

    conf = resolve_conf(args.conf, packaged=True)
    cfg = load_config(conf)
    demo = cfg.demo
    customers = args.customers or demo.customers
    sample_dir = cfg.ingest.inputs_root
    log.info("generating a sample lake of %d customers in %s", customers, sample_dir)
    generate_sample_lake(sample_dir, customers=customers, seed=demo.seed,
                         months=demo.months, bad_row_rate=demo.bad_row_rate)
    spark = _session(cfg)
    stages = [s for s in cfg.run.stages if s in built_stages()]
    manifest = run_pipeline(cfg, spark, stages=stages, options={"full": True},
                            config_file=conf)
    print(render_outputs(cfg, manifest, manifest_dir(cfg)))
    return 0


def render_outputs(cfg: Any, manifest: Any, manifests: str) -> str:
    """Tell the user where every output of a run is."""
    lines = [f"\nvista demo finished: run {manifest.run_id} {manifest.status}", "",
             f"  sample lake (raw input):  {cfg.ingest.inputs_root}",
             f"  Delta lake:               {cfg.lake.root}"]
    seen: dict[str, dict] = {}
    for table in manifest.tables:
        seen[table["table"]] = table
    for name, t in seen.items():
        rows = t.get("table_rows", t.get("rows_written"))
        lines.append(f"    {name:<34} v{t.get('version')}  rows={rows}")
    lines += [f"  run manifest:             {manifests}/{manifest.run_id}.json",
              f"  quality Data Docs:        {cfg.lake.root}/_quality/data_docs/index.html",
              f"  MLflow runs:              {cfg.mlflow.tracking_uri}",
              f"      browse with: mlflow ui --backend-store-uri {cfg.mlflow.tracking_uri}",
              "  list runs:                vista runs"]
    return "\n".join(lines)


def cmd_runs(args: argparse.Namespace) -> int:
    from vista.config import load_config
    from vista.lake import resolve_location
    from vista.manifest import list_manifests
    from vista.runtime import manifest_dir

    cfg = load_config(resolve_conf(args.conf))
    if not resolve_location(manifest_dir(cfg)).is_local:
        _session(cfg)  # Hadoop's connector reads manifests on an object store
    rows = list_manifests(manifest_dir(cfg))[: args.limit]
    if not rows:
        print(f"no run manifests under {manifest_dir(cfg)}")
        return 0
    header = f"{'run id':<24} {'status':<10} {'started':<26} {'stages':<40} {'tables':>6} {'quality':>8}"
    print(header)
    print("-" * len(header))
    for m in rows:
        stages = ",".join(f"{s['name']}({s.get('duration_s') or 0:.0f}s)" for s in m["stages"]
                          if s.get("status") != "info")
        failed_q = sum(1 for q in m.get("quality", []) if not q.get("passed", True))
        quality = f"{len(m.get('quality', [])) - failed_q}/{len(m.get('quality', []))}"
        print(f"{m['run_id']:<24} {m['status']:<10} {m['started_at']:<26} {stages:<40} "
              f"{len(m.get('tables', [])):>6} {quality:>8}")
    return 0


def cmd_maintain(args: argparse.Namespace) -> int:
    from vista.config import load_config
    from vista.housekeeping import maintain_lake

    cfg = load_config(resolve_conf(args.conf))
    print(maintain_lake(_session(cfg), cfg))
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    import yaml

    from vista.config import load_config

    if args.init:
        from vista.config.profiles import init_profiles

        for path in init_profiles(args.dir, force=args.force):
            print(f"wrote {path}")
        print(f"edit them, then: vista run --conf {Path(args.dir) / 'conf' / 'local.yaml'}")
        return 0
    cfg = load_config(resolve_conf(args.conf, packaged=True))
    data = cfg.model_dump(mode="json", by_alias=True)
    if args.section:
        data = {args.section: data[args.section]}
    print(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vista", description="vista: an open-source Customer 360 on Apache Spark.")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log every step (default: one line per stage, and warnings)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("sample", help="generate a sample raw customer lake with ground truth",
                       description="Write a messy multi-source raw lake plus ground_truth/.")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--customers", type=int, default=1000, help="number of people (default 1000)")
    p.add_argument("--seed", type=int, default=7, help="random seed (same seed, same bytes)")
    p.add_argument("--start", type=date.fromisoformat, default=date(2024, 1, 1),
                   help="first day of the period, YYYY-MM-DD (default 2024-01-01)")
    p.add_argument("--months", type=int, default=24, help="length of the period in months")
    p.add_argument("--bad-row-rate", type=float, default=0.01, help="share of bad rows")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("run", help="run pipeline stages on a config",
                       description="Run the stages of the pipeline and write a run manifest.")
    p.add_argument("--conf", help=f"config YAML (default $VISTA_CONF or {DEFAULT_CONF})")
    p.add_argument("--stages", nargs="+", choices=STAGE_NAMES, metavar="STAGE",
                   help=f"stages to run, in order (default all): {' '.join(STAGE_NAMES)}")
    p.add_argument("--full", action="store_true", help="rebuild from scratch (no incremental)")
    p.add_argument("--retrain", action="store_true", help="retrain models before predicting")
    p.add_argument("--as-of", type=date.fromisoformat, metavar="YYYY-MM-DD",
                   help="compute the profile as of this date, reading only what was known "
                        "then (default: the latest event in the lake)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="generate the sample lake and run every built stage",
                       description="Sample lake + full run on the local profile; prints where "
                                   "every output is.")
    p.add_argument("--conf", help=f"config YAML (default {DEFAULT_CONF})")
    p.add_argument("--customers", type=int, help="override demo.customers")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("runs", help="list run manifests", description="List run manifests.")
    p.add_argument("--conf", help=f"config YAML (default {DEFAULT_CONF})")
    p.add_argument("--limit", type=int, default=20, help="how many (newest first)")
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser("maintain", help="compact and vacuum the lake's tables; print what "
                       "was freed", description="Compact small files and vacuum every table "
                       "the run manifests name (lake.vacuum_retention_hours).")
    p.add_argument("--conf", help="config file")
    p.set_defaults(func=cmd_maintain)

    p = sub.add_parser("config", help="print the effective configuration, every key",
                       description="Load a config (with includes and VISTA__ environment "
                                   "overrides), validate it, and print every key with its "
                                   "value or default.")
    p.add_argument("--conf", help=f"config YAML (default {DEFAULT_CONF})")
    p.add_argument("--section", help="only this section (e.g. identity)")
    p.add_argument("--init", action="store_true",
                   help="write the shipped profiles (conf/local.yaml, conf/sources/...) for "
                        "editing instead of printing")
    p.add_argument("--dir", default=".", help="with --init: folder to write conf/ into")
    p.add_argument("--force", action="store_true", help="with --init: overwrite existing files")
    p.set_defaults(func=cmd_config)

    _add_identity(sub)
    _add_profile(sub)
    _add_activation(sub)
    _add_quarantine(sub)
    return parser


def _add_quarantine(sub: Any) -> None:
    from vista.ingest.cli import add_quarantine_commands

    add_quarantine_commands(sub)


def _add_identity(sub: Any) -> None:
    try:
        from vista.identity.cli import add_identity_commands
    except ImportError:
        p = sub.add_parser("identity", help="identity resolution tools (not built yet)")
        p.set_defaults(func=lambda a: _not_built("identity"))
        return
    add_identity_commands(sub)


def _add_profile(sub: Any) -> None:
    try:
        from vista.profile.cli import add_profile_commands
    except ImportError:
        p = sub.add_parser("profile", help="the customer card (not built yet)")
        p.set_defaults(func=lambda a: _not_built("profile"))
        return
    add_profile_commands(sub)


def _add_activation(sub: Any) -> None:
    from vista.activation.cli import add_activation_commands

    add_activation_commands(sub)


def _not_built(what: str) -> int:
    print(f"vista {what}: not built yet")
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``vista`` console script."""
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    try:
        return int(args.func(args) or 0)
    except VistaError as exc:
        print(f"vista: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
