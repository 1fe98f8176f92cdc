"""The person rules: what a person's fields say about whether two records can be one person.

* :mod:`~vista.identity.person.config`: the typed rules (birth dates, first names with
  nicknames and typos, full names, gender, trusted id kinds);
* :mod:`~vista.identity.person.names`: nickname lists and the first-name keys that
  match a name with its nicknames and likely typos;
* :mod:`~vista.identity.person.compatibility`: the rules as Spark columns ("can these
  two records be one person"), used by linking and by clustering alike.

``person`` imports neither ``vista.identity.link`` nor ``vista.identity.cluster``.
"""

from __future__ import annotations

from vista.identity.person.compatibility import (
    COMPATIBILITY_COLUMNS,
    compatibility_frame,
    incompatible,
    name_flags,
)
from vista.identity.person.config import (
    BirthDateRule,
    CompatibilityConfig,
    FirstNameRule,
    FullNameRule,
    TrustedIdRule,
)
from vista.identity.person.names import KEYS_COLUMN, nickname_pairs, with_name_keys

__all__ = [
    "COMPATIBILITY_COLUMNS", "KEYS_COLUMN", "BirthDateRule", "CompatibilityConfig",
    "FirstNameRule", "FullNameRule", "TrustedIdRule", "compatibility_frame", "incompatible",
    "name_flags", "nickname_pairs", "with_name_keys",
]
