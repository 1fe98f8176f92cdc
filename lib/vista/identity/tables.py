"""The identity stage's tables (lake paths) and the identity graph's columns."""

from __future__ import annotations

PERSON_RECORDS_T = "silver/person_records"
INTERACTIONS_T = "silver/interactions"
GRAPH_T = "silver/identity_graph"
REGISTRY_T = "silver/uid_registry"
LINEAGE_T = "silver/uid_lineage"
GOLDEN_T = "silver/golden_customer"
LINKS_T = "silver/identity_links"
RESOLVED_T = "silver/identity_resolved"
RUNS_T = "silver/identity_runs"
DEVICES_T = "silver/identity_devices"
FREQUENCIES_T = "silver/identity_term_frequencies"

GRAPH_COLUMNS = ["source", "source_record_id", "record_key", "uid", "link_kind",
                 "match_probability", "run_id"]
