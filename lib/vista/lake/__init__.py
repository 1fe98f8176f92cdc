"""The lake layer: Delta tables through one API, on delta-spark or delta-rs.

Example:
    >>> from vista.lake import Lake
    >>> lake = Lake(spark, ".vista/lake")                          # doctest: +SKIP
    >>> lake.merge("silver/uid_registry", df, keys=["uid"])        # doctest: +SKIP
"""

from vista.lake._lake import Lake, WriteResult

__all__ = ["Lake", "WriteResult"]
