"""The sample lake generator: people in chunks -> source folders + ground truth."""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path

import numpy as np

from vista.errors import VistaError
from vista.sample import activity as act
from vista.sample import activity_sources as asrc
from vista.sample import engagement_sources as esrc
from vista.sample import identity_sources as isrc
from vista.sample import truth
from vista.sample.params import SampleParams
from vista.sample.people import Period, make_people
from vista.sample.pools import build_catalogue, build_pools
from vista.sample.sinks import Sinks

log = logging.getLogger(__name__)

#: Folders the generator owns under ``out`` (emptied before a run).
FOLDERS = ("crm", "ecommerce", "pos", "loyalty", "web", "email", "support", "survey",
           "ground_truth")  # fmt: skip


@dataclass
class SampleSummary:
    """What was generated: per-folder file and row counts, and per-file rows."""

    out: str
    customers: int
    households: int
    seed: int
    start: str
    months: int
    files: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    file_rows: dict[str, int] = field(default_factory=dict)
    bad_rows: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        """A JSON-ready dict."""
        return asdict(self)

    def table(self) -> str:
        """A small text table (folder, files, rows) for the console."""
        lines = [f"{'folder':<14}{'files':>7}{'rows':>12}"]
        lines += [f"{f:<14}{self.files[f]:>7}{self.rows[f]:>12,}" for f in self.rows]
        return "\n".join(lines)


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    return date(d.year + y, m + 1, d.day)


def _validate(customers: int, months: int, bad_row_rate: float, holdout_months: int) -> None:
    problems = []
    if customers < 1:
        problems.append(f"customers must be >= 1, found {customers}")
    if not 3 <= months <= 120:
        problems.append(f"months must be between 3 and 120, found {months}")
    if not 0.0 <= bad_row_rate < 0.5:
        problems.append(f"bad_row_rate must be in [0, 0.5), found {bad_row_rate}")
    if holdout_months < 1:
        problems.append(f"holdout_months must be >= 1, found {holdout_months}")
    if problems:
        raise VistaError("Cannot generate the sample lake: " + "; ".join(problems)
                         + ". Fix the arguments and run again.")


def generate_sample_lake(out: str | Path, customers: int, seed: int = 7,
                         start: date = date(2024, 1, 1), months: int = 24,
                         bad_row_rate: float = 0.01, holdout_months: int = 6,
                         params: SampleParams | None = None) -> SampleSummary:
    """Generate the sample lake: one folder per source system plus ``ground_truth/``.

    The same arguments give byte-identical files. The folders listed in ``FOLDERS`` are
    emptied first; anything else under ``out`` is left alone.

    Args:
        out: Root folder of the lake (created if absent).
        customers: Number of people.
        seed: Random seed.
        start: First day of the observed period.
        months: Length of the observed period.
        bad_row_rate: Share of rows per file planted as bad rows (tagged in ground truth).
        holdout_months: Window after the period whose purchases are kept only as truth.
        params: Generation parameters; defaults to ``SampleParams()``.

    Returns:
        The summary of what was written.

    Raises:
        VistaError: When an argument is out of range.

    Example:
        >>> s = generate_sample_lake("data/sample", customers=300)  # doctest: +SKIP
        >>> s.rows["crm"] > 0  # doctest: +SKIP
        True
    """
    _validate(customers, months, bad_row_rate, holdout_months)
    t0 = time.perf_counter()
    p = replace(params or SampleParams(), bad_row_rate=bad_row_rate)
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    for folder in FOLDERS:
        shutil.rmtree(root / folder, ignore_errors=True)
    end = _add_months(start, months)
    period = Period(np.datetime64(start, "D"), np.datetime64(end, "D"),
                    np.datetime64(_add_months(end, holdout_months), "D"))
    pools = build_pools(p, seed)
    cat = build_catalogue(p, np.random.default_rng([seed, 10**6]))
    prod_prob, content_prob = act.affinity_matrices(p)
    sinks = Sinks(root)
    households = 0
    try:
        for no, lo in enumerate(range(0, customers, p.chunk_size)):
            n = min(p.chunk_size, customers - lo)
            rng = np.random.default_rng([seed, no])
            people, n_hh = make_people(n, lo + 1, households + 1, p, pools, period, rng)
            households += n_hh
            c = isrc.Chunk(no, people, p, period, rng, sinks)
            _chunk(c, cat, prod_prob, content_prob)
            log.info("sample: chunk %d done (%d customers so far)", no + 1, lo + n)
        sinks.parquet("ground_truth/bad_rows.parquet", truth.bad_rows_table(sinks.bad))
    finally:
        sinks.close()
    summary = _summary(root, sinks, customers, households, seed, start, months)
    summary.seconds = round(time.perf_counter() - t0, 2)
    log.info("sample: %d customers, %d files, %.1f s", customers, sum(summary.files.values()), summary.seconds)
    return summary


def _chunk(c: isrc.Chunk, cat, prod_prob: np.ndarray, content_prob: np.ndarray) -> None:
    p, rng, people, period = c.params, c.rng, c.people, c.period
    buys = act.purchases(people, p, period, rng)
    share = np.asarray(p.online_share_by_channel)[people["channel_idx"].to_numpy()]
    prefers_online = rng.random(len(buys)) < share[buys["pos"].to_numpy()]
    observed = (buys["day"].to_numpy() >= 0) & (buys["day"].to_numpy() < period.days)
    online_buyer = np.bincount(buys["pos"].to_numpy()[prefers_online & observed], minlength=len(people)) > 0
    accounts = isrc.accounts(c, online_buyer)
    has_acct = np.zeros(len(people), bool)
    has_acct[accounts["pos"].to_numpy()] = True
    online = prefers_online & has_acct[buys["pos"].to_numpy()]
    lines = {k: act.order_lines(buys[m].reset_index(drop=True), people, p, cat, prod_prob, rng)
             for k, m in (("online", observed & online), ("store", observed & ~online),
                          ("holdout", buys["day"].to_numpy() >= period.days))}
    spend = truth.spend_eur(buys, lines, observed, online, period, len(people))
    contacts = isrc.crm(c)
    members = isrc.loyalty(c, spend["value_period_eur"])
    orders = asrc.ecommerce_orders(c, buys[observed & online].reset_index(drop=True), lines["online"], cat, accounts)
    orders += asrc.pos_sales(c, buys[observed & ~online].reset_index(drop=True), lines["store"], cat, members)
    devs = asrc.devices(c)
    sessions = act.web_sessions(people, p, period, rng)
    events = act.web_events(sessions, people, p, prod_prob, content_prob, rng, period.days)
    asrc.web(c, sessions, events, devs, accounts, cat)
    esrc.email_events(c, contacts)
    esrc.support(c, spend["purchases_period"])
    esrc.survey(c)
    truth.write_chunk(c, buys, spend, orders)


def _summary(root: Path, sinks: Sinks, customers: int, households: int, seed: int,
             start: date, months: int) -> SampleSummary:
    s = SampleSummary(str(root), customers, households, seed, start.isoformat(), months)
    s.file_rows = dict(sorted(sinks.rows.items()))
    for rel, n in s.file_rows.items():
        folder = rel.split("/")[0]
        s.files[folder] = s.files.get(folder, 0) + 1
        s.rows[folder] = s.rows.get(folder, 0) + n
    s.bad_rows = int(sum(len(b) for b in sinks.bad))
    return s


__all__ = ["FOLDERS", "SampleSummary", "generate_sample_lake"]
