"""``vista profile show``: one customer's card, as a role sees it, in the terminal."""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

log = logging.getLogger(__name__)


def add_profile_commands(sub: Any) -> None:
    """Register ``vista profile ...`` on the CLI's subparsers."""
    from vista.cli_support import DEFAULT_CONF

    p = sub.add_parser("profile", help="the customer card: show one customer",
                       description="Read the customer card (gold/customer_profile and its "
                                   "role views).")
    psub = p.add_subparsers(dest="profile_command", required=True, metavar="COMMAND")
    s = psub.add_parser("show", help="print a customer's card for a role",
                        description="Find a customer by UID, source id or e-mail and print "
                                    "the card as the role sees it.")
    who = s.add_mutually_exclusive_group(required=True)
    who.add_argument("--uid", help="the customer's UID")
    who.add_argument("--id", dest="source_id", metavar="SOURCE:ID",
                     help="a source system's id, e.g. crm:C000123")
    who.add_argument("--email", help="one of the customer's e-mail addresses")
    s.add_argument("--view", default=None, metavar="ROLE",
                   help="the role whose view to print (default: the first declared role)")
    s.add_argument("--json", action="store_true", help="print the card as JSON")
    s.add_argument("--conf", help=f"config YAML (default {DEFAULT_CONF})")
    s.set_defaults(func=cmd_show)


def cmd_show(args: argparse.Namespace) -> int:
    from vista.cli_support import resolve_conf
    from vista.cli_support import session as _session
    from vista.config import load_config
    from vista.lake import Lake
    from vista.profile.show import UnknownRole, card, find_uid

    cfg = load_config(resolve_conf(args.conf))
    pcfg = cfg.profile
    role = args.view or next(iter(pcfg.views), None)
    if role is None or role not in pcfg.views:
        raise UnknownRole(f"no role {role!r}; declared roles: "
                          f"{', '.join(sorted(pcfg.views)) or '(none: add profile.views)'}")
    spark = _session(cfg)
    lake = Lake.from_config(spark, cfg.lake)
    uid = find_uid(lake, uid=args.uid, source_id=args.source_id, email=args.email)
    data = card(lake, pcfg, uid, role)
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        render(data, pcfg.views[role].description)
    return 0


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list):
        return ", ".join(_fmt(v) for v in value) or "-"
    if isinstance(value, dict):
        return "\n".join(f"{k}: {_fmt(v)}" for k, v in value.items()) or "-"
    return str(value)


def render(data: dict[str, Any], description: str = "", console: Any = None) -> None:
    """Print the card: a panel per section with aligned values, then the timeline."""
    from rich import box
    from rich.columns import Columns
    from rich.console import Console, Group
    from rich.panel import Panel
    from rich.table import Table

    console = console or Console()
    panels = []
    for section, values in data["sections"].items():
        t = Table(box=None, show_header=False, pad_edge=False, expand=True)
        t.add_column("field", style="bold cyan", no_wrap=True)
        t.add_column("value", overflow="fold")
        for name, value in values.items():
            t.add_row(name.replace("_", " "), _fmt(value))
        panels.append(Panel(t, title=section, title_align="left", box=box.ROUNDED))
    parts: list[Any] = [Columns(panels, equal=True, expand=True)]
    if "timeline" in data:
        t = Table(box=box.SIMPLE, header_style="bold")
        for col in ("when", "what", "channel", "detail"):
            t.add_column(col)
        for r in data["timeline"]:
            t.add_row(str(r["ts"])[:16].replace("T", " "), str(r["kind"]),
                      str(r["channel"] or "-"), str(r["what"] or ""))
        parts.append(Panel(t, title="timeline (newest first)", title_align="left"))
    title = f"customer {data['uid']}  ·  view: {data['role']}"
    console.print(Panel(Group(*parts), title=title, subtitle=description or None))
