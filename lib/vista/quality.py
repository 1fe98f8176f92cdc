"""The quality gate every published table passes: Great Expectations on Spark.

A gate validates a DataFrame against a list of :class:`ExpectationSpec`. GE computes its
metrics with Spark (aggregates and window functions); the only rows that reach the
driver are at most :data:`MAX_EXAMPLES` failing values per expectation (GE result format
``BASIC``: ``limit(n).collect()``). ``SUMMARY``/``COMPLETE`` are avoided on purpose: they
collect the value counts of *all* failing values.

Example:
    >>> specs = builtin_expectations("person_records")
    >>> result = gate(df, "silver/person_records", specs, data_docs_dir=docs,
    ...               pii_columns=["email_std"])
    >>> result.passed
    True

A failing critical expectation raises :class:`vista.errors.QualityGateFailed`;
non-critical failures are kept as warnings in the result. Examples of failing values are
never kept for columns listed in ``pii_columns`` (in the result *and* in Data Docs).
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vista.errors import QualityGateFailed, VistaError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

log = logging.getLogger(__name__)

__all__ = [
    "ExpectationSpec",
    "QualityResult",
    "QualityConfigError",
    "gate",
    "remove_docs_staging",
    "builtin_expectations",
    "not_null",
    "unique",
    "MAX_EXAMPLES",
    "EMAIL_PATTERN",
]

MAX_EXAMPLES = 5
MAX_EXAMPLE_CHARS = 80
#: Well-formed address after vista.standardise.std_email (Java regex syntax for Spark).
EMAIL_PATTERN = r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)*\.[^@\s.]{2,}$"
MASKED = "***"


class QualityConfigError(VistaError):
    """An expectation spec names an unknown expectation or has invalid arguments."""


class ExpectationSpec(BaseModel):
    """One expectation of a gate, in GE's own vocabulary.

    Attributes:
        type: GE expectation name, e.g. ``"expect_column_values_to_not_be_null"``.
        kwargs: The expectation's arguments, e.g. ``{"column": "record_key"}``.
        critical: When True a failure stops publication; otherwise it is a warning.
        name: Optional readable name shown in messages and the manifest.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str = Field(pattern=r"^expect_[a-z0-9_]+$")
    kwargs: dict[str, Any] = Field(default_factory=dict)
    critical: bool = True
    name: str | None = None

    @field_validator("type")
    @classmethod
    def _known(cls, value: str) -> str:
        _expectation_class(value)
        return value

    @property
    def column(self) -> str | None:
        """The column(s) the expectation looks at, comma-joined, or None for table-level."""
        kw = self.kwargs
        if "column" in kw:
            return str(kw["column"])
        cols = kw.get("column_list") or [kw[k] for k in ("column_A", "column_B") if k in kw]
        return ",".join(map(str, cols)) or None

    @property
    def label(self) -> str:
        """``name`` or ``type(column)``."""
        return self.name or f"{self.type}({self.column or ''})"


def _expectation_class(type_name: str) -> type:
    import great_expectations.expectations as gxe

    cls_name = "".join(part.capitalize() for part in type_name.split("_"))
    cls = getattr(gxe, cls_name, None)
    if cls is None:
        raise ValueError(
            f"unknown Great Expectations expectation {type_name!r} (no class {cls_name}); "
            "use a name from great_expectations.expectations, e.g. expect_column_values_to_not_be_null"
        )
    return cls


