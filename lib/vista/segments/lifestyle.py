"""Lifestyle segmentation: k-means on behavioural shares, k chosen by silhouette and stability.

Why k-means (``pyspark.ml.clustering.KMeans``): the features are L2-normalised share
vectors, on which squared Euclidean distance is a monotone function of cosine
similarity, the natural similarity of taste profiles. k-means scales linearly in
customers, assigns a new customer with one nearest-centroid lookup (what a refresh
does with the registered model), and its centroids are mean share profiles, which is
exactly what segment naming reads. Gaussian mixtures need a covariance per cluster over
hundreds of terms; LDA models mixed memberships where one segment per customer is
asked for; bisecting k-means gives coarser, order-dependent splits.

k is chosen over ``k_min..k_max``: for every k the reference fit is scored by its
silhouette (``ClusteringEvaluator``), and refits with other seeds and on bootstrap
samples are compared with it by the adjusted Rand index and the per-cluster Jaccard
index (computed from the small k x k contingency table). A k whose clusters do not come
back (mean ARI below ``min_stability`` or a cluster whose best Jaccard match falls below
``min_jaccard``) is not chosen; among the stable ones the best silhouette wins.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field, model_validator
from pyspark.ml import PipelineModel
from pyspark.ml.clustering import KMeans
from pyspark.ml.evaluation import ClusteringEvaluator
from pyspark.ml.feature import ElementwiseProduct, Normalizer, VectorAssembler
from pyspark.ml.linalg import Vectors
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from vista.config.models import Section
from vista.segments.features import LifestyleFeaturesConfig, Vocabulary
from vista.segments.lifestyle_truth import LifestyleTruthConfig

log = logging.getLogger(__name__)

INSUFFICIENT_ID = 0


class LifestyleConfig(Section):
    """The ``segments.lifestyle`` section.

    Attributes:
        enabled: Compute the lifestyle segmentation.
        features: How behaviour becomes features.
        k_min: Smallest number of clusters tried.
        k_max: Largest number of clusters tried.
        min_cluster_size: k is at most the eligible customers divided by this, so a
            small population is not cut into clusters of a handful of people.
        seeds: Refits with other seeds per k, compared with the reference fit.
        bootstraps: Refits on bootstrap samples per k, compared with the reference fit.
        bootstrap_fraction: Sampling fraction of a bootstrap refit (with replacement).
        min_stability: A k is stable when its refits' mean adjusted Rand index with the
            reference fit reaches this.
        min_jaccard: ... and every reference cluster's best Jaccard match in every
            refit (on average over refits) reaches this.
        max_iter: k-means iterations.
        seed: Seed of the reference fit (refits use seed + 1, seed + 2, ...).
        name_terms: How many over-indexed terms make a segment's name.
        name_min_share: A term names a segment only when the segment's mean share of
            it reaches this (lifts of rare terms are noise).
        insufficient_name: The segment of customers with too little behaviour.
        max_drift: A refresh retrains when the population stability index between the
            training and the current segment shares exceeds this.
        min_segment_share: Quality gate: the smallest cluster's share of customers.
        max_segment_share: Quality gate: the largest cluster's share of customers.
        size_bounds: What a cluster share outside the bounds does at the gate:
            ``error`` stops publication, ``warn`` records a warning (an empty segment
            is always an error).
        registered_model: MLflow registry name of the fitted ``PipelineModel``.
        truth: Optional latent labels to score the segmentation against (ARI).
    """

    enabled: bool = True
    features: LifestyleFeaturesConfig = Field(default_factory=LifestyleFeaturesConfig)
    k_min: int = Field(4, ge=2)
    k_max: int = Field(14, ge=2)
    min_cluster_size: int = Field(20, ge=1)
    seeds: int = Field(2, ge=0)
    bootstraps: int = Field(2, ge=0)
    bootstrap_fraction: float = Field(0.8, gt=0.0, le=1.0)
    min_stability: float = Field(0.75, ge=-1.0, le=1.0)
    min_jaccard: float = Field(0.5, ge=0.0, le=1.0)
    max_iter: int = Field(40, ge=1)
    seed: int = 17
    name_terms: int = Field(2, ge=1, le=5)
    name_min_share: float = Field(0.05, ge=0.0, le=1.0)
    insufficient_name: str = "not enough data"
    max_drift: float = Field(0.1, ge=0.0)
    min_segment_share: float = Field(0.005, ge=0.0, le=1.0)
    max_segment_share: float = Field(0.8, ge=0.0, le=1.0)
    size_bounds: Literal["error", "warn"] = "error"
    registered_model: str = "vista-lifestyle"
    truth: LifestyleTruthConfig = Field(default_factory=LifestyleTruthConfig)

    @model_validator(mode="after")
    def _k_range(self) -> LifestyleConfig:
        if self.k_max < self.k_min:
            raise ValueError(f"k_max ({self.k_max}) is below k_min ({self.k_min})")
        return self

    def model_hash(self) -> str:
        """Hash of what shapes a model (features and the k search): stale when it moves."""
        from hashlib import sha256

        keys = ("k_min", "k_max", "seeds", "bootstraps", "bootstrap_fraction",
                "min_stability", "min_jaccard", "max_iter", "seed", "min_cluster_size")
        text = self.features.config_hash() + repr([getattr(self, k) for k in keys])
        return sha256(text.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- agreement


def adjusted_rand_index(counts: list[tuple[int, int, int]]) -> float:
    """Adjusted Rand index from a contingency table ``(label_a, label_b, count)``.

    The table has one row per pair of labels seen together (k x k at most), so it is
    computed on the driver; the customers never are.

    Example:
        >>> adjusted_rand_index([(0, 1, 5), (1, 0, 5)])
        1.0
    """
    def c2(x: float) -> float:
        return x * (x - 1) / 2.0

    n = sum(c for _, _, c in counts)
    rows: dict[int, int] = {}
    cols: dict[int, int] = {}
    for a, b, c in counts:
        rows[a] = rows.get(a, 0) + c
        cols[b] = cols.get(b, 0) + c
    index = sum(c2(c) for _, _, c in counts)
    sum_a, sum_b = sum(c2(v) for v in rows.values()), sum(c2(v) for v in cols.values())
    expected = sum_a * sum_b / c2(n) if n > 1 else 0.0
    top = (sum_a + sum_b) / 2.0
    if top == expected:
        return 1.0
    return (index - expected) / (top - expected)


def min_best_jaccard(counts: list[tuple[int, int, int]]) -> float:
    """The worst reference cluster's best Jaccard match in the other clustering.

    ``counts`` is ``(reference label, other label, count)``.
    """
    rows: dict[int, int] = {}
    cols: dict[int, int] = {}
    for a, b, c in counts:
        rows[a] = rows.get(a, 0) + c
        cols[b] = cols.get(b, 0) + c
    best: dict[int, float] = {}
    for a, b, c in counts:
        j = c / float(rows[a] + cols[b] - c)
        best[a] = max(best.get(a, 0.0), j)
    return min(best.values()) if best else 0.0


def contingency(a: DataFrame, b: DataFrame, key: str = "uid",
                label_a: str = "cluster", label_b: str = "cluster") -> list[tuple[int, int, int]]:
    """The contingency table of two assignments of the same customers (small)."""
    joined = a.select(key, F.col(label_a).alias("_a")).join(
        b.select(key, F.col(label_b).alias("_b")), on=key, how="inner")
    return [(r["_a"], r["_b"], int(r["n"]))
            for r in joined.groupBy("_a", "_b").agg(F.count("*").alias("n")).collect()]


# --------------------------------------------------------------------------- fitting


def vector_stages(vocab: Vocabulary) -> list:
    """The transformers from term columns to the clustered vector ``features``."""
    return [
        VectorAssembler(inputCols=vocab.columns, outputCol="_shares"),
        ElementwiseProduct(scalingVec=Vectors.dense(vocab.weights), inputCol="_shares",
                           outputCol="_weighted"),
        Normalizer(p=2.0, inputCol="_weighted", outputCol="features"),
    ]


def vectors(features: DataFrame, vocab: Vocabulary) -> DataFrame:
    """``uid, features``: the normalised, weighted vector of each customer."""
    out = features
    for stage in vector_stages(vocab):
        out = stage.transform(out)
    return out.select("uid", "features")


def _kmeans(k: int, seed: int, cfg: LifestyleConfig) -> KMeans:
    return KMeans(k=k, seed=seed, maxIter=cfg.max_iter, featuresCol="features",
                  predictionCol="cluster", initMode="k-means||")


@dataclass
class KScore:
    """The evidence for one k: silhouette of the reference fit and its refits' agreement."""

    k: int
    silhouette: float
    stability: float  # mean adjusted Rand index of refits against the reference
    jaccard: float  # mean over refits of the worst cluster's best Jaccard match
    stable: bool = False


