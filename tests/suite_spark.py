"""Spark settings for the suite's tiny inputs, in the suite's own JVM.

The suite runs thousands of Spark jobs on a few rows each, so compiling is most of its CPU:
the JIT's first tier only, expressions interpreted rather than compiled to Java, and each
plan fixed before it runs (no adaptive re-planning between stages) about halve it. Results
do not depend on any of them, and vista's own defaults keep all three; every test that runs
vista in a process of its own (the demo from the wheel, ``spark-submit``, the standalone
cluster, the object store) runs with vista's defaults.
"""

TINY_DATA_JVM = "-XX:TieredStopAtLevel=1"
TINY_DATA_SQL = {
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
}
