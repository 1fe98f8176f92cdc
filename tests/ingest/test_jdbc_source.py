"""A CRM table read over JDBC: a real embedded Apache Derby database, no mocks.

pyspark ships Derby's jars, so the driver is on the test session's classpath. Derby
upper-cases unquoted identifiers (``CUST_NO``), as Oracle and DB2 do; the source declares
the lower-case names a user would write and they still match.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import pytest
from ingest_helpers import assert_rows, make_ctx
from pyspark.sql import functions as F

from vista.errors import ConfigError, SourceError
from vista.ingest import load_ingest_config
from vista.ingest.config import IngestConfig
from vista.ingest.stage import run

DRIVER = "org.apache.derby.jdbc.EmbeddedDriver"
PASSWORD = "s3cret-not-logged"

# Exactly what a user would put in their config; the options make the read partitioned
# (two JDBC queries by ranges of updated_at).
SOURCES_YAML = """
ingest:
  inputs_root: {root}
  sources:
    - name: crm
      format: jdbc
      jdbc:
        url: "jdbc:derby:{db}"
        dbtable: crm.contacts
        user_env: CRM_USER
        password_env: CRM_PASSWORD
        driver: {driver}
        fetchsize: 500
      options:
        partitionColumn: updated_at
        lowerBound: "2024-01-01 00:00:00"
        upperBound: "2024-12-31 00:00:00"
        numPartitions: 2
        queryTimeout: 30
      schema:
        cust_no: string
        given_name: string
        family_name: string
        mail: string
        phone: string
        country: string
        mail_opt_in: int
        updated_at: timestamp
      key: [cust_no]
      watermark_column: updated_at
      ids: {{crm_id: cust_no}}
      default_country: ES
      pii: [given_name, family_name, mail, phone]
      outputs:
        - entity: person
          mapping:
            source_record_id: cust_no
            first_name: given_name
            last_name: family_name
            email: mail
            phone: phone
            country: country
            consent_email: mail_opt_in
            observed_at: updated_at
"""

DDL = [
    "CREATE SCHEMA crm",
    """CREATE TABLE crm.contacts (
         cust_no VARCHAR(12), given_name VARCHAR(40), family_name VARCHAR(40),
         mail VARCHAR(80), phone VARCHAR(20), country CHAR(2), mail_opt_in SMALLINT,
         updated_at TIMESTAMP NOT NULL)""",
]
INSERT = "INSERT INTO crm.contacts VALUES (?, ?, ?, ?, ?, ?, ?, ?)"


class Derby:
    """An embedded Derby database in the test session's JVM, written through java.sql."""

    def __init__(self, spark, path: Path) -> None:
        self.jvm = spark.sparkContext._jvm
        self.path = path
        self.conn = self.jvm.java.sql.DriverManager.getConnection(f"jdbc:derby:{path};create=true")

    def execute(self, sql: str, *params) -> None:
        stmt = self.conn.prepareStatement(sql)
        for i, value in enumerate(params, start=1):
            if value is None:
                stmt.setNull(i, self.jvm.java.sql.Types.VARCHAR)
            elif isinstance(value, dt.datetime):
                stmt.setTimestamp(i, self.jvm.java.sql.Timestamp.valueOf(str(value)))
            elif isinstance(value, int):
                stmt.setInt(i, value)
            elif isinstance(value, str):
                stmt.setString(i, value)
            else:  # a JVM object, e.g. from timestamp()
                stmt.setObject(i, value)
        stmt.executeUpdate()
        stmt.close()

    def timestamp(self, text: str):
        """A ``java.sql.Timestamp``: nanoseconds, finer than a Python datetime holds."""
        return self.jvm.java.sql.Timestamp.valueOf(text)

    def close(self) -> None:
        self.conn.close()
        try:  # Derby reports a clean shutdown of one database as SQLState 08006
            self.jvm.java.sql.DriverManager.getConnection(f"jdbc:derby:{self.path};shutdown=true")
        except Exception as exc:
            if "08006" not in str(exc):
                raise


@pytest.fixture()
def crm(spark, tmp_path: Path):
    db = Derby(spark, tmp_path / "crm_db")
    for sql in DDL:
        db.execute(sql)
    yield db
    db.close()


def _config(inputs: Path, db: Derby, driver: str = DRIVER) -> IngestConfig:
    conf = inputs.parent / "crm.yaml"
    conf.write_text(SOURCES_YAML.format(root=inputs, db=db.path, driver=driver), encoding="utf-8")
    return load_ingest_config(conf)


