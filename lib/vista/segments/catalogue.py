"""The segment catalogue: one row per segment of every segmentation, in words people use.

Each row has the segment's name, description, size and share of its segmentation's
customers, its defining traits as JSON (the mean of each configured profile value and
its lift against the population; the top behavioural terms for lifestyle segments; the
attitudes of the segment's survey respondents) and the change in size since the
previous run.

Market research in layers: survey answers are never spread to customers who did not
answer. A segment's row reports the mean scores and the NPS of the respondents it
happens to contain (when there are at least ``min_respondents``), so the research
colours the data-driven segments it overlaps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import Field
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from vista.config.models import Section

CATALOGUE_SCHEMA = T.StructType([
    T.StructField("segmentation", T.StringType(), False),
    T.StructField("segment", T.StringType(), False),
    T.StructField("description", T.StringType(), True),
    T.StructField("size", T.LongType(), False),
    T.StructField("share", T.DoubleType(), False),
    T.StructField("traits", T.StringType(), True),
    T.StructField("size_change", T.LongType(), True),
    T.StructField("respondents", T.LongType(), True),
    T.StructField("nps", T.DoubleType(), True),
    T.StructField("as_of", T.DateType(), True),
    T.StructField("run_id", T.StringType(), False),
])


class SurveyConfig(Section):
    """Where survey answers are and what they measure.

    Attributes:
        enabled: Add survey attitudes to the catalogue.
        where: Spark SQL filter selecting the answers among the UID-keyed interactions.
        nps: Expression giving the 0-10 likelihood-to-recommend answer (None: no NPS).
        scores: Attitude name -> numeric expression (``cast(attrs['x'] as double)``).
        min_respondents: A segment shows attitudes only with at least this many
            respondents (fewer would identify people and mean little).
    """

    enabled: bool = True
    where: str = "channel = 'survey'"
    nps: str | None = "value"
    scores: dict[str, str] = Field(default_factory=dict)
    min_respondents: int = Field(5, ge=1)


class CatalogueConfig(Section):
    """The ``segments.catalogue`` section.

    Attributes:
        enabled: Write ``gold/segment_catalogue``.
        traits: Numeric columns of ``gold/customer_profile`` whose segment means (and
            lifts against the population) describe each segment.
        survey: Survey attitudes per segment.
    """

    enabled: bool = True
    traits: list[str] = Field(default_factory=lambda: ["orders", "revenue", "avg_basket",
                                                       "recency_days"])
    survey: SurveyConfig = Field(default_factory=SurveyConfig)


@dataclass
class Segmentation:
    """One segmentation to catalogue.

    Attributes:
        name: ``rfm``, ``lifecycle``, ``lifestyle``, ...
        assignments: ``uid, segment``; several rows per uid are allowed (intent).
        descriptions: Segment -> one-line description (generated when absent).
        top_terms: Segment -> ``[(term, mean share, lift), ...]`` (lifestyle).
        population: Customers the shares are relative to (default: distinct uids of
            ``assignments``).
    """

    name: str
    assignments: DataFrame
    descriptions: dict[str, str] = field(default_factory=dict)
    top_terms: dict[str, list[tuple[str, float, float]]] = field(default_factory=dict)
    population: int | None = None


def survey_answers(interactions: DataFrame, cfg: SurveyConfig) -> DataFrame | None:
    """``uid, nps, <score>...``: each respondent's mean answers (None when disabled)."""
    if not cfg.enabled:
        return None
    cols = []
    if cfg.nps:
        cols.append(F.avg(F.expr(cfg.nps).cast("double")).alias("nps"))
    cols += [F.avg(F.expr(e).cast("double")).alias(n) for n, e in sorted(cfg.scores.items())]
    if not cols:
        return None
    return interactions.where(F.col("uid").isNotNull()).where(F.expr(cfg.where)).groupBy(
        "uid").agg(*cols)


def _segment_stats(seg: Segmentation, profile: DataFrame | None, traits: list[str],
                   survey: DataFrame | None, cfg: SurveyConfig) -> list[dict[str, Any]]:
    """Aggregates per segment (a handful of rows per segmentation) as dicts."""
    a = seg.assignments.select("uid", F.col("segment").cast("string").alias("segment"))
    aggs = [F.count("*").alias("size")]
    if profile is not None and traits:
        a = a.join(profile.select("uid", *traits), on="uid", how="left")
        aggs += [F.avg(F.col(t).cast("double")).alias(f"mean_{t}") for t in traits]
    if survey is not None:
        score_cols = [c for c in survey.columns if c not in ("uid", "nps")]
        a = a.join(survey.withColumn("_resp", F.lit(1)), on="uid", how="left")
        aggs.append(F.sum(F.coalesce("_resp", F.lit(0))).alias("respondents"))
        if "nps" in survey.columns:
            aggs.append((100.0 * (F.avg(F.when(F.col("nps") >= 9, 1.0).when(
                F.col("nps").isNotNull(), 0.0)) - F.avg(F.when(F.col("nps") <= 6, 1.0).when(
                    F.col("nps").isNotNull(), 0.0)))).alias("nps"))
        aggs += [F.avg(c).alias(f"survey_{c}") for c in score_cols]
    return [r.asDict() for r in a.groupBy("segment").agg(*aggs).collect()]


