"""The pipeline on a real Spark standalone cluster, submitted with the README's own line.

A master and a worker run on 127.0.0.1 from the installed PySpark (``spark-class``), the
wheel is built as ``make wheel`` builds it, and ``jobs/pipeline.py`` is submitted with the
``spark-submit`` line of the README's "Running on a cluster" section: Delta from
``--packages``, the wheel through ``--py-files``. The driver and the executors run a
Python that has vista's dependencies but not vista itself, so vista is imported from the
submitted wheel only, as on a cluster. Executors are JVMs and Python workers of their own:
what local mode shares with the driver (class loaders, the Python path) is not shared here.

The run is the tiny sample lake's ingest, identity and profile stages (maintenance after
the run off: it would vacuum every table once more).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from local_servers import free_port, stop_process_group
from vista.lake import Lake

pytestmark = pytest.mark.slow  # a cluster of three JVMs and a three-stage run

REPO = Path(__file__).resolve().parents[1]
STAGES = ["ingest", "identity", "profile"]


def _spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def _readme_submit_line() -> list[str]:
    """The ``spark-submit`` command of the README's cluster section, as words."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Running on a cluster"):]
    block = section[section.index("```bash") + len("```bash"):]
    block = block[:block.index("```")]
    command = block[block.index("spark-submit"):].replace("\\\n", " ")
    return shlex.split(command)


@pytest.fixture(scope="module")
def cluster_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Python with vista's dependencies (this environment's packages) but not vista.

    A path line in a ``.pth`` file adds the packages folder without running the ``.pth``
    files inside it, so the editable install of vista stays out.
    """
    env = tmp_path_factory.mktemp("cluster-python")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    python = env / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; "
                              "print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    ours = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (Path(purelib) / "vista-deps.pth").write_text("\n".join(ours) + "\n", encoding="utf-8")
    probe = subprocess.run([str(python), "-c", "import pyspark, splink; import vista"],
                           capture_output=True, text=True)
    assert "No module named 'vista'" in probe.stderr, probe.stderr
    return python


class Standalone:
    """A Spark standalone master and one worker on 127.0.0.1, each a ``spark-class`` JVM."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"spark://127.0.0.1:{self.port}"
        self.work = home / "work"
        self.procs: list[subprocess.Popen] = []
        self.env = {**os.environ, "SPARK_HOME": str(_spark_home()), "SPARK_LOCAL_IP": "127.0.0.1",
                    "SPARK_WORKER_DIR": str(self.work)}

    def _launch(self, name: str, klass: str, *args: str, ready: str) -> None:
        log = self.home / f"{name}.log"
        with log.open("wb") as out:
            self.procs.append(subprocess.Popen(
                [str(_spark_home() / "bin" / "spark-class"), klass, *args], stdout=out,
                stderr=subprocess.STDOUT, env=self.env, start_new_session=True))
        deadline = time.monotonic() + 180
        while ready not in log.read_text(errors="replace"):
            assert self.procs[-1].poll() is None, f"{name} exited:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"{name} not ready:\n{log.read_text()[-3000:]}"
            time.sleep(1)

    def start(self) -> None:
        self._launch("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                     "--port", str(self.port), "--webui-port", str(free_port()),
                     ready="I have been elected leader")
        self._launch("worker", "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                     "--cores", "2", "--memory", "1536m", "--work-dir", str(self.work),
                     "--webui-port", str(free_port()), self.url,
                     ready="Successfully registered with master")

    def stop(self) -> None:
        for proc in reversed(self.procs):
            stop_process_group(proc)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standalone]:
    spark_cluster = Standalone(tmp_path_factory.mktemp("standalone"))
    try:
        spark_cluster.start()
        yield spark_cluster
    finally:
        spark_cluster.stop()