def _bronze(lake):
    return lake.read("bronze/crm").select(
        "cust_no", "family_name", "mail", "mail_opt_in", "updated_at", "_source", "_file",
        "_batch_id")


def _silver(lake):
    return lake.read("silver/person_records").select(
        "record_key", "source_record_id", "first_name_std", "last_name_std", "email_std",
        "phone_e164", "country", "consent_email", "observed_at", F.to_json("ids").alias("ids"),
        "batch_id")


def test_jdbc_crm_table_is_ingested_incrementally_by_its_watermark(
        spark, inputs, tmp_lake, crm, surnames, monkeypatch, caplog):
    monkeypatch.setenv("CRM_USER", "vista_reader")
    monkeypatch.setenv("CRM_PASSWORD", PASSWORD)
    caplog.set_level(logging.DEBUG, logger="vista")
    s1, s2, s3, s4 = surnames
    t1, t2, t3 = dt.datetime(2024, 2, 1, 9), dt.datetime(2024, 2, 3, 18, 30), dt.datetime(2024, 3, 1)
    crm.execute(INSERT, "C1", "José", s1, " Jose@Example.COM ", "612 345 678", "ES", 1, t1)
    crm.execute(INSERT, "C2", "Ana", s2, "ana@example.com", "+351 912 345 678", "PT", 0, t2)
    crm.execute(INSERT, None, "Luis", s3, "luis@example.com", None, "ES", 1, t3)  # no key
    cfg = _config(inputs, crm)

    ctx = make_ctx(spark, tmp_lake, cfg)
    first = run(ctx)
    lake = ctx.lake
    assert (first["rows_in"], first["bronze"], first["quarantined"]) == (3, 2, 1)
    assert_rows(_bronze(lake), [
        ("C1", s1, " Jose@Example.COM ", 1, t1, "crm", "jdbc:crm.contacts", 0),
        ("C2", s2, "ana@example.com", 0, t2, "crm", "jdbc:crm.contacts", 0),
    ])
    assert_rows(
        lake.read("quarantine/crm").select("_source", "_file", "_batch_id", "reason", "reasons",
                                           "details", "raw"),
        [("crm", "jdbc:crm.contacts", 0, "missing_key", ["missing_key"], ["missing_key:cust_no"],
          json.dumps({"given_name": "Luis", "family_name": s3, "mail": "luis@example.com",
                      "country": "ES", "mail_opt_in": 1,
                      "updated_at": "2024-03-01T00:00:00.000Z"}, separators=(",", ":")))])
    c1 = ("crm:C1", "C1", "jose", s1.lower(), "jose@example.com", "+34612345678", "ES", True, t1,
          '{"crm_id":"C1"}', "crm:0")
    assert_rows(_silver(lake), [
        c1,
        ("crm:C2", "C2", "ana", s2.lower(), "ana@example.com", "+351912345678", "PT", False, t2,
         '{"crm_id":"C2"}', "crm:0"),
    ])

    bronze_version = lake.version("bronze/crm")
    second = run(make_ctx(spark, tmp_lake, cfg))
    assert (second["rows_in"], second["bronze"], second["quarantined"]) == (0, 0, 0)
    assert lake.version("bronze/crm") == bronze_version

    # The update is stamped with nanoseconds (as SQL Server datetime2 or Oracle TIMESTAMP(9)
    # can be); Spark reads it truncated to t5, and the row holding the maximum must not be
    # left out of the batch by that truncation.
    t4, t5 = dt.datetime(2024, 4, 2, 8, 15), dt.datetime(2024, 4, 2, 8, 20)
    crm.execute(INSERT, "C4", "Marta", s4, "marta@example.com", "699 000 111", None, 1, t4)
    crm.execute("UPDATE crm.contacts SET mail = ?, updated_at = ? WHERE cust_no = ?",
                "ana.new@example.com", crm.timestamp("2024-04-02 08:20:00.000000500"), "C2")
    third = run(make_ctx(spark, tmp_lake, cfg))
    assert (third["rows_in"], third["bronze"], third["quarantined"]) == (2, 2, 0)
    assert_rows(_bronze(lake), [
        ("C1", s1, " Jose@Example.COM ", 1, t1, "crm", "jdbc:crm.contacts", 0),
        ("C2", s2, "ana@example.com", 0, t2, "crm", "jdbc:crm.contacts", 0),
        ("C4", s4, "marta@example.com", 1, t4, "crm", "jdbc:crm.contacts", 1),
        ("C2", s2, "ana.new@example.com", 0, t5, "crm", "jdbc:crm.contacts", 1),
    ])
    assert_rows(lake.read("_state/ingest_offsets"), [
        ("crm", 0, None, "2024-03-01 00:00:00"),
        ("crm", 1, "2024-03-01 00:00:00", "2024-04-02 08:20:00"),
    ])
    assert_rows(_silver(lake), [
        c1,
        ("crm:C2", "C2", "ana", s2.lower(), "ana.new@example.com", "+351912345678", "PT", False,
         t5, '{"crm_id":"C2"}', "crm:1"),
        ("crm:C4", "C4", "marta", s4.lower(), "marta@example.com", "+34699000111", "ES", True, t4,
         '{"crm_id":"C4"}', "crm:1"),
    ])
    logged = caplog.text + json.dumps(ctx.manifest.as_dict(), default=str)
    assert "ingest crm batch 1" in logged and PASSWORD not in logged


