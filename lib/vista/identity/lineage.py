"""Lineage breaks: materialise a frame and cut its plan, by a method from config.

Iterative steps (connected components, re-splitting oversized components) and frames
that several later steps read are materialised on purpose, as Splink's
``_break_lineage_and_repartition`` does, so plans stay short and nothing is computed
twice. ``identity.break_lineage`` picks the method:

* ``checkpoint``: a reliable checkpoint (written to the session's checkpoint directory,
  survives a lost executor). The choice on a cluster.
* ``local_checkpoint``: kept in the executors' block managers (memory, spilling to
  disk); no write, but a lost executor loses the data, so only where executors are not
  taken away (local mode, a fixed cluster without dynamic allocation). Spark's context
  cleaner frees the blocks once the run's frames are dropped.
* ``persist``: cached, lineage kept: the cheapest on tiny data (tests), but an
  iterative step's plan grows with every round. Unpersisted when the run ends.

Used as a context manager, a run gets a checkpoint directory of its own (under the
session's), removed when the run ends, with whatever else was written there (Splink's
``parquet`` lineage breaks).

Example:
    >>> with LineageBreaks(spark, "local_checkpoint") as breaks:
    ...     edges = breaks(edges.distinct())
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # pragma: no cover
    from types import TracebackType

    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

BreakMethod = Literal["checkpoint", "local_checkpoint", "persist"]


class LineageBreaks:
    """Materialises frames by one method and cleans up after itself when closed.

    Use it as a context manager around one run; outside one (a notebook, a unit test)
    it still breaks lineage, and nothing is cleaned up before the session ends.

    Args:
        spark: The session.
        method: ``checkpoint``, ``local_checkpoint`` or ``persist`` (see the module).
            ``checkpoint`` without a checkpoint directory on the session falls back to
            ``local_checkpoint``, with a warning.
    """

    def __init__(self, spark: SparkSession, method: BreakMethod = "local_checkpoint") -> None:
        self.spark = spark
        self.method: BreakMethod = method
        self.count = 0
        self._persisted: list[DataFrame] = []
        self._base: str | None = None
        self._run_dir: str | None = None
        if method == "checkpoint" and not spark.sparkContext.getCheckpointDir():
            log.warning("identity.break_lineage is checkpoint but the session has no "
                        "checkpoint directory (spark.checkpoint_dir); using local checkpoints")
            self.method = "local_checkpoint"

    def __call__(self, df: DataFrame) -> DataFrame:
        """Materialise ``df`` now and return a frame that reads the materialised rows."""
        from pyspark import StorageLevel

        self.count += 1
        if self.method == "local_checkpoint":
            return df.localCheckpoint(eager=True)
        if self.method == "persist":
            out = df.persist(StorageLevel.MEMORY_AND_DISK)
            out.count()
            self._persisted.append(out)
            return out
        # A reliable checkpoint computes the frame twice (once for the job, once for the
        # write) unless it is cached first.
        cached = df.persist(StorageLevel.MEMORY_AND_DISK)
        out = cached.checkpoint(eager=True)
        cached.unpersist()
        return out

    def __enter__(self) -> LineageBreaks:
        sc = self.spark.sparkContext
        current = sc.getCheckpointDir()
        if current:
            # Spark keeps checkpoints in a fresh sub-directory of the one it was given.
            # Whatever else the run writes there (Splink's parquet lineage breaks) goes
            # to the run's directory too, and is removed with it.
            self._base = current.rstrip("/").rsplit("/", 1)[0]
            self._run_dir = f"{self._base}/vista-run-{uuid.uuid4().hex[:12]}"
            sc.setCheckpointDir(self._run_dir)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Unpersist what was persisted and remove this run's checkpoint directory."""
        for df in self._persisted:
            df.unpersist()
        self._persisted.clear()
        if self._run_dir is None:
            return
        sc = self.spark.sparkContext
        sc.setCheckpointDir(self._base)
        try:
            jvm = sc._jvm
            path = jvm.org.apache.hadoop.fs.Path(self._run_dir)
            path.getFileSystem(sc._jsc.hadoopConfiguration()).delete(path, True)
        except Exception as exc:  # never mask the run's own outcome
            log.warning("could not remove the run's checkpoints under %s: %s",
                        self._run_dir, exc)
        self._run_dir = None
