"""End to end on the demo lake: no PII in side outputs; an erasure that really erases."""

from __future__ import annotations

import shutil
import sqlite3
import unicodedata
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

pytestmark = pytest.mark.e2e

_FORMATS = {"csv": "csv", "jsonl": "json", "json": "json", "parquet": "parquet"}


def _text(path: Path) -> str:
    """A file's content as lower-case text; Parquet decoded (its pages are compressed)."""
    if path.suffix == ".parquet":
        try:
            return str(pq.read_table(path).to_pylist()).lower()
        except Exception:  # noqa: BLE001 - not a readable Parquet file: scan its bytes
            pass
    return path.read_bytes().decode("utf-8", errors="ignore").lower()


def _holding(roots: list[Path], needles: list[str]) -> dict[str, list[str]]:
    """``{file: [needles found]}`` for every file under ``roots``."""
    wanted = [n.lower() for n in needles if n]
    found: dict[str, list[str]] = {}
    for root in roots:
        for path in (p for p in root.rglob("*") if p.is_file()):
            text = _text(path)
            hits = [n for n in wanted if n in text]
            if hits:
                found[str(path)] = hits
    return found


def test_demo_side_outputs_hold_no_email_or_phone(demo_run, spark):
    """Manifests, Data Docs, MLflow (database and artifacts) and the demo's output."""
    assert demo_run.code == 0  # a demo that stopped early writes less to scan
    people = demo_run.lake.read("silver/person_records").select(
        F.explode(F.array("email_std", "phone_e164", "phone")).alias("v")).where(
        F.length(F.trim("v")) >= 6).distinct()
    values = sorted({r[0].strip() for r in people.collect()})  # 40 customers: small
    assert len(values) > 50
    roots = [demo_run.root / "lake" / "_manifests", demo_run.root / "lake" / "_quality",
             demo_run.root / "mlruns"]
    assert _holding([r for r in roots if r.exists()], values) == {}
    db = sqlite3.connect(demo_run.root / "mlflow.db")
    dump = "\n".join(db.iterdump()).lower()
    assert [v for v in values if v.lower() in dump] == []
    # What the terminal showed, and every log record (not only the progress lines shown).
    assert demo_run.logs and any("vista.pipeline" in line for line in demo_run.logs)
    for said in (demo_run.stdout, demo_run.stderr, "\n".join(demo_run.logs)):
        assert [v for v in values if v.lower() in said.lower()] == []


def _pick_person(spark, demo_run):
    """A sample person with an e-mail, phone and surname nobody else in the sample has."""
    truth = demo_run.sample / "ground_truth"
    persons = spark.read.parquet(str(truth / "persons.parquet"))
    records = spark.read.parquet(str(truth / "record_person.parquet"))
    silver = demo_run.lake.read("silver/person_records")
    owned = silver.join(records, on=["source", "source_record_id"], how="inner")
    phones = owned.where(F.col("phone_e164").isNotNull()).groupBy("phone_e164").agg(
        F.countDistinct("person_id").alias("n"))
    emails = owned.where(F.col("email_std").isNotNull()).groupBy("email_std").agg(
        F.countDistinct("person_id").alias("n"))
    surnames = persons.groupBy("last_name").count()
    good = (owned.join(phones.where("n = 1").select("phone_e164"), on="phone_e164", how="left_semi")
            .join(emails.where("n = 1").select("email_std"), on="email_std", how="left_semi")
            .join(persons.where(~F.col("is_twin") & ~F.col("is_namesake")
                                & ~F.col("uses_household_email")), on="person_id", how="inner")
            .join(surnames.where("count = 1 AND last_name LIKE '% %'").select("last_name"),
                  on="last_name", how="left_semi"))
    # Every number and address of the person is theirs alone (no household landline).
    shared = (owned.join(phones.where("n > 1").select("phone_e164"), on="phone_e164",
                         how="left_semi")
              .unionByName(owned.join(emails.where("n > 1").select("email_std"), on="email_std",
                                      how="left_semi")).select("person_id"))
    good = good.join(shared, on="person_id", how="left_anti")
    pid = good.groupBy("person_id").count().orderBy(F.desc("count"), "person_id").first()[0]
    mine = owned.where(F.col("person_id") == pid)
    rows = mine.select("email_std", "phone_e164", "phone", "last_name").collect()
    email = next(r["email_std"] for r in rows if r["email_std"])
    surname = persons.where(F.col("person_id") == pid).first()["last_name"]
    folded = "".join(c for c in unicodedata.normalize("NFKD", surname)
                     if not unicodedata.combining(c))
    needles = {email, surname, folded} | {r["phone_e164"] for r in rows if r["phone_e164"]}
    needles |= {r["phone"].strip() for r in rows if r["phone"] and len(r["phone"].strip()) >= 8}
    sources = sorted({r[0] for r in mine.select("source").distinct().collect()})
    return email, sorted(needles), sources


