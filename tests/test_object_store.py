"""The whole pipeline with its lake on an S3-compatible server, on each Delta engine.

moto's S3 server runs on 127.0.0.1 as a subprocess; ``vista demo`` runs every stage
(ingest, identity, profile, segments, activation) in a subprocess of its own with the lake
root, Spark's checkpoints, the run manifests, the quality Data Docs, MLflow's artifact root
and the exports' root all ``s3a://`` locations in one bucket (the sample's source files
and MLflow's tracking database stay local, in the test's folder, as do the process's
temporary files: nothing else may be written to the local disk). Spark reaches the bucket through Hadoop's S3 connector, fetched from
Maven Central by Spark itself (``spark.packages``, into the repository's ``.vista/ivy``);
delta-rs through its own object store. The server is named once, in the environment
(``AWS_ENDPOINT_URL``), as are the credentials; the config holds neither.

The outputs are read back from the bucket without Spark: the Delta tables through
delta-rs, the manifest, Data Docs, MLflow's artifacts and the export files as objects;
``vista runs`` lists the run from the object store.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from local_servers import free_port, stop_process_group

pytestmark = pytest.mark.slow  # a moto server, a whole run and `vista runs`, per engine

REPO = Path(__file__).resolve().parents[1]
BUCKET = "vista-test-lake"
STAGES = ["ingest", "identity", "profile", "segments", "activation"]
# Hadoop's S3 connector of the Hadoop inside the pinned PySpark (4.0.1 ships 3.4.1)
HADOOP_AWS = "org.apache.hadoop:hadoop-aws:3.4.1"


@dataclass(frozen=True)
class S3Server:
    """moto's S3 server on loopback and the environment a client needs to reach it."""

    endpoint: str
    env: dict[str, str]

    def client(self):  # -> botocore S3 client
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint,
                            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
                            region_name=self.env["AWS_REGION"])

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=BUCKET,
                                                                          Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def data(self, key: str) -> bytes:
        return self.client().get_object(Bucket=BUCKET, Key=key)["Body"].read()

    def text(self, key: str) -> str:
        return self.data(key).decode("utf-8")


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """``python -m moto.server`` on a free port with one bucket; stopped whatever happens."""
    pytest.importorskip("moto.server", reason="moto[server] is in the dev extra")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                                 "-p", str(port)], stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2).close()
                break
            except OSError:
                assert proc.poll() is None, f"moto exited:\n{log.read_text()[-3000:]}"
                assert time.monotonic() < deadline, f"moto not ready:\n{log.read_text()[-3000:]}"
                time.sleep(0.3)
        # Made-up credentials: moto accepts any; they reach vista only through the environment.
        server = S3Server(endpoint, {"AWS_ACCESS_KEY_ID": "vista-test-key",
                                     "AWS_SECRET_ACCESS_KEY": "vista-test-secret",
                                     "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint})
        server.client().create_bucket(Bucket=BUCKET)
        yield server
    finally:
        stop_process_group(proc, timeout=20)


def _config(work: Path, engine: str) -> Path:
    """A config with every location vista writes in the bucket, under ``engine/``."""
    base = f"s3a://{BUCKET}/{engine}"
    conf = work / "s3.yaml"
    conf.write_text(
        f"include: [{REPO / 'conf' / 'local.yaml'}]\n"
        "spark:\n"
        "  master: local[2]\n"
        "  driver_memory: 2g\n"
        "  shuffle_partitions: 1\n"
        f"  checkpoint_dir: {base}/checkpoints\n"
        f"  delta: {str(engine == 'delta-spark').lower()}\n"
        f"  packages: ['{HADOOP_AWS}']\n"
        f"  ivy_dir: {REPO / '.vista' / 'ivy'}\n"
        "  conf:\n"
        f"    spark.sql.warehouse.dir: {work / 'warehouse'}\n"
        # the JVM's temporary files (Spark's block manager, shuffle) in the test's folder
        f"    spark.driver.extraJavaOptions: -Djava.io.tmpdir={work / 'tmp'}\n"
        # moto, like MinIO, serves buckets as paths, not host names
        "    spark.hadoop.fs.s3a.path.style.access: 'true'\n"
        "    spark.hadoop.fs.s3a.aws.credentials.provider: "
        "software.amazon.awssdk.auth.credentials.EnvironmentVariableCredentialsProvider\n"
        f"lake: {{root: {base}/lake, engine: {engine}}}\n"
        f"mlflow: {{tracking_uri: 'sqlite:///{work / 'mlflow.db'}', "
        f"artifact_location: {base}/mlruns, experiment: vista-{engine}}}\n"
        f"ingest: {{inputs_root: {work / 'sample'}}}\n"
        f"activation: {{exports_root: {base}/exports}}\n"
        "demo: {customers: 40, seed: 3, months: 12, bad_row_rate: 0.04}\n"
        f"run: {{stages: [{', '.join(STAGES)}]}}\n",
        encoding="utf-8")
    return conf


def _vista(args: list[str], work: Path, server: S3Server) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "VISTA__", "PYSPARK_DRIVER", "MLFLOW_"))}
    env.update(server.env)
    # Python's temporary files and anything written under the home folder (caches) stay in
    # the test's folder too, where the test can see them.
    for name in ("tmp", "home"):
        (work / name).mkdir(exist_ok=True)
    env.update(TMPDIR=str(work / "tmp"), HOME=str(work / "home"))
    env["PYSPARK_PYTHON"] = sys.executable
    return subprocess.run([sys.executable, "-m", "vista", *args], cwd=work, env=env,
                          capture_output=True, text=True, timeout=1200)


