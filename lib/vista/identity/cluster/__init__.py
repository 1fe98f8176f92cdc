"""Clustering: pairwise links -> one cluster of records per person, without chaining.

* :mod:`~vista.identity.cluster.config`: the typed ``identity.clustering`` section;
* :mod:`~vista.identity.cluster.graph`: edges and connected components of bounded size;
* :mod:`~vista.identity.cluster.merge`: constrained (cannot-link) greedy merging of a
  component that holds two incompatible records;
* :mod:`~vista.identity.cluster.attach`: attachment of lone records and nameless
  clusters;
* :mod:`~vista.identity.cluster.clusters`: the three steps as the stage runs them, and
  how each record joined its cluster.

``cluster`` uses ``vista.identity.person`` and never imports ``vista.identity.link``.
"""

from __future__ import annotations

from vista.identity.cluster.attach import name_keys
from vista.identity.cluster.clusters import cluster_records, record_links, size_histogram
from vista.identity.cluster.config import ClusteringConfig, LoneRecordRule
from vista.identity.cluster.graph import (
    CLUSTERS,
    EDGES,
    connected_components,
    pair_edges,
    reachable,
)

__all__ = [
    "CLUSTERS", "EDGES", "ClusteringConfig", "LoneRecordRule", "cluster_records",
    "connected_components", "name_keys", "pair_edges", "reachable", "record_links", "size_histogram",
]
