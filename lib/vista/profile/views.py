"""Views of the card per role, and keyed hashes of its personal data.

A role is given a list of fields (``profile.views.<role>.fields``) and sees only those:
``gold/profile_<role>`` holds exactly those columns. PII fields are listed in one place,
``profile.pii_fields``; a view with ``hash_pii`` replaces them by HMAC-SHA256 hashes
under a key from the environment (``profile.hash_key_env``), so an analyst can join and
count people without reading who they are. The hash is computed with Spark built-ins
(``sha2`` over binary concatenations), so nothing leaves the executors.
"""

from __future__ import annotations

import hashlib
import logging
import os

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from vista.errors import ConfigError, ConfigProblem
from vista.profile.config import ProfileConfig
from vista.profile.fields import names_for_windows

log = logging.getLogger(__name__)

#: Not a column: lets ``vista profile show`` print the recent orders and contacts.
TIMELINE = "timeline"
#: The public demo key, used (with a warning) when the environment has none.
DEMO_KEY = "vista-demo-profile-hash-key"
_BLOCK = 64  # SHA-256 block size in bytes


def view_table(role: str) -> str:
    """The Delta table of a role's view."""
    return f"gold/profile_{role}"


def unknown_fields(names: list[str], windows: list[int]) -> list[str]:
    """The names that are neither card fields (windows expanded) nor ``timeline``."""
    known = set(names_for_windows(windows)) | {TIMELINE}
    return [f for f in names if f not in known]


def check_views(cfg: ProfileConfig) -> None:
    """Every role's fields must be card fields (config validation checks it already; this
    repeats it for a config built in code without validation).

    Raises:
        ConfigError: Naming each unknown field with its key path.
    """
    windows = cfg.engagement_windows_days
    problems = []
    for role, view in cfg.views.items():
        unknown = unknown_fields(view.fields, windows)
        if unknown:
            problems.append(ConfigProblem(
                f"profile.views.{role}.fields",
                f"unknown card field(s) {unknown}; expected names of the card "
                f"(vista.profile.FIELDS, README 'The customer card')"))
    bad_pii = unknown_fields(cfg.pii_fields, windows)
    if bad_pii:
        problems.append(ConfigProblem("profile.pii_fields",
                                      f"unknown card field(s) {bad_pii}"))
    if problems:
        raise ConfigError(problems)


def hash_key(cfg: ProfileConfig) -> bytes:
    """The PII hash key from the environment; the public demo key (with a warning) if unset."""
    key = os.environ.get(cfg.hash_key_env)
    if not key:
        log.warning("%s is not set: hashed profile views use the public demo key; set it in "
                    "production", cfg.hash_key_env)
        key = DEMO_KEY
    return key.encode("utf-8")


def hmac_sha256(value: Column, key: bytes) -> Column:
    """HMAC-SHA256 (RFC 2104) of ``value`` (as a UTF-8 string), hex; null stays null."""
    k = hashlib.sha256(key).digest() if len(key) > _BLOCK else key
    k = k.ljust(_BLOCK, b"\0")
    ipad = bytearray(b ^ 0x36 for b in k)
    opad = bytearray(b ^ 0x5C for b in k)
    inner = F.unhex(F.sha2(F.concat(F.lit(ipad), F.encode(value.cast("string"), "UTF-8")), 256))
    return F.sha2(F.concat(F.lit(opad), inner), 256)


def _hashed(col: Column, dtype: T.DataType, key: bytes) -> Column:
    if isinstance(dtype, T.ArrayType):
        return F.transform(col, lambda x: _hashed(x, dtype.elementType, key))
    if isinstance(dtype, T.MapType):
        return F.transform_values(col, lambda _k, v: _hashed(v, dtype.valueType, key))
    return hmac_sha256(col, key)


def role_view(profile: DataFrame, cfg: ProfileConfig, role: str,
              key: bytes | None = None) -> DataFrame:
    """The card as ``role`` sees it: only its fields, PII hashed when the view says so.

    Args:
        profile: ``gold/customer_profile``.
        cfg: The ``profile`` section.
        role: A key of ``profile.views``.
        key: The hash key (default :func:`hash_key`), for views with ``hash_pii``.

    Raises:
        ConfigError: The role is not declared.
    """
    if role not in cfg.views:
        raise ConfigError([ConfigProblem(
            "profile.views", f"no role {role!r}; declared roles: {sorted(cfg.views)}")])
    view = cfg.views[role]
    columns = list(dict.fromkeys(["uid", *[f for f in view.fields if f != TIMELINE]]))
    types = {f.name: f.dataType for f in profile.schema.fields}
    pii = set(cfg.pii_fields)
    if view.hash_pii and pii & set(columns):
        k = key if key is not None else hash_key(cfg)
        return profile.select(*[_hashed(F.col(c), types[c], k).alias(c) if c in pii
                                else F.col(c) for c in columns])
    return profile.select(*columns)
