"""Sources as configuration: the ``ingest`` section of vista's config.

A source system is declared in YAML only: where its files are, how to read them (an
explicit raw schema), which canonical entities it feeds (one ``outputs`` entry per
entity, each with its own field mapping), which strong identifiers it carries, the row
rules that send a row to quarantine, and its quality expectations. Adding a source is a
YAML change, not code.

A mapping value (:data:`FieldMap`) is one of:

* a raw field name (``email``) - the field as read;
* any Spark SQL expression (``concat(first, ' ', last)``, ``'web'`` for a constant);
* a mapping ``{field: x}``, ``{expr: "..."}`` or ``{literal: v}``, optionally with
  ``formats: [...]`` (Spark date-time patterns) for a date or timestamp target, or
  ``true_values``/``false_values`` (folded words) for a boolean target.

Example (YAML)::

    ingest:
      inputs_root: data/raw
      reporting_currency: EUR
      currency_rates: {EUR: 1.0, USD: 0.92}
      sources:
        - name: shop_orders
          format: csv
          path: shop/orders_*.csv
          schema: {order_id: string, customer: string, ts: string, total: string, cur: string}
          key: [order_id]
          currency_field: cur
          ids: {account_id: customer}
          rules: [{reason: negative_amount, reject_if: "try_cast(total AS double) < 0"}]
          outputs:
            - entity: order
              mapping: {order_id: order_id, ts: {field: ts, formats: ["yyyy-MM-dd HH:mm:ss"]},
                        amount: total, channel: "'online'"}
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from vista.config.models import Section
from vista.quality import ExpectationSpec

Entity = Literal["person", "order", "order_line", "interaction"]
Format = Literal["csv", "jsonl", "json", "parquet", "delta", "jdbc"]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CORRUPT_COLUMN = "_corrupt_record"


OnError = Literal["keep", "quarantine"]


class FieldSpec(Section):
    """A mapping value in long form: exactly one of ``field``, ``expr``, ``literal``.

    ``on_error`` says what a value that does not convert to the canonical type does:
    ``keep`` (the field is null and the problem is recorded on the row) or
    ``quarantine`` (the whole row goes to quarantine); unset, the source's ``on_error``.
    """

    field: str | None = None
    expr: str | None = None
    literal: str | int | float | bool | None = None
    formats: list[str] | None = None
    true_values: list[str] | None = None
    false_values: list[str] | None = None
    on_error: OnError | None = None

    @model_validator(mode="after")
    def _one_of(self) -> FieldSpec:
        given = [k for k in ("field", "expr") if getattr(self, k) is not None]
        if self.literal is not None:
            given.append("literal")
        if len(given) != 1:
            raise ValueError(f"give exactly one of field / expr / literal (found {given or 'none'})")
        return self


FieldMap = str | FieldSpec


class RowRule(Section):
    """A row rule: rows where ``reject_if`` (a Spark SQL boolean) is true go to quarantine."""

    reason: str
    reject_if: str


class Expectations(Section):
    """Per-source quality expectations (``vista.quality.ExpectationSpec`` mappings).

    ``bronze`` runs on the rows a micro-batch writes to bronze; ``silver`` on the
    source's canonical rows before they are published (together with the built-in
    expectations of the entity).
    """

    bronze: list[ExpectationSpec] = Field(default_factory=list)
    silver: list[ExpectationSpec] = Field(default_factory=list)


class JdbcConfig(Section):
    """A JDBC source: where the table is and how to connect.

    Credentials are read at run time from the environment variables *named* here, never
    from the file. The driver jar is not bundled: pass it with ``spark-submit --jars``
    (or ``spark.jars``) and name its class in ``driver``.

    Attributes:
        url: The JDBC URL (``jdbc:postgresql://host:5432/crm``), without credentials.
        dbtable: A table (``crm.customers``) or a parenthesised subquery with an alias.
        query: A ``SELECT`` instead of ``dbtable`` (not with partitioned reads).
        user_env: Name of the environment variable holding the user.
        password_env: Name of the environment variable holding the password.
        driver: The driver class (``org.postgresql.Driver``); recommended, since a jar
            added with ``--jars`` is not always found from the URL alone.
        fetchsize: Rows per round trip. Some drivers default to all rows at once
            (PostgreSQL) or to 10 (Oracle); both hurt on a large table.

    Other Spark JDBC reader options (``partitionColumn``, ``lowerBound``,
    ``upperBound`` and ``numPartitions`` for a partitioned read, ``sessionInitStatement``,
    ``queryTimeout``, driver connection properties such as ``sslmode``) go in the
    source's ``options``.
    """

    url: str
    dbtable: str | None = None
    query: str | None = None
    user_env: str | None = None
    password_env: str | None = None
    driver: str | None = None
    fetchsize: int = Field(1000, ge=1)

    @model_validator(mode="after")
    def _table_or_query(self) -> JdbcConfig:
        problems = []
        if (self.dbtable is None) == (self.query is None):
            problems.append("give exactly one of dbtable or query")
        if _URL_SECRET.search(self.url):
            problems.append("the url carries a password; remove it and name the environment "
                            "variable that holds it in password_env")
        for key in ("user_env", "password_env"):
            name = getattr(self, key)
            if name is not None and not _ENV_NAME.match(name):
                problems.append(f"{key} must be the *name* of an environment variable "
                                f"(letters, digits, underscores), found '{name}'")
        if problems:
            raise ValueError("; ".join(problems))
        return self


#: Reader options that belong in the ``jdbc`` block (lower-cased; Spark's are case-blind).
JDBC_BLOCK_OPTIONS = {"url": "url", "dbtable": "dbtable", "query": "query", "driver": "driver",
                      "fetchsize": "fetchsize", "user": "user_env", "password": "password_env"}
#: Spark's partitioned-read options, which must be given together.
JDBC_PARTITION_OPTIONS = ("partitionColumn", "lowerBound", "upperBound", "numPartitions")
_URL_SECRET = re.compile(r"password\s*=", re.IGNORECASE)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def jdbc_option_problems(jdbc: JdbcConfig, options: dict[str, object]) -> list[str]:
    """Problems in a JDBC source's reader ``options`` (credentials, partitioning)."""
    problems = []
    given = {k.lower(): k for k in options}
    for low, key in given.items():
        if low in JDBC_BLOCK_OPTIONS:
            target = JDBC_BLOCK_OPTIONS[low]
            hint = ("credentials come only from environment variables"
                    if low in ("user", "password") else "it has its own key there")
            problems.append(f"option '{key}' belongs in the jdbc block as `{target}` ({hint})")
    part = [o for o in JDBC_PARTITION_OPTIONS if o.lower() in given]
    if part:
        missing = [o for o in JDBC_PARTITION_OPTIONS if o.lower() not in given]
        if missing:
            problems.append(f"a partitioned JDBC read needs all of {list(JDBC_PARTITION_OPTIONS)}; "
                            f"missing {missing}")
        if jdbc.query is not None and "partitioncolumn" in given:
            problems.append("partitionColumn does not work with jdbc.query; use jdbc.dbtable "
                            "(a table or a parenthesised subquery with an alias)")
    return problems


class OutputConfig(Section):
    """One canonical entity a source feeds.

    Attributes:
        entity: ``person`` | ``order`` | ``order_line`` | ``interaction``.
        where: Optional Spark SQL filter: only these rows feed this entity (e.g. a support
            ticket feeds a person record only when it has a contact).
        mapping: Canonical field -> :data:`FieldMap`. Unmapped canonical fields are null;
            keys (``record_key``, ``order_key``, ``event_key``), ``source``, ``batch_id``
            and the ``*_std`` columns are derived.
        ids: Id kind -> FieldMap; defaults to the source's ``ids``.
        attrs: Extra source fields kept in the ``attrs`` map (name -> FieldMap).
        other_phones: (person) Further phone numbers of the person besides ``phone``
            (a work number, a second mobile; not a household's landline, which would tie
            a family together), each a FieldMap. They are standardised like
            ``phone`` into ``other_phones_e164``, and identity resolution matches any
            number of one record against any number of another.
    """

    entity: Entity
    where: str | None = None
    mapping: dict[str, FieldMap] = Field(default_factory=dict)
    ids: dict[str, FieldMap] | None = None
    attrs: dict[str, FieldMap] = Field(default_factory=dict)
    other_phones: list[FieldMap] = Field(default_factory=list)


class SourceConfig(Section):
    """One source system's export, declared in config.

    Attributes:
        name: Unique name; bronze/<name>, quarantine/<name>.
        namespace: Prefix of the canonical keys (defaults to ``name``). Sources that share
            an id space (an orders file and its order-lines file) share a namespace so
            ``order_key`` matches.
        format: ``csv`` | ``jsonl`` | ``json`` (a JSON document or array per file) |
            ``parquet`` | ``delta`` | ``jdbc``.
        path: A file, a folder or a glob, relative to ``ingest.inputs_root`` unless
            absolute or a URI (``s3a://...``); a Delta table path for ``delta``.
        options: Spark reader options (``header``, ``sep``, ``multiLine`` ...; for
            ``jdbc`` see :class:`JdbcConfig`).
        schema_: Raw field -> Spark DDL type, in file column order. Declare messy fields as
            ``string`` and type them in the mapping, so bad values are quarantined with a
            reason rather than silently nulled. For ``delta``/``jdbc`` a name matches the
            table's column case-insensitively, as unquoted SQL identifiers do (a database
            that upper-cases them still matches ``cust_no``); bronze keeps the declared
            name.
        key: Raw fields that identify a record in this source.
        ids: Strong identifiers carried: id kind -> FieldMap.
        default_country: ISO2 used when a record has no country.
        default_region: Region for phone numbers without a country code (defaults to the
            record's country, then ``default_country``).
        currency_field / currency: Where an amount's currency comes from.
        required: Raw fields that must be present (else reason ``missing_required``).
        on_error: What a mapped value that does not convert (a date that fits no format,
            ``"12,5x"`` for a number) does to its row by default: ``keep`` (the default:
            the field is null and the row carries the problem in ``_problems``) or
            ``quarantine`` (the whole row). A mapping's own ``on_error`` wins. Keys,
            required fields and the fields an entity cannot do without (an order's
            ``ts``) always quarantine.
        on_missing_column: What a delivered file that lacks a declared column does to its
            rows: ``quarantine`` (the default: reason ``schema_mismatch``, replayable once
            the config is fixed) or ``load`` (the column is null in the file's rows; the
            drift is still reported). For a JSON source, lacking a column means no record
            of the file carries the key: choose ``load`` for exports that leave out keys
            whose value is null.
        delivery: ``incremental`` (the default: a file holds new and changed records)
            or ``snapshot`` (each file is a full export: a record missing from the newest
            one leaves current silver, see :mod:`vista.ingest.snapshot`).
        pii: Raw fields holding personal data: masked in quality-gate examples.
        rules: Row rules (reason + reject_if).
        watermark_column: For ``delta``/``jdbc``: a monotonically increasing column used
            for incremental reads (a declared field).
        jdbc: For ``jdbc``: the connection (:class:`JdbcConfig`).
        expectations: Quality expectations for bronze and silver.
        outputs: The canonical entities this source feeds.
    """

    name: str
    namespace: str | None = None
    format: Format
    path: str | None = None
    options: dict[str, str | int | float | bool] = Field(default_factory=dict)
    schema_: dict[str, str] = Field(alias="schema")
    key: list[str] = Field(default_factory=list)
    ids: dict[str, FieldMap] = Field(default_factory=dict)
    default_country: str | None = None
    default_region: str | None = None
    currency_field: str | None = None
    currency: str | None = None
    required: list[str] = Field(default_factory=list)
    on_error: OnError = "keep"
    on_missing_column: Literal["quarantine", "load"] = "quarantine"
    delivery: Literal["incremental", "snapshot"] = "incremental"
    pii: list[str] = Field(default_factory=list)
    rules: list[RowRule] = Field(default_factory=list)
    watermark_column: str | None = None
    jdbc: JdbcConfig | None = None
    expectations: Expectations = Field(default_factory=Expectations)
    outputs: list[OutputConfig] = Field(min_length=1)
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _name_ok(cls, v: str) -> str:
        if not _IDENT.match(v):
            raise ValueError(f"'{v}' must be letters, digits and underscores")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> SourceConfig:
        problems = []
        if self.format == "jdbc" and self.jdbc is None:
            problems.append("format jdbc needs a `jdbc` block (url, dbtable or query)")
        if self.format != "jdbc" and not self.path:
            problems.append(f"format {self.format} needs a `path`")
        if self.format in ("delta", "jdbc") and not self.watermark_column:
            problems.append(f"format {self.format} needs `watermark_column` for incremental reads")
        if self.watermark_column and self.watermark_column not in self.schema_:
            problems.append(f"watermark_column '{self.watermark_column}' is not in the schema")
        if self.format == "jdbc" and self.jdbc is not None:
            problems += jdbc_option_problems(self.jdbc, self.options)
        fields = set(self.schema_)
        for group, names in (("key", self.key), ("required", self.required), ("pii", self.pii)):
            missing = [n for n in names if n not in fields]
            if missing:
                problems.append(f"{group} names fields not in the schema: {missing}")
        if self.currency_field and self.currency_field not in fields:
            problems.append(f"currency_field '{self.currency_field}' is not in the schema")
        if self.currency_field and self.currency:
            problems.append("give currency_field or currency, not both")
        money = {"order", "order_line"} & {o.entity for o in self.outputs}
        if money and not (self.currency_field or self.currency):
            problems.append("an order/order_line source needs currency_field or currency")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def key_namespace(self) -> str:
        return self.namespace or self.name

    @property
    def file_based(self) -> bool:
        return self.format in ("csv", "jsonl", "json", "parquet")


class IngestConfig(Section):
    """The ``ingest`` section: where raw exports live and the declared sources.

    Attributes:
        inputs_root: Directory/URI that source paths are relative to.
        reporting_currency: The currency ``amount_reporting`` is expressed in.
        currency_rates: Currency -> rate to the reporting currency. A currency not listed
            here is quarantined with reason ``unknown_currency``.
        max_files_per_trigger: Cap on files per micro-batch (None: all new files at once).
        on_config_change: What a run does when a source's mapping or checks changed since
            its silver rows were built: ``rebuild`` (replay the quarantine and rebuild
            silver from bronze, as ``--full`` does) or ``stop`` (fail, saying to run
            ``--full``). Silver is never silently stale.
        sources: The declared sources.
    """

    inputs_root: str = "data/raw"
    reporting_currency: str = "EUR"
    currency_rates: dict[str, float] = Field(default_factory=lambda: {"EUR": 1.0})
    max_files_per_trigger: int | None = Field(None, ge=1)
    on_config_change: Literal["rebuild", "stop"] = "rebuild"
    sources: list[SourceConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> IngestConfig:
        names = [s.name for s in self.sources]
        dups = sorted({n for n in names if names.count(n) > 1})
        if dups:
            raise ValueError(f"source names must be unique; repeated: {dups}")
        if self.reporting_currency not in self.currency_rates:
            raise ValueError(
                f"currency_rates must include the reporting currency {self.reporting_currency}"
            )
        return self

    def source(self, name: str) -> SourceConfig:
        """The source called ``name``."""
        for src in self.sources:
            if src.name == name:
                return src
        raise KeyError(name)