@dataclass
class Selection:
    """The outcome of the k search."""

    k: int
    scores: list[KScore] = field(default_factory=list)
    stable_found: bool = True


def score_k(vecs: DataFrame, k: int, cfg: LifestyleConfig) -> KScore:
    """Fit k clusters, score the silhouette and compare refits with the reference fit.

    Args:
        vecs: ``uid, features`` (cached by the caller).
        k: Number of clusters.
        cfg: The lifestyle config.

    Returns:
        The k's silhouette, mean ARI and mean worst-cluster Jaccard over the refits.
    """
    ref_model = _kmeans(k, cfg.seed, cfg).fit(vecs)
    ref = ref_model.transform(vecs).select("uid", "features", "cluster").cache()
    silhouette = ClusteringEvaluator(featuresCol="features", predictionCol="cluster",
                                     metricName="silhouette").evaluate(ref)
    aris, jaccards = [], []
    refits = [(cfg.seed + i + 1, None) for i in range(cfg.seeds)]
    refits += [(cfg.seed + 100 + i, cfg.seed + 200 + i) for i in range(cfg.bootstraps)]
    for seed, sample_seed in refits:
        train = vecs if sample_seed is None else vecs.sample(
            withReplacement=True, fraction=cfg.bootstrap_fraction, seed=sample_seed)
        other = _kmeans(k, seed, cfg).fit(train).transform(vecs).select("uid", "cluster")
        table = contingency(ref, other)
        aris.append(adjusted_rand_index(table))
        jaccards.append(min_best_jaccard(table))
    ref.unpersist()
    stability = sum(aris) / len(aris) if aris else 1.0
    jaccard = sum(jaccards) / len(jaccards) if jaccards else 1.0
    stable = stability >= cfg.min_stability and jaccard >= cfg.min_jaccard
    log.info("lifestyle k=%d: silhouette %.4f, stability (ARI) %.4f, worst-cluster Jaccard "
             "%.4f%s", k, silhouette, stability, jaccard, "" if stable else "  (unstable)")
    return KScore(k, float(silhouette), float(stability), float(jaccard), stable)


