"""Deterministic file writers (CSV, JSON lines, Parquet) appended chunk by chunk, and
bad-row injection with its ground truth."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

BAD_DATES = ("31/02/2024", "2024-13-45", "n/a", "ayer", "00/00/0000", "2024/02/30 25:61")
BAD_NUMBERS = ("N/D", "12,3O", "abc", "1.2.3", "--")
BAD_CURRENCIES = ("XXX", "EURO", "PESOS", "$", "E")
BAD_TYPES = ("diez", "alto", "[]", "true", "5 estrellas")

#: Every kind of bad row the sample plants (see ``ground_truth/bad_rows.parquet``).
BAD_ROW_KINDS = ("unparseable_date", "impossible_date", "negative_amount",
                 "non_numeric_amount", "unknown_currency", "missing_required_key",
                 "wrong_type", "truncated_json")  # fmt: skip


@dataclass
class BadRows:
    """Picked rows of one frame: local row index, kind and column touched."""

    rows: np.ndarray
    kinds: np.ndarray
    columns: np.ndarray


def inject_bad_rows(df: pd.DataFrame, spec: list[tuple[str, str]], rate: float,
                    rng: np.random.Generator, typed: bool = False) -> BadRows:
    """Corrupt about ``rate`` of the rows of ``df`` in place, one (kind, column) each.

    Text frames (``typed=False``) get bad strings; typed frames (Parquet) get negative
    numbers, unknown codes, nulls and 1900-01-01 timestamps.
    """
    n = len(df)
    rows = np.flatnonzero(rng.random(n) < rate) if spec else np.empty(0, int)
    pick = rng.integers(0, max(len(spec), 1), rows.size)
    kinds = np.array([s[0] for s in spec], dtype=object)[pick] if spec else np.empty(0, object)
    cols = np.array([s[1] for s in spec], dtype=object)[pick] if spec else np.empty(0, object)
    for (kind, col), i in zip(spec, range(len(spec)), strict=True):
        r = rows[pick == i]
        if r.size == 0 or kind == "truncated_json":
            continue
        ci = df.columns.get_loc(col)
        if kind in ("unparseable_date", "non_numeric_amount", "unknown_currency", "wrong_type"):
            pool = {"unparseable_date": BAD_DATES, "non_numeric_amount": BAD_NUMBERS,
                    "unknown_currency": BAD_CURRENCIES, "wrong_type": BAD_TYPES}[kind]
            vals = np.array(pool, dtype=object)[rng.integers(0, len(pool), r.size)]
            if df[col].dtype != object:
                df[col] = df[col].astype(object)
            df.iloc[r, ci] = vals
        elif kind == "negative_amount":
            v = df.iloc[r, ci]
            df.iloc[r, ci] = (-v.abs()) if typed else ("-" + v.astype(str)).to_numpy()
        elif kind == "missing_required_key":
            df.iloc[r, ci] = None
        elif kind == "impossible_date":
            df.iloc[r, ci] = pd.Timestamp("1900-01-01", tz="UTC")
    return BadRows(rows, kinds, cols)


@dataclass
class Sinks:
    """Open files under ``out``, appended chunk by chunk; tracks rows and bad rows."""

    out: Path
    rows: dict[str, int] = field(default_factory=dict)
    bad: list[pd.DataFrame] = field(default_factory=list)
    _csv: dict[str, pacsv.CSVWriter] = field(default_factory=dict)
    _pq: dict[str, pq.ParquetWriter] = field(default_factory=dict)

    def _record_bad(self, rel: str, first: int, bad: BadRows | None, ids: np.ndarray | None) -> None:
        if bad is None or bad.rows.size == 0:
            return
        self.bad.append(pd.DataFrame({
            "source": rel.split("/")[0], "file": rel, "record_no": first + bad.rows,
            "record_id": None if ids is None else ids[bad.rows], "kind": bad.kinds,
            "column": bad.columns,
        }))

    def _advance(self, rel: str, n: int) -> int:
        first = self.rows.get(rel, 0) + 1
        self.rows[rel] = first - 1 + n
        return first

    def csv(self, rel: str, df: pd.DataFrame, bad: BadRows | None = None,
            ids: np.ndarray | None = None, delimiter: str = ",") -> None:
        """Append ``df`` (strings or None) to a CSV file; the header is written once."""
        table = pa.table({c: pa.array(df[c].to_numpy(dtype=object), pa.string(), from_pandas=True) for c in df.columns})
        if rel not in self._csv:
            path = self.out / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            opts = pacsv.WriteOptions(include_header=True, delimiter=delimiter, quoting_style="needed")
            self._csv[rel] = pacsv.CSVWriter(str(path), table.schema, write_options=opts)
        self._csv[rel].write_table(table)
        self._record_bad(rel, self._advance(rel, len(df)), bad, ids)

    def jsonl(self, rel: str, df: pd.DataFrame, bad: BadRows | None = None,
              ids: np.ndarray | None = None, rng: np.random.Generator | None = None,
              raw: dict[str, tuple[np.ndarray, np.ndarray]] | None = None) -> None:
        """Append ``df`` as JSON lines; rows marked ``truncated_json`` are cut short.

        ``raw`` maps a column to (rows, JSON fragments) written verbatim at those rows,
        e.g. a bare number where a timestamp string belongs.
        """
        data = json_lines(df, raw or {})
        if bad is not None and rng is not None:
            data = _truncate_lines(data, bad.rows[bad.kinds == "truncated_json"], rng)
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as fh:
            fh.write(data)
        self._record_bad(rel, self._advance(rel, len(df)), bad, ids)

    def parquet(self, rel: str, table: pa.Table, bad: BadRows | None = None,
                ids: np.ndarray | None = None) -> None:
        """Append ``table`` as one row group of a Parquet file."""
        if rel not in self._pq:
            path = self.out / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            self._pq[rel] = pq.ParquetWriter(str(path), table.schema)
        self._pq[rel].write_table(table)
        self._record_bad(rel, self._advance(rel, table.num_rows), bad, ids)

    def close(self) -> None:
        for w in self._csv.values():
            w.close()
        for w in self._pq.values():
            w.close()
        self._csv.clear()
        self._pq.clear()


def _fragment(col: pd.Series) -> pa.Array:
    """One column as JSON value fragments (no nulls: missing -> ``null``)."""
    if pd.api.types.is_bool_dtype(col.dtype):
        return pc.if_else(pa.array(col.to_numpy()), "true", "false")
    if pd.api.types.is_numeric_dtype(col.dtype):
        return pc.fill_null(pc.cast(pa.array(col.to_numpy(), from_pandas=True), pa.string()), "null")
    try:
        arr = pa.array(col.to_numpy(dtype=object), pa.string(), from_pandas=True)
    except (pa.ArrowTypeError, pa.ArrowInvalid):  # mixed types (bad rows): small tables only
        return pa.array([json.dumps(v, ensure_ascii=False) if v is not None and v == v else "null"
                         for v in col.to_numpy(dtype=object)], pa.string())
    if pc.any(pc.match_substring_regex(arr, r'["\\]')).as_py():
        arr = pc.replace_substring(pc.replace_substring(arr, "\\", "\\\\"), '"', '\\"')
    quoted = pc.binary_join_element_wise('"', arr, '"', "")
    return pc.fill_null(quoted, "null")


def json_lines(df: pd.DataFrame, raw: dict[str, tuple[np.ndarray, np.ndarray]]) -> bytes:
    """Serialise a frame as JSON lines with Arrow string kernels (no per-row Python)."""
    if len(df) == 0:
        return b""
    parts: list[pa.Array | str] = []
    for i, name in enumerate(df.columns):
        frag = _fragment(df[name])
        if name in raw and raw[name][0].size:
            vals = frag.to_numpy(zero_copy_only=False).astype(object)
            vals[raw[name][0]] = raw[name][1]
            frag = pa.array(vals, pa.string())
        parts += [("{" if i == 0 else ",") + json.dumps(name) + ":", frag]
    lines = pc.binary_join_element_wise(*parts, "}\n", "")
    offsets, values = lines.buffers()[1], lines.buffers()[2]
    off = np.frombuffer(offsets, np.int32)[lines.offset : lines.offset + len(lines) + 1]
    return values.to_pybytes()[off[0] : off[-1]]


def _truncate_lines(data: bytes, rows: np.ndarray, rng: np.random.Generator) -> bytes:
    """Cut the given lines short (keeping valid UTF-8 and the newline)."""
    if rows.size == 0:
        return data
    b = np.frombuffer(data, np.uint8)
    nl = np.flatnonzero(b == 10)
    start = np.concatenate([[0], nl[:-1] + 1])[rows]
    end = nl[rows]
    cut = start + np.maximum(1, ((end - start) * rng.uniform(0.2, 0.8, rows.size)).astype(int))
    for _ in range(3):  # step back out of a multi-byte character
        cut -= (b[cut] & 0xC0) == 0x80
    order = np.argsort(rows)
    keep_from = np.concatenate([[0], end[order]])
    keep_to = np.concatenate([cut[order], [len(data)]])
    view = memoryview(data)
    return b"".join(view[a:z] for a, z in zip(keep_from, keep_to, strict=True))