@pytest.mark.slow  # forget, purge and ingest again on a copy of the demo lake: make test-slow
def test_forget_then_purge_leaves_no_trace_and_reingest_keeps_them_out(demo_run, spark,
                                                                       tmp_path):
    from vista.cli import main
    from vista.config import load_config
    from vista.ingest.bronze import input_path, read_schema_ddl, reader_options, write_batch
    from vista.lake import Lake

    email, needles, sources = _pick_person(spark, demo_run)
    root = tmp_path / "copy"
    for part in ("lake", "mlruns", "checkpoints"):
        if (demo_run.root / part).exists():
            shutil.copytree(demo_run.root / part, root / part)
    shutil.copy(demo_run.root / "mlflow.db", root / "mlflow.db")
    # An export already written to the e-mail platform, holding the person and another.
    export = root / "exports" / "email_platform" / "20240101T000000Z-000000"
    export.mkdir(parents=True)
    (export / "part-00000.csv").write_text(
        f"email,lifecycle_stage,change\n{email},active,add\nsomeone.else@example.com,new,add\n")
    conf = root / "copy.yaml"
    conf.write_text(
        f"include: [{demo_run.conf}]\n"
        f"spark: {{checkpoint_dir: {root / 'checkpoints'}}}\n"
        f"lake: {{root: {root / 'lake'}}}\n"
        f"mlflow: {{tracking_uri: 'sqlite:///{root / 'mlflow.db'}', "
        f"artifact_location: {root / 'mlruns'}}}\n"
        f"activation: {{exports_root: {root / 'exports'}}}\n", encoding="utf-8")
    everything = [root / "lake", root / "mlruns", root / "checkpoints", root / "exports"]
    assert _holding([root / "lake"], [email]) != {}  # the person is there to begin with

    assert main(["forget", "--email", email.upper(), "--purge-history", "--yes",
                 "--conf", str(conf)]) == 0

    assert _holding(everything, needles) == {}
    assert export.is_dir()  # rewritten in place, without the person
    left = spark.read.option("header", "true").csv(str(export)).collect()
    assert [r["email"] for r in left] == ["someone.else@example.com"]
    cfg = load_config(conf)
    lake = Lake.from_config(spark, cfg.lake)
    audit = lake.read("_privacy/audit").orderBy("finished_at").collect()
    assert [(r["action"], r["status"]) for r in audit] == [("forget", "done"), ("purge", "done")]
    assert audit[0]["rows_deleted"] > 0 and audit[0]["found"]

    # The same source files delivered again: everyone comes back but the erased person.
    before = {s: lake.read(f"bronze/{s}").count() for s in sources}
    for name in sources:
        src = cfg.ingest.source(name)
        rows = (spark.read.format(_FORMATS[src.format]).schema(read_schema_ddl(src))
                .options(**reader_options(src, cfg.ingest)).load(input_path(src, cfg.ingest))
                .select("*", F.col("_metadata.file_path").alias("_file"),
                        F.col("_metadata.file_modification_time").alias("_file_modified_at")))
        write_batch(lake, src, cfg.ingest, rows, 10_000)
    assert all(lake.read(f"bronze/{s}").count() > before[s] for s in sources)
    assert _holding([root / "lake"], needles) == {}

    # The person returns with consent: their suppression is lifted, and audited.
    assert main(["unsuppress", "--email", email, "--conf", str(conf)]) == 0
    assert lake.read("_privacy/suppression").count() == 0
    assert lake.read("_privacy/audit").orderBy("finished_at").collect()[-1]["action"] == "unsuppress"