def _delta_table(server: S3Server, key: str):  # -> pyarrow.Table
    from deltalake import DeltaTable

    options = {"AWS_ENDPOINT_URL": server.endpoint, "AWS_ALLOW_HTTP": "true",
               "AWS_ACCESS_KEY_ID": server.env["AWS_ACCESS_KEY_ID"],
               "AWS_SECRET_ACCESS_KEY": server.env["AWS_SECRET_ACCESS_KEY"],
               "AWS_REGION": server.env["AWS_REGION"]}
    return DeltaTable(f"s3://{BUCKET}/{key}", storage_options=options).to_pyarrow_table()


def _rows(server: S3Server, keys: list[str], fmt: str) -> list[dict]:
    """The rows of an export folder's part files, read from the bucket."""
    import pyarrow.parquet as pq

    rows: list[dict] = []
    for key in keys:
        if fmt == "csv" and key.endswith(".csv"):
            rows += list(csv.DictReader(io.StringIO(server.text(key))))
        elif fmt == "jsonl" and key.endswith(".json"):
            rows += [json.loads(line) for line in server.text(key).splitlines() if line]
        elif fmt == "parquet" and key.endswith(".parquet"):
            rows += pq.read_table(io.BytesIO(server.data(key))).to_pylist()
    return rows


# Every destination of conf/local.yaml: its format, and the identifier column of its rows.
DESTINATIONS = {"crm": "csv", "email_platform": "csv", "ad_platform": "csv", "cms": "jsonl",
                "bi": "parquet"}
# What the subprocess may leave in the test's folder; anything else is a local write.
LOCAL_FILES = {"s3.yaml", "sample", "mlflow.db", "tmp", "home", "warehouse"}


