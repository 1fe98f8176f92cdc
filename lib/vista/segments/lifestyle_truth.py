"""Scoring a lifestyle segmentation against known latent labels (a sample lake's truth).

The truth is per person; the segmentation is per UID. Persons reach UIDs through their
source records: ``record_person`` maps ``(source, source_record_id)`` to a person and
``silver/identity_graph`` maps the same records to UIDs. A UID whose records belong to
several persons (a wrong merge) takes the person most of its records belong to. The
adjusted Rand index is computed from the segment x label contingency table, a few
hundred numbers.
"""

from __future__ import annotations

from pydantic import model_validator
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from vista.config.models import Section


class LifestyleTruthConfig(Section):
    """Optional ground truth for the lifestyle segmentation (``segments.lifestyle.truth``).

    Attributes:
        persons: Parquet with one row per person: ``person_id`` and ``label``.
        record_person: Parquet mapping ``(source, source_record_id)`` to ``person_id``.
        label: The column of ``persons`` holding the latent segment.
    """

    persons: str | None = None
    record_person: str | None = None
    label: str = "lifestyle"

    @model_validator(mode="after")
    def _both(self) -> LifestyleTruthConfig:
        if (self.persons is None) != (self.record_person is None):
            raise ValueError("set both persons and record_person, or neither")
        return self


def uid_labels(graph: DataFrame, record_person: DataFrame, persons: DataFrame,
               label: str) -> DataFrame:
    """``uid, label``: each UID's majority person's latent label."""
    votes = (graph.select("source", "source_record_id", "uid")
             .join(record_person.select("source", "source_record_id", "person_id"),
                   on=["source", "source_record_id"], how="inner")
             .groupBy("uid", "person_id").agg(F.count("*").alias("n")))
    best = F.row_number().over(Window.partitionBy("uid").orderBy(F.desc("n"), "person_id"))
    owner = votes.withColumn("_r", best).where("_r = 1").select("uid", "person_id")
    return owner.join(persons.select("person_id", F.col(label).alias("label")),
                      on="person_id", how="inner").select("uid", "label")


def lifestyle_ari(assignments: DataFrame, labels: DataFrame, exclude_segment_id: int | None = 0
                  ) -> tuple[float, int]:
    """Adjusted Rand index of the segments against the labels, and the customers scored.

    Args:
        assignments: ``uid, segment_id``.
        labels: Output of :func:`uid_labels`.
        exclude_segment_id: Customers in this segment (the "not enough data" one) are
            left out; None keeps everyone.
    """
    from vista.segments.lifestyle import adjusted_rand_index, contingency

    a = assignments
    if exclude_segment_id is not None:
        a = a.where(F.col("segment_id") != exclude_segment_id)
    table = contingency(a, labels, label_a="segment_id", label_b="label")
    return adjusted_rand_index(table), sum(c for _, _, c in table)
