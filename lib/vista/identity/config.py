"""The ``identity`` section of vista's configuration: linking + clustering + survivorship.

YAML shape (every key optional; see each section's module for its keys)::

    identity:
      linking: {...}          # vista.identity.link.config.LinkingConfig
      clustering: {...}       # vista.identity.cluster.config.ClusteringConfig
      survivorship: {...}     # vista.identity.golden_config.SurvivorshipConfig
      uid_salt_env: VISTA_UID_SALT
      track_mlflow: true
      break_lineage: checkpoint   # checkpoint | local_checkpoint | persist
      codegen_max_fields: 1000    # Spark's spark.sql.codegen.maxFields during the stage
      execution: auto             # auto | compiled | interpreted (Spark's code generation)
      interpreted_below_records: 100000   # auto: interpreted below this many person records
      fingerprint_columns: [ids, first_name_std, last_name_std, ...]
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import Field, model_validator

from vista.config.models import Section
from vista.identity.cluster.config import ClusteringConfig
from vista.identity.golden_config import SurvivorshipConfig
from vista.identity.lineage import BreakMethod
from vista.identity.link.config import LinkingConfig
from vista.spark import INTERPRETED

_MATCH_COLUMNS = [
    "ids", "first_name_std", "last_name_std", "full_name_std", "email_std", "phone_e164",
    "other_phones_e164", "birth_date", "gender", "address_std", "postal_code", "city",
    "country", "past_identifiers",
]

class IdentityConfig(Section):
    """Everything the identity stage needs.

    Attributes:
        linking: Deterministic ids, guards, the Splink model.
        clustering: Links -> clusters (threshold, compatibility, size caps).
        survivorship: The golden record's rules.
        uid_salt_env: Environment variable holding the UID HMAC salt (the secret itself
            is never in a config file). Unset: a documented demo salt, with a warning.
        track_mlflow: Log each resolution run's metrics to MLflow.
        fingerprint_columns: Person-record columns whose change makes a record "changed"
            for incremental runs (re-linked and re-clustered).
        break_lineage: How the stage materialises intermediate frames
            (``vista.identity.lineage``): ``checkpoint`` (reliable, the safe choice on a
            cluster), ``local_checkpoint`` (no write; only where executors are never
            lost, such as local mode) or ``persist`` (cheapest on tiny data). It never
            changes a result, so it is not part of :meth:`resolution_hash`.
        codegen_max_fields: ``spark.sql.codegen.maxFields`` while the stage runs (the
            session's value is restored after). Spark compiles a query stage into one
            function only when its rows have at most this many fields (its default:
            100), and runs wider ones row by row through interpreted operators. The
            model's frames carry every compared column twice (``_l``, ``_r``) plus
            derived ones, so scoring the u sample of pairs ran the slow way (on FEBRL4,
            18-20 s against 9 s compiled). It never changes a result.
        execution: Whether Spark compiles the stage's queries to Java bytecode while the
            stage runs (``compiled``: Spark's default) or evaluates them interpreted
            (``interpreted``: ``spark.sql.codegen.wholeStage=false`` and
            ``spark.sql.codegen.factoryMode=NO_CODEGEN``, the setting Spark's own test
            suites run every expression with; results are the same). The stage runs
            hundreds of distinct queries, and on small inputs compiling them costs more
            than it saves: on FEBRL4 (10,000 records) about 1,100 compilations took 17 s
            of an 89.5 s stage, and the stage took 72.6 s interpreted. ``auto``
            (default) runs interpreted below ``interpreted_below_records`` person
            records and compiled from there, where rows outweigh compilations. The
            session's values are restored after the stage.
        interpreted_below_records: ``auto``'s threshold (0: always compiled).
    """

    linking: LinkingConfig = Field(default_factory=LinkingConfig)
    clustering: ClusteringConfig = Field(default_factory=ClusteringConfig)
    survivorship: SurvivorshipConfig = Field(default_factory=SurvivorshipConfig)
    uid_salt_env: str = "VISTA_UID_SALT"
    track_mlflow: bool = True
    fingerprint_columns: list[str] = Field(default_factory=lambda: list(_MATCH_COLUMNS),
                                           min_length=1)
    break_lineage: BreakMethod = "checkpoint"
    codegen_max_fields: int = Field(1000, ge=1)
    execution: Literal["auto", "compiled", "interpreted"] = "auto"
    interpreted_below_records: int = Field(100_000, ge=0)

    @model_validator(mode="after")
    def _weak_links_scored(self) -> IdentityConfig:
        lone = self.clustering.lone_records
        scored = self.linking.probabilistic.threshold_match_probability
        if lone.enabled and scored > lone.min_probability:
            raise ValueError(
                f"clustering.lone_records.min_probability ({lone.min_probability}) is below "
                f"linking.probabilistic.threshold_match_probability ({scored}): the links "
                f"it reads are never scored; lower the second or raise the first")
        return self

    def spark_settings(self, records: int) -> dict[str, str]:
        """The SQL settings the stage runs with, for ``records`` person records (see
        ``codegen_max_fields`` and ``execution``); none of them changes a result.

        Example:
            >>> IdentityConfig(execution="compiled").spark_settings(10)
            {'spark.sql.codegen.maxFields': '1000'}
        """
        settings = {"spark.sql.codegen.maxFields": str(self.codegen_max_fields)}
        if self.execution == "interpreted" or (
                self.execution == "auto" and records < self.interpreted_below_records):
            settings.update(INTERPRETED)
        return settings

    def resolution_hash(self) -> str:
        """Hash of the settings that change which records end up together.

        An incremental run is only equivalent to a full run when this is unchanged, so
        the stage rebuilds from scratch when it differs from the last run's.
        """
        payload = {
            "linking": self.linking.model_dump(
                mode="json", exclude={"probabilistic": {"max_comparisons_per_rule"}}),
            "clustering": self.clustering.model_dump(mode="json"),
            "fingerprint_columns": self.fingerprint_columns,
        }
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def identity_config(config: Any) -> IdentityConfig:
    """The ``identity`` section of the root config (defaults when it has none)."""
    section = getattr(config, "identity", None)
    return section if isinstance(section, IdentityConfig) else IdentityConfig()