@pytest.mark.parametrize("engine", ["delta-rs", "delta-spark"])
def test_the_whole_pipeline_with_its_lake_on_an_s3_server(engine: str, s3_server: S3Server,
                                                          tmp_path: Path) -> None:
    conf = _config(tmp_path, engine)
    started = time.monotonic()
    done = _vista(["demo", "--conf", str(conf)], tmp_path, s3_server)
    seconds = time.monotonic() - started
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    temp_left = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "tmp").rglob("*"))
    (tmp_path / "demo.log").write_text(done.stdout + done.stderr, encoding="utf-8")
    print(f"{engine}: vista demo, every stage on the S3 server, in {seconds:.0f} s "
          f"(load average {os.getloadavg()[0]:.1f})")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    assert "\tat " not in done.stdout + done.stderr  # no Java stack trace in the log

    keys = s3_server.keys(f"{engine}/")
    (manifest_key,) = [k for k in keys if k.startswith(f"{engine}/lake/_manifests/")
                       and k.endswith(".json")]
    manifest = json.loads(s3_server.text(manifest_key))
    (tmp_path / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    assert (manifest["status"], manifest["engine"]) == ("succeeded", engine)
    assert [(s["name"], s["status"]) for s in manifest["stages"]
            if s.get("status") != "info"] == [(name, "succeeded") for name in STAGES]
    assert manifest["quality"] and all(q["passed"] for q in manifest["quality"])
    lake = f"s3a://{BUCKET}/{engine}/lake/"
    assert manifest["tables"] and all(t["path"].startswith(lake) for t in manifest["tables"])

    # The tables are Delta tables in the bucket, and any reader opens them.
    def table(name: str):  # -> pyarrow.Table
        return _delta_table(s3_server, f"{engine}/lake/{name}")

    records, graph = table("silver/person_records"), table("silver/identity_graph")
    profiles = table("gold/customer_profile")
    identity = next(s for s in manifest["stages"] if s["name"] == "identity")["metrics"]
    record_keys = set(records.column("record_key").to_pylist())
    graph_keys = graph.column("record_key").to_pylist()
    assert len(graph_keys) == len(set(graph_keys)) == len(record_keys) == identity["records"] > 0
    assert set(graph_keys) == record_keys  # one UID per person record, none left out
    uids = set(graph.column("uid").to_pylist())
    assert None not in uids and len(uids) == identity["uids"]
    assert sorted(profiles.column("uid").to_pylist()) == sorted(uids)  # one card per UID

    # Segments: RFM and lifecycle give every customer one segment, CLV scores the buyers,
    # and the catalogue's sizes are the segment tables' own counts.
    rfm, lifecycle = table("gold/segments_rfm"), table("gold/segments_lifecycle")
    assert sorted(rfm.column("uid").to_pylist()) == sorted(uids)
    assert sorted(lifecycle.column("uid").to_pylist()) == sorted(uids)
    clv_uids = table("gold/clv").column("uid").to_pylist()
    assert clv_uids and len(clv_uids) == len(set(clv_uids)) and set(clv_uids) <= uids
    assert set(table("gold/segments_lifestyle").column("uid").to_pylist()) <= uids
    catalogue = table("gold/segment_catalogue").to_pylist()
    for name, segments in (("rfm", rfm.column("segment").to_pylist()),
                           ("lifecycle", lifecycle.column("stage").to_pylist())):
        sizes = {r["segment"]: r["size"] for r in catalogue if r["segmentation"] == name}
        assert sizes == {s: segments.count(s) for s in set(segments)}, name

    # Exports: one folder per destination under the bucket's exports root, named by the
    # run, holding as many rows as the manifest says; BI (no consent needed, keyed by UID)
    # gets exactly one row per customer.
    destinations = next(s for s in manifest["stages"]
                        if s["name"] == "activation")["metrics"]["destinations"]
    assert sorted(destinations) == sorted(DESTINATIONS)
    for name, fmt in DESTINATIONS.items():
        folder = f"{engine}/exports/{name}/{manifest['run_id']}/"
        rows = _rows(s3_server, [k for k in keys if k.startswith(folder)], fmt)
        assert f"{folder}_SUCCESS" in keys and len(rows) == destinations[name]["exported"], name
        if name == "bi":
            assert sorted(r["uid"] for r in rows) == sorted(uids)
    assert destinations["crm"]["exported"] > 0 and destinations["cms"]["exported"] > 0
    assert table("_state/activation_exports").num_rows > 0
    assert table("_privacy/export_folders").num_rows == len(DESTINATIONS)

    # Data Docs and MLflow's artifacts (plots, models) landed in the bucket.
    assert f"{engine}/lake/_quality/data_docs/index.html" in keys
    mlflow_keys = [k for k in keys if k.startswith(f"{engine}/mlruns/")]
    assert any(k.endswith("identity/cluster_sizes.json") for k in mlflow_keys)
    assert [k for k in mlflow_keys if "/segments/plots/" in k and k.endswith(".png")]
    models = [k for k in mlflow_keys if k.endswith("/MLmodel")]
    assert len(models) >= 3, models  # identity, CLV and lifestyle models
    assert [k for k in mlflow_keys if "/lifestyle_model/sparkml/stages/" in k], \
        "the lifestyle model's Spark pipeline is not in the bucket"
    # The run's checkpoints were written there and removed after the run.
    assert not [k for k in keys if k.startswith(f"{engine}/checkpoints/")
                and "/rdd-" in k], (manifest["maintenance"], done.stderr[-3000:])

    # `vista runs` reads the manifest from the object store.
    runs = _vista(["runs", "--conf", str(conf)], tmp_path, s3_server)
    assert runs.returncode == 0, runs.stdout[-3000:] + runs.stderr[-3000:]
    assert manifest["run_id"] in runs.stdout and "succeeded" in runs.stdout

    # Nothing was written to the local disk but the sample, MLflow's tracking database
    # and caches under the (test's) home folder: the process's temporary files are gone.
    assert set(leftovers) <= LOCAL_FILES, leftovers
    assert temp_left == [], temp_left
