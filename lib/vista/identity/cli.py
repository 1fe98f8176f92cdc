"""``vista identity train | explain | evaluate``: the data scientist's matching tools."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from vista.cli_support import DEFAULT_CONF

log = logging.getLogger(__name__)


def _conf_path(path: str | None) -> str | None:
    """``--conf``, else ``$VISTA_CONF``, else ``conf/local.yaml`` when present (as
    ``vista run`` resolves it); None: the built-in defaults."""
    import os
    from pathlib import Path

    if path:
        return path
    if os.environ.get("VISTA_CONF"):
        return os.environ["VISTA_CONF"]
    return DEFAULT_CONF if Path(DEFAULT_CONF).is_file() else None


def add_identity_commands(sub: Any) -> None:
    """Register ``vista identity ...`` on the CLI's subparsers."""
    p = sub.add_parser("identity", help="identity resolution: train, explain, evaluate",
                       description="Train the matching model, explain a UID, evaluate "
                                   "against a truth file.")
    isub = p.add_subparsers(dest="identity_command", required=True, metavar="COMMAND")

    t = isub.add_parser("train", help="fit the Fellegi-Sunter model and register it in MLflow",
                        description="Train on silver/person_records; log settings, m/u "
                                    "parameters and charts to MLflow; register the model.")
    t.add_argument("--conf", help=f"config YAML (default {DEFAULT_CONF})")
    t.set_defaults(func=cmd_train)

    e = isub.add_parser("explain", help="why were these records joined, or kept apart?",
                        description="With one id: a UID's records and the links joining "
                                    "them, with the match weight of every compared field. "
                                    "With two records (SOURCE:ID): whether they were ever "
                                    "compared, their comparison levels and weights, the "
                                    "guards that kept them apart and their clusters. No "
                                    "field values are printed.")
    e.add_argument("id", help="a UID, or a record key <source>:<source_record_id>")
    e.add_argument("other", nargs="?", help="a second record key: explain the pair")
    e.add_argument("--conf", help=f"config YAML (default {DEFAULT_CONF})")
    e.set_defaults(func=cmd_explain)

    v = isub.add_parser("evaluate", help="precision / recall / F1 against a truth file",
                        description="Pairwise and B-cubed precision, recall and F1 of the "
                                    "identity graph against a truth file; logged to MLflow.")
    v.add_argument("--truth", required=True,
                   help="Parquet or CSV with (record_key, person_id) or "
                        "(source, source_record_id, person_id)")
    v.add_argument("--hard-cases", help="optional Parquet/CSV of look-alike groups: "
                                        "(record_key, group) or (person_id_l, person_id_r, kind)")
    v.add_argument("--conf", help=f"config YAML (default {DEFAULT_CONF})")
    v.set_defaults(func=cmd_evaluate)


def _context(args: argparse.Namespace, retrain: bool = False) -> Any:
    from vista.cli_support import session
    from vista.config import load_config
    from vista.lake import Lake
    from vista.manifest import RunManifest, new_run_id
    from vista.runtime import RunContext

    cfg = load_config(_conf_path(args.conf))
    spark = session(cfg)
    manifest = RunManifest(run_id=new_run_id())
    return RunContext(spark=spark, config=cfg, lake=Lake.from_config(spark, cfg.lake),
                      manifest=manifest, run_id=manifest.run_id,
                      options={"retrain": retrain})


def cmd_train(args: argparse.Namespace) -> int:
    from vista.identity.config import identity_config
    from vista.identity.records import matching_records
    from vista.identity.stage import stage_settings, train_or_load
    from vista.spark import session_conf

    ctx = _context(args, retrain=True)
    cfg = identity_config(ctx.config)
    with session_conf(ctx.spark, stage_settings(ctx, cfg)):
        records = matching_records(ctx.lake, cfg)
        model, _ = train_or_load(ctx, records, cfg)
    if model is None:
        print("identity.linking.probabilistic.enabled is false: nothing to train")
        return 0
    runs = [r["run_id"] for r in ctx.manifest.mlflow_runs]
    print(f"identity model trained and registered; MLflow run {', '.join(runs)} "
          f"(tracking URI {ctx.config.mlflow.tracking_uri})")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from vista import tracking
    from vista.errors import VistaError
    from vista.identity.explain import explain
    from vista.identity.tables import GRAPH_T, LINKS_T, PERSON_RECORDS_T

    ctx = _context(args)
    model = None
    try:
        model = tracking.load_registered_identity_model(ctx.config.mlflow)
    except VistaError as exc:
        log.info("no registered model (%s): showing stored link weights only", exc)
    if args.other:
        from vista.identity.config import identity_config
        from vista.identity.explain_pair import explain_pair
        from vista.identity.link.trusted_ids import with_trusted_ids

        lake = ctx.lake
        records = lake.read(PERSON_RECORDS_T)
        # the trusted id kinds the identity stage learns from the lake, learned alike
        cfg = with_trusted_ids(identity_config(ctx.config), records)
        pair = explain_pair(args.id, args.other, records=records, cfg=cfg, model=model,
                            graph=lake.read(GRAPH_T) if lake.exists(GRAPH_T) else None,
                            links=lake.read(LINKS_T) if lake.exists(LINKS_T) else None)
        print(pair.text)
        return 0
    result = explain(args.id, graph=ctx.lake.read(GRAPH_T), links=ctx.lake.read(LINKS_T),
                     records=ctx.lake.read(PERSON_RECORDS_T), model=model)
    print(result.text)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from vista import tracking
    from vista.identity.evaluate import evaluate, evaluate_subset, hard_cases, load_truth
    from vista.identity.tables import GRAPH_T

    ctx = _context(args)
    truth = load_truth(ctx.spark, args.truth)
    predicted = ctx.lake.read(GRAPH_T).select("record_key", "uid")
    with tracking.start_run(ctx.config.mlflow, "identity-evaluate") as run:
        metrics = evaluate(predicted, truth, log_to_mlflow=True)
        if args.hard_cases:
            metrics.update(evaluate_subset(predicted, truth,
                                           hard_cases(ctx.spark, args.hard_cases, truth),
                                           log_to_mlflow=True))
    print(f"{'metric':<28} value")
    for name, value in metrics.items():
        shown = f"{value:.4f}" if isinstance(value, float) and not value.is_integer() else \
            f"{int(value):,}"
        print(f"{name:<28} {shown}")
    print(f"\nlogged to MLflow run {run.info.run_id} ({ctx.config.mlflow.tracking_uri})")
    return 0