def test_jdbc_errors_name_the_fix_without_the_secret(spark, inputs, tmp_lake, crm, monkeypatch):
    cfg = _config(inputs, crm, driver="org.example.NoSuchDriver")
    monkeypatch.delenv("CRM_USER", raising=False)
    with pytest.raises(SourceError, match="environment variable CRM_USER"):
        run(make_ctx(spark, tmp_lake, cfg))

    monkeypatch.setenv("CRM_USER", "vista_reader")
    monkeypatch.setenv("CRM_PASSWORD", PASSWORD)
    with pytest.raises(SourceError, match=r"NoSuchDriver.*--jars") as err:
        run(make_ctx(spark, tmp_lake, cfg))
    assert PASSWORD not in str(err.value)


def _jdbc_source(**changes) -> dict:
    src = {"name": "crm", "format": "jdbc", "watermark_column": "updated_at",
           "jdbc": {"url": "jdbc:postgresql://db:5432/crm", "dbtable": "crm.customers",
                    "user_env": "CRM_USER", "password_env": "CRM_PASSWORD"},
           "schema": {"cust_no": "string", "updated_at": "timestamp"},
           "outputs": [{"entity": "person", "mapping": {"source_record_id": "cust_no"}}]}
    for key, value in changes.items():
        src[key] = {**src[key], **value} if isinstance(value, dict) and key == "jdbc" else value
    return src


@pytest.mark.parametrize(("changes", "problem"), [
    ({"options": {"password": "x"}}, "option 'password' belongs in the jdbc block as `password_env`"),
    ({"options": {"User": "x"}}, "option 'User' belongs in the jdbc block as `user_env`"),
    ({"jdbc": {"url": "jdbc:postgresql://db/crm?user=a&password=b"}}, "the url carries a password"),
    ({"jdbc": {"password_env": "$CRM_PASSWORD"}}, "must be the *name* of an environment variable"),
    ({"options": {"partitionColumn": "updated_at", "numPartitions": 4}},
     "missing ['lowerBound', 'upperBound']"),
    ({"jdbc": {"dbtable": None, "query": "SELECT * FROM crm.customers"},
      "options": {"partitionColumn": "updated_at", "lowerBound": "2024-01-01",
                  "upperBound": "2025-01-01", "numPartitions": 4}},
     "partitionColumn does not work with jdbc.query"),
    ({"watermark_column": "changed_at"}, "watermark_column 'changed_at' is not in the schema"),
])
def test_jdbc_source_config_problems_are_reported(tmp_path, changes, problem):
    conf = tmp_path / "bad.yaml"
    conf.write_text(json.dumps({"ingest": {"sources": [_jdbc_source(**changes)]}}), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_ingest_config(conf)
    assert problem in str(err.value)


def test_readme_jdbc_example_is_valid_config(tmp_path):
    from vista.ingest.stage import validate_sources

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("A JDBC source, here"):]
    start = section.index("```yaml") + len("```yaml")
    entry = section[start:section.index("```", start)].strip("\n")
    conf = tmp_path / "jdbc.yaml"
    conf.write_text("ingest:\n  sources:\n" + "\n".join(f"    {line}" for line in entry.splitlines()),
                    encoding="utf-8")
    cfg = load_ingest_config(conf)
    validate_sources(cfg)
    (src,) = cfg.sources
    assert (src.format, src.jdbc.password_env, src.watermark_column) == (
        "jdbc", "CRM_PASSWORD", "updated_at")
