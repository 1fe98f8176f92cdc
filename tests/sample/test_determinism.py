"""Same seed, same bytes, in any process: two sample lakes of 2,000 customers made in
processes with different string-hash salts (``PYTHONHASHSEED``) are identical files."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_vista_sample_at_2000_customers_gives_the_same_bytes_in_two_processes(tmp_path):
    runs = []
    for salt in ("1", "2"):  # a set's order differs between these two salts
        env = {**os.environ, "PYTHONHASHSEED": salt}
        out = tmp_path / f"salt{salt}"
        code = ("from vista.sample import generate_sample_lake; "  # what `vista sample` runs
                f"generate_sample_lake({str(out)!r}, customers=2000, seed=7, months=3)")
        runs.append((out, subprocess.Popen([sys.executable, "-c", code], env=env,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)))
    for _, proc in runs:
        assert proc.wait(timeout=600) == 0, proc.stderr.read().decode()[-2000:]
    first, second = (_digests(out) for out, _ in runs)
    assert len(first) > 10 and "crm/contacts_2024-03-31.csv" in first
    assert first == second
