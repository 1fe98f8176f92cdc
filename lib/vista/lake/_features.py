"""Which Delta protocol features the delta-rs engine can honour (no Spark import here).

The delta-rs engine lets Spark read a snapshot's data files as plain Parquet, so any
feature that changes what a data file means (deletion vectors, column mapping, type
widening...) would give wrong rows. Such tables are refused with the feature's name.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from vista.errors import UnsupportedTableFeature

# Reader features whose data files Spark still reads correctly as Parquet.
READ_OK = frozenset({"timestampNtz", "v2Checkpoint", "vacuumProtocolCheck"})
# Writer features a commit of Spark-written Parquet files does not violate.
WRITE_OK = READ_OK | frozenset({"appendOnly", "invariants", "domainMetadata", "inCommitTimestamp"})

MAX_READER_VERSION = 3
MAX_WRITER_VERSION = 7


def _legacy_features(
    reader: int, writer: int, configuration: Mapping[str, str], schema_json: str
) -> tuple[set[str], set[str]]:
    """Features implied by a legacy (pre-table-features) protocol that are actually in use."""
    conf = {k.lower(): str(v).lower() for k, v in configuration.items()}
    meta_keys = _schema_metadata_keys(json.loads(schema_json)) if schema_json else set()
    read: set[str] = set()
    write: set[str] = set()
    mode = conf.get("delta.columnmapping.mode", "none")
    if reader >= 2 and mode != "none":
        read.add("columnMapping")
    if writer >= 3 and any(k.startswith("delta.constraints.") for k in conf):
        write.add("checkConstraints")
    if writer >= 4 and conf.get("delta.enablechangedatafeed") == "true":
        write.add("changeDataFeed")
    if writer >= 4 and "delta.generationExpression" in meta_keys:
        write.add("generatedColumns")
    if writer >= 5 and mode != "none":
        write.add("columnMapping")
    if writer >= 6 and any(k.startswith("delta.identity.") for k in meta_keys):
        write.add("identityColumns")
    return read, write


def _schema_metadata_keys(node: Any) -> set[str]:
    keys: set[str] = set()
    if isinstance(node, dict):
        meta = node.get("metadata")
        if isinstance(meta, dict):
            keys.update(meta)
        for value in node.values():
            keys |= _schema_metadata_keys(value)
    elif isinstance(node, list):
        for value in node:
            keys |= _schema_metadata_keys(value)
    return keys


def check_protocol(
    table: str,
    *,
    reader_version: int,
    writer_version: int,
    reader_features: Iterable[str] | None,
    writer_features: Iterable[str] | None,
    configuration: Mapping[str, str],
    schema_json: str = "",
    for_write: bool = False,
) -> None:
    """Raise when the snapshot uses a feature this engine cannot honour.

    Args:
        table: Table name for the message.
        reader_version: ``minReaderVersion`` of the snapshot.
        writer_version: ``minWriterVersion`` of the snapshot.
        reader_features: Explicit reader features (reader version 3), if any.
        writer_features: Explicit writer features (writer version 7), if any.
        configuration: The table's ``metaData.configuration``.
        schema_json: The table's schema string (to spot generated/identity columns).
        for_write: Also check the writer side.

    Raises:
        UnsupportedTableFeature: Naming the first feature found and what to do.
    """
    where = f"table {table!r}"
    hint = ("Read and write it with the delta-spark engine (lake.engine: delta-spark, with "
            "Delta's jars on the classpath) or rewrite it without that feature.")
    if reader_version > MAX_READER_VERSION:
        raise UnsupportedTableFeature(
            f"{where} needs Delta reader version {reader_version}; the delta-rs engine "
            f"supports up to {MAX_READER_VERSION}. {hint}")
    if for_write and writer_version > MAX_WRITER_VERSION:
        raise UnsupportedTableFeature(
            f"{where} needs Delta writer version {writer_version}; the delta-rs engine "
            f"supports up to {MAX_WRITER_VERSION}. {hint}")
    legacy_read, legacy_write = _legacy_features(
        reader_version, writer_version, configuration, schema_json)
    read = set(reader_features or []) | legacy_read
    bad = sorted(read - READ_OK)
    if bad:
        raise UnsupportedTableFeature(
            f"{where} uses the Delta reader feature(s) {', '.join(bad)}, which the delta-rs "
            f"engine cannot honour (it reads data files as plain Parquet; supported reader "
            f"features: {', '.join(sorted(READ_OK))}). {hint}")
    if for_write:
        write = set(writer_features or []) | legacy_write
        bad = sorted(write - WRITE_OK)
        if bad:
            raise UnsupportedTableFeature(
                f"{where} uses the Delta writer feature(s) {', '.join(bad)}, which the "
                f"delta-rs engine cannot honour when committing Spark-written files "
                f"(supported: {', '.join(sorted(WRITE_OK))}). {hint}")
