"""The README's PostgreSQL source against a real PostgreSQL server, run as a user runs it.

The test starts a throwaway server from Debian's ``postgresql`` package (initdb and
pg_ctl in a temp folder, loopback only, password authentication over TCP), then runs
``vista run --stages ingest`` in a subprocess: the config is the README's example with
the URL pointed at that server, and the driver comes from Maven Central through
``spark.packages`` (a launch-time setting the shared test session cannot take). The
bronze and silver tables are read back and compared whole; the password must appear in
no output, manifest or file of the run.

Skipped only off CI when no PostgreSQL server is installed (``.ci/run`` installs it and
sets ``CI``, so CI always runs it).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from ingest_helpers import assert_rows
from pyspark.sql import functions as F

from local_servers import free_port
from vista.lake import Lake

pytestmark = pytest.mark.slow  # two `vista run` JVMs, a JDBC driver from Maven Central

REPO = Path(__file__).resolve().parents[2]
PG_DRIVER = "org.postgresql:postgresql:42.7.4"
ADMIN = "vista_admin"
READER = "vista_reader"


def _postgres_bin() -> Path | None:
    """The server's programs: on PATH, or where Debian's package puts them."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                       key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    return installed[-1].parent if installed else None


class Postgres:
    """A PostgreSQL server of its own in a temp folder, reachable on 127.0.0.1 only.

    PostgreSQL refuses to run as root: when the tests run as root, the server's commands
    run as the ``postgres`` OS user the Debian package creates.
    """

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.home = Path(tempfile.mkdtemp(prefix="vista-pg-"))
        self.port = free_port()
        self.as_server_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.home, user="postgres")
            self.as_server_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, program: str, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run([*self.as_server_user, str(self.bindir / program), *args],
                              input=stdin, capture_output=True, text=True, timeout=120,
                              cwd=self.home)
        assert done.returncode == 0, f"{program} failed: {done.stdout}\n{done.stderr}"
        return done.stdout

    def start(self) -> None:
        self._run("initdb", "-D", str(self.home / "data"), "-U", ADMIN, "-E", "UTF8",
                  "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=scram-sha-256")
        self._run("pg_ctl", "-D", str(self.home / "data"), "-l", str(self.home / "server.log"),
                  "-w", "-t", "60", "-o",
                  f"-c listen_addresses=127.0.0.1 -p {self.port} "
                  f"-c unix_socket_directories={self.home} -c fsync=off", "start")

    def sql(self, database: str, text: str) -> str:
        """Run ``text`` as the admin over the server's unix socket (trusted locally)."""
        return self._run("psql", "-h", str(self.home), "-p", str(self.port), "-U", ADMIN,
                         "-d", database, "-v", "ON_ERROR_STOP=1", "-q", "-X", "-f", "-",
                         stdin=text)

    def stop(self) -> None:
        if (self.home / "data" / "postmaster.pid").exists():
            subprocess.run([*self.as_server_user, str(self.bindir / "pg_ctl"), "-D",
                            str(self.home / "data"), "-m", "immediate", "-w", "stop"],
                           capture_output=True, timeout=60, check=False)
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture()
def postgres() -> Iterator[Postgres]:
    bindir = _postgres_bin()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("no PostgreSQL server on CI: .ci/run must apt-get install postgresql")
        pytest.skip("no PostgreSQL server installed (apt-get install postgresql)")
    server = Postgres(bindir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def _readme_source() -> dict:
    """The README's PostgreSQL source entry, exactly as printed there."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("A JDBC source, here"):]
    start = section.index("```yaml") + len("```yaml")
    (entry,) = yaml.safe_load(section[start:section.index("```", start)])
    return entry


def _write_config(run_dir: Path, port: int) -> Path:
    source = _readme_source()
    # Only the server's address differs from the README: host and port of this test's.
    source["jdbc"]["url"] = source["jdbc"]["url"].replace("crm-db:5432", f"127.0.0.1:{port}")
    conf = {
        "spark": {"master": "local[2]", "driver_memory": "1g", "shuffle_partitions": 1,
                  "checkpoint_dir": str(run_dir / "checkpoints"), "packages": [PG_DRIVER],
                  "ivy_dir": str(REPO / ".vista" / "ivy")},
        "lake": {"root": str(run_dir / "lake")},
        "mlflow": {"tracking_uri": f"sqlite:///{run_dir / 'mlflow.db'}",
                   "artifact_location": str(run_dir / "mlruns")},
        "run": {"stages": ["ingest"]},
        "ingest": {"inputs_root": str(run_dir / "raw"), "sources": [source]},
    }
    path = run_dir / "conf.yaml"
    path.write_text(yaml.safe_dump(conf, allow_unicode=True), encoding="utf-8")
    return path


def _vista_run(conf: Path, password: str) -> str:
    """``vista run`` in its own process, credentials in the environment; its output."""
    env = {**os.environ, "CRM_USER": READER, "CRM_PASSWORD": password,
           "PYSPARK_PYTHON": sys.executable}
    done = subprocess.run([sys.executable, "-m", "vista", "--verbose", "run", "--conf", str(conf)],
                          cwd=conf.parent, env=env, capture_output=True, text=True, timeout=900)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    return output


T1, T2, T3 = dt.datetime(2024, 2, 1, 9), dt.datetime(2024, 2, 3, 18, 30), dt.datetime(2024, 3, 1)
T4, T5 = dt.datetime(2024, 4, 2, 8, 15), dt.datetime(2024, 4, 2, 8, 20)


def _schema_sql(s1: str, s2: str, s3: str) -> str:
    """The CRM table: an accented first name, a NULL e-mail, a row without its key."""
    return textwrap.dedent(f"""
        CREATE SCHEMA crm;
        CREATE TABLE crm.customers (
            customer_id bigint, first_name varchar(40), last_name varchar(40),
            email varchar(80), phone varchar(20), updated_at timestamp NOT NULL);
        GRANT USAGE ON SCHEMA crm TO {READER};
        GRANT SELECT ON crm.customers TO {READER};
        INSERT INTO crm.customers VALUES
            (1, 'José', '{s1}', ' Jose@Example.COM ', '+34 612 345 678', '{T1}'),
            (2, 'Begoña', '{s2}', NULL, '+34 699 000 111', '{T2}'),
            (NULL, 'Luis', '{s3}', 'luis@example.com', NULL, '{T3}');
    """)


def _bronze(lake: Lake):
    return lake.read("bronze/crm").select(
        "customer_id", "first_name", "last_name", "email", "phone", "updated_at", "_file",
        "_batch_id")


def _silver(lake: Lake):
    return lake.read("silver/person_records").select(
        "record_key", "source_record_id", "first_name_std", "last_name_std", "email_std",
        "phone_e164", "observed_at", F.to_json("ids").alias("ids"), "batch_id")


def test_readme_postgres_source_ingests_from_a_real_server(
        spark, postgres: Postgres, surnames: list[str]) -> None:
    s1, s2, s3, s4 = surnames
    password = secrets.token_urlsafe(18)
    postgres.sql("postgres", f"CREATE ROLE {READER} LOGIN PASSWORD '{password}';\n"
                             f"CREATE DATABASE crm OWNER {ADMIN} ENCODING 'UTF8';")
    postgres.sql("crm", _schema_sql(s1, s2, s3))
    run_dir = Path(tempfile.mkdtemp(prefix="vista-pg-run-"))
    try:
        conf = _write_config(run_dir, postgres.port)
        first = _vista_run(conf, password)
        lake = Lake(spark, str(run_dir / "lake"))
        origin = "jdbc:crm.customers"
        assert_rows(_bronze(lake), [
            (1, "José", s1, " Jose@Example.COM ", "+34 612 345 678", T1, origin, 0),
            (2, "Begoña", s2, None, "+34 699 000 111", T2, origin, 0),
        ])
        assert_rows(lake.read("quarantine/crm").select("_batch_id", "reason"),
                    [(0, "missing_key")])
        jose = ("crm:1", "1", "jose", s1.lower(), "jose@example.com", "+34612345678", T1,
                '{"crm_id":"1"}', "crm:0")
        assert_rows(_silver(lake), [
            jose,
            ("crm:2", "2", "begona", s2.lower(), None, "+34699000111", T2, '{"crm_id":"2"}',
             "crm:0"),
        ])

        # A changed row and a new one: the next run reads only what moved past the
        # watermark (MAX(updated_at) asked of PostgreSQL).
        postgres.sql("crm", textwrap.dedent(f"""
            UPDATE crm.customers SET email = 'bego@example.com', updated_at = '{T5}'
             WHERE customer_id = 2;
            INSERT INTO crm.customers VALUES
                (4, 'Marta', '{s4}', 'marta@example.com', '+34 600 111 222', '{T4}');
        """))
        second = _vista_run(conf, password)
        assert_rows(_bronze(lake), [
            (1, "José", s1, " Jose@Example.COM ", "+34 612 345 678", T1, origin, 0),
            (2, "Begoña", s2, None, "+34 699 000 111", T2, origin, 0),
            (2, "Begoña", s2, "bego@example.com", "+34 699 000 111", T5, origin, 1),
            (4, "Marta", s4, "marta@example.com", "+34 600 111 222", T4, origin, 1),
        ])
        assert_rows(_silver(lake), [
            jose,
            ("crm:2", "2", "begona", s2.lower(), "bego@example.com", "+34699000111", T5,
             '{"crm_id":"2"}', "crm:1"),
            ("crm:4", "4", "marta", s4.lower(), "marta@example.com", "+34600111222", T4,
             '{"crm_id":"4"}', "crm:1"),
        ])
        assert "ingest crm batch 1" in second

        leaked = [str(p.relative_to(run_dir)) for p in run_dir.rglob("*")
                  if p.is_file() and password.encode() in p.read_bytes()]
        assert leaked == [] and password not in first + second
        assert sorted(p.name for p in (run_dir / "lake" / "_manifests").glob("*.json"))
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
