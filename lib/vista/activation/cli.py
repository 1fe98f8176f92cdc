"""``vista forget``, ``vista unsuppress`` and ``vista activate``: privacy and exports by hand."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

log = logging.getLogger(__name__)


def add_activation_commands(sub: Any) -> None:
    """Register ``vista forget``, ``vista unsuppress`` and ``vista activate``."""
    from vista.cli_support import DEFAULT_CONF

    p = sub.add_parser(
        "forget", help="erase a person from every table, export and side file (GDPR)",
        description="Erase a person: their rows in every table under the lake, their rows "
                    "in export files, and put salted hashes of their identifiers on the "
                    "suppression list so re-ingested files do not bring them back. The "
                    "request is recorded in the audit table without the identifier.")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--email", help="an e-mail address of the person")
    who.add_argument("--id", dest="record_id", metavar="SOURCE:ID",
                     help="a source's record id (crm:C0001) or an id kind and value")
    who.add_argument("--uid", help="the person's UID")
    p.add_argument("--purge-history", action="store_true",
                   help="also remove old table versions (vacuum, log cut), Spark checkpoints "
                        "and matching MLflow artifacts: time travel to earlier versions ends")
    p.add_argument("--yes", action="store_true", help="do not ask to confirm --purge-history")
    p.add_argument("--conf", help=f"config YAML (default {DEFAULT_CONF})")
    p.set_defaults(func=cmd_forget)

    u = sub.add_parser("unsuppress", help="let an erased person back in (returned with consent)",
                       description="Remove the suppression-list entries of the erasure "
                                   "request(s) an identifier belongs to.")
    who = u.add_mutually_exclusive_group(required=True)
    who.add_argument("--email", help="an e-mail address that was erased")
    who.add_argument("--id", dest="record_id", metavar="SOURCE:ID",
                     help="a record id (crm:C0001) or ID_KIND:VALUE that was erased")
    u.add_argument("--conf", help=f"config YAML (default {DEFAULT_CONF})")
    u.set_defaults(func=cmd_unsuppress)

    a = sub.add_parser("activate", help="export segments to the destinations (or a dry run)",
                       description="Export every enabled destination now; --dry-run prints "
                                   "the counts (exported, added, changed, removed, withheld) "
                                   "without writing files or state.")
    a.add_argument("--destinations", nargs="+", metavar="NAME", help="only these destinations")
    a.add_argument("--dry-run", action="store_true", help="count only; write nothing")
    a.add_argument("--conf", help=f"config YAML (default {DEFAULT_CONF})")
    a.set_defaults(func=cmd_activate)


def _setup(args: argparse.Namespace) -> tuple[Any, Any]:
    from vista.cli_support import resolve_conf
    from vista.cli_support import session as _session
    from vista.config import load_config
    from vista.lake import Lake

    cfg = load_config(resolve_conf(args.conf))
    spark = _session(cfg)
    return cfg, Lake.from_config(spark, cfg.lake)


def _device_prefixes(cfg: Any) -> dict[str, str]:
    return dict(cfg.identity.linking.devices.device_id_kinds)


def cmd_forget(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    from vista.activation.erasure import audit, forget
    from vista.activation.person import ForgetRequest
    from vista.activation.purge import PURGE_WARNING, purge

    request = ForgetRequest(email=args.email, record_id=args.record_id, uid=args.uid)
    if args.purge_history and not args.yes:
        print(f"warning: {PURGE_WARNING}", file=sys.stderr)
        if input("type 'purge' to go on: ").strip() != "purge":
            print("not purged; nothing was changed")
            return 1
    cfg, lake = _setup(args)
    report = forget(lake, cfg.activation, cfg.ingest, request, _device_prefixes(cfg))
    print(f"erasure {report.request_id}: {report.rows_deleted} row(s) deleted in "
          f"{len(report.tables)} table(s), {report.export_folders} export folder(s) rewritten, "
          f"{report.tokens_suppressed} identifier(s) suppressed")
    for table, n in sorted(report.tables.items()):
        print(f"  {table:<45} {n:>8,}")
    if report.destinations:
        print("already sent to: " + ", ".join(report.destinations)
              + " (ask those systems to delete the person: vista cannot reach their copies)")
    if args.purge_history:
        started = datetime.now(timezone.utc).replace(tzinfo=None)
        result = purge(lake, checkpoint_dir=cfg.spark.checkpoint_dir,
                       artifact_location=cfg.mlflow.artifact_location, needles=report.needles)
        report.purged_files = result.data_files + result.log_files + result.side_files
        audit(lake, cfg.activation, report, "purge", started, purged=True)
        print(f"purged: {result.tables} table(s), {result.data_files} old data file(s), "
              f"{result.log_files} log file(s), {result.checkpoint_folders} checkpoint "
              f"folder(s), {result.side_files} artifact/side file(s)")
    return 0


def cmd_unsuppress(args: argparse.Namespace) -> int:
    from vista.activation.person import ForgetRequest
    from vista.activation.suppression import unsuppress

    request = ForgetRequest(email=args.email, record_id=args.record_id)
    cfg, lake = _setup(args)
    kind, value = request.identifier()
    if kind == "record":
        sources = {s.name: s.key_namespace for s in cfg.ingest.sources}
        head, _, rest = value.partition(":")
        kind, value = ("record", f"{sources[head]}:{rest}") if head in sources else (
            f"id:{head}", rest)
    n = unsuppress(lake, cfg.activation, kind, value)
    print(f"unsuppressed: {n} token(s) lifted" if n else "that identifier was not suppressed")
    return 0 if n else 1


def cmd_activate(args: argparse.Namespace) -> int:
    from vista.activation.exports import export_all
    from vista.manifest import new_run_id

    cfg, lake = _setup(args)
    results = export_all(lake, cfg.activation, new_run_id(), names=args.destinations,
                         dry_run=args.dry_run)
    print(f"{'destination':<14} {'mode':<8} {'exported':>9} {'added':>7} {'changed':>8} "
          f"{'removed':>8} {'withheld':>9}")
    for r in results:
        print(f"{r.destination:<14} {r.mode:<8} {r.exported:>9,} {r.added:>7,} {r.changed:>8,} "
              f"{r.removed:>8,} {r.withheld:>9,}" + ("  (dry run)" if r.dry_run else ""))
    return 0