def _config(root: Path) -> Path:
    from vista.sample import generate_sample_lake

    generate_sample_lake(root / "sample", customers=40, seed=3, months=12, bad_row_rate=0.04)
    conf = root / "cluster.yaml"
    conf.write_text(
        f"include: [{REPO / 'conf' / 'local.yaml'}]\n"
        f"spark: {{checkpoint_dir: {root / 'checkpoints'}, shuffle_partitions: 2}}\n"
        f"lake: {{root: {root / 'lake'}, maintain_after_run: false}}\n"
        f"mlflow: {{tracking_uri: 'sqlite:///{root / 'mlflow.db'}', "
        f"artifact_location: {root / 'mlruns'}}}\n"
        f"ingest: {{inputs_root: {root / 'sample'}}}\n"
        "identity: {break_lineage: checkpoint}\n"  # a cluster's default: checkpoints written
        f"run: {{stages: [{', '.join(STAGES)}]}}\n",
        encoding="utf-8")
    return conf


def _submit(cluster: Standalone, python: Path, wheel: Path, conf: Path) -> subprocess.CompletedProcess:
    """The README's line; only the master, memory and where --packages keeps its JARs added."""
    ivy = REPO / ".vista" / "ivy"
    words = _readme_submit_line()
    swap = {"dist/vista-0.1.0-py3-none-any.whl": str(wheel), "conf/cluster.yaml": str(conf),
            "jobs/pipeline.py": str(REPO / "jobs" / "pipeline.py")}
    env = {**cluster.env, "PYSPARK_PYTHON": str(python), "PYSPARK_DRIVER_PYTHON": str(python),
           "DELTA_JARS": str(ivy / "jars")}
    words = [swap.get(w, w).replace("$DELTA_JARS", env["DELTA_JARS"]) for w in words]
    command = [str(_spark_home() / "bin" / "spark-submit"), "--master", cluster.url,
               "--driver-memory", "1g", "--executor-memory", "1g",
               "--conf", f"spark.jars.ivy={ivy}", *words[1:]]
    return subprocess.run(command, cwd=conf.parent, env=env, capture_output=True, text=True,
                          timeout=1800)


def test_pipeline_runs_on_a_standalone_cluster_from_the_wheel(
        spark, cluster: Standalone, cluster_python: Path, built_wheel: Path,
        tmp_path: Path) -> None:
    conf = _config(tmp_path)
    done = _submit(cluster, cluster_python, built_wheel, conf)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    assert "Connected to Spark cluster with app ID" in done.stderr

    (manifest_path,) = (tmp_path / "lake" / "_manifests").glob("*.json")
    manifest = json.loads(manifest_path.read_text())
    assert (manifest["status"], manifest["engine"]) == ("succeeded", "delta-spark")
    assert [(s["name"], s["status"]) for s in manifest["stages"]] == [
        (name, "succeeded") for name in STAGES]
    written = {t["table"] for t in manifest["tables"]}
    assert {"silver/person_records", "silver/identity_graph", "silver/uid_registry",
            "silver/golden_customer", "gold/customer_profile"} <= written
    assert manifest["quality"] and all(q["passed"] for q in manifest["quality"])

    # The executors ran vista's Python code: each wrote its log in the worker's folder.
    (app,) = cluster.work.glob("app-*")
    assert list(app.glob("*/stderr"))

    lake = Lake(spark, str(tmp_path / "lake"))
    records = lake.read("silver/person_records").select("record_key")
    graph = lake.read("silver/identity_graph")
    per_record = (records.join(graph, on="record_key", how="left")
                  .groupBy("record_key").agg(F.count("uid").alias("uids")))
    assert per_record.where("uids != 1").count() == 0
    assert per_record.count() == manifest["stages"][1]["metrics"]["records"] > 0
    uids = graph.select("uid").distinct()
    profiles = lake.read("gold/customer_profile").select("uid")
    assert profiles.count() == uids.count() == manifest["stages"][1]["metrics"]["uids"]
    assert profiles.join(uids, on="uid", how="left_anti").count() == 0