def choose_k(scores: list[KScore]) -> Selection:
    """The stable k with the best silhouette; without a stable k, the most stable one.

    Example:
        >>> choose_k([KScore(3, 0.5, 0.9, 0.8, True), KScore(4, 0.6, 0.4, 0.2, False)]).k
        3
    """
    stable = [s for s in scores if s.stable]
    if stable:
        best = max(stable, key=lambda s: (s.silhouette, -s.k))
        return Selection(best.k, scores, True)
    best = max(scores, key=lambda s: (s.stability, s.silhouette, -s.k))
    log.warning("lifestyle: no k in the range is stable; k=%d (the most stable) is used",
                best.k)
    return Selection(best.k, scores, False)


def select_k(vecs: DataFrame, cfg: LifestyleConfig, customers: int) -> Selection:
    """Score every k of the configured range that the population can support."""
    k_max = min(cfg.k_max, max(2, customers // cfg.min_cluster_size))
    k_min = min(cfg.k_min, k_max)
    return choose_k([score_k(vecs, k, cfg) for k in range(k_min, k_max + 1)])


def fit_model(features: DataFrame, vocab: Vocabulary, k: int, cfg: LifestyleConfig
              ) -> PipelineModel:
    """The final model: term columns -> weighted, normalised vector -> k-means cluster."""
    stages = vector_stages(vocab)
    vecs = vectors(features, vocab)
    km = _kmeans(k, cfg.seed, cfg).fit(vecs)
    return PipelineModel(stages=[*stages, km])


# --------------------------------------------------------------------------- naming


@dataclass(frozen=True)
class SegmentInfo:
    """A lifestyle segment of one model: its id, name, description and top lifts."""

    segment_id: int
    cluster: int | None
    name: str
    description: str
    customers: int
    share: float
    top_terms: tuple[tuple[str, float, float], ...] = ()  # (term label, mean share, lift)

    def as_dict(self) -> dict:
        return {"segment_id": self.segment_id, "cluster": self.cluster, "name": self.name,
                "description": self.description, "customers": self.customers,
                "share": self.share, "top_terms": [list(t) for t in self.top_terms]}

    @classmethod
    def from_dict(cls, row: dict) -> SegmentInfo:
        return cls(row["segment_id"], row["cluster"], row["name"], row["description"],
                   row["customers"], row["share"],
                   tuple((str(a), float(b), float(c)) for a, b, c in row["top_terms"]))


def cluster_profiles(assigned: DataFrame, vocab: Vocabulary, sqrt_shares: bool
                     ) -> dict[int, tuple[int, list[float]]]:
    """Each cluster's size and typical share of every term: ``{cluster: (n, shares)}``.

    ``assigned`` has the (centred) term columns and ``cluster``; the result is k x terms
    numbers. The centring is undone and, for square-rooted shares, the mean squared.
    """
    rows = assigned.groupBy("cluster").agg(
        F.count("*").alias("_n"), *[F.avg(c).alias(c) for c in vocab.columns]).collect()
    out = {}
    for r in rows:
        vals = [max(float(r[t.column]) + t.mean, 0.0) for t in vocab.terms]
        out[int(r["cluster"])] = (int(r["_n"]), [v * v if sqrt_shares else v for v in vals])
    return out


def name_segments(profiles: dict[int, tuple[int, list[float]]], vocab: Vocabulary,
                  cfg: LifestyleConfig, insufficient: int, top_n: int = 5) -> list[SegmentInfo]:
    """Name each cluster after its most over-indexed terms; number segments by size.

    A term's lift is the cluster's mean share over the population's. The name joins the
    values of the ``name_terms`` highest lifts (among terms with a mean share of at
    least ``name_min_share``); a name another cluster already has is extended with the
    next term, then numbered. Segment ids: 0 is "not enough data", then 1, 2, ... by
    decreasing size (ties by name), so a model always gives the same ids and names.
    """
    total = sum(n for n, _ in profiles.values())
    pop = [sum(n * means[i] for n, means in profiles.values()) / max(total, 1)
           for i in range(len(vocab.terms))]
    ranked: dict[int, list[tuple[str, str, float, float]]] = {}
    for cl, (_, means) in profiles.items():
        cand = [(t.label, t.value, means[t.index], means[t.index] / pop[t.index])
                for t in vocab.terms if pop[t.index] > 0 and means[t.index] >= cfg.name_min_share]
        cand.sort(key=lambda x: (-x[3], x[0]))
        ranked[cl] = cand
    names: dict[int, str] = {}
    order = sorted(profiles, key=lambda c: (-profiles[c][0], c))
    for cl in order:
        values = list(dict.fromkeys(v for _, v, _, _ in ranked[cl]))
        take = cfg.name_terms
        name = " & ".join(values[:take]) or f"segment {len(names) + 1}"
        while name in names.values() and take < len(values):
            take += 1
            name = " & ".join(values[:take])
        base, i = name, 2
        while name in names.values():
            name, i = f"{base} ({i})", i + 1
        names[cl] = name
    grand = total + insufficient
    out = [SegmentInfo(INSUFFICIENT_ID, None, cfg.insufficient_name,
                       "customers with too little purchase and viewing history to profile",
                       insufficient, insufficient / grand if grand else 0.0)]
    for sid, cl in enumerate(sorted(order, key=lambda c: (-profiles[c][0], names[c])), 1):
        top = tuple((label, round(m, 4), round(lift, 3))
                    for label, _, m, lift in ranked[cl][:top_n])
        desc = "over-indexes on " + ", ".join(f"{lb} (x{lift:.1f})" for lb, _, lift in top[:3]) \
            if top else "no term stands out against the population"
        n = profiles[cl][0]
        out.append(SegmentInfo(sid, cl, names[cl], desc, n, n / grand if grand else 0.0, top))
    return out


def population_stability(expected: dict[int, float], actual: dict[int, float]) -> float:
    """Population stability index between two share distributions over segment ids.

    Example:
        >>> population_stability({1: 0.5, 2: 0.5}, {1: 0.5, 2: 0.5})
        0.0
    """
    eps = 1e-4
    psi = 0.0
    for key in set(expected) | set(actual):
        p, q = max(expected.get(key, 0.0), eps), max(actual.get(key, 0.0), eps)
        psi += (q - p) * math.log(q / p)
    return psi