@dataclass
class QualityResult:
    """Outcome of one gate, JSON-ready through :meth:`as_dict` (for the run manifest).

    Attributes:
        suite: GE suite name.
        table: Logical table name.
        passed: False when any *critical* expectation failed.
        results: One dict per expectation: ``expectation``, ``name``, ``column``,
            ``success``, ``critical``, ``unexpected_count``, ``unexpected_percent``,
            ``examples`` (at most 5, masked for PII columns).
        statistics: Counts of evaluated / successful expectations, rows, seconds.
        failed: The failing critical results (subset of ``results``).
        warnings: The failing non-critical results.
        data_docs: Path of the Data Docs index, when written.
    """

    suite: str
    table: str
    passed: bool
    results: list[dict[str, Any]]
    statistics: dict[str, Any]
    failed: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    data_docs: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy."""
        return asdict(self)


# --------------------------------------------------------------------------------------
# GE context, reused per process
# --------------------------------------------------------------------------------------
_LOCK = threading.RLock()
_CONTEXT: Any = None
_DATASOURCE = "vista_spark"


def _context() -> Any:
    """One ephemeral GE context per process: in-memory stores, no analytics, no bars."""
    global _CONTEXT
    with _LOCK:
        if _CONTEXT is None:
            os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
            gx_log = logging.getLogger("great_expectations")
            if gx_log.level == logging.NOTSET:  # GE logs its own internals at INFO
                gx_log.setLevel(logging.WARNING)
            import great_expectations as gx
            from great_expectations.data_context.types.base import (
                DataContextConfig,
                InMemoryStoreBackendDefaults,
                ProgressBarsConfig,
            )

            config = DataContextConfig(
                store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
                analytics_enabled=False,
                progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
            )
            ctx = gx.get_context(mode="ephemeral", project_config=config)
            # persist=False: GE would cache every gated frame and never unpersist it;
            # gate() persists and unpersists itself.
            ctx.data_sources.add_spark(_DATASOURCE, persist=False)
            _CONTEXT = ctx
        return _CONTEXT


def _docs_site(ctx: Any, data_docs_dir: str) -> str:
    """Register (once) a filesystem Data Docs site writing under ``data_docs_dir``."""
    path = str(Path(data_docs_dir).resolve())
    site = "vista_" + re.sub(r"[^0-9a-zA-Z]+", "_", path).strip("_")[-80:]
    sites = ctx.get_config().data_docs_sites or {}
    if site not in sites:
        ctx.add_data_docs_site(
            site_name=site,
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": path},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    return site


def _suite_name(table: str) -> str:
    return "vista__" + re.sub(r"[^0-9a-zA-Z_]+", "_", table).strip("_")


def _validation_definition(ctx: Any, table: str, specs: Sequence[ExpectationSpec]) -> Any:
    """(Re)build the asset, suite and validation definition of ``table``."""
    import great_expectations as gx

    name = _suite_name(table)
    ds = ctx.data_sources.get(_DATASOURCE)
    if name in ds.get_asset_names():
        batch = ds.get_asset(name).get_batch_definition("whole")
    else:
        batch = ds.add_dataframe_asset(name).add_batch_definition_whole_dataframe("whole")
    if name in {vd.name for vd in ctx.validation_definitions.all()}:
        ctx.validation_definitions.delete(name)
    if name in {s.name for s in ctx.suites.all()}:
        ctx.suites.delete(name)
    suite = ctx.suites.add(gx.ExpectationSuite(name=name))
    for spec in specs:
        suite.add_expectation(_to_gx(spec))
    return ctx.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch, suite=suite))


def _to_gx(spec: ExpectationSpec) -> Any:
    from great_expectations.expectations.metadata_types import FailureSeverity

    cls = _expectation_class(spec.type)
    severity = FailureSeverity.CRITICAL if spec.critical else FailureSeverity.WARNING
    meta = {"vista_name": spec.label, "critical": spec.critical}
    try:
        return cls(**spec.kwargs, meta=meta, severity=severity)
    except Exception as exc:  # pydantic errors of GE's own models
        raise QualityConfigError(
            f"expectation {spec.label}: expected valid arguments for {spec.type}, found "
            f"{spec.kwargs!r} ({exc}). Fix the expectation's kwargs."
        ) from exc


# --------------------------------------------------------------------------------------
# the gate
# --------------------------------------------------------------------------------------
def gate(
    df: DataFrame,
    table: str,
    expectations: Iterable[ExpectationSpec | dict[str, Any]],
    *,
    data_docs_dir: str | None = None,
    raise_on_failure: bool = True,
    pii_columns: Iterable[str] = (),
    persist: bool = True,
    critical: bool | None = None,
) -> QualityResult:
    """Validate ``df`` with Great Expectations before it is published as ``table``.

    Args:
        df: The frame to validate (metrics are computed by Spark; nothing is collected
            except at most 5 failing values per expectation).
        table: Logical table name, used for the suite name and messages.
        expectations: Specs (or their dict form, as in config files).
        data_docs_dir: When given, GE Data Docs (HTML, ``index.html``) are written here.
            A remote location (``s3a://...``) gets the site built in a local temporary
            folder and uploaded after each gate; :func:`remove_docs_staging` removes that
            folder (the pipeline does at the end of a run).
        raise_on_failure: Raise when a critical expectation fails (default).
        pii_columns: Columns whose failing values must never be shown: their examples
            are masked in the result and dropped from Data Docs.
        persist: Cache ``df`` for the duration of the gate (GE runs several Spark jobs).
        critical: Alias of ``raise_on_failure`` kept for the team contract; wins when set.

    Returns:
        The :class:`QualityResult`; ``passed`` is False only when a critical expectation
        failed and ``raise_on_failure`` is False.

    Raises:
        QualityGateFailed: A critical expectation failed (message names the table,
            expectation, column and a few examples).
        QualityConfigError: An expectation is unknown, has bad arguments, or names a
            column ``df`` does not have.
    """
    specs = [e if isinstance(e, ExpectationSpec) else _spec(e) for e in expectations]
    _check_columns(df, table, specs)
    should_raise = raise_on_failure if critical is None else critical
    pii = set(pii_columns)
    started = time.perf_counter()
    with _LOCK:
        ctx = _context()
        vd = _validation_definition(ctx, table, specs)
        own_cache = persist and not df.is_cached  # never drop a cache the caller made
        if own_cache:
            df = df.persist()
        try:
            with _one_job_limits(df.sparkSession):
                # Examples cost one Spark job per expectation (limit(n).collect()); a
                # first pass asks for none (limit 0 runs no job) and only a gate with a
                # failure runs again for them: same results, examples included.
                res = vd.run(
                    batch_parameters={"dataframe": df},
                    result_format={"result_format": "BASIC", "partial_unexpected_count": 0},
                )
                if not all(r.success for r in res.results):
                    res = vd.run(
                        batch_parameters={"dataframe": df},
                        result_format={"result_format": "BASIC",
                                       "partial_unexpected_count": MAX_EXAMPLES},
                    )
        finally:
            if own_cache:
                df.unpersist()
        rows = [_one_result(r, pii) for r in res.results]
        docs = _write_docs(ctx, vd, res, data_docs_dir) if data_docs_dir else None
    failed = [r for r in rows if not r["success"] and r["critical"]]
    warned = [r for r in rows if not r["success"] and not r["critical"]]
    stats = dict(res.statistics)
    stats["seconds"] = round(time.perf_counter() - started, 3)
    result = QualityResult(suite=vd.suite.name, table=table, passed=not failed, results=rows,
                           statistics=stats, failed=failed, warnings=warned, data_docs=docs)  # fmt: skip
    _log_outcome(result)
    if failed and should_raise:
        raise QualityGateFailed(_failure_message(result))
    return result


#: Spark SQL setting: partitions a ``limit`` scans in its first job (default 1).
_LIMIT_PARTITIONS = "spark.sql.limit.initialNumPartitions"


@contextmanager
def _one_job_limits(spark: Any) -> Iterator[None]:
    """Let ``limit(n).collect()`` scan every partition in its first job.

    GE fetches the failing examples of each expectation with ``limit(5).collect()``.
    Spark starts such a scan with one partition and widens it (x4) while it finds fewer
    than 5 rows, so an expectation with no failures, the usual case, cost three jobs.
    Scanning all partitions at once does the same work in one job.
    """
    previous = spark.conf.get(_LIMIT_PARTITIONS, None)
    spark.conf.set(_LIMIT_PARTITIONS, "100000")  # capped by the partition count
    try:
        yield
    finally:
        if previous is None:
            spark.conf.unset(_LIMIT_PARTITIONS)
        else:
            spark.conf.set(_LIMIT_PARTITIONS, previous)


def _spec(raw: dict[str, Any]) -> ExpectationSpec:
    try:
        return ExpectationSpec.model_validate(raw)
    except ValueError as exc:
        raise QualityConfigError(f"invalid expectation spec {raw!r}: {exc}") from exc


def _check_columns(df: DataFrame, table: str, specs: Sequence[ExpectationSpec]) -> None:
    have = set(df.columns)
    missing = []
    for spec in specs:
        kw = spec.kwargs
        cols = [kw[k] for k in ("column", "column_A", "column_B") if k in kw] + list(kw.get("column_list", []))
        missing += [f"{c} (in {spec.label})" for c in cols if c not in have]
    if missing:
        raise QualityConfigError(
            f"quality gate of {table}: expected columns {', '.join(missing)}; found only "
            f"{sorted(have)}. Fix the expectation or the table's schema."
        )


def _one_result(r: Any, pii: set[str]) -> dict[str, Any]:
    """Flatten one GE result; mask its examples (in place too, for Data Docs) if PII."""
    cfg = r.expectation_config
    meta = cfg.meta or {}
    spec_column = cfg.kwargs.get("column") or ",".join(map(str, cfg.kwargs.get("column_list", []) or []))
    cols = set(str(spec_column).split(",")) if spec_column else set()
    body = r.result or {}
    examples = [_plain(v) for v in (body.get("partial_unexpected_list") or [])][:MAX_EXAMPLES]
    if cols & pii:
        examples = [MASKED] * len(examples)
        for key in ("partial_unexpected_list", "partial_unexpected_counts",
                    "partial_unexpected_index_list", "unexpected_list", "observed_value"):  # fmt: skip
            body.pop(key, None)
    if r.exception_info and r.exception_info.get("raised_exception"):
        examples = [str(r.exception_info.get("exception_message"))[:300]]
    return {
        "expectation": cfg.type,
        "name": meta.get("vista_name"),
        "column": spec_column or None,
        "success": bool(r.success),
        "critical": bool(meta.get("critical", True)),
        "unexpected_count": body.get("unexpected_count"),
        "unexpected_percent": _round(body.get("unexpected_percent")),
        "observed_value": None if cols & pii else _plain(body.get("observed_value")),
        "examples": examples,
    }


def _plain(value: Any) -> Any:
    if isinstance(value, str):
        return value if len(value) <= MAX_EXAMPLE_CHARS else value[:MAX_EXAMPLE_CHARS] + "..."
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 4)


def _write_docs(ctx: Any, vd: Any, res: Any, data_docs_dir: str) -> str:
    """Store the (masked) result and render Data Docs for it; return index.html's path."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    from vista.lake import resolve_location, upload_dir

    loc = resolve_location(data_docs_dir)
    # GE's site builder writes local files; on an object store it builds in a local
    # folder and the site is copied up through the lake's own connector.
    build_dir = loc.local or _staging_dir(loc.spark)
    site = _docs_site(ctx, build_dir)
    suite_id = ExpectationSuiteIdentifier(name=vd.suite.name)
    batch_id = (res.meta.get("active_batch_definition") or {})
    result_id = ValidationResultIdentifier(
        expectation_suite_identifier=suite_id,
        run_id=res.meta["run_id"],
        batch_identifier=_batch_id(res, batch_id),
    )
    ctx.validation_results_store.store_validation_results(res, result_id, suite_id)
    ctx.build_data_docs(site_names=[site], resource_identifiers=[result_id, suite_id])
    if loc.local is None:
        upload_dir(build_dir, loc)
    return loc.join("index.html").spark


# Local build folders of remote Data Docs sites: location -> folder, for this process.
_STAGING: dict[str, str] = {}


def _staging_dir(uri: str) -> str:
    """A local build folder for the Data Docs site of a remote location.

    One fresh temporary folder per location and process: GE's index lists the pages in
    the folder it builds in, so the folder lives as long as the gates that add to the site
    (a run), then :func:`remove_docs_staging` (or the process's exit) removes it. The site
    itself is in the remote location.
    """
    with _LOCK:
        if uri not in _STAGING:
            import tempfile

            _STAGING[uri] = tempfile.mkdtemp(prefix="vista-data-docs-")
        return _STAGING[uri]


def remove_docs_staging() -> int:
    """Remove the local build folders of remote Data Docs sites (see :func:`gate`).

    The sites were uploaded after each gate; the next gate builds in a new folder. Local
    sites are built in place and are not touched.

    Returns:
        How many folders were removed.
    """
    import shutil

    with _LOCK:
        folders = list(_STAGING.values())
        _STAGING.clear()
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    return len(folders)


atexit.register(remove_docs_staging)


def _batch_id(res: Any, batch_definition: Any) -> str:
    for r in res.results:
        if "batch_id" in r.expectation_config.kwargs:
            return str(r.expectation_config.kwargs["batch_id"])
    return str(getattr(batch_definition, "id", None) or "batch")


def _log_outcome(result: QualityResult) -> None:
    s = result.statistics
    line = (f"quality {result.table}: {s.get('successful_expectations')}/"
            f"{s.get('evaluated_expectations')} expectations passed in {s['seconds']}s")  # fmt: skip
    if result.failed or result.warnings:
        log.warning("%s; failed: %s", line, ", ".join(_short(r) for r in result.failed + result.warnings))
    else:
        log.info(line)


def _short(r: dict[str, Any]) -> str:
    kind = "critical" if r["critical"] else "warning"
    return f"{r['name'] or r['expectation']} [{kind}, {r['unexpected_count']} unexpected]"


def _failure_message(result: QualityResult) -> str:
    lines = [f"quality gate failed for table {result.table!r} (suite {result.suite}): "
             f"{len(result.failed)} critical expectation(s) failed"]  # fmt: skip
    for r in result.failed:
        lines.append(
            f"  - {r['expectation']} on column {r['column']!r}: {r['unexpected_count']} unexpected "
            f"({r['unexpected_percent']}%), examples {r['examples']}"
            + (f", observed {r['observed_value']!r}" if r["observed_value"] is not None else "")
        )
    lines.append("The table was not published. Fix the data upstream (see quarantine) or the "
                 "expectation, then re-run.")  # fmt: skip
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# built-in expectations per canonical table kind
# --------------------------------------------------------------------------------------
def not_null(columns: Iterable[str], *, critical: bool = True) -> list[ExpectationSpec]:
    """``expect_column_values_to_not_be_null`` for each column."""
    return [ExpectationSpec(type="expect_column_values_to_not_be_null", kwargs={"column": c},
                            critical=critical) for c in columns]  # fmt: skip


def unique(columns: Sequence[str], *, critical: bool = True) -> list[ExpectationSpec]:
    """Uniqueness of one column, or of the combination of several (computed by Spark)."""
    if len(columns) == 1:
        return [ExpectationSpec(type="expect_column_values_to_be_unique",
                                kwargs={"column": columns[0]}, critical=critical)]  # fmt: skip
    return [ExpectationSpec(type="expect_compound_columns_to_be_unique",
                            kwargs={"column_list": list(columns)}, critical=critical)]  # fmt: skip


def _between(column: str, low: Any = None, high: Any = None, *, critical: bool = True) -> ExpectationSpec:
    kwargs: dict[str, Any] = {"column": column}
    if low is not None:
        kwargs["min_value"] = low
    if high is not None:
        kwargs["max_value"] = high
    return ExpectationSpec(type="expect_column_values_to_be_between", kwargs=kwargs, critical=critical)


def _regex(column: str, regex: str, *, critical: bool = True) -> ExpectationSpec:
    return ExpectationSpec(type="expect_column_values_to_match_regex",
                           kwargs={"column": column, "regex": regex}, critical=critical)  # fmt: skip


_ISO2 = r"^[A-Z]{2}$"
_ISO_CURRENCY = r"^[A-Z]{3}$"
_E164 = r"^\+[1-9][0-9]{6,14}$"


def builtin_expectations(
    kind: str,
    *,
    min_timestamp: str = "1970-01-01",
    max_timestamp: str | None = None,
    min_birth_date: str = "1900-01-01",
) -> list[ExpectationSpec]:
    """Sensible expectations for a canonical table kind (see :mod:`vista.schemas`).

    Keys are not null and unique, timestamps lie in a plausible range, amounts are
    non-negative, standardised emails / phones / country and currency codes are
    well-formed, match probabilities lie in ``[0, 1]``. Range checks on event times and
    birth dates are warnings (non-critical); structural checks are critical.

    Args:
        kind: ``"person_records"``, ``"orders"``, ``"order_lines"``, ``"interactions"``
            or ``"links"``.
        min_timestamp: Earliest plausible event time (ISO date).
        max_timestamp: Latest plausible event time; default tomorrow (UTC).
        min_birth_date: Earliest plausible birth date.

    Returns:
        The list of specs.

    Raises:
        QualityConfigError: For an unknown kind.
    """
    import datetime as dt

    tomorrow = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).date().isoformat()
    hi = max_timestamp or tomorrow
    builders = {
        "person_records": lambda: [
            *not_null(["record_key", "source", "source_record_id"]), *unique(["record_key"]),
            _regex("email_std", EMAIL_PATTERN), _regex("phone_e164", _E164),
            _regex("country", _ISO2),
            _between("birth_date", min_birth_date, tomorrow, critical=False),
            _between("observed_at", min_timestamp, hi, critical=False),
        ],
        "orders": lambda: [
            *not_null(["order_key", "source", "order_id", "ts"]), *unique(["order_key"]),
            _between("ts", min_timestamp, hi, critical=False),
            _between("amount", 0), _between("discount_amount", 0), _between("n_items", 0),
            _regex("currency", _ISO_CURRENCY),
        ],
        "order_lines": lambda: [
            *not_null(["order_key", "line_no", "source"]), *unique(["order_key", "line_no"]),
            _between("quantity", 0), _between("unit_price", 0), _between("amount", 0),
            _regex("currency", _ISO_CURRENCY),
        ],
        "interactions": lambda: [
            *not_null(["event_key", "source", "ts", "channel", "type"]), *unique(["event_key"]),
            _between("ts", min_timestamp, hi, critical=False),
        ],
        "links": lambda: [
            *not_null(["record_key_l", "record_key_r", "link_kind"]),
            *unique(["record_key_l", "record_key_r", "link_kind"]),
            _between("match_probability", 0, 1),
        ],
    }  # fmt: skip
    if kind not in builders:
        raise QualityConfigError(
            f"builtin_expectations: expected a kind among {sorted(builders)}, found {kind!r}"
        )
    return builders[kind]()
