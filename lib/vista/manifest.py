"""The run manifest: a JSON record of what one ``vista run`` did.

It lists the stages that ran, every table written (path, engine, Delta version, rows),
quality results, MLflow run ids and per-stage timings. Tests and benchmarks read it,
not log text. Manifests live under ``<lake root>/_manifests/<run_id>.json``, on local
disk or on the lake's object store.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import datetime, timezone
from time import perf_counter
from typing import Any

log = logging.getLogger(__name__)


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, unique run id such as ``20261122T230501Z-3f9a1c``."""
    now = now or datetime.now(timezone.utc)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if hasattr(value, "as_dict"):
        return _jsonable(value.as_dict())
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


@dataclass
class StageRecord:
    """What one stage did."""

    name: str
    status: str = "running"
    started_at: str = field(default_factory=utc_now)
    duration_s: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass
class RunManifest:
    """Collects a run's facts; ``write`` saves them as one JSON file."""

    run_id: str
    config_file: str | None = None
    engine: str | None = None
    started_at: str = field(default_factory=utc_now)
    finished_at: str | None = None
    status: str = "running"
    stages: list[StageRecord] = field(default_factory=list)
    tables: list[dict[str, Any]] = field(default_factory=list)
    quality: list[dict[str, Any]] = field(default_factory=list)
    mlflow_runs: list[dict[str, Any]] = field(default_factory=list)
    maintenance: dict[str, Any] = field(default_factory=dict)
    _current: str | None = field(default=None, repr=False)

    @contextmanager
    def stage(self, name: str) -> Iterator[StageRecord]:
        """Time a stage and record whether it succeeded."""
        record = StageRecord(name=name)
        self.stages.append(record)
        self._current, start = name, perf_counter()
        try:
            yield record
            record.status = "succeeded"
        except BaseException as exc:
            record.status = "failed"
            record.error = f"{type(exc).__name__}: {exc}"[:2000]
            raise
        finally:
            record.duration_s = round(perf_counter() - start, 3)
            self._current = None

    def record_table(self, result: Any) -> None:
        """Record one committed table write (a lake ``WriteResult``)."""
        entry = _jsonable(result)
        entry["stage"] = self._current
        self.tables.append(entry)

    def record_quality(self, result: Any) -> None:
        """Record a quality gate result (``vista.quality.QualityResult``)."""
        entry = _jsonable(result)
        entry["stage"] = self._current
        self.quality.append(entry)

    def record_mlflow_run(self, stage: str, run_id: str, name: str | None = None) -> None:
        self.mlflow_runs.append({"stage": stage, "run_id": run_id, "name": name})

    def record_metrics(self, stage: str, metrics: dict[str, Any]) -> None:
        """Add metrics (counts, distributions) to a stage's record."""
        for record in reversed(self.stages):
            if record.name == stage:
                record.metrics.update(_jsonable(metrics))
                return
        self.stages.append(StageRecord(name=stage, status="info", metrics=_jsonable(metrics)))

    def as_dict(self) -> dict[str, Any]:
        data = _jsonable({k: v for k, v in asdict(self).items() if not k.startswith("_")})
        return data

    def write(self, directory: str) -> str:
        """Write ``<directory>/<run_id>.json`` (a local folder or an object-store URI).

        Returns:
            Where it went, as Spark names it (a local path or ``s3a://...``).
        """
        from vista.lake import resolve_location, write_text

        payload = json.dumps(self.as_dict(), indent=2, sort_keys=False)
        return write_text(resolve_location(directory).join(f"{self.run_id}.json"), payload)


def list_manifests(directory: str) -> list[dict[str, Any]]:
    """Read every manifest in a folder (local or object store), newest first.

    On an object store this needs a running Spark session (Hadoop's connector reads).
    """
    from vista.lake import list_files, read_text

    out = []
    for loc in reversed(list_files(directory, suffix=".json")):
        try:
            out.append(json.loads(read_text(loc)))
        except (OSError, json.JSONDecodeError) as exc:
            log.warning("skipping unreadable manifest %s: %s", loc.spark.rsplit("/", 1)[-1], exc)
    return out