def _population_means(seg: Segmentation, profile: DataFrame | None, traits: list[str]
                      ) -> dict[str, float | None]:
    if profile is None or not traits:
        return {}
    row = (seg.assignments.select("uid").distinct()
           .join(profile.select("uid", *traits), on="uid", how="left")
           .agg(*[F.avg(F.col(t).cast("double")).alias(t) for t in traits]).first())
    return {t: row[t] for t in traits}


def _traits(stats: dict[str, Any], pop: dict[str, float | None], seg: Segmentation,
            min_respondents: int) -> dict[str, Any]:
    profile = {}
    for t, p in pop.items():
        m = stats.get(f"mean_{t}")
        profile[t] = {"mean": None if m is None else round(m, 4),
                      "lift": round(m / p, 3) if m is not None and p else None}
    out: dict[str, Any] = {"profile": profile}
    terms = seg.top_terms.get(stats["segment"])
    if terms:
        out["top_features"] = [{"term": t, "share": s, "lift": lift} for t, s, lift in terms]
    n = stats.get("respondents")
    if n is not None:
        survey = {"respondents": int(n)}
        if n >= min_respondents:
            survey.update({k[len("survey_"):]: round(v, 3) for k, v in stats.items()
                           if k.startswith("survey_") and v is not None})
            if stats.get("nps") is not None:
                survey["nps"] = round(stats["nps"], 1)
        out["survey"] = survey
    return out


def _describe(stats: dict[str, Any], traits: dict[str, Any], share: float) -> str:
    lifts = [(t, v["lift"]) for t, v in traits["profile"].items() if v["lift"] is not None]
    lifts.sort(key=lambda x: -abs(x[1] - 1.0))
    parts = [f"{share:.1%} of customers"]
    parts += [f"{t} x{lift:.2f} the average" for t, lift in lifts[:2]]
    return "; ".join(parts)


def catalogue_rows(segmentations: list[Segmentation], profile: DataFrame | None,
                   cfg: CatalogueConfig, survey: DataFrame | None, previous: DataFrame | None,
                   as_of: date | None, run_id: str) -> list[tuple]:
    """Build the catalogue's rows (one per segment; a few hundred at most).

    Args:
        segmentations: What to catalogue.
        profile: ``gold/customer_profile`` (None: no profile traits).
        cfg: The catalogue config.
        survey: Output of :func:`survey_answers` (None: no attitudes).
        previous: The previous catalogue (``segmentation, segment, size``), for
            ``size_change``; None on a first run.
        as_of: The as-of date of this run.
        run_id: This run's id.

    Returns:
        Tuples in the order of :data:`CATALOGUE_SCHEMA`.
    """
    traits = [t for t in cfg.traits if profile is not None and t in profile.columns]
    before: dict[tuple[str, str], int] = {}
    if previous is not None:
        names = [s.name for s in segmentations]
        before = {(r["segmentation"], r["segment"]): int(r["size"]) for r in
                  previous.where(F.col("segmentation").isin(names))
                  .select("segmentation", "segment", "size").collect()}
    rows = []
    for seg in segmentations:
        stats = _segment_stats(seg, profile, traits, survey, cfg.survey)
        pop = _population_means(seg, profile, traits)
        total = seg.population or seg.assignments.select("uid").distinct().count()
        for st in sorted(stats, key=lambda s: (-s["size"], s["segment"])):
            share = st["size"] / total if total else 0.0
            tr = _traits(st, pop, seg, cfg.survey.min_respondents)
            desc = seg.descriptions.get(st["segment"]) or _describe(st, tr, share)
            prev = before.get((seg.name, st["segment"]))
            nps = tr.get("survey", {}).get("nps")
            resp = tr.get("survey", {}).get("respondents")
            rows.append((seg.name, st["segment"], desc, int(st["size"]), float(share),
                         json.dumps(tr, ensure_ascii=False, sort_keys=True),
                         None if prev is None else int(st["size"]) - prev,
                         None if resp is None else int(resp), nps, as_of, run_id))
    return rows


def traits_table(catalogue: Any) -> Any:
    """The catalogue's ``traits`` JSON spread into columns, one row per segment.

    Args:
        catalogue: A pandas DataFrame of ``gold/segment_catalogue`` rows (it is small:
            one row per segment).

    Returns:
        A pandas DataFrame indexed by ``segmentation, segment`` with one column per
        trait (``profile.revenue.lift``, ``survey.nps``, ``top_features``, ...).
    """
    import pandas as pd

    flat = pd.json_normalize([json.loads(t) if t else {} for t in catalogue["traits"]])
    flat.index = pd.MultiIndex.from_frame(catalogue[["segmentation", "segment"]])
    return flat
