"""Spark settings for the suite's tiny inputs, in the suite's own JVM.

The suite runs thousands of Spark jobs on a few rows each, so compiling is most of its CPU:
the JIT's first tier only, expressions interpreted rather than compiled to Java, and each
plan fixed before it runs (no adaptive re-planning between stages) about halve it. Results
do not depend on any of them. vista's own defaults keep all three, except that the identity
stage runs interpreted on small inputs (``identity.execution``); every test that runs
vista in a process of its own (the demo from the wheel, ``spark-submit``, the standalone
cluster, the object store) runs with vista's defaults.
"""

from vista.spark import INTERPRETED

TINY_DATA_JVM = "-XX:TieredStopAtLevel=1"
TINY_DATA_SQL = {"spark.sql.adaptive.enabled": "false", **INTERPRETED}
